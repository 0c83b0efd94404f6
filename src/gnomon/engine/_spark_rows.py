"""Spark rows to Arrow batches, for results streamed a partition at a time.

Why rows: ``DataFrame.toArrow()`` collects the whole result, and Spark's Arrow streaming needs
pandas on the workers, so :meth:`SparkEngine.stream` pulls rows with ``toLocalIterator`` and
builds batches itself, against the exact schema ``toArrow()`` reports for the same query.

The one trap: pyspark turns a ``TIMESTAMP`` (an instant) into a *naive* datetime in the Python
process's local time zone. Each such value is made aware again by reading it as local time
(``datetime.astimezone``, which honours the ``fold`` pyspark sets in a repeated hour), so the
instant is exact whatever the process's zone. ``TIMESTAMP_NTZ`` values are wall-clock values
and stay naive.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pyarrow as pa

_Convert = Callable[[Any], Any]


def nullable(schema: pa.Schema) -> pa.Schema:
    """``schema`` with every top-level field nullable, as DuckDB reports its results."""
    return pa.schema([field.with_nullable(True) for field in schema], metadata=schema.metadata)


def row_batches(
    rows: Iterable[Any], schema: pa.Schema, *, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    """Batches of at most ``batch_rows`` rows, typed as ``schema``; rows are Spark ``Row``s."""
    converters = [_converter(field.type) for field in schema]
    iterator = iter(rows)
    while chunk := list(islice(iterator, batch_rows)):
        columns = list(zip(*chunk, strict=True))
        arrays = [
            pa.array(
                list(values) if convert is None else [convert(v) for v in values],
                type=field.type,
            )
            for values, convert, field in zip(columns, converters, schema, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _converter(data_type: pa.DataType) -> _Convert | None:
    """How to turn a Row value into what ``pa.array`` expects; ``None`` when it already is."""
    if pa.types.is_timestamp(data_type):
        return _instant if data_type.tz is not None else None
    if pa.types.is_struct(data_type):
        return _struct_converter(data_type)
    if pa.types.is_map(data_type):
        return _map_converter(data_type)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = _converter(data_type.value_type)
        if item is None:
            return None
        return lambda value: None if value is None else [item(v) for v in value]
    return None


def _instant(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.astimezone(UTC)


def _struct_converter(data_type: pa.StructType) -> _Convert:
    fields = [data_type.field(i) for i in range(data_type.num_fields)]
    names = [field.name for field in fields]
    inner = [_converter(field.type) for field in fields]

    def convert(value: Any) -> Any:
        if value is None:
            return None
        return {
            name: item if fix is None else fix(item)
            for name, item, fix in zip(names, value, inner, strict=True)
        }

    return convert


def _map_converter(data_type: pa.MapType) -> _Convert:
    key = _converter(data_type.key_type)
    item = _converter(data_type.item_type)

    def convert(value: Any) -> Any:
        if value is None:
            return None
        return [
            (k if key is None else key(k), v if item is None else item(v)) for k, v in value.items()
        ]

    return convert
