"""Custom roles: named permission sets a tenant defines on top of the built-in roles.

The built-in roles (admin, editor, analyst, viewer) are defined in code and never stored, so an
upgrade of gnomon can change them for every tenant at once. The catalog checks that permissions
are names; which names mean something is governance's business.
"""

import builtins

from sqlalchemy import delete, select

from gnomon.catalog.models import Role
from gnomon.catalog.records import RoleRecord
from gnomon.catalog.repositories._base import Repository, require_name, require_names

__all__ = ["RoleRepository"]


def _record(row: Role) -> RoleRecord:
    return RoleRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        permissions=list(row.permissions),
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class RoleRepository(Repository):
    """Custom roles of one tenant, unique by name."""

    __slots__ = ()

    def put(
        self,
        *,
        tenant: str,
        name: str,
        permissions: builtins.list[str],
        description: str | None = None,
    ) -> RoleRecord:
        """Create the role or replace its permissions and description.

        ``updated_at`` moves only when something changed.

        Raises:
            InvalidInput: the name or a permission is not a valid name.
            TenantNotFound: the tenant does not exist.
        """
        name = require_name(name, field="role name", example="regional_analyst")
        permissions = require_names(permissions, field="permissions", example="metrics:read")
        self._require_tenant(tenant)
        existing = self._fresh(Role, Role.tenant_id == tenant, Role.name == name)
        if existing is not None and (existing.permissions, existing.description) == (
            permissions,
            description,
        ):
            return _record(existing)
        now = self._now()
        statement = self._insert(Role).values(
            tenant_id=tenant,
            name=name,
            permissions=permissions,
            description=description,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Role.tenant_id, Role.name],
            set_={
                "permissions": statement.excluded.permissions,
                "description": statement.excluded.description,
                "updated_at": statement.excluded.updated_at,
            },
        )
        row = self._session.scalars(
            statement.returning(Role), execution_options={"populate_existing": True}
        ).one()
        self._changed(tenant)
        return _record(row)

    def get(self, *, tenant: str, name: str) -> RoleRecord | None:
        """The tenant's custom role of that name, or ``None``."""
        row = self._fresh(Role, Role.tenant_id == tenant, Role.name == name)
        return None if row is None else _record(row)

    def list(self, *, tenant: str) -> builtins.list[RoleRecord]:
        """The tenant's custom roles, ordered by name as plain strings."""
        rows = self._session.scalars(
            select(Role)
            .where(Role.tenant_id == tenant)
            .order_by(self._bytewise(Role.name))
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def delete(self, *, tenant: str, name: str) -> bool:
        """Remove the custom role; users keep its name in their roles, which then grants nothing.

        Returns:
            Whether the tenant had such a role.
        """
        removed = self._session.scalars(
            delete(Role).where(Role.tenant_id == tenant, Role.name == name).returning(Role.id)
        ).all()
        if removed:
            self._changed(tenant)
        return bool(removed)
