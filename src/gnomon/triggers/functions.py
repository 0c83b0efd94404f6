"""The functions of the rule language, each with its checks and its Arrow implementation.

Calendar functions read a time in a time zone (the rule's unless a second argument names one),
because "outside business hours" means the hours on the office's clock, and a time stored in
UTC would put Monday 00:30 in Berlin on Sunday. ``day_of_week`` counts ISO-style: Monday is 1
and Sunday 7. A time without a zone in the data is taken to be UTC.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gnomon.triggers._typed import NAMES, Kind, Typed, as_float, null_of
from gnomon.triggers.errors import RuleTypeError

__all__ = [
    "FUNCTIONS",
    "PCT_CHANGE_PERIODS",
    "TEMPORAL_LITERAL_TYPES",
    "FunctionSpec",
    "pct_change_field",
]

TEMPORAL_LITERAL_TYPES = frozenset(
    {
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPNTZ,
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.TIMESTAMPLTZ,
    }
)
"""``DATE '…'`` and ``TIMESTAMP '…'`` (with or without a zone) literals."""

Literal = str | int | None


@dataclass(frozen=True, slots=True)
class Call:
    """A function call to build.

    ``args`` are the compiled arguments, ``literals`` each one's literal value (``None`` where
    it is not a literal), ``zone`` the rule's time zone.
    """

    args: Sequence[Typed]
    literals: Sequence[Literal]
    zone: str


Builder = Callable[[Call], Typed]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A function: how many arguments, which must be literals, and how it is computed.

    ``build`` turns a :class:`Call` into the compiled result.
    """

    name: str
    usage: str
    build: Builder
    min_args: int = 1
    max_args: int = 1
    boolean: bool = False
    literal_args: frozenset[int] = field(default_factory=frozenset)
    """Positions that must be text literals (patterns, time zones)."""
    timezone_arg: int | None = None


def _require(name: str, value: Typed, *kinds: Kind) -> None:
    if value.kind not in kinds and value.kind != "null":
        wanted = " or ".join(NAMES[k] for k in kinds)
        raise RuleTypeError(
            f"{name}() needs {wanted}, not {NAMES[value.kind]}.",
            hint="Check the field's type in the data, or convert it first.",
            function=name,
        )


def _call(function: str, args: Sequence[pc.Expression], options: object = None) -> pc.Expression:
    return pc.Expression._call(function, list(args), options)  # noqa: SLF001 - Arrow's own API


# ---------------------------------------------------------------------- calendar


def local_time(value: Typed, zone: str) -> pc.Expression:
    """The time as seen on a clock in ``zone`` (a zoned timestamp Arrow reads fields of)."""
    data_type = value.type
    assert isinstance(data_type, pa.TimestampType)  # noqa: S101 - checked by the callers
    expr = value.expr
    if data_type.tz is None:
        expr = expr.cast(pa.timestamp(data_type.unit, tz="UTC"))
    return expr.cast(pa.timestamp(data_type.unit, tz=zone))


def _calendar(name: str, function: str, *, dates: bool, options: object = None) -> FunctionSpec:
    def build(call: Call) -> Typed:
        args = call.args
        literals = call.literals
        zone = call.zone
        value = args[0]
        if value.kind == "null":
            return null_of(pa.int64())
        if dates:
            _require(name, value, "timestamp", "date")
        else:
            _require(name, value, "timestamp")
        zone = str(literals[1]) if len(literals) > 1 and literals[1] is not None else zone
        source = value.expr if value.kind == "date" else local_time(value, zone)
        return Typed(_call(function, [source], options).cast(pa.int64()), pa.int64())

    return FunctionSpec(
        name=name,
        usage=f"{name}(time[, 'Europe/Berlin'])",
        build=build,
        max_args=2,
        literal_args=frozenset({1}),
        timezone_arg=1,
    )


def _local_date(call: Call) -> Typed:
    args = call.args
    literals = call.literals
    zone = call.zone
    value = args[0]
    if value.kind == "null":
        return null_of(pa.date32())
    _require("local_date", value, "timestamp", "date")
    if value.kind == "date":
        return Typed(value.expr.cast(pa.date32()), pa.date32())
    zone = str(literals[1]) if len(literals) > 1 and literals[1] is not None else zone
    naive = _call("local_timestamp", [local_time(value, zone)])
    return Typed(naive.cast(pa.date32()), pa.date32())


# ---------------------------------------------------------------------- text


def _text(name: str, function: str, options: object = None) -> FunctionSpec:
    def build(call: Call) -> Typed:
        args = call.args
        _require(name, args[0], "text")
        if args[0].kind == "null":
            return null_of(pa.string())
        return Typed(_call(function, [args[0].expr], options), pa.string())

    return FunctionSpec(name=name, usage=f"{name}(text)", build=build)


def _length(call: Call) -> Typed:
    args = call.args
    _require("length", args[0], "text")
    if args[0].kind == "null":
        return null_of(pa.int64())
    return Typed(_call("utf8_length", [args[0].expr]).cast(pa.int64()), pa.int64())


def _matcher(name: str, function: str) -> FunctionSpec:
    def build(call: Call) -> Typed:
        args = call.args
        literals = call.literals
        _require(name, args[0], "text")
        if args[0].kind == "null":
            return null_of(pa.bool_())
        options = pc.MatchSubstringOptions(str(literals[1]))
        return Typed(_call(function, [args[0].expr], options), pa.bool_())

    return FunctionSpec(
        name=name,
        usage=f"{name}(text, 'part')",
        build=build,
        min_args=2,
        max_args=2,
        boolean=True,
        literal_args=frozenset({1}),
    )


# ---------------------------------------------------------------------- numbers


def _numeric(name: str, function: str) -> FunctionSpec:
    def build(call: Call) -> Typed:
        args = call.args
        _require(name, args[0], "number")
        if args[0].kind == "null":
            return null_of(pa.float64())
        value = args[0] if function == "abs" else as_float(args[0])
        return Typed(_call(function, [value.expr]), value.type)

    return FunctionSpec(name=name, usage=f"{name}(number)", build=build)


def _round(call: Call) -> Typed:
    args = call.args
    literals = call.literals
    _require("round", args[0], "number")
    digits = 0
    if len(args) > 1:
        given = literals[1]
        if not isinstance(given, int):
            raise RuleTypeError(
                "round()'s second argument is a whole number of digits, such as 2.",
                hint="Write round(amount, 2).",
                function="round",
            )
        digits = given
    if args[0].kind == "null":
        return null_of(pa.float64())
    options = pc.RoundOptions(ndigits=digits, round_mode="half_towards_infinity")
    return Typed(_call("round", [as_float(args[0]).expr], options), pa.float64())


def _same_kind(name: str, args: Sequence[Typed], *kinds: Kind) -> list[Typed]:
    """The arguments brought to one type, for functions that pick among them."""
    present = [a for a in args if a.kind != "null"]
    for value in present:
        _require(name, value, *kinds)
    found = {a.kind for a in present}
    if len(found) > 1:
        raise RuleTypeError(
            f"{name}() mixes {' and '.join(NAMES[k] for k in sorted(found))}.",
            hint="Give it values of one kind.",
            function=name,
        )
    if not present:
        return [null_of(pa.float64()) for _ in args]
    target = present[0].type
    if "number" in found and any(a.type != target for a in present):
        target = pa.float64()
    if "timestamp" in found:
        target = pa.timestamp("us", tz="UTC")
    return [
        null_of(target)
        if a.kind == "null"
        else a
        if a.type == target
        else Typed(a.expr.cast(target), target)
        for a in args
    ]


def _picker(name: str, function: str, *, skip_nulls: bool) -> FunctionSpec:
    def build(call: Call) -> Typed:
        args = call.args
        values = _same_kind(name, args, "number", "text", "timestamp", "date", "bool")
        options = pc.ElementWiseAggregateOptions(skip_nulls=skip_nulls)
        return Typed(_call(function, [v.expr for v in values], options), values[0].type)

    return FunctionSpec(name=name, usage=f"{name}(a, b, …)", build=build, max_args=64)


def _coalesce(call: Call) -> Typed:
    args = call.args
    values = _same_kind("coalesce", args, "number", "text", "timestamp", "date", "bool")
    return Typed(_call("coalesce", [v.expr for v in values]), values[0].type)


def _nullif(call: Call) -> Typed:
    args = call.args
    first, second = _same_kind("nullif", args, "number", "text", "timestamp", "date", "bool")
    equal = _call("equal", [first.expr, second.expr])
    known = _call("coalesce", [equal, pc.scalar(False)])
    return Typed(_call("if_else", [known, null_of(first.type).expr, first.expr]), first.type)


PCT_CHANGE_PERIODS: dict[str, int] = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
"""``pct_change`` periods: trailing windows of this many days, each compared with the one before."""


def pct_change_field(metric: str, period: str) -> str:
    """The field a KPI row carries for ``pct_change(metric, 'period')``."""
    return f"pct_change:{metric}:{period}"


def _pct_change(call: Call) -> Typed:  # noqa: ARG001 - the builders' signature
    raise RuleTypeError(
        "pct_change() compares KPI values over time, so it is for rules on kpi only.",
        hint="Use it in a rule with on: kpi, e.g. pct_change(revenue, 'week') < -0.2.",
    )


FUNCTIONS: dict[str, FunctionSpec] = {
    spec.name: spec
    for spec in (
        _calendar("hour_of_day", "hour", dates=False),
        _calendar("minute_of_hour", "minute", dates=False),
        _calendar(
            "day_of_week",
            "day_of_week",
            dates=True,
            options=pc.DayOfWeekOptions(count_from_zero=False, week_start=1),
        ),
        _calendar("day_of_month", "day", dates=True),
        _calendar("month_of_year", "month", dates=True),
        FunctionSpec(
            name="local_date",
            usage="local_date(time[, 'Europe/Berlin'])",
            build=_local_date,
            max_args=2,
            literal_args=frozenset({1}),
            timezone_arg=1,
        ),
        _text("lower", "utf8_lower"),
        _text("upper", "utf8_upper"),
        _text("trim", "utf8_trim", pc.TrimOptions(" ")),
        FunctionSpec(name="length", usage="length(text)", build=_length),
        _matcher("starts_with", "starts_with"),
        _matcher("ends_with", "ends_with"),
        _matcher("contains", "match_substring"),
        _numeric("abs", "abs"),
        _numeric("floor", "floor"),
        _numeric("ceil", "ceil"),
        FunctionSpec(name="round", usage="round(number[, digits])", build=_round, max_args=2),
        _picker("greatest", "max_element_wise", skip_nulls=True),
        _picker("least", "min_element_wise", skip_nulls=True),
        FunctionSpec(name="coalesce", usage="coalesce(a, b, …)", build=_coalesce, max_args=64),
        FunctionSpec(name="nullif", usage="nullif(a, b)", build=_nullif, min_args=2, max_args=2),
        FunctionSpec(
            name="pct_change",
            usage="pct_change(revenue, 'week') (rules on kpi)",
            build=_pct_change,
            min_args=2,
            max_args=2,
            literal_args=frozenset({1}),
        ),
    )
}
"""Every function of the rule language, by lower-case name."""
