"""Tenant isolation as a tree pass: every lake table read becomes a read of one tenant's rows.

Policy: the pass rewrites the tree rather than relying on the caller to add a ``WHERE``, so a
lake table cannot be read unscoped from any position (``FROM``, ``JOIN``, subqueries, CTE bodies,
set-operation branches, ``IN``/``EXISTS``/lateral subqueries). The tenant enters the tree as a
string literal node, never through string formatting. Further policies (row-level security,
masking) are more passes of the same shape.
"""

from sqlglot import exp

from gnomon.engine._references import LAYERS, table_references
from gnomon.errors import InvalidInput

__all__ = ["TENANT_COLUMN", "scope_to_tenant"]

TENANT_COLUMN = "_tenant_id"
_LAYER_SET = frozenset(LAYERS)
_MOVED_TO_SUBQUERY = ("alias", "joins", "laterals", "pivots", "sample")


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
    if not tenant:
        raise InvalidInput(
            "No tenant to scope the query to: the tenant is empty.",
            hint="Pass the tenant of the request context.",
        )
    scoped = tree.copy()
    for reference in table_references(scoped):
        if reference.lake_key is not None:
            reference.node.replace(_tenant_rows(reference.node, tenant))
    for column in scoped.find_all(exp.Column):
        _drop_layer_qualifier(column)
    return scoped


def _tenant_rows(table: exp.Table, tenant: str) -> exp.Subquery:
    moved = {key: table.args.get(key) for key in _MOVED_TO_SUBQUERY}
    inner = table.copy()
    for key in _MOVED_TO_SUBQUERY:
        inner.set(key, None)
    if moved["alias"] is None:
        moved["alias"] = exp.TableAlias(this=table.this.copy())
    rows = (
        exp.select(exp.Star())
        .from_(inner)
        .where(exp.EQ(this=exp.column(TENANT_COLUMN), expression=exp.Literal.string(tenant)))
    )
    return exp.Subquery(this=rows, **{key: value for key, value in moved.items() if value})


def _drop_layer_qualifier(column: exp.Column) -> None:
    """``silver.orders.col`` → ``orders.col``: the table is now a subquery aliased ``orders``."""
    db = column.args.get("db")
    if isinstance(db, exp.Identifier) and db.name.lower() in _LAYER_SET:
        column.set("db", None)
        column.set("catalog", None)
