"""The SQL expressions definitions and filters may contain: parsed once, checked, portable.

Definitions are written once and run on DuckDB, PostgreSQL and Spark, so an expression may only
use what all three read alike: columns, literals, arithmetic, comparisons, boolean logic, CASE,
CAST, IN, BETWEEN, LIKE, IS NULL, and a list of portable functions that sqlglot renders for each
dialect. Subqueries, star, window functions and aggregates are refused here: aggregation is what
a measure's ``agg`` says, and nothing in a definition may read another table.
"""

from collections.abc import Callable

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

__all__ = ["ExpressionProblem", "columns_of", "parse_expression", "replace_columns"]

_READ_DIALECT = "duckdb"

_PORTABLE_FUNCTIONS: tuple[type[exp.Func], ...] = (
    exp.Abs,
    exp.Ceil,
    exp.Coalesce,
    exp.Concat,
    exp.DateTrunc,
    exp.Extract,
    exp.Floor,
    exp.Greatest,
    exp.If,
    exp.Least,
    exp.Length,
    exp.Lower,
    exp.Ln,
    exp.Nullif,
    exp.Pow,
    exp.Round,
    exp.Sqrt,
    exp.Substring,
    exp.TimestampTrunc,
    exp.Trim,
    exp.Upper,
)
_ALLOWED_NODES: tuple[type[exp.Expr], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Not,
    exp.And,
    exp.Or,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Case,
    exp.Cast,
    exp.TryCast,
    exp.DataType,
    exp.DataTypeParam,
    exp.Var,
    exp.Interval,
    exp.Tuple,
    exp.DPipe,
    exp.Kwarg,
    *_PORTABLE_FUNCTIONS,
)


class ExpressionProblem(ValueError):
    """An expression that cannot be used; the message says why and what is allowed."""


def parse_expression(text: str, *, what: str) -> exp.Expr:
    """Parse one scalar SQL expression and check that it only uses portable parts.

    Raises:
        ExpressionProblem: it does not parse, or uses something not allowed (named).
    """
    if not text.strip():
        raise ExpressionProblem(f"the {what} is empty")
    try:
        tree = sqlglot.parse_one(text, read=_READ_DIALECT)
    except ParseError as exc:
        errors = exc.errors[0] if exc.errors else {}
        where = f" at column {errors.get('col')}" if errors.get("col") else ""
        detail = errors.get("description") or str(exc).splitlines()[0]
        raise ExpressionProblem(f"the {what} {text!r} is not valid SQL{where}: {detail}") from exc
    if isinstance(tree, exp.Alias):
        raise ExpressionProblem(f"the {what} {text!r} must not name itself with AS")
    for node in tree.walk():
        if isinstance(node, exp.Column) and (node.table or isinstance(node.this, exp.Star)):
            raise ExpressionProblem(
                f"the {what} {text!r} refers to {node.sql()}: write plain column names"
            )
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionProblem(
                f"the {what} {text!r} uses {_describe(node)}, which definitions cannot use; "
                "allowed are columns, literals, arithmetic, comparisons, AND/OR/NOT, CASE, CAST, "
                "IN, BETWEEN, LIKE, IS NULL and the functions "
                + ", ".join(sorted(_function_names()))
            )
    return tree


def columns_of(tree: exp.Expr) -> list[str]:
    """The column names an expression reads, in order of first use."""
    seen: dict[str, None] = {}
    for column in tree.find_all(exp.Column):
        seen.setdefault(column.name, None)
    return list(seen)


def replace_columns(tree: exp.Expr, replace: Callable[[str], exp.Expr]) -> exp.Expr:
    """A copy of ``tree`` with each column replaced by ``replace(name)`` (parenthesised)."""

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column):
            replacement = replace(node.name).copy()
            if isinstance(replacement, exp.Column | exp.Literal | exp.Paren):
                return replacement
            return exp.Paren(this=replacement)
        return node

    return tree.transform(swap)  # transform works on a copy


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return f"the function {node.name.lower()}()"
    if isinstance(node, exp.Func):
        return f"the function {node.sql_name().lower()}()"
    if isinstance(node, exp.Query | exp.Subquery):
        return "a subquery"
    if isinstance(node, exp.Star):
        return "*"
    return node.key.upper()


def _function_names() -> set[str]:
    return {cls.sql_names()[0].lower() for cls in _PORTABLE_FUNCTIONS if cls.sql_names()}
