"""Finding table references in a tree, with CTE names resolved the way SQL scopes them.

A reference without a schema names a CTE when a ``WITH`` of an enclosing query defines it; a
CTE body sees the CTEs defined before it (all of them under ``WITH RECURSIVE``) and those of
enclosing queries. A reference with a schema (``silver.orders``) is never a CTE.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlglot import exp

LAYERS: tuple[str, ...] = ("bronze", "silver", "gold", "quarantine")
_LAYER_SET = frozenset(LAYERS)


@dataclass(frozen=True, slots=True)
class TableReference:
    """One ``exp.Table`` node and how it resolves."""

    node: exp.Table
    names_cte: bool

    @property
    def lake_key(self) -> tuple[str, str] | None:
        """``(layer, name)`` in lower case when the node names a lake table, else ``None``."""
        return lake_key(self.node)


def lake_key(node: exp.Table) -> tuple[str, str] | None:
    """``(layer, name)`` for ``layer.name`` with a known layer and no catalog, else ``None``.

    Lower case because DuckDB resolves identifiers case-insensitively, quoted or not.
    """
    db = node.args.get("db")
    if node.args.get("catalog") is not None or not isinstance(db, exp.Identifier):
        return None
    if not isinstance(node.this, exp.Identifier):
        return None
    layer = db.name.lower()
    return (layer, node.name.lower()) if layer in _LAYER_SET else None


def table_references(tree: exp.Expr) -> list[TableReference]:
    """Every table reference in the tree, in document order, each with its resolution."""
    found: list[TableReference] = []
    _visit(tree, frozenset(), found)
    return found


def _visit(node: exp.Expr, ctes: frozenset[str], found: list[TableReference]) -> None:
    with_ = node.args.get("with_")
    scope = _visit_with(with_, ctes, found) if isinstance(with_, exp.With) else ctes
    if isinstance(node, exp.Table):
        found.append(TableReference(node, _names_cte(node, scope)))
    for child in _children(node):
        if child is not with_:
            _visit(child, scope, found)


def _visit_with(
    with_: exp.With, ctes: frozenset[str], found: list[TableReference]
) -> frozenset[str]:
    ctes_here = [cte for cte in with_.expressions if isinstance(cte, exp.CTE)]
    visible = set(ctes)
    if with_.args.get("recursive"):
        visible.update(cte.alias_or_name.lower() for cte in ctes_here)
    for cte in ctes_here:
        _visit(cte.this, frozenset(visible), found)
        visible.add(cte.alias_or_name.lower())
    return frozenset(visible)


def _children(node: exp.Expr) -> Iterable[exp.Expr]:
    for value in node.args.values():
        if isinstance(value, exp.Expr):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, exp.Expr))


def _names_cte(node: exp.Table, ctes: frozenset[str]) -> bool:
    return (
        node.args.get("db") is None
        and node.args.get("catalog") is None
        and isinstance(node.this, exp.Identifier)
        and node.name.lower() in ctes
    )
