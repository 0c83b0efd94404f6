"""Sources: where a tenant's data comes from and which dataset it loads into."""

import builtins
import copy
from typing import Any

from sqlalchemy import select

from gnomon.catalog.errors import SourceNotFound
from gnomon.catalog.models import Source
from gnomon.catalog.records import SourceRecord
from gnomon.catalog.repositories._base import Repository, known_names

__all__ = ["SourceRepository"]


def _record(row: Source) -> SourceRecord:
    return SourceRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        kind=row.kind,
        dataset=row.dataset,
        spec=copy.deepcopy(row.spec),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SourceRepository(Repository):
    """Registered sources of one tenant, unique by name."""

    __slots__ = ()

    def upsert(
        self, *, tenant: str, name: str, kind: str, dataset: str, spec: dict[str, Any]
    ) -> SourceRecord:
        """Register a source or replace its definition.

        ``updated_at`` moves only when something changed, so it tells when the definition last
        changed rather than when it was last synchronised.

        Raises:
            TenantNotFound: the tenant does not exist.
        """
        self._require_tenant(tenant)
        existing = self._fresh(Source, Source.tenant_id == tenant, Source.name == name)
        if existing is not None and (existing.kind, existing.dataset, existing.spec) == (
            kind,
            dataset,
            spec,
        ):
            return _record(existing)
        now = self._now()
        statement = self._insert(Source).values(
            tenant_id=tenant,
            name=name,
            kind=kind,
            dataset=dataset,
            spec=spec,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Source.tenant_id, Source.name],
            set_={
                "kind": statement.excluded.kind,
                "dataset": statement.excluded.dataset,
                "spec": statement.excluded.spec,
                "updated_at": statement.excluded.updated_at,
            },
        )
        row = self._session.scalars(
            statement.returning(Source), execution_options={"populate_existing": True}
        ).one()
        return _record(row)

    def get(self, *, tenant: str, name: str) -> SourceRecord:
        """The tenant's source of that name.

        Raises:
            SourceNotFound: the tenant has no such source; the message lists the ones it has.
        """
        row = self._fresh(Source, Source.tenant_id == tenant, Source.name == name)
        if row is None:
            known = self._session.scalars(select(Source.name).where(Source.tenant_id == tenant))
            names = sorted(known)
            raise SourceNotFound(
                f"Unknown source {name!r} for tenant {tenant!r}: known sources are"
                f" {known_names(names)}.",
                hint="Use one of the known source names, or define the source first.",
                tenant=tenant,
                source=name,
                known=names,
            )
        return _record(row)

    def list(self, *, tenant: str) -> builtins.list[SourceRecord]:
        """The tenant's sources, ordered by name."""
        rows = self._session.scalars(
            select(Source)
            .where(Source.tenant_id == tenant)
            .order_by(Source.name)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]
