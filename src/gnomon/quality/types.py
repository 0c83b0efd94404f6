"""The column types a contract may declare, and what each one means in Arrow and in SQL.

Why a small closed vocabulary: a contract is read by people who are not database experts, and the
same contract must mean the same thing in DuckDB, Spark and PostgreSQL. Eight types cover what
files carry; engine-specific types (``TINYINT``, ``TIMESTAMP_NTZ``, ``VARCHAR(20)``) would tie a
contract to one engine.

Two decisions shape the mapping:

* ``timestamp`` is always an instant in UTC (``TIMESTAMPTZ``; ``timestamp[us, tz=UTC]`` in Arrow).
  A file's wall-clock times are interpreted in the column's ``timezone`` when they carry no offset.
* ``json`` values are stored as validated text: Delta Lake and Spark have no JSON column type, so
  the lake keeps the document and engines parse it where a query needs it.
"""

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, get_args

import pyarrow as pa
from sqlglot import exp

from gnomon.quality.errors import ColumnTypeError

__all__ = [
    "TYPE_NAMES",
    "ColumnType",
    "Scalar",
    "TypeName",
    "coerce_value",
    "is_widening",
    "parse_type",
]

TypeName = Literal["string", "integer", "float", "decimal", "boolean", "date", "timestamp", "json"]
"""The names a contract may use in ``type:`` (``decimal`` is written ``decimal(p,s)``)."""

TYPE_NAMES: Final[tuple[str, ...]] = (
    "string",
    "integer",
    "float",
    "decimal(p,s)",
    "boolean",
    "date",
    "timestamp",
    "json",
)
"""The valid spellings, in the order error messages list them."""

Scalar = str | int | float | bool | Decimal | date | datetime
"""A Python value of a contract column (``datetime`` is always timezone-aware UTC)."""

MAX_DECIMAL_PRECISION: Final = 38
_INT64_DIGITS: Final = 19
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
_NUMERIC: Final = frozenset({"integer", "float", "decimal"})
_SQL_TYPES: Final[dict[str, str]] = {
    "string": "TEXT",
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
    "json": "TEXT",
}
TRUE_SPELLINGS: Final = ("true", "t", "yes", "y", "1")
FALSE_SPELLINGS: Final = ("false", "f", "no", "n", "0")


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed contract type; build it with :func:`parse_type`.

    >>> parse_type("Decimal( 12, 2 )")
    ColumnType(name='decimal', precision=12, scale=2)
    >>> str(parse_type("timestamp")), parse_type("integer").sql_type("postgres")
    ('timestamp', 'BIGINT')
    """

    name: TypeName
    precision: int | None = None
    scale: int | None = None

    def __post_init__(self) -> None:
        is_decimal = self.name == "decimal"
        has_size = self.precision is not None and self.scale is not None
        if is_decimal != has_size:
            raise ColumnTypeError(
                f"Invalid column type: {self.name} with precision={self.precision}, "
                f"scale={self.scale}.",
                hint="Only decimal takes a precision and a scale, and it needs both.",
            )

    def __str__(self) -> str:
        if self.name == "decimal":
            return f"decimal({self.precision},{self.scale})"
        return self.name

    @property
    def size(self) -> tuple[int, int]:
        """A decimal's ``(precision, scale)``; ``(0, 0)`` for every other type."""
        return (self.precision or 0, self.scale or 0)

    @property
    def is_numeric(self) -> bool:
        """Whether values order and compare as numbers (``min``/``max`` apply)."""
        return self.name in _NUMERIC

    @property
    def is_temporal(self) -> bool:
        """Whether values are points in time (``min``/``max``, freshness and ``format`` apply)."""
        return self.name in ("date", "timestamp")

    def to_arrow(self) -> pa.DataType:
        """The Arrow type silver stores this column as."""
        match self.name:
            case "string" | "json":
                return pa.string()
            case "integer":
                return pa.int64()
            case "float":
                return pa.float64()
            case "decimal":
                return pa.decimal128(*self.size)
            case "boolean":
                return pa.bool_()
            case "date":
                return pa.date32()
            case "timestamp":
                return pa.timestamp("us", tz="UTC")

    def data_type(self) -> exp.DataType:
        """The SQL type as a syntax tree, to be rendered for any dialect."""
        if self.name == "decimal":
            return exp.DataType.build(f"DECIMAL({self.precision}, {self.scale})")
        return exp.DataType.build(_SQL_TYPES[self.name])

    def sql_type(self, dialect: str) -> str:
        """The SQL type as text in ``dialect`` (``"duckdb"``, ``"postgres"``, ``"spark"`` …)."""
        return self.data_type().sql(dialect=dialect)


def parse_type(text: str) -> ColumnType:
    """Read a contract's ``type:`` value; case and spaces do not matter.

    Raises:
        ColumnTypeError: the text names no type; the hint lists the valid ones.
    """
    compact = "".join(str(text).split()).lower()
    if compact in get_args(TypeName) and compact != "decimal":
        return ColumnType(compact)  # type: ignore[arg-type]
    match = _DECIMAL.match(compact)
    if match is None:
        hint = f"Use one of: {', '.join(TYPE_NAMES)}."
        if compact == "decimal":
            hint = "Give decimal a precision and a scale, for example decimal(12,2)."
        raise ColumnTypeError(f"Unknown column type: {text!r}.", hint=hint, valid=list(TYPE_NAMES))
    precision, scale = int(match[1]), int(match[2])
    if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
        raise ColumnTypeError(
            f"Invalid decimal type: {text!r} has precision {precision} and scale {scale}.",
            hint=f"Use a precision from 1 to {MAX_DECIMAL_PRECISION} and a scale no larger "
            "than the precision, for example decimal(12,2).",
        )
    return ColumnType("decimal", precision, scale)


def is_widening(old: ColumnType, new: ColumnType) -> bool:
    """Whether every value of ``old`` is exactly a value of ``new``, so readers keep working.

    Widening: the same type; ``integer`` to ``float`` or to a decimal with at least 19 integer
    digits; a decimal to one with no fewer integer digits and no smaller scale; ``date`` to
    ``timestamp``. Everything else, including any type to ``string``, breaks queries that
    compute with the column.

    >>> is_widening(parse_type("decimal(10,2)"), parse_type("decimal(12,3)"))
    True
    >>> is_widening(parse_type("float"), parse_type("integer"))
    False
    """
    if old == new:
        return True
    if old.name == "integer":
        if new.name == "float":
            return True
        return new.name == "decimal" and _integer_digits(new) >= _INT64_DIGITS
    if old.name == "decimal" and new.name == "decimal":
        return new.size[1] >= old.size[1] and _integer_digits(new) >= _integer_digits(old)
    return old.name == "date" and new.name == "timestamp"


def _integer_digits(column_type: ColumnType) -> int:
    precision, scale = column_type.size
    return precision - scale


def coerce_value(column_type: ColumnType, value: object, *, timezone: tzinfo = UTC) -> Scalar:
    """Turn a YAML value (a bound, an allowed value) into a value of ``column_type``.

    Naive timestamps are read in ``timezone``; the result is UTC.

    Raises:
        ValueError: the value is not a valid ``column_type`` value; the message says why.

    >>> coerce_value(parse_type("decimal(5,2)"), 1.5)
    Decimal('1.5')
    >>> coerce_value(parse_type("timestamp"), "2025-01-01T02:00:00+02:00").isoformat()
    '2025-01-01T00:00:00+00:00'
    """
    match column_type.name:
        case "string":
            return _to_text(value)
        case "integer":
            return _to_integer(value)
        case "float":
            return _to_float(value)
        case "decimal":
            return _to_decimal(value, column_type)
        case "boolean":
            return _to_boolean(value)
        case "date":
            return _to_date(value)
        case "timestamp":
            return _to_timestamp(value, timezone)
        case "json":
            raise ValueError("json columns have no comparable values")


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise ValueError(f"{value!r} is not text")


def _to_integer(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"{value!r} is not an integer")


def _to_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _to_decimal(value: object, column_type: ColumnType) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    digits = len(str(abs(int(number)))) if int(number) else 0
    if digits > _integer_digits(column_type):
        raise ValueError(f"{value!r} does not fit {column_type}")
    return number


def _to_boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_SPELLINGS:
        return True
    if text in FALSE_SPELLINGS:
        return False
    raise ValueError(f"{value!r} is not a boolean")


def _to_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"{value!r} is a timestamp, not a date")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)")


def _to_timestamp(value: object, timezone: tzinfo) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 timestamp") from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone)
        return moment.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone).astimezone(UTC)
    raise ValueError(f"{value!r} is not an ISO 8601 timestamp")
