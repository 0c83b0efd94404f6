"""The rule language: SQL-like conditions that say when a rule fires.

A condition is one SQL expression over the fields of what is judged (an event's data, a KPI's
values, an anomaly): ``AND``/``OR``/``NOT``, comparisons, ``IN``, ``BETWEEN``, ``LIKE``/``ILIKE``,
``IS [NOT] NULL``, ``+ - * /``, ``||``, ``CASE``/``IF``, and the functions of
:mod:`gnomon.triggers.functions` (``hour_of_day``, ``day_of_week``, ``local_date``, ``lower`` …).
It is parsed with sqlglot and checked here, when the rule is applied: anything outside the
language (a subquery, an unknown function, a wrong number of arguments, an unknown time zone)
is refused with a :class:`RuleSyntaxError` naming the line and column, so a broken rule never
reaches the evaluator. Types are checked later, against the data (see
:mod:`gnomon.triggers.evaluation`).

Semantics are SQL's: three-valued logic (a comparison with NULL is NULL), and a rule fires only
where its condition is TRUE. Division by zero is NULL, not infinity, so ``revenue / orders > 10``
does not fire on a day without orders. Times without a zone, in literals, are read in the rule's
time zone.

>>> c = parse_condition("amount > 100 AND country IN ('DE', 'AT')")
>>> c.fields
(('amount',), ('country',))
>>> parse_condition("amount >")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
gnomon.triggers.errors.RuleSyntaxError: The condition is incomplete ... (line 1, column 9)
"""

from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlglot
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ParseError, SqlglotError

from gnomon.triggers.errors import RuleSyntaxError
from gnomon.triggers.functions import FUNCTIONS, TEMPORAL_LITERAL_TYPES

__all__ = ["Condition", "parse_condition", "timezone_of"]

MAX_LENGTH = 10_000
"""Longest condition accepted, in characters: a rule is a sentence, not a program."""
MAX_DEPTH = 64
"""Deepest nesting accepted: deeper trees would only exhaust the evaluator's stack."""


class _RuleDialect(DuckDB):
    """DuckDB's syntax, but every function call parsed alike (as a name and its arguments).

    sqlglot maps known names to classes of its own (``day_of_week`` to DuckDB's Sunday-first
    ``DayOfWeek``, say); the rule language defines its functions itself, by name.
    """

    class Parser(DuckDB.Parser):  # type: ignore[valid-type,misc]
        FUNCTIONS: dict[str, object] = {}  # noqa: RUF012 - sqlglot reads it as a class attribute
        FUNCTION_PARSERS: dict[str, object] = {  # noqa: RUF012
            name: parse
            for name, parse in DuckDB.Parser.FUNCTION_PARSERS.items()
            if name.lower() not in FUNCTIONS and name not in ("CEILING",)
        }


_OPERATORS: tuple[type[exp.Expr], ...] = (
    exp.And, exp.Or, exp.Not, exp.Paren,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.In, exp.Between, exp.Like, exp.ILike, exp.Is,
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.DPipe,
    exp.Case, exp.If, exp.Anonymous, exp.Cast, exp.DataType,
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null,
)  # fmt: skip
"""Every node a condition may hold; anything else is outside the language."""

_VALUE_ONLY: tuple[type[exp.Expr], ...] = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Neg, exp.DPipe, exp.Literal,
)  # fmt: skip
"""Nodes that are never true or false: a condition (or an AND/OR/NOT operand) cannot be one."""

_CASTS = frozenset({exp.DataType.Type.DOUBLE, *TEMPORAL_LITERAL_TYPES})

_HINT = (
    "Write one SQL condition, e.g. amount > 100 AND country IN ('DE', 'AT'); "
    "docs/triggers.md lists the operators and functions."
)


@dataclass(frozen=True, slots=True)
class Condition:
    """A checked condition: its text, its syntax tree, its time zone and the fields it reads.

    ``fields`` are paths (``data.amount`` is ``("data", "amount")``), in order of appearance.
    """

    text: str
    tree: exp.Expr
    timezone: str
    fields: tuple[tuple[str, ...], ...]


def parse_condition(text: str, *, timezone: str = "UTC") -> Condition:
    """Parse and check a rule's condition.

    Args:
        text: the condition, one SQL expression.
        timezone: the IANA zone for times without one and for the calendar functions.

    Raises:
        RuleSyntaxError: the text is not a condition of the rule language, or the time zone is
            unknown; the message names the line and column.
    """
    if not isinstance(text, str) or not text.strip():
        raise RuleSyntaxError(
            "The condition is empty", text=str(text or ""), line=1, column=1, hint=_HINT
        )
    if len(text) > MAX_LENGTH:
        raise RuleSyntaxError(
            f"The condition is {len(text)} characters long, more than {MAX_LENGTH}",
            text=text[:200],
            line=1,
            column=1,
            hint="Split it into several rules, or chain them.",
        )
    zone = timezone_of(timezone, text=text, at=(1, 1))
    _check_nesting(text)
    tree = _parse(text)
    _Checker(text).check(tree)
    columns = (n for n in tree.walk(bfs=False) if isinstance(n, exp.Column))
    fields = tuple(dict.fromkeys(_path(c) for c in columns))
    return Condition(text=text, tree=tree, timezone=zone, fields=fields)


def timezone_of(name: str, *, text: str = "", at: tuple[int, int] = (1, 1)) -> str:
    """The IANA zone ``name`` (checked), for a rule or a function's time-zone argument.

    Raises:
        RuleSyntaxError: no such zone.
    """
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        close = sorted(z for z in available_timezones() if z.lower().endswith(name.lower()[-6:]))
        raise RuleSyntaxError(
            f"Unknown time zone {name!r}",
            text=text or name,
            line=at[0],
            column=at[1],
            hint="Use an IANA zone such as 'UTC' or 'Europe/Berlin'"
            + (f"; similar: {', '.join(close[:5])}." if close else "."),
        ) from None
    return name


def _check_nesting(text: str) -> None:
    """Refuse parentheses nested deeper than ``MAX_DEPTH`` before the parser recurses into them."""
    depth = 0
    quote: str | None = None
    for offset, char in enumerate(text):
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, offset) + 1
                column = offset - (text.rfind("\n", 0, offset) + 1) + 1
                raise RuleSyntaxError(
                    f"The condition nests deeper than {MAX_DEPTH} levels",
                    text=text,
                    line=line,
                    column=column,
                    hint="Split it into several rules, or chain them.",
                )
        elif char == ")":
            depth = max(depth - 1, 0)


def _parse(text: str) -> exp.Expr:
    try:
        tree = sqlglot.condition(text, dialect=_RuleDialect)
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        line, col = first.get("line"), first.get("col")
        highlight = str(first.get("highlight") or "")
        if isinstance(line, int) and isinstance(col, int):
            column = max(col - len(highlight) + 1, 1)
            near = f" near {highlight!r}" if highlight else ""
            raise RuleSyntaxError(
                f"The condition does not parse{near}", text=text, line=line, column=column,
                hint=_HINT,
            ) from None  # fmt: skip
        line, column = _end_of(text)
        raise RuleSyntaxError(
            "The condition is incomplete or malformed", text=text, line=line, column=column,
            hint=_HINT,
        ) from None  # fmt: skip
    except RecursionError:
        raise RuleSyntaxError(
            "The condition is too deeply nested to read",
            text=text,
            line=1,
            column=1,
            hint="Split it into several rules, or chain them.",
        ) from None
    except SqlglotError:
        line, column = _end_of(text)
        raise RuleSyntaxError(
            "The condition has an unterminated string or quoted name",
            text=text,
            line=line,
            column=column,
            hint="Close every quote: 'text' for values, \"name\" for fields.",
        ) from None
    return tree


class _Checker:
    """Walks a parsed tree and refuses what is outside the language, naming where."""

    def __init__(self, text: str) -> None:
        self.text = text

    def check(self, tree: exp.Expr) -> None:
        self._boolean(tree, "The condition")
        self._walk(tree, depth=0)

    def _walk(self, node: exp.Expr, *, depth: int) -> None:
        if depth > MAX_DEPTH:
            self._fail(node, f"The condition nests deeper than {MAX_DEPTH} levels")
        if not isinstance(node, _OPERATORS):
            self._fail(node, f"{_describe(node)} is not part of the rule language")
        check = getattr(self, f"_check_{type(node).__name__.lower()}", None)
        if check is not None:
            check(node)
        for child in _children(node):
            self._walk(child, depth=depth + 1)

    # ------------------------------------------------------------------ per node

    def _check_and(self, node: exp.And) -> None:
        self._boolean(node.this, "An operand of AND")
        self._boolean(node.expression, "An operand of AND")

    def _check_or(self, node: exp.Or) -> None:
        self._boolean(node.this, "An operand of OR")
        self._boolean(node.expression, "An operand of OR")

    def _check_not(self, node: exp.Not) -> None:
        self._boolean(node.this, "The operand of NOT")

    def _check_in(self, node: exp.In) -> None:
        if node.args.get("query") is not None or node.args.get("unnest") is not None:
            self._fail(node, "IN takes a list of values, not a subquery")
        if node.args.get("field") is not None or not node.expressions:
            self._fail(node, "IN takes a list of values in parentheses")

    def _check_like(self, node: exp.Like) -> None:
        self._pattern(node, "LIKE")

    def _check_ilike(self, node: exp.ILike) -> None:
        self._pattern(node, "ILIKE")

    def _check_is(self, node: exp.Is) -> None:
        if not isinstance(node.expression, exp.Null | exp.Boolean):
            self._fail(node, "IS is followed by NULL, TRUE or FALSE")

    def _check_case(self, node: exp.Case) -> None:
        if node.this is None:
            for branch in node.args.get("ifs") or []:
                self._boolean(branch.this, "A WHEN of CASE")

    def _check_if(self, node: exp.If) -> None:
        if isinstance(node.parent, exp.Case):  # a WHEN … THEN of CASE, checked with it
            return
        self._boolean(node.this, "The condition of IF")
        if node.args.get("false") is None:
            self._fail(node, "IF takes three arguments: IF(condition, then, else)")

    def _check_column(self, node: exp.Column) -> None:
        if isinstance(node.this, exp.Star):
            self._fail(node, "* is not a field")

    def _check_cast(self, node: exp.Cast) -> None:
        to = node.args.get("to")
        target = to.this if isinstance(to, exp.DataType) else None
        if target not in _CASTS:
            self._fail(
                node,
                f"CAST to {to.sql() if to is not None else '?'} is not supported",
                hint="Cast to DOUBLE, or write DATE '2025-01-31' / TIMESTAMP '2025-01-31 08:00'.",
            )
        if target in TEMPORAL_LITERAL_TYPES and not (
            isinstance(node.this, exp.Literal) and node.this.is_string
        ):
            self._fail(node, "A DATE or TIMESTAMP value is written as text: DATE '2025-01-31'")

    def _check_anonymous(self, node: exp.Anonymous) -> None:
        name = str(node.name).lower()
        spec = FUNCTIONS.get(name)
        if spec is None:
            self._fail(
                node,
                f"Unknown function {node.name!r}",
                hint=f"The rule language's functions: {', '.join(sorted(FUNCTIONS))}.",
            )
            return
        count = len(node.expressions)
        if not spec.min_args <= count <= spec.max_args:
            wanted = (
                str(spec.min_args)
                if spec.min_args == spec.max_args
                else f"{spec.min_args} to {spec.max_args}"
            )
            self._fail(
                node,
                f"{name}() takes {wanted} argument{'s' if wanted != '1' else ''}, not {count}",
                hint=f"Usage: {spec.usage}",
            )
        for index in spec.literal_args:
            if index < count:
                argument = node.expressions[index]
                if not (isinstance(argument, exp.Literal) and argument.is_string):
                    self._fail(argument, f"Argument {index + 1} of {name}() must be a text value")
                if index == spec.timezone_arg:
                    timezone_of(argument.this, text=self.text, at=self._where(argument))

    # ------------------------------------------------------------------ helpers

    def _pattern(self, node: exp.Expr, operator: str) -> None:
        pattern = node.expression
        if isinstance(pattern, exp.Escape):
            self._fail(node, f"{operator} … ESCAPE is not supported")
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            self._fail(node, f"The pattern of {operator} must be a text value such as 'web%'")

    def _boolean(self, node: exp.Expr | None, what: str) -> None:
        if node is None:
            return
        inner = node.unnest() if isinstance(node, exp.Paren) else node
        value_only = isinstance(inner, _VALUE_ONLY) or (
            isinstance(inner, exp.Anonymous)
            and (spec := FUNCTIONS.get(str(inner.name).lower())) is not None
            and not spec.boolean
        )
        if value_only:
            self._fail(
                inner,
                f"{what} must be true or false, but {inner.sql(dialect='duckdb')!r} is a value",
                hint="Compare it: e.g. amount > 100.",
            )

    def _where(self, node: exp.Expr) -> tuple[int, int]:
        start = _start_of(node)
        if start is None:
            return 1, 1
        line = self.text.count("\n", 0, start) + 1
        column = start - (self.text.rfind("\n", 0, start) + 1) + 1
        return line, column

    def _fail(self, node: exp.Expr, message: str, *, hint: str | None = None) -> None:
        line, column = self._where(node)
        raise RuleSyntaxError(message, text=self.text, line=line, column=column, hint=hint or _HINT)


def _children(node: exp.Expr) -> Iterator[exp.Expr]:
    for value in node.args.values():
        if isinstance(value, exp.Expr):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, exp.Expr))


def _start_of(node: exp.Expr) -> int | None:
    """The offset of the node's first token the parser kept a position for."""
    starts = [
        n.meta["start"]
        for n in node.walk()
        if isinstance(n, exp.Expr) and isinstance(n.meta.get("start"), int)
    ]
    return min(starts) if starts else None


def _end_of(text: str) -> tuple[int, int]:
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _describe(node: exp.Expr) -> str:
    if isinstance(node, exp.Query | exp.Subquery):
        return "A subquery"
    if isinstance(node, exp.Star):
        return "*"
    name = type(node).__name__
    return f"{name} ({node.sql(dialect='duckdb')[:40]!r})"


def _path(column: exp.Column) -> tuple[str, ...]:
    return tuple(str(part.name) for part in column.parts)
