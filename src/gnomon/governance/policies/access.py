"""From stored policies and a principal to what it may see: one :class:`~gnomon.engine.Access`.

Which policies apply: an enabled policy applies to a principal that has one of its ``roles``
(a policy without roles applies to everyone), except to administrators, who see their whole
tenant. Several row policies on one table must all hold (they narrow, never widen). Several
masks on one column: the strongest wins (redact, then hash, then substitute, then partial).
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp

from gnomon.context import Principal
from gnomon.engine import Access, ColumnMask, TableAccess
from gnomon.governance.policies.templates import bind_predicate

__all__ = [
    "ADMIN_ROLE",
    "MASK_STRATEGIES",
    "MaskRule",
    "RowRule",
    "applies_to",
    "resolve_access",
    "rules_from_records",
]

ADMIN_ROLE = "admin"
MASK_STRATEGIES = ("redact", "hash", "substitute", "partial")
"""Strongest first."""


@dataclass(frozen=True, slots=True)
class RowRule:
    """A row policy: the rows of ``table`` a principal with one of ``roles`` may see."""

    name: str
    table: str
    predicate: str
    roles: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MaskRule:
    """A column policy: how ``column`` of ``table`` is shown to principals with ``roles``."""

    name: str
    table: str
    column: str
    strategy: Literal["partial", "hash", "redact", "substitute"]
    roles: frozenset[str] = frozenset()
    reveal: int = 4
    value: str = "***"


@dataclass(frozen=True)
class _Collected:
    rows: list[exp.Expr] = field(default_factory=list)
    masks: dict[str, MaskRule] = field(default_factory=dict)


def rules_from_records(records: Iterable[Any]) -> tuple[list[RowRule], list[MaskRule]]:
    """Rules from catalog policy records (``name, kind, table_name, roles, spec, enabled``)."""
    rows: list[RowRule] = []
    masks: list[MaskRule] = []
    for record in records:
        if not record.enabled:
            continue
        roles = frozenset(record.roles or ())
        spec: Mapping[str, Any] = record.spec or {}
        if record.kind == "row":
            rows.append(RowRule(record.name, record.table_name, str(spec["predicate"]), roles))
        elif record.kind == "mask":
            masks.append(
                MaskRule(
                    record.name,
                    record.table_name,
                    str(spec["column"]),
                    spec["strategy"],
                    roles,
                    int(spec.get("reveal", 4)),
                    str(spec.get("value", "***")),
                )
            )
    return rows, masks


def applies_to(roles: frozenset[str], principal: Principal) -> bool:
    """Whether a policy for ``roles`` (none: everyone) narrows ``principal`` (never admins)."""
    if ADMIN_ROLE in principal.roles:
        return False
    return not roles or bool(roles & principal.roles)


def resolve_access(
    principal: Principal,
    *,
    rows: Sequence[RowRule],
    masks: Sequence[MaskRule],
    columns: Mapping[str, Sequence[str]],
    mask_key: bytes,
) -> Access:
    """The principal's :class:`Access` to the tables in ``columns`` (``layer.name`` → columns).

    ``mask_key`` keys the hash masks; the key used in queries is derived per tenant, so equal
    values hash alike within a tenant and differently across tenants.
    """
    collected: dict[str, _Collected] = {}
    for rule in rows:
        if rule.table in columns and applies_to(rule.roles, principal):
            entry = collected.setdefault(rule.table, _Collected())
            entry.rows.append(bind_predicate(rule.predicate, principal))
    for mask in masks:
        if mask.table in columns and applies_to(mask.roles, principal):
            entry = collected.setdefault(mask.table, _Collected())
            current = entry.masks.get(mask.column)
            if current is None or MASK_STRATEGIES.index(mask.strategy) < MASK_STRATEGIES.index(
                current.strategy
            ):
                entry.masks[mask.column] = mask
    tenant_key = hmac.new(mask_key, principal.tenant.encode(), hashlib.sha256).hexdigest()
    tables: dict[str, TableAccess] = {}
    for table, entry in collected.items():
        row_filter = exp.and_(*entry.rows) if entry.rows else None
        tables[table] = TableAccess(
            row_filter=row_filter,
            masks={
                column: ColumnMask(
                    rule.strategy, reveal=rule.reveal, key=tenant_key, value=rule.value
                )
                for column, rule in entry.masks.items()
                if column in columns[table]
            },
            columns=tuple(columns[table]),
        )
    return Access(principal.tenant, tables)
