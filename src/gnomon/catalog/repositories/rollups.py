"""Rollup state: per tenant, what each rollup was last refreshed from.

One row per (tenant, rollup), replaced on every refresh. Unlike definitions, no history is kept:
the refresh needs only the latest state (which source version the rows reflect, and which
version of the rollup table holds them), and the Delta log of the rollup table already records
how it got there.
"""

import builtins
import copy
from typing import Any

from sqlalchemy import delete, select

from gnomon.catalog.models import Rollup
from gnomon.catalog.records import RollupRecord
from gnomon.catalog.repositories._base import Repository
from gnomon.errors import InvalidInput

__all__ = ["RollupRepository"]


def _record(row: Rollup) -> RollupRecord:
    return RollupRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        model=row.model,
        grain=row.grain,
        fingerprint=row.fingerprint,
        source_table=row.source_table,
        source_version=row.source_version,
        table_version=row.table_version,
        rows=row.rows,
        spec=copy.deepcopy(row.spec),
        refreshed_at=row.refreshed_at,
    )


def _require_text(value: str, *, field: str, name: str) -> None:
    if not value:
        raise InvalidInput(
            f"Invalid {field} for rollup {name!r}: it is empty.",
            hint=f"Pass the rollup's {field}.",
            field=field,
            name=name,
        )


def _require_count(value: int, *, field: str, name: str) -> None:
    """Delta versions and row counts start at 0; anything else is a bug in the caller."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(
            f"Invalid {field} for rollup {name!r}: {value!r} is not a non-negative integer.",
            hint=f"Pass the {field} as an integer of at least 0, e.g. the version a Delta"
            " commit returned.",
            field=field,
            name=name,
        )


class RollupRepository(Repository):
    """The refresh state of a tenant's rollups, one row per rollup name."""

    __slots__ = ()

    def get(self, *, tenant: str, name: str) -> RollupRecord | None:
        """The rollup's state, or ``None`` when it was never refreshed for the tenant."""
        row = self._fresh(Rollup, Rollup.tenant_id == tenant, Rollup.name == name)
        return None if row is None else _record(row)

    def list(self, *, tenant: str) -> builtins.list[RollupRecord]:
        """The tenant's rollups, ordered by name.

        Names are compared as plain strings (the same on every backend, whatever the
        database's collation).
        """
        rows = self._session.scalars(
            select(Rollup)
            .where(Rollup.tenant_id == tenant)
            .execution_options(populate_existing=True)
        )
        return sorted((_record(row) for row in rows), key=lambda r: r.name)

    def put(
        self,
        *,
        tenant: str,
        name: str,
        model: str,
        grain: str,
        fingerprint: str,
        source_table: str,
        source_version: int,
        table_version: int,
        rows: int,
        spec: dict[str, Any],
    ) -> RollupRecord:
        """Record a refresh of the rollup, replacing whatever was recorded before.

        ``refreshed_at`` is always moved to now, even when nothing else changed: a refresh that
        found the source unchanged still vouches that the rollup was current at that moment.

        Raises:
            InvalidInput: the name, model, grain, fingerprint or source table is empty, or a
                version or the row count is negative.
            TenantNotFound: the tenant does not exist.
        """
        _require_text(name, field="name", name=name)
        for field, text in (
            ("model", model),
            ("grain", grain),
            ("fingerprint", fingerprint),
            ("source_table", source_table),
        ):
            _require_text(text, field=field, name=name)
        for field, count in (
            ("source_version", source_version),
            ("table_version", table_version),
            ("rows", rows),
        ):
            _require_count(count, field=field, name=name)
        self._require_tenant(tenant)
        statement = self._insert(Rollup).values(
            tenant_id=tenant,
            name=name,
            model=model,
            grain=grain,
            fingerprint=fingerprint,
            source_table=source_table,
            source_version=source_version,
            table_version=table_version,
            rows=rows,
            spec=spec,
            refreshed_at=self._now(),
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Rollup.tenant_id, Rollup.name],
            set_={
                "model": statement.excluded.model,
                "grain": statement.excluded.grain,
                "fingerprint": statement.excluded.fingerprint,
                "source_table": statement.excluded.source_table,
                "source_version": statement.excluded.source_version,
                "table_version": statement.excluded.table_version,
                "rows": statement.excluded.rows,
                "spec": statement.excluded.spec,
                "refreshed_at": statement.excluded.refreshed_at,
            },
        )
        row = self._session.scalars(
            statement.returning(Rollup), execution_options={"populate_existing": True}
        ).one()
        self._changed(tenant)
        return _record(row)

    def remove(self, *, tenant: str, name: str) -> bool:
        """Forget the rollup's state for the tenant, e.g. when its definition is gone.

        Returns:
            Whether there was a state to forget.
        """
        removed = self._session.scalars(
            delete(Rollup)
            .where(Rollup.tenant_id == tenant, Rollup.name == name)
            .returning(Rollup.id)
        ).all()
        if removed:
            self._changed(tenant)
        return bool(removed)
