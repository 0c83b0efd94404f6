"""Access control as one tree pass: every lake table read becomes a read of what may be seen.

Policy: the pass rewrites the tree rather than relying on the caller to add a ``WHERE``, so a
lake table cannot be read unscoped from any position (``FROM``, ``JOIN``, subqueries, CTE bodies,
set-operation branches, ``IN``/``EXISTS``/lateral subqueries). Each reference becomes a subquery
over the table that keeps one tenant's rows, only the rows the principal's row policies admit,
and the principal's masked columns masked, so nothing outside the policies ever leaves the
engine. Values (the tenant, attribute values in predicates, mask keys) enter the tree as literal
nodes, never through string formatting. Which policies apply is decided elsewhere
(``gnomon.governance``); this pass only applies them.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from sqlglot import exp

from gnomon.context import RequestContext
from gnomon.engine._references import LAYERS, table_references
from gnomon.engine.protocols import TableSource
from gnomon.errors import InvalidInput

__all__ = [
    "TENANT_COLUMN",
    "Access",
    "AccessResolver",
    "ColumnMask",
    "TableAccess",
    "apply_access",
    "scope_to_tenant",
    "tenant_only",
]

TENANT_COLUMN = "_tenant_id"
_LAYER_SET = frozenset(LAYERS)
_MOVED_TO_SUBQUERY = ("alias", "joins", "laterals", "pivots", "sample")


MaskStrategy = Literal["partial", "hash", "redact", "substitute"]


@dataclass(frozen=True, slots=True)
class ColumnMask:
    """How one column is shown to a principal.

    ``partial`` keeps the last ``reveal`` characters and stars the rest; ``hash`` shows a
    SHA-256 of ``key`` + value (equal values stay equal, so joins and counts still work);
    ``redact`` shows NULL; ``substitute`` shows ``value`` for every non-NULL value.
    """

    strategy: MaskStrategy
    reveal: int = 4
    key: str = ""
    value: str = "***"


@dataclass(frozen=True, slots=True)
class TableAccess:
    """What a principal may see of one table: a row predicate and masked columns.

    ``columns`` lists the table's columns in order; it is needed (and must be complete) only
    when ``masks`` is not empty, since masking replaces ``*`` with an explicit projection.
    """

    row_filter: exp.Expr | None = None
    masks: Mapping[str, ColumnMask] = field(default_factory=dict)
    columns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Access:
    """Everything that limits one principal's reads: the tenant and per-table policies."""

    tenant: str
    tables: Mapping[str, TableAccess] = field(default_factory=dict)

    def restricts(self, table: str) -> bool:
        """Whether reads of ``layer.name`` are narrowed beyond the tenant."""
        found = self.tables.get(table)
        return found is not None and (found.row_filter is not None or bool(found.masks))


def apply_access(tree: exp.Query, access: Access, *, show_keys: bool = True) -> exp.Query:
    """A copy of ``tree`` that reads every lake table as ``access`` allows.

    Each ``layer.name [AS a]`` becomes ``(SELECT <columns, masked> FROM layer.name WHERE
    _tenant_id = '<tenant>' AND <row filter>) AS a``. With ``show_keys`` off, hash keys are
    replaced by a placeholder, for showing the SQL to people.

    Raises:
        InvalidInput: the tenant is empty, or a table with masks has no column list.
    """
    if not access.tenant:
        raise InvalidInput(
            "No tenant to scope the query to: the tenant is empty.",
            hint="Pass the tenant of the request context.",
        )
    scoped = tree.copy()
    for reference in table_references(scoped):
        key = reference.lake_key
        if key is not None:
            rules = access.tables.get(f"{key[0]}.{key[1]}", _OPEN)
            reference.node.replace(_allowed_rows(reference.node, access.tenant, rules, show_keys))
    for column in scoped.find_all(exp.Column):
        _drop_layer_qualifier(column)
    return scoped


AccessResolver = Callable[[RequestContext, Mapping[str, TableSource]], Access]
"""What a principal may see of the tables a query reads: ``(ctx, {"layer.name": source})``."""


def tenant_only(ctx: RequestContext, tables: Mapping[str, TableSource]) -> Access:
    """No policies beyond the tenant: every row and column of the tenant's tables."""
    del tables
    return Access(ctx.tenant)


_OPEN = TableAccess()


def scope_to_tenant(tree: exp.Query, *, tenant: str) -> exp.Query:
    """A copy of ``tree`` that reads only ``tenant``'s rows of every lake table.

    Each ``layer.name [AS a]`` becomes ``(SELECT * FROM layer.name WHERE _tenant_id = '<tenant>')
    AS a``; without an alias the table's name becomes the alias, so ``orders.col`` and
    ``silver.orders.col`` still resolve. A CTE named like a lake table is not a lake reference,
    but a ``layer.name`` inside that CTE's body is.

    Args:
        tree: the query; it is not modified.
        tenant: the tenant whose rows may be read.

    Raises:
        InvalidInput: ``tenant`` is empty.

    >>> from gnomon.engine.readonly import parse_read_only
    >>> scope_to_tenant(parse_read_only("SELECT o.id FROM silver.orders AS o"), tenant="acme").sql()
    "SELECT o.id FROM (SELECT * FROM silver.orders WHERE _tenant_id = 'acme') AS o"
    """
    return apply_access(tree, Access(tenant))


def _allowed_rows(
    table: exp.Table, tenant: str, rules: TableAccess, show_keys: bool
) -> exp.Subquery:
    moved = {key: table.args.get(key) for key in _MOVED_TO_SUBQUERY}
    inner = table.copy()
    for key in _MOVED_TO_SUBQUERY:
        inner.set(key, None)
    if moved["alias"] is None:
        moved["alias"] = exp.TableAlias(this=table.this.copy())
    condition: exp.Expr = exp.EQ(
        this=exp.column(TENANT_COLUMN), expression=exp.Literal.string(tenant)
    )
    if rules.row_filter is not None:
        condition = exp.and_(condition, exp.Paren(this=rules.row_filter.copy()))
    rows = exp.select(*_projection(rules, table, show_keys)).from_(inner).where(condition)
    return exp.Subquery(this=rows, **{key: value for key, value in moved.items() if value})


def _projection(rules: TableAccess, table: exp.Table, show_keys: bool) -> list[exp.Expr]:
    if not rules.masks:
        return [exp.Star()]
    if not rules.columns:
        raise InvalidInput(
            f"Cannot mask columns of {table.sql()}: its column list is unknown.",
            hint="Pass the table's columns with its masks.",
        )
    return [
        exp.alias_(_masked(exp.column(name, quoted=True), mask, show_keys), name, quoted=True)
        if (mask := rules.masks.get(name)) is not None
        else exp.column(name, quoted=True)
        for name in rules.columns
    ]


def _masked(column: exp.Column, mask: ColumnMask, show_keys: bool) -> exp.Expr:
    """The masked value; NULL stays NULL under every strategy."""
    text = exp.cast(column.copy(), exp.DataType.build("varchar"))
    if mask.strategy == "redact":
        return exp.Case(ifs=[exp.If(this=exp.false(), true=column.copy())])  # NULL, same type
    if mask.strategy == "substitute":
        shown: exp.Expr = exp.Literal.string(mask.value)
    elif mask.strategy == "hash":
        key = exp.Literal.string(mask.key if show_keys else "<mask key>")
        salted = exp.cast(exp.DPipe(this=key, expression=text), exp.DataType.build("blob"))
        shown = exp.SHA2(this=salted, length=exp.Literal.number(256))
    else:
        length = exp.Length(this=text.copy())
        reveal = exp.Literal.number(max(mask.reveal, 0))
        stars = exp.Anonymous(
            this="REPEAT",
            expressions=[exp.Literal.string("*"), exp.Sub(this=length, expression=reveal)],
        )
        tail = exp.Right(this=text.copy(), expression=reveal.copy())
        shown = exp.Case(
            ifs=[
                exp.If(
                    this=exp.LTE(this=length.copy(), expression=reveal.copy()),
                    true=exp.Anonymous(
                        this="REPEAT", expressions=[exp.Literal.string("*"), length.copy()]
                    ),
                )
            ],
            default=exp.Concat(expressions=[stars, tail]),
        )
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=column.copy(), expression=exp.Null()), true=exp.Null())],
        default=shown,
    )


def _drop_layer_qualifier(column: exp.Column) -> None:
    """``silver.orders.col`` → ``orders.col``: the table is now a subquery aliased ``orders``."""
    db = column.args.get("db")
    if isinstance(db, exp.Identifier) and db.name.lower() in _LAYER_SET:
        column.set("db", None)
        column.set("catalog", None)
