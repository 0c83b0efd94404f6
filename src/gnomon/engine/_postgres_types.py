"""Arrow ↔ PostgreSQL types for :class:`gnomon.engine.postgres.PostgresEngine`.

Going in, a lake column keeps its meaning: integers keep their width (``int64`` → ``bigint``),
``decimal128(p, s)`` → ``numeric(p, s)``, a timestamp with a time zone → ``timestamptz`` (an
instant) and without → ``timestamp``; nested values become ``jsonb``. Batches are written as CSV
by Arrow's own writer, which quotes every string, so an empty string and NULL stay apart
(PostgreSQL reads an unquoted empty field as NULL).

Coming back, the declared type decides:

* ``numeric(p, s)`` (a column of a copied table, an explicit cast) → ``decimal128(p, s)``, exact;
* ``numeric`` without a precision (what ``sum(bigint)``, ``avg`` and arithmetic on numerics
  return) → ``float64``: such a column has no fixed scale for a decimal type to carry, and
  ``float64`` is what DuckDB returns for the same averages. Cast in the query to
  ``numeric(p, s)`` for an exact result.
* ``timestamptz`` → ``timestamp[us, UTC]``; ``timestamp`` → ``timestamp[us]``; ``date`` →
  ``date32``; ``interval`` → ``duration[us]`` (a month counts as 30 days); ``json``, ``jsonb``,
  ``uuid`` and any type without a mapping → ``string``.
"""

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from gnomon.optional import require

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow
else:
    psycopg = require("psycopg", extra="postgres")

__all__ = [
    "ResultColumn",
    "column_type",
    "csv_bytes",
    "result_columns",
    "result_schema",
    "to_batch",
]

_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")
_DECIMAL128_DIGITS = 38
_DECIMAL256_DIGITS = 76

Convert = Callable[[Any], Any]


# ---------------------------------------------------------------------- Arrow → PostgreSQL


def column_type(data_type: pa.DataType) -> str:
    """The PostgreSQL type a column of ``data_type`` is declared with."""
    if pa.types.is_dictionary(data_type):
        return column_type(data_type.value_type)
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_integer(data_type):
        return _integer_type(data_type)
    if pa.types.is_floating(data_type):
        return "double precision" if data_type.bit_width == 64 else "real"
    if pa.types.is_decimal(data_type):
        return f"numeric({data_type.precision},{data_type.scale})"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_timestamp(data_type):
        return "timestamp with time zone" if data_type.tz else "timestamp without time zone"
    if pa.types.is_time(data_type):
        return "time without time zone"
    if pa.types.is_duration(data_type):
        return "interval"
    if _is_binary(data_type):
        return "bytea"
    if _is_nested(data_type):
        return "jsonb"
    return "text"


def _integer_type(data_type: pa.DataType) -> str:
    bits = data_type.bit_width + (0 if pa.types.is_signed_integer(data_type) else 1)
    if bits <= 16:
        return "smallint"
    if bits <= 32:
        return "integer"
    if bits <= 64:
        return "bigint"
    return "numeric(20,0)"


def _is_binary(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_binary(data_type)
        or pa.types.is_large_binary(data_type)
        or pa.types.is_fixed_size_binary(data_type)
        or pa.types.is_binary_view(data_type)
    )


def _is_nested(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_nested(data_type))


def csv_bytes(batch: pa.RecordBatch) -> bytes:
    """``batch`` as CSV that ``COPY … (FORMAT csv)`` reads back into :func:`column_type` columns."""
    columns = [_csv_ready(column) for column in batch.columns]
    ready = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    sink = io.BytesIO()
    pacsv.write_csv(ready, sink, _CSV_OPTIONS)
    return sink.getvalue()


def _csv_ready(column: pa.Array) -> pa.Array:
    """The column in a type Arrow's CSV writer renders the way PostgreSQL parses it."""
    data_type = column.type
    if pa.types.is_dictionary(data_type):
        return _csv_ready(pc.cast(column, data_type.value_type))
    if pa.types.is_float16(data_type):
        return pc.cast(column, pa.float32())
    if pa.types.is_date64(data_type):
        return pc.cast(column, pa.date32())
    if pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pc.cast(column, pa.string())
    if pa.types.is_duration(data_type):
        micros = pc.cast(pc.cast(column, pa.duration("us")), pa.int64())
        return pc.binary_join_element_wise(pc.cast(micros, pa.string()), " microseconds", "")
    if _is_binary(data_type):
        return pa.array(
            [None if value is None else "\\x" + value.hex() for value in column.to_pylist()],
            pa.string(),
        )
    if _is_nested(data_type):
        return pa.array(
            [
                None if value is None else json.dumps(value, default=str, ensure_ascii=False)
                for value in column.to_pylist()
            ],
            pa.string(),
        )
    if column_type(data_type) == "text" and not pa.types.is_string(data_type):
        return pc.cast(column, pa.string())
    return column


# ---------------------------------------------------------------------- PostgreSQL → Arrow


@dataclass(frozen=True, slots=True)
class ResultColumn:
    """One column of a result: its name, Arrow type and how a driver value becomes an Arrow one."""

    name: str
    type: pa.DataType
    convert: Convert | None = None


def _as_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else str(value)


def _as_float(value: Any) -> Any:
    return None if value is None else float(value)


def _as_list(element: Convert | None) -> Convert:
    def convert(value: Any) -> Any:
        if value is None or element is None:
            return value
        return [element(item) for item in value]

    return convert


_SCALARS: dict[str, tuple[pa.DataType, Convert | None]] = {
    "bool": (pa.bool_(), None),
    "int2": (pa.int16(), None),
    "int4": (pa.int32(), None),
    "int8": (pa.int64(), None),
    "oid": (pa.int64(), None),
    "float4": (pa.float32(), None),
    "float8": (pa.float64(), None),
    "text": (pa.string(), _as_text),
    "varchar": (pa.string(), _as_text),
    "bpchar": (pa.string(), _as_text),
    "name": (pa.string(), _as_text),
    "char": (pa.string(), _as_text),
    "json": (pa.string(), _as_text),
    "jsonb": (pa.string(), _as_text),
    "uuid": (pa.string(), _as_text),
    "bytea": (pa.binary(), None),
    "date": (pa.date32(), None),
    "time": (pa.time64("us"), None),
    "timestamp": (pa.timestamp("us"), None),
    "timestamptz": (pa.timestamp("us", tz="UTC"), None),
    "interval": (pa.duration("us"), None),
}


def _builtin_oids() -> tuple[dict[int, str], dict[int, str]]:
    scalars: dict[int, str] = {}
    arrays: dict[int, str] = {}
    for name in [*_SCALARS, "numeric"]:
        info = psycopg.postgres.types.get(name)
        if info is not None:
            scalars[info.oid] = name
            arrays[info.array_oid] = name
    return scalars, arrays


_SCALAR_OIDS, _ARRAY_OIDS = _builtin_oids()
_TEXT: tuple[pa.DataType, Convert | None] = (pa.string(), _as_text)


def _numeric(precision: int | None, scale: int | None) -> tuple[pa.DataType, Convert | None]:
    if precision is None or scale is None or precision > _DECIMAL256_DIGITS:
        return pa.float64(), _as_float
    if precision > _DECIMAL128_DIGITS:
        return pa.decimal256(precision, scale), None
    return pa.decimal128(precision, scale), None


def _scalar(name: str, column: "psycopg.Column") -> tuple[pa.DataType, Convert | None]:
    if name == "numeric":
        return _numeric(column.precision, column.scale)
    return _SCALARS[name]


def result_columns(description: Sequence["psycopg.Column"]) -> list[ResultColumn]:
    """The Arrow shape of a result, from the types PostgreSQL declared for its columns."""
    columns: list[ResultColumn] = []
    for column in description:
        oid = column.type_code
        if oid in _SCALAR_OIDS:
            data_type, convert = _scalar(_SCALAR_OIDS[oid], column)
        elif oid in _ARRAY_OIDS:
            element_name = _ARRAY_OIDS[oid]
            element_type, element_convert = (
                _numeric(None, None) if element_name == "numeric" else _SCALARS[element_name]
            )
            data_type, convert = pa.list_(element_type), _as_list(element_convert)
        else:
            data_type, convert = _TEXT
        columns.append(ResultColumn(column.name, data_type, convert))
    return columns


def to_batch(rows: Sequence["TupleRow"], columns: Sequence[ResultColumn]) -> pa.RecordBatch:
    """Rows fetched by the driver as one Arrow batch of the result's shape."""
    arrays: list[pa.Array] = []
    for index, column in enumerate(columns):
        values = [row[index] for row in rows]
        if column.convert is not None:
            values = [column.convert(value) for value in values]
        arrays.append(pa.array(values, type=column.type))
    return pa.RecordBatch.from_arrays(arrays, schema=result_schema(columns))


def result_schema(columns: Sequence[ResultColumn]) -> pa.Schema:
    """The Arrow schema of a result; duplicate names are kept, as PostgreSQL returns them."""
    return pa.schema([pa.field(column.name, column.type) for column in columns])
