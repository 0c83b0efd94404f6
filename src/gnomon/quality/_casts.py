"""How a raw column as read from a file becomes a typed contract column, in portable SQL.

Why the regular-expression guards: engines disagree on what a cast accepts. DuckDB rounds
``'1.5'`` to the integer 2, Spark truncates it to 1, and PostgreSQL has no ``TRY_CAST`` at all and
fails the whole query. Checking the shape of the text first (``^[+-]?[0-9]+$`` for an integer) gives
every engine the same answer, and lets PostgreSQL cast only text that is known to fit.

Blank text (only spaces) in a non-string column counts as a missing value, not as a type error:
files written by spreadsheets mark "no value" that way. Only ``required`` rejects it.

Timestamps without an offset are wall-clock times in the column's ``timezone``; those with an offset
are instants. The trees assume the engine session runs in UTC, as gnomon's engines do.

Why the pieces come apart (``text``, ``typed``, ``present``): the plan computes each once, in
layers, and every rule reads the result. The trimmed text is needed two to four times by a guarded
cast, so it is its own column; ``typed`` reads it through the reference the caller names.

A column whose every value is known to have a canonical shape the guard accepts (see
:mod:`gnomon.quality.shapes`) is cast directly, with neither guard nor trim: on such values both
forms give the same result, and the direct one costs a fraction.
"""

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlglot import exp

from gnomon.quality import _sql
from gnomon.quality.contract import ColumnSpec
from gnomon.quality.shapes import TextShape, skips_guard
from gnomon.quality.types import FALSE_SPELLINGS, TRUE_SPELLINGS, ColumnType

Dialect = Literal["duckdb", "postgres", "spark"]

INTEGER_TEXT = r"^[+-]?[0-9]+$"
DECIMAL_TEXT = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$"
FLOAT_TEXT = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?$"
DATE_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_CLOCK = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?"
LOCAL_TIMESTAMP_TEXT = rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]{_CLOCK})?$"
OFFSET_TIMESTAMP_TEXT = (
    rf"^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}[T ]{_CLOCK}([zZ]|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$"
)
WALL_CLOCK_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
"""The commonest wall-clock shape (to the second), a subset of :data:`LOCAL_TIMESTAMP_TEXT`
that DuckDB's GLOB tests in two thirds of the time its regular expressions take."""
_UTC = "UTC"
_INSTANT = exp.DataType.build("TIMESTAMPTZ")
_WALL = exp.DataType.build("TIMESTAMP")


@dataclass(frozen=True, slots=True)
class TypedColumn:
    """A contract column computed from the source relation.

    Attributes:
        name: the contract name.
        column_type: its type.
        typed: the value as ``column_type``; NULL when missing or unreadable. It reads the raw
            column, and the trimmed text through the reference given to :func:`typed_column`.
        present: true when the file has a value (not NULL, not blank); never NULL. It may read
            the trimmed text too.
        raw_text: the value as read, as text, for reason messages.
        can_fail: whether a present value can be unreadable (so a ``type`` rule is needed).
        absent: the file has no such column.
        text: the raw text without surrounding spaces, when ``typed`` reads it; else ``None``.
    """

    name: str
    column_type: ColumnType
    typed: exp.Expr
    present: exp.Expr
    raw_text: exp.Expr
    can_fail: bool
    absent: bool = False
    text: exp.Expr | None = None

    @property
    def type_failed(self) -> exp.Expr:
        """A present value that could not be read as the column's type."""
        return exp.and_(self.present.copy(), exp.Is(this=self.typed.copy(), expression=exp.Null()))

    @property
    def has_value(self) -> exp.Expr:
        """The typed value is not NULL."""
        return exp.not_(exp.Is(this=self.typed.copy(), expression=exp.Null()))


def typed_column(
    name: str,
    spec: ColumnSpec,
    *,
    raw: str | None,
    raw_type: pa.DataType | None,
    table: str,
    trimmed: exp.Expr,
    dialect: Dialect = "duckdb",
    shape: TextShape | None = None,
) -> TypedColumn:
    """Build the typed column ``name`` from raw column ``raw`` of relation ``table``.

    ``trimmed`` is how ``typed`` refers to the trimmed text (:attr:`TypedColumn.text`), which the
    caller computes beforehand; ``dialect`` picks the cheapest exact conversion for the engine.
    ``shape``, when given, is a shape every present value of a text ``raw`` is known to have.
    """
    column_type = spec.column_type
    if raw is None or raw_type is None:
        return TypedColumn(
            name=name,
            column_type=column_type,
            typed=exp.Cast(this=exp.Null(), to=column_type.data_type()),
            present=exp.false(),
            raw_text=_sql.string(""),
            can_fail=False,
            absent=True,
        )
    reference = _sql.col(raw, table)
    if _is_text(raw_type):
        if skips_guard(shape, spec) and not pa.types.is_null(raw_type):
            return _from_shaped_text(name, spec, reference, dialect=dialect)
        value: exp.Expr = _sql.text(reference) if pa.types.is_null(raw_type) else reference
        return _from_text(name, spec, value, trimmed=trimmed, dialect=dialect)
    typed = _from_native(spec, reference, raw_type)
    return TypedColumn(
        name=name,
        column_type=column_type,
        typed=typed if typed is not None else exp.Cast(this=exp.Null(), to=column_type.data_type()),
        present=exp.not_(exp.Is(this=reference, expression=exp.Null())),
        raw_text=_sql.shown(reference),
        can_fail=column_type.name != "string",
    )


def _is_text(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return _is_text(data_type.value_type)
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
        or pa.types.is_null(data_type)
    )


def _from_text(
    name: str, spec: ColumnSpec, value: exp.Expr, *, trimmed: exp.Expr, dialect: Dialect
) -> TypedColumn:
    column_type = spec.column_type
    reads_text = column_type.name not in ("string", "json")
    present = (
        exp.Coalesce(
            this=exp.NEQ(this=trimmed.copy(), expression=_sql.string("")),
            expressions=[exp.false()],
        )
        if reads_text
        else _present(value)
    )
    return TypedColumn(
        name=name,
        column_type=column_type,
        typed=_parse_text(spec, value, trimmed, dialect),
        present=present,
        raw_text=_sql.shown(value),
        can_fail=column_type.name != "string",
        text=_trim(value) if reads_text else None,
    )


def _from_shaped_text(
    name: str, spec: ColumnSpec, value: exp.Expr, *, dialect: Dialect
) -> TypedColumn:
    """The column from text whose present values all have a shape its guard accepts.

    Such a value is never blank and has nothing to trim, so it is present exactly when it is
    not NULL, and the guarded cast always takes its cast branch: cast it directly.
    """
    column_type = spec.column_type
    if column_type.name == "timestamp":
        wall_clock = exp.TryCast(this=value.copy(), to=_WALL.copy(), safe=True)
        typed = _wall_in_zone(wall_clock, spec.zone, dialect)
    else:
        typed = exp.TryCast(this=value.copy(), to=column_type.data_type(), safe=True)
    return TypedColumn(
        name=name,
        column_type=column_type,
        typed=typed,
        present=exp.not_(exp.Is(this=value.copy(), expression=exp.Null())),
        raw_text=_sql.shown(value),
        can_fail=True,
    )


def _starts_with_space(value: exp.Expr) -> exp.Expr:
    return exp.Like(this=value.copy(), expression=_sql.string(" %"))


def _ends_with_space(value: exp.Expr) -> exp.Expr:
    return exp.Like(this=value.copy(), expression=_sql.string("% "))


def _trim(value: exp.Expr) -> exp.Expr:
    """``TRIM(value)``, trimming only text with a space at either end.

    Engines copy the text on every ``TRIM``; a ``LIKE`` on the first and last character is far
    cheaper, and most text has nothing to trim.
    """
    padded = exp.or_(_starts_with_space(value), _ends_with_space(value))
    return exp.Case(
        ifs=[exp.If(this=padded, true=exp.Trim(this=value.copy()))], default=value.copy()
    )


def _present(value: exp.Expr) -> exp.Expr:
    """``value IS NOT NULL AND TRIM(value) <> ''``, trimming only text that starts with a space.

    Text whose first character is not a space is blank only when it is empty. The ``CASE`` makes
    every engine skip the ``TRIM`` for the others, where ``AND`` would evaluate both sides.
    """
    empty = _sql.string("")
    return exp.Case(
        ifs=[
            exp.If(this=exp.Is(this=value.copy(), expression=exp.Null()), true=exp.false()),
            exp.If(
                this=_starts_with_space(value),
                true=exp.NEQ(this=exp.Trim(this=value.copy()), expression=empty.copy()),
            ),
        ],
        default=exp.NEQ(this=value.copy(), expression=empty),
    )


def _guarded_cast(trimmed: exp.Expr, pattern: str, to: exp.DataType) -> exp.Expr:
    cast = exp.TryCast(this=trimmed.copy(), to=to, safe=True)
    return _sql.case_when(_sql.regexp_like(trimmed, pattern), cast)


def _parse_text(spec: ColumnSpec, value: exp.Expr, trimmed: exp.Expr, dialect: Dialect) -> exp.Expr:
    column_type = spec.column_type
    match column_type.name:
        case "string":
            return value.copy()
        case "integer":
            return _guarded_cast(trimmed, INTEGER_TEXT, column_type.data_type())
        case "float":
            return _guarded_cast(trimmed, FLOAT_TEXT, column_type.data_type())
        case "decimal":
            return _guarded_cast(trimmed, DECIMAL_TEXT, column_type.data_type())
        case "boolean":
            return _parse_boolean(trimmed)
        case "date":
            if spec.format is not None:
                return exp.StrToDate(
                    this=trimmed.copy(), format=_sql.string(spec.format), safe=True
                )
            return _guarded_cast(trimmed, DATE_TEXT, column_type.data_type())
        case "timestamp":
            return _parse_timestamp(spec, trimmed, dialect)
        case "json":
            parsed = exp.ParseJSON(this=value.copy(), safe=True)
            return exp.Cast(this=parsed, to=_sql.TEXT.copy())


def _parse_boolean(trimmed: exp.Expr) -> exp.Expr:
    lowered = exp.Lower(this=trimmed.copy())
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.In(this=lowered.copy(), expressions=[_sql.string(s) for s in spellings]),
                true=exp.Boolean(this=truth),
            )
            for spellings, truth in ((TRUE_SPELLINGS, True), (FALSE_SPELLINGS, False))
        ]
    )


def _parse_timestamp(spec: ColumnSpec, trimmed: exp.Expr, dialect: Dialect) -> exp.Expr:
    if spec.format is not None:
        parsed = exp.StrToTime(this=trimmed.copy(), format=_sql.string(spec.format), safe=True)
        if "%z" in spec.format:
            return exp.Cast(this=parsed, to=_INSTANT.copy())
        # Some engines parse into an instant in the session's zone; the wall clock is wanted.
        return _wall_in_zone(exp.Cast(this=parsed, to=_WALL.copy()), spec.zone, dialect)
    # The two shapes exclude each other (an offset follows the clock, a wall clock ends it), so
    # their order changes no result; wall clocks come first as files carry them more often.
    wall_clock = _sql.regexp_like(trimmed, LOCAL_TIMESTAMP_TEXT)
    if dialect == "duckdb":
        # DuckDB evaluates the right of an OR only for rows the left did not settle.
        common = exp.Glob(this=trimmed.copy(), expression=_sql.string(WALL_CLOCK_GLOB))
        wall_clock = exp.or_(common, wall_clock)
    return exp.Case(
        ifs=[
            exp.If(
                this=wall_clock,
                true=_wall_in_zone(
                    exp.TryCast(this=trimmed.copy(), to=_WALL.copy(), safe=True), spec.zone, dialect
                ),
            ),
            exp.If(
                this=_sql.regexp_like(trimmed, OFFSET_TIMESTAMP_TEXT),
                true=exp.TryCast(this=trimmed.copy(), to=_INSTANT.copy(), safe=True),
            ),
        ]
    )


def _wall_in_zone(wall_clock: exp.Expr, zone: ZoneInfo, dialect: Dialect) -> exp.Expr:
    """A microsecond ``TIMESTAMP`` read in ``zone``, as an instant.

    DuckDB converts ``TIMESTAMP`` to ``TIMESTAMPTZ`` through its time-zone library even in UTC,
    row by row; for UTC, counting the microseconds since the epoch gives the same instant for a
    fraction of the cost.
    """
    if dialect == "duckdb" and zone.key == _UTC:
        micros = exp.Anonymous(this="epoch_us", expressions=[wall_clock])
        return exp.Anonymous(this="make_timestamptz", expressions=[micros])
    return _in_zone(wall_clock, zone)


def _in_zone(wall_clock: exp.Expr, zone: ZoneInfo) -> exp.Expr:
    """A wall-clock timestamp read in ``zone``, as an instant."""
    if zone.key == _UTC:
        return exp.Cast(this=wall_clock, to=_INSTANT.copy())
    utc_wall = exp.FromTimeZone(this=wall_clock, zone=_sql.string(zone.key))
    return exp.Cast(this=utc_wall, to=_INSTANT.copy())


def _from_native(spec: ColumnSpec, reference: exp.Column, raw_type: pa.DataType) -> exp.Expr | None:
    """The typed value from an already-typed raw column (Parquet, Avro), or None if impossible."""
    column_type = spec.column_type
    target = column_type.data_type()
    is_integer = pa.types.is_integer(raw_type)
    is_number = is_integer or pa.types.is_floating(raw_type) or pa.types.is_decimal(raw_type)
    match column_type.name:
        case "string":
            return _sql.text(reference)
        case "integer" if is_integer:
            return exp.TryCast(this=reference.copy(), to=target, safe=True)
        case "integer" if is_number:
            whole = exp.EQ(this=reference.copy(), expression=exp.Floor(this=reference.copy()))
            return _sql.case_when(whole, exp.TryCast(this=reference.copy(), to=target, safe=True))
        case "float" | "decimal" if is_number:
            return exp.TryCast(this=reference.copy(), to=target, safe=True)
        case "boolean" if pa.types.is_boolean(raw_type):
            return reference.copy()
        case "boolean" if is_integer:
            return _parse_boolean(_sql.text(reference))
        case "date" if pa.types.is_date(raw_type) or pa.types.is_timestamp(raw_type):
            return exp.Cast(this=reference.copy(), to=target)
        case "timestamp" if pa.types.is_timestamp(raw_type) and raw_type.tz is not None:
            return exp.Cast(this=reference.copy(), to=target)
        case "timestamp" if pa.types.is_timestamp(raw_type):
            return _in_zone(reference.copy(), spec.zone)
        case "timestamp" if pa.types.is_date(raw_type):
            wall = exp.Cast(this=reference.copy(), to=_WALL.copy())
            return _in_zone(wall, spec.zone)
    return None
