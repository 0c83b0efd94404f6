"""Access policies: row-level security and column masking rules of a tenant, per lake table.

The catalog stores a policy and checks its shape: the kind, the ``layer.name`` table, and the
key its kind cannot do without (a row policy's ``predicate``, a mask's ``column`` and
``strategy``). Parsing the predicate, knowing the strategies and applying the policy to a query
belong to governance, which reads the policies of a table through :meth:`list`.
"""

import builtins
import copy
import re
import uuid
from typing import Any, cast

from sqlalchemy import delete, select

from gnomon.catalog.models import AccessPolicy
from gnomon.catalog.records import POLICY_KINDS, PolicyKind, PolicyRecord
from gnomon.catalog.repositories._base import (
    Repository,
    require_choice,
    require_json_object,
    require_name,
    require_names,
)
from gnomon.errors import InvalidInput

__all__ = ["AccessPolicyRepository"]

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_TABLE_NAME = re.compile(rf"{_IDENTIFIER}\.{_IDENTIFIER}")
_REQUIRED_SPEC_KEYS: dict[PolicyKind, tuple[str, ...]] = {
    "row": ("predicate",),
    "mask": ("column", "strategy"),
}
_SPEC_EXAMPLES: dict[PolicyKind, str] = {
    "row": '{"predicate": "region = {{ user.region }}"}',
    "mask": '{"column": "customer_id", "strategy": "partial"}',
}


def _record(row: AccessPolicy) -> PolicyRecord:
    return PolicyRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        kind=cast(PolicyKind, row.kind),
        table_name=row.table_name,
        roles=list(row.roles),
        spec=copy.deepcopy(row.spec),
        enabled=row.enabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _kind(kind: str) -> PolicyKind:
    return cast(PolicyKind, require_choice(kind, field="policy kind", choices=POLICY_KINDS))


def _check_table(table_name: str) -> str:
    if not isinstance(table_name, str) or not _TABLE_NAME.fullmatch(table_name):
        raise InvalidInput(
            f"Invalid policy table {table_name!r}: it must be layer.name, e.g. silver.orders.",
            hint="Name the table by its layer and name, separated by a dot.",
            field="table_name",
        )
    return table_name


def _check_spec(name: str, kind: PolicyKind, spec: object) -> dict[str, Any]:
    example = _SPEC_EXAMPLES[kind]
    checked = require_json_object(spec, field="policy spec", example=example)
    for key in _REQUIRED_SPEC_KEYS[kind]:
        value = checked.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(
                f"Invalid spec of {kind} policy {name!r}: {key!r} is missing or empty.",
                hint=f"A {kind} policy's spec needs {', '.join(_REQUIRED_SPEC_KEYS[kind])},"
                f" e.g. {example}.",
                field="spec",
                key=key,
            )
    return checked


class AccessPolicyRepository(Repository):
    """Row and masking policies of one tenant, unique by name."""

    __slots__ = ()

    def put(
        self,
        *,
        tenant: str,
        name: str,
        kind: str,
        table_name: str,
        roles: builtins.list[str],
        spec: dict[str, Any],
        enabled: bool = True,
    ) -> PolicyRecord:
        """Create the policy or replace it whole; its id and ``created_at`` stay.

        ``updated_at`` moves only when something changed.

        Args:
            tenant: the tenant.
            name: unique in the tenant, e.g. ``orders_by_region``.
            kind: ``row`` or ``mask``.
            table_name: the lake table, ``layer.name``.
            roles: whom the policy applies to, stored as given.
            spec: ``{"predicate": …}`` for ``row``; ``{"column": …, "strategy": …}`` and the
                strategy's options for ``mask``.
            enabled: a disabled policy is kept but not applied.

        Raises:
            InvalidInput: the name, kind, table, a role, the spec or ``enabled`` is invalid.
            TenantNotFound: the tenant does not exist.
        """
        name = require_name(name, field="policy name", example="orders_by_region")
        checked_kind = _kind(kind)
        table_name = _check_table(table_name)
        roles = require_names(roles, field="roles", example="analyst")
        spec = _check_spec(name, checked_kind, spec)
        if not isinstance(enabled, bool):
            raise InvalidInput(
                f"Invalid enabled flag {enabled!r} of policy {name!r}: it must be true or false.",
                hint="Pass enabled=True to apply the policy, False to keep it unapplied.",
                field="enabled",
            )
        self._require_tenant(tenant)
        existing = self._fresh(
            AccessPolicy, AccessPolicy.tenant_id == tenant, AccessPolicy.name == name
        )
        wanted = (checked_kind, table_name, roles, spec, enabled)
        if existing is not None and wanted == (
            existing.kind,
            existing.table_name,
            existing.roles,
            existing.spec,
            existing.enabled,
        ):
            return _record(existing)
        now = self._now()
        statement = self._insert(AccessPolicy).values(
            id=uuid.uuid4().hex,
            tenant_id=tenant,
            name=name,
            kind=checked_kind,
            table_name=table_name,
            roles=roles,
            spec=spec,
            enabled=enabled,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[AccessPolicy.tenant_id, AccessPolicy.name],
            set_={
                "kind": statement.excluded.kind,
                "table_name": statement.excluded.table_name,
                "roles": statement.excluded.roles,
                "spec": statement.excluded.spec,
                "enabled": statement.excluded.enabled,
                "updated_at": statement.excluded.updated_at,
            },
        )
        row = self._session.scalars(
            statement.returning(AccessPolicy), execution_options={"populate_existing": True}
        ).one()
        self._changed(tenant)
        return _record(row)

    def get(self, *, tenant: str, name: str) -> PolicyRecord | None:
        """The tenant's policy of that name, or ``None``."""
        row = self._fresh(AccessPolicy, AccessPolicy.tenant_id == tenant, AccessPolicy.name == name)
        return None if row is None else _record(row)

    def list(
        self, *, tenant: str, table_name: str | None = None, kind: str | None = None
    ) -> builtins.list[PolicyRecord]:
        """The tenant's policies, disabled ones included, ordered by name as plain strings.

        Args:
            tenant: the tenant.
            table_name: only the policies of this ``layer.name`` table.
            kind: only ``row`` or only ``mask`` policies.

        Raises:
            InvalidInput: ``kind`` is not a policy kind.
        """
        statement = select(AccessPolicy).where(AccessPolicy.tenant_id == tenant)
        if table_name is not None:
            statement = statement.where(AccessPolicy.table_name == table_name)
        if kind is not None:
            statement = statement.where(AccessPolicy.kind == _kind(kind))
        rows = self._session.scalars(
            statement.order_by(self._bytewise(AccessPolicy.name)).execution_options(
                populate_existing=True
            )
        )
        return [_record(row) for row in rows]

    def delete(self, *, tenant: str, name: str) -> bool:
        """Remove the policy.

        Returns:
            Whether the tenant had such a policy.
        """
        removed = self._session.scalars(
            delete(AccessPolicy)
            .where(AccessPolicy.tenant_id == tenant, AccessPolicy.name == name)
            .returning(AccessPolicy.id)
        ).all()
        if removed:
            self._changed(tenant)
        return bool(removed)
