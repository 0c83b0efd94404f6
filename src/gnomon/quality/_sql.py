"""Small builders of portable sqlglot trees shared by the plan and the dataset checks.

Every identifier is quoted, so file column names with spaces or capitals survive every dialect,
and every value enters as a literal node, never as text spliced into SQL.
"""

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlglot import exp

from gnomon.quality.types import ColumnType, Scalar

TEXT = exp.DataType.build("TEXT")
REASON_VALUE_CHARS = 100


def ident(name: str) -> exp.Identifier:
    """A quoted identifier."""
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference, qualified by ``table`` when given."""
    return exp.Column(this=ident(name), table=None if table is None else ident(table))


def alias(expression: exp.Expr, name: str) -> exp.Alias:
    """``expression AS "name"`` on a copy of ``expression``."""
    return exp.Alias(this=expression.copy(), alias=ident(name))


def relation(source: exp.Expr, name: str) -> exp.Expr:
    """``source`` (a table, a subquery or a query) as a FROM item called ``name``."""
    source = source.copy()
    if isinstance(source, exp.Table | exp.Subquery):
        source.set("alias", exp.TableAlias(this=ident(name)))
        return source
    if isinstance(source, exp.Query):
        return source.subquery(ident(name))
    return exp.alias_(source, ident(name), table=True)


def string(value: str) -> exp.Literal:
    """A string literal."""
    return exp.Literal.string(value)


def text(expression: exp.Expr) -> exp.Expr:
    """``CAST(expression AS TEXT)``, or the expression itself when it is a string literal."""
    if isinstance(expression, exp.Literal) and expression.is_string:
        return expression.copy()
    return exp.Cast(this=expression.copy(), to=TEXT.copy())


def concat(*parts: exp.Expr) -> exp.Expr:
    """String concatenation of parts that are never NULL."""
    return exp.Concat(expressions=[p.copy() for p in parts])


def concat_ws(separator: str, parts: Sequence[exp.Expr]) -> exp.Expr:
    """``CONCAT_WS(separator, parts…)``, which skips NULL parts; ``''`` when there are none."""
    if not parts:
        return string("")
    return exp.ConcatWs(expressions=[string(separator), *(p.copy() for p in parts)], coalesce=True)


def shown(expression: exp.Expr) -> exp.Expr:
    """A value as bounded text for a reason message; ``NULL`` spelled out."""
    cut = exp.Substring(
        this=text(expression),
        start=exp.Literal.number(1),
        length=exp.Literal.number(REASON_VALUE_CHARS),
    )
    return exp.Coalesce(this=cut, expressions=[string("NULL")])


def regexp_like(expression: exp.Expr, pattern: str) -> exp.Expr:
    """Whether ``pattern`` matches somewhere in the text (anchor it to match the whole value)."""
    return exp.RegexpLike(this=expression.copy(), expression=string(pattern))


def case_when(condition: exp.Expr, value: exp.Expr) -> exp.Case:
    """``CASE WHEN condition THEN value END``."""
    return exp.Case(ifs=[exp.If(this=condition.copy(), true=value.copy())])


def literal(column_type: ColumnType, value: Scalar) -> exp.Expr:
    """``value`` as a SQL literal of ``column_type``."""
    match value:
        case bool():
            return exp.Boolean(this=value)
        case int() | Decimal():
            return exp.Literal.number(str(value))
        case float():
            return exp.Literal.number(repr(value))
        case datetime():
            return exp.Cast(this=string(value.isoformat()), to=column_type.data_type())
        case date():
            return exp.Cast(this=string(value.isoformat()), to=column_type.data_type())
        case str():
            return string(value)


def shown_value(value: Scalar) -> str:
    """A contract value as people read it in a reason (``2025-01-01T00:00:00+00:00``, ``1.5``)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
