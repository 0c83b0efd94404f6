"""SQL nodes the compile shapes share, built as nodes: sqlglot parses any string it is handed.

A name given to ``from_``, ``with_`` or a ``join_type`` is parsed, and each parse builds a parser
(about 0.1 ms); a compiled query has a dozen such names, so they are built here directly.
"""

from sqlglot import exp

__all__ = [
    "DOUBLE",
    "aliased",
    "cross_join",
    "divide",
    "left_join",
    "metric_column",
    "safe_division",
    "with_ctes",
]

DOUBLE = exp.DataType(this=exp.DataType.Type.DOUBLE)


def aliased(name: str, alias: str | None = None) -> exp.Table:
    """``name [AS alias]`` as a table reference (a CTE, relation or subquery alias)."""
    table = exp.Table(this=exp.to_identifier(name))
    if alias is not None:
        table.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
    return table


def left_join(source: exp.Expr, on: exp.Expr) -> exp.Join:
    """``LEFT JOIN source ON on``."""
    return exp.Join(this=source, on=on, side="LEFT")


def cross_join(source: exp.Expr) -> exp.Join:
    """``CROSS JOIN source``."""
    return exp.Join(this=source, kind="CROSS")


def with_ctes(select: exp.Select, ctes: list[tuple[str, exp.Query]]) -> exp.Select:
    """``select`` preceded by ``WITH name AS (query), …`` (in place)."""
    if ctes:
        select.set(
            "with_",
            exp.With(
                expressions=[
                    exp.CTE(this=query, alias=exp.TableAlias(this=exp.to_identifier(name)))
                    for name, query in ctes
                ]
            ),
        )
    return select


def metric_column(name: str, table: str | None = None) -> exp.Column:
    """A result column (time, dimension or metric), quoted: names come from definitions."""
    return exp.column(name, table=table, quoted=True)


def divide(numerator: exp.Expr, denominator: exp.Expr) -> exp.Expr:
    """``numerator / NULLIF(denominator, 0)`` in DOUBLE: division by zero is NULL everywhere."""
    return exp.Div(
        this=exp.cast(numerator, DOUBLE),
        expression=exp.Nullif(this=exp.cast(denominator, DOUBLE), expression=exp.Literal.number(0)),
    )


def safe_division(tree: exp.Expr) -> exp.Expr:
    """``tree`` with every division made by :func:`divide`."""

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Div):
            return divide(node.this, node.expression)
        return node

    return tree.transform(swap)
