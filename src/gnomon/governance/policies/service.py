"""Access policies of a tenant: checked when saved, resolved for every read.

Row policies (``kind: row``) and column masks (``kind: mask``) are stored in the catalog. The
query services call :meth:`PolicyService.access` for every read, with the tables the read
touches; what comes back is applied to the query tree by
:func:`gnomon.engine.apply_access`, so the policies hold for ad-hoc SQL, metric queries,
exports and samples alike.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from gnomon.catalog import Catalog, CatalogMemo, ChangeWatch, PolicyRecord
from gnomon.context import RequestContext
from gnomon.engine import Access, TableSource
from gnomon.errors import Forbidden, InvalidInput, NotFound
from gnomon.governance.audit import AuditService
from gnomon.governance.policies.access import (
    ADMIN_ROLE,
    MASK_STRATEGIES,
    MaskRule,
    RowRule,
    applies_to,
    resolve_access,
    rules_from_records,
)
from gnomon.governance.policies.templates import PolicyTemplateError, predicate_columns

__all__ = ["PolicyService"]

_RAW_LAYERS = ("bronze", "silver", "quarantine")


def _covering(table: str, policed: set[str]) -> str | None:
    """The policed table whose policies cover ``table``: itself, or the same dataset's raw layer."""
    if table in policed:
        return table
    layer, _, name = table.partition(".")
    if layer not in _RAW_LAYERS:
        return None
    for candidate in sorted(policed):
        other_layer, _, other_name = candidate.partition(".")
        if other_name == name and other_layer in _RAW_LAYERS:
            return candidate
    return None


class PolicyService:
    """Saves and resolves a project's access policies.

    Args:
        catalog: where policies are stored.
        mask_key: the secret hash masks are keyed with.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        mask_key: bytes,
        resolve: Callable[[str, str], TableSource],
        audit: AuditService | None = None,
        changes: ChangeWatch | None = None,
    ) -> None:
        self._catalog = catalog
        self._resolve = resolve
        self._mask_key = mask_key
        self._audit = audit
        self._policies: CatalogMemo[str, _Policies] | None = (
            None
            if changes is None
            else CatalogMemo(changes, load=self._read, scope=lambda tenant, _policies: tenant)
        )

    def access(self, ctx: RequestContext, tables: Mapping[str, TableSource]) -> Access:
        """What ``ctx``'s principal may see of ``tables`` (``layer.name`` → version read).

        A policy on a dataset's table also covers the dataset's other raw layers (a policy on
        ``silver.orders`` narrows ``bronze.orders`` and ``quarantine.orders`` alike), so the
        rows it hides cannot be read one layer down. Gold tables are derived data: a principal
        that policies narrow may read a gold table only when a policy names that table.

        Raises:
            Forbidden: a narrowed principal reads a gold table no policy covers.
        """
        if ADMIN_ROLE in ctx.principal.roles or not tables:
            return Access(ctx.tenant)
        rows, masks = rules_from_records(self._current(ctx.tenant).records)
        rows = [r for r in rows if applies_to(r.roles, ctx.principal)]
        masks = [m for m in masks if applies_to(m.roles, ctx.principal)]
        if not rows and not masks:
            return Access(ctx.tenant)
        policed = {r.table for r in rows} | {m.table for m in masks}
        columns = {key: [f.name for f in source.schema] for key, source in tables.items()}
        bound_rows: list[RowRule] = []
        bound_masks: list[MaskRule] = []
        for key in tables:
            origin = _covering(key, policed)
            if origin is None:
                if key.startswith("gold."):
                    raise Forbidden(
                        f"{key} is derived data that no access policy covers, and policies "
                        f"narrow what {ctx.principal.user} may see ({', '.join(sorted(policed))}).",
                        hint=f"Ask an administrator for a policy on {key}, or read the "
                        "policed tables or metrics instead.",
                        table=key,
                    )
                continue
            for rule in rows:
                if rule.table == origin:
                    usable = set(predicate_columns(rule.predicate)) <= set(columns[key])
                    predicate = rule.predicate if usable else "FALSE"
                    bound_rows.append(RowRule(rule.name, key, predicate, rule.roles))
            bound_masks += [replace(m, table=key) for m in masks if m.table == origin]
        return resolve_access(
            ctx.principal, rows=bound_rows, masks=bound_masks, columns=columns,
            mask_key=self._mask_key,
        )  # fmt: skip

    def stamp(self, ctx: RequestContext) -> tuple[Any, ...]:
        """Changes whenever the tenant's policies change: part of every result cache key."""
        return self._current(ctx.tenant).stamp

    def _current(self, tenant: str) -> "_Policies":
        """The tenant's policies, kept in memory while none changes."""
        if self._policies is not None:
            return self._policies.get(tenant)
        return self._read(tenant)

    def _read(self, tenant: str) -> "_Policies":
        with self._catalog.transaction(read_only=True) as tx:
            records = tuple(tx.policies.list(tenant=tenant))
        stamp = tuple(sorted((r.name, r.updated_at.isoformat(), r.enabled) for r in records))
        return _Policies(records, stamp)

    def save(
        self,
        *,
        ctx: RequestContext,
        name: str,
        kind: str,
        table: str,
        roles: Sequence[str],
        spec: Mapping[str, Any],
        columns: Sequence[str] | None = None,
        enabled: bool = True,
    ) -> Any:
        """Check a policy against the table's columns and store it (replacing one of that name).

        ``columns`` defaults to those of the table's published version.

        Raises:
            InvalidInput: an unknown kind or strategy, a predicate that does not parse or reads
                a column the table lacks, a mask on a missing column.
        """
        if columns is None:
            columns = self._columns(table)
        clean = _checked(kind, table, dict(spec), list(columns))
        with self._catalog.transaction() as tx:
            record = tx.policies.put(
                tenant=ctx.tenant,
                name=name,
                kind=kind,
                table_name=table,
                roles=sorted(set(roles)),
                spec=clean,
                enabled=enabled,
            )
        if self._audit is not None:
            self._audit.record(
                ctx, "policy.put", target=name, kind=kind, table=table, roles=sorted(set(roles)),
                spec=clean, enabled=enabled,
            )  # fmt: skip
        return record

    def _columns(self, table: str) -> list[str]:
        layer, _, name = table.partition(".")
        try:
            return list(self._resolve(layer, name).schema.names)
        except (NotFound, InvalidInput) as exc:
            raise InvalidInput(
                f"There is no table {table} to put a policy on: it is not a published lake table.",
                hint="Name the table as layer.name, e.g. silver.orders.",
                field="table",
            ) from exc

    def list(self, *, ctx: RequestContext) -> list[Any]:
        """The tenant's policies."""
        with self._catalog.transaction(read_only=True) as tx:
            return list(tx.policies.list(tenant=ctx.tenant))

    def delete(self, name: str, *, ctx: RequestContext) -> None:
        """Remove a policy.

        Raises:
            NotFound: the tenant has no policy of that name.
        """
        with self._catalog.transaction() as tx:
            if not tx.policies.delete(tenant=ctx.tenant, name=name):
                raise NotFound(f"No access policy is called {name!r}.", policy=name)
        if self._audit is not None:
            self._audit.record(ctx, "policy.delete", target=name)


def _checked(kind: str, table: str, spec: dict[str, Any], columns: list[str]) -> dict[str, Any]:
    visible = [c for c in columns if not c.startswith("_")]
    if kind == "row":
        predicate = spec.get("predicate")
        if not isinstance(predicate, str) or not predicate.strip():
            raise InvalidInput(
                "A row policy needs 'predicate': a condition over the table's columns.",
                hint="e.g. region = {{ user.region }}",
            )
        try:
            used = predicate_columns(predicate)
        except PolicyTemplateError as exc:
            raise InvalidInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
        unknown = [c for c in used if c not in columns]
        if unknown:
            raise InvalidInput(
                f"The predicate reads {', '.join(map(repr, unknown))}, not a column of {table}.",
                hint=f"Columns: {', '.join(visible)}.",
            )
        return {"predicate": predicate}
    if kind == "mask":
        column = spec.get("column")
        strategy = spec.get("strategy")
        if column not in columns:
            raise InvalidInput(
                f"A mask needs 'column', one of the columns of {table}; got {column!r}.",
                hint=f"Columns: {', '.join(visible)}.",
            )
        if strategy not in MASK_STRATEGIES:
            raise InvalidInput(
                f"{strategy!r} is not a masking strategy.",
                hint=f"Use one of: {', '.join(MASK_STRATEGIES)}.",
            )
        reveal = spec.get("reveal", 4)
        if not isinstance(reveal, int) or isinstance(reveal, bool) or reveal < 0:
            raise InvalidInput(f"'reveal' must be a count of characters, not {reveal!r}.")
        clean: dict[str, Any] = {"column": column, "strategy": strategy}
        if strategy == "partial":
            clean["reveal"] = reveal
        if strategy == "substitute":
            clean["value"] = str(spec.get("value", "***"))
        return clean
    raise InvalidInput(f"{kind!r} is not a policy kind.", hint="Use 'row' or 'mask'.")


@dataclass(frozen=True, slots=True)
class _Policies:
    """A tenant's policy records, and the stamp result-cache keys carry."""

    records: tuple[PolicyRecord, ...]
    stamp: tuple[Any, ...]
