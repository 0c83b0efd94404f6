"""Tenants: the isolation boundary every other catalog row belongs to."""

import builtins

from sqlalchemy import select

from gnomon.catalog.models import Tenant
from gnomon.catalog.records import TenantRecord
from gnomon.catalog.repositories._base import TENANT_ID_PATTERN, Repository
from gnomon.errors import InvalidInput

__all__ = ["TenantRepository"]


def _record(row: Tenant) -> TenantRecord:
    return TenantRecord(id=row.id, name=row.name, created_at=row.created_at)


class TenantRepository(Repository):
    """Creates and reads tenants. Tenants are never deleted here: their data outlives a mistake."""

    __slots__ = ()

    def ensure(self, tenant_id: str, *, name: str | None = None) -> TenantRecord:
        """Create the tenant if it is missing; safe to call from several processes at once.

        Args:
            tenant_id: letters, digits, ``_``, ``.`` and ``-``, at most 64 characters, starting
                with a letter or digit; it is written into every lake row as ``_tenant_id``.
            name: display name; ``None`` keeps the existing one (or uses the id for a new tenant).

        Raises:
            InvalidInput: the id has characters or a length that are not allowed.
        """
        if not TENANT_ID_PATTERN.fullmatch(tenant_id):
            raise InvalidInput(
                f"Invalid tenant id {tenant_id!r}: it must be 1-64 letters, digits, '_', '.' or '-'"
                " and start with a letter or digit.",
                hint="Choose an id such as 'acme' or 'team-42'.",
                tenant=tenant_id,
            )
        statement = self._insert(Tenant).values(
            id=tenant_id, name=name or tenant_id, created_at=self._now()
        )
        if name is None:
            statement = statement.on_conflict_do_nothing(index_elements=[Tenant.id])
        else:
            statement = statement.on_conflict_do_update(
                index_elements=[Tenant.id], set_={"name": statement.excluded.name}
            )
        self._session.execute(statement)
        return self.get(tenant_id)

    def get(self, tenant_id: str) -> TenantRecord:
        """The tenant with this id.

        Raises:
            TenantNotFound: no such tenant; the message names no other tenant.
        """
        row = self._fresh(Tenant, Tenant.id == tenant_id)
        if row is None:
            raise self._unknown_tenant(tenant_id)
        return _record(row)

    def list(self) -> builtins.list[TenantRecord]:
        """Every tenant, ordered by id."""
        rows = self._session.scalars(
            select(Tenant).order_by(Tenant.id).execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]
