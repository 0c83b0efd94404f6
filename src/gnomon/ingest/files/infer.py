"""Column types guessed from a file's first rows: a first draft for its contract, never a check.

Parquet and Avro columns map their Arrow types (integers → integer, floating point → float,
decimal(p,s), bool → boolean, date, timestamp, text → string, struct/list/map → json, anything
else → string). Text columns are judged on their non-null values:

- integer: every value is digits with an optional sign, within 64 bits, and none has a leading
  zero (``007`` is a code to keep as written, so string);
- float: every value is a decimal number (``2``, ``1.5``, ``-.5``, ``1e3``) and not all are
  integers; ``nan`` and ``inf`` are not numbers here;
- boolean: every value is ``true`` or ``false`` in any case. ``1``/``0`` columns are integer;
  ``yes``/``no`` stay string, being answers as often as flags;
- date: every value is an ISO date ``YYYY-MM-DD``;
- timestamp: every value is an ISO 8601 date-time, ``T`` or space between date and time, seconds
  and fraction optional, with or without ``Z`` or an offset; dates among them are allowed;
- json: every value is a JSON object or array;
- string otherwise, and for a column without values. Surrounding spaces make a value text.

Types set in the source's ``schema`` win over what is guessed.
"""

import json
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from gnomon.errors import InvalidInput
from gnomon.ingest.files.reader import read_file

if TYPE_CHECKING:
    from gnomon.ingest.files.spec import FileSourceSpec

__all__ = ["infer_schema", "type_of_arrow", "type_of_values"]

_INTEGER = re.compile(r"^[+-]?(0|[1-9]\d*)$")
_NUMBER = re.compile(r"^[+-]?((0|[1-9]\d*)(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?"
    r"(?:Z|[+-](\d{2}):?(\d{2}))?$"
)
_INT64 = 2**63
_TYPED_FORMATS = frozenset({"parquet", "avro"})


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_timestamp(text: str) -> bool:
    match = _TIMESTAMP.match(text)
    if match is None or not _is_date(match.group(1)):
        return False
    hour, minute = int(match.group(2)), int(match.group(3))
    second = int(match.group(4) or 0)
    offset_hour, offset_minute = int(match.group(5) or 0), int(match.group(6) or 0)
    return hour < 24 and minute < 60 and second < 61 and offset_hour < 24 and offset_minute < 60


def _is_json(text: str) -> bool:
    if not text.startswith(("{", "[")):
        return False
    try:
        return isinstance(json.loads(text), dict | list)
    except (json.JSONDecodeError, RecursionError):
        return False


def _kind(text: str) -> str:
    if _INTEGER.match(text) and -_INT64 <= int(text) < _INT64:
        return "integer"
    if _NUMBER.match(text):
        return "float"
    if text.lower() in ("true", "false"):
        return "boolean"
    if _DATE.match(text) and _is_date(text):
        return "date"
    if _is_timestamp(text):
        return "timestamp"
    return "json" if _is_json(text) else "string"


def type_of_values(values: pa.Array | pa.ChunkedArray) -> str:
    """The vocabulary type that every non-null text value of ``values`` fits (module rules).

    >>> type_of_values(pa.array(["1", "-20", None]))
    'integer'
    >>> type_of_values(pa.array(["1", "2.5"]))
    'float'
    >>> type_of_values(pa.array(["2024-01-31", "2024-02-01T08:00:00+01:00"]))
    'timestamp'
    >>> type_of_values(pa.array(["007", "8"]))
    'string'
    """
    distinct: list[str | None] = pc.unique(values).to_pylist()
    kinds = {_kind(text) for text in distinct if text is not None}
    if not kinds or "string" in kinds:
        return "string"
    if kinds == {"integer"}:
        return "integer"
    if kinds <= {"integer", "float"}:
        return "float"
    if kinds <= {"date", "timestamp"}:
        return "timestamp" if "timestamp" in kinds else "date"
    if len(kinds) == 1:
        return kinds.pop()
    return "string"


def type_of_arrow(data_type: pa.DataType) -> str:
    """The vocabulary type of an Arrow type, as Parquet and Avro columns are mapped.

    >>> type_of_arrow(pa.decimal128(10, 2))
    'decimal(10,2)'
    >>> type_of_arrow(pa.list_(pa.int32()))
    'json'
    """
    types = pa.types
    if types.is_dictionary(data_type):
        return type_of_arrow(data_type.value_type)
    checks = (
        (types.is_integer, "integer"),
        (types.is_floating, "float"),
        (types.is_boolean, "boolean"),
        (types.is_date, "date"),
        (types.is_timestamp, "timestamp"),
        (types.is_struct, "json"),
        (types.is_map, "json"),
        (types.is_list, "json"),
        (types.is_large_list, "json"),
        (types.is_fixed_size_list, "json"),
    )
    if types.is_decimal(data_type):
        return f"decimal({data_type.precision},{data_type.scale})"
    return next((name for check, name in checks if check(data_type)), "string")


_SAMPLE_BLOCK = 1 << 20
"""Bytes read per block while sampling: enough for the sample, far less than a load's block."""


def infer_schema(
    path: Path, spec: "FileSourceSpec", *, sample_rows: int = 10_000
) -> dict[str, str]:
    """Column name → vocabulary type name, judged on the first ``sample_rows`` records.

    Columns come in file order; the source's ``schema`` types replace guessed ones, and a
    column named only there is added at the end. An empty file gives only those.

    Raises:
        InvalidInput: ``sample_rows`` is below 1, or the file cannot be read (see ``read_file``).
    """
    if sample_rows < 1:
        raise InvalidInput(
            f"sample_rows must be at least 1, not {sample_rows}.",
            hint="Pass a positive number of rows.",
        )
    batches: list[pa.RecordBatch] = []
    with read_file(path, spec, batch_rows=sample_rows, block_size=_SAMPLE_BLOCK) as reader:
        sampled = 0
        for read in reader:
            batches.append(read.batch)
            sampled += read.batch.num_rows
            if sampled >= sample_rows:
                break
        schema = reader.schema
        typed = reader.format in _TYPED_FORMATS
    inferred: dict[str, str] = {}
    if schema is not None:
        table = pa.Table.from_batches(batches, schema=schema).slice(0, sample_rows)
        for field in schema:
            if typed or not pa.types.is_string(field.type):
                inferred[field.name] = type_of_arrow(field.type)
            else:
                inferred[field.name] = type_of_values(table.column(field.name))
    inferred.update(spec.column_types)
    return inferred
