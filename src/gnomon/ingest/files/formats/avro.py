"""Avro object container files through fastavro, record by record, in native Arrow types.

Type mapping: boolean→bool, int→int32, long→int64, float→float32, double→float64, bytes→binary,
string and enum→string, fixed→fixed_size_binary, array→list, map→map<string, …>, record→struct.
Logical types: decimal→decimal128(p,s) (decimal256 above 38 digits), uuid→string, date→date32,
time-millis→time32[ms], time-micros→time64[us], timestamp-millis/micros→timestamp in UTC,
local-timestamp-millis/micros→timestamp without zone. A union of null and one type is that type
(nullable); any other union is read as the value's JSON text, since Arrow has no type for "one of".
"""

import json
import zlib
from collections.abc import Callable, Generator
from contextlib import ExitStack
from typing import Any, cast

import pyarrow as pa

from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files._context import ReadContext, RowBuffer
from gnomon.ingest.files.models import ReadBatch

Convert = Callable[[Any], Any]
_Mapped = tuple[pa.DataType, Convert | None]

_UNFIT = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)
_DAMAGED = (ValueError, EOFError, OSError, KeyError, IndexError, zlib.error)
_HINT = "Write the file again in full, or check 'format:' and 'compression:'."
_PRIMITIVES = {
    "null": pa.null(),
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "bytes": pa.binary(),
    "string": pa.string(),
}
_MAX_DECIMAL128 = 38


def _json_text(value: Any) -> Any:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


def _nullable(convert: Convert) -> Convert:
    def apply(value: Any) -> Any:
        return None if value is None else convert(value)

    return apply


def _items(convert: Convert) -> Convert:
    def apply(values: Any) -> Any:
        return None if values is None else [convert(value) for value in values]

    return apply


def _values(convert: Convert) -> Convert:
    def apply(mapping: Any) -> Any:
        return None if mapping is None else {key: convert(v) for key, v in mapping.items()}

    return apply


def _fields(converts: dict[str, Convert]) -> Convert:
    def apply(record: Any) -> Any:
        if record is None:
            return None
        return {
            key: converts[key](value) if key in converts else value for key, value in record.items()
        }

    return apply


class _SchemaMapper:
    """Maps an Avro schema (as fastavro parses it) to Arrow types and value converters."""

    def __init__(self) -> None:
        self._named: dict[str, _Mapped] = {}
        self._building: set[str] = set()

    def map(self, schema: Any, namespace: str = "") -> _Mapped:
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema], None
            return self._reference(schema, namespace)
        if isinstance(schema, list):
            return self._union(schema, namespace)
        logical = self._logical(schema)
        if logical is not None:
            return logical
        kind = schema["type"]
        if isinstance(kind, dict | list) or kind in _PRIMITIVES:
            return self.map(kind, namespace)
        if kind in ("record", "error"):
            return self._record(schema, namespace)
        if kind == "array":
            item_type, convert = self.map(schema["items"], namespace)
            return pa.list_(item_type), _items(convert) if convert else None
        if kind == "map":
            value_type, convert = self.map(schema["values"], namespace)
            return pa.map_(pa.string(), value_type), _values(convert) if convert else None
        mapped: _Mapped = (
            (pa.string(), None) if kind == "enum" else (pa.binary(schema["size"]), None)
        )
        self._define(schema, namespace, mapped)
        return mapped

    def _full_name(self, schema: dict[str, Any], namespace: str) -> str:
        name: str = schema["name"]
        space = schema.get("namespace", namespace)
        return name if "." in name or not space else f"{space}.{name}"

    def _define(self, schema: dict[str, Any], namespace: str, mapped: _Mapped) -> None:
        full = self._full_name(schema, namespace)
        self._named[full] = mapped
        self._named.setdefault(full.rsplit(".", 1)[-1], mapped)

    def _reference(self, name: str, namespace: str) -> _Mapped:
        for candidate in (f"{namespace}.{name}" if namespace else name, name):
            if candidate in self._building:
                raise ValueError(f"the record type {name!r} contains itself")
            if candidate in self._named:
                return self._named[candidate]
        raise ValueError(f"the schema refers to an undefined type {name!r}")

    def _union(self, branches: list[Any], namespace: str) -> _Mapped:
        present = [branch for branch in branches if branch != "null"]
        if not present:
            return pa.null(), None
        if len(present) == 1:
            data_type, convert = self.map(present[0], namespace)
            return data_type, _nullable(convert) if convert else None
        for branch in present:
            self.map(branch, namespace)
        return pa.string(), _json_text

    def _record(self, schema: dict[str, Any], namespace: str) -> _Mapped:
        full = self._full_name(schema, namespace)
        inner = full.rsplit(".", 1)[0] if "." in full else ""
        self._building.add(full)
        fields = []
        converts: dict[str, Convert] = {}
        for field in schema["fields"]:
            data_type, convert = self.map(field["type"], inner)
            fields.append(pa.field(field["name"], data_type))
            if convert:
                converts[field["name"]] = convert
        self._building.discard(full)
        mapped: _Mapped = (pa.struct(fields), _fields(converts) if converts else None)
        self._define(schema, namespace, mapped)
        return mapped

    def _logical(self, schema: dict[str, Any]) -> _Mapped | None:
        logical = schema.get("logicalType")
        if logical == "decimal":
            precision, scale = int(schema["precision"]), int(schema.get("scale", 0))
            if precision <= _MAX_DECIMAL128:
                return pa.decimal128(precision, scale), None
            return pa.decimal256(precision, scale), None
        if logical == "uuid":
            return pa.string(), _nullable(str)
        simple = {
            "date": pa.date32(),
            "time-millis": pa.time32("ms"),
            "time-micros": pa.time64("us"),
            "timestamp-millis": pa.timestamp("ms", tz="UTC"),
            "timestamp-micros": pa.timestamp("us", tz="UTC"),
            "local-timestamp-millis": pa.timestamp("ms"),
            "local-timestamp-micros": pa.timestamp("us"),
        }
        data_type = simple.get(logical) if isinstance(logical, str) else None
        return (data_type, None) if data_type is not None else None


def _builder(schema: pa.Schema) -> Callable[[list[list[object]]], pa.RecordBatch]:
    def build(rows: list[list[object]]) -> pa.RecordBatch:
        arrays = [
            pa.array([row[index] for row in rows], type=field.type)
            for index, field in enumerate(schema)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=schema)

    return build


def read_avro(ctx: ReadContext, stack: ExitStack) -> Generator[ReadBatch, None, None]:
    """Yield the file's records in native Arrow types."""
    import fastavro

    source = ctx.open_bytes(stack)
    try:
        reader = fastavro.reader(source)
        writer_schema = reader.writer_schema
        if not isinstance(writer_schema, dict) or writer_schema.get("type") != "record":
            raise ctx.unreadable(
                "its records are not Avro records (the schema's top type is not 'record')",
                hint="Write a file whose schema is a record type.",
            )
        struct, convert = _SchemaMapper().map(writer_schema)
    except _DAMAGED as exc:
        raise ctx.unreadable(f"it is not a valid Avro file ({exc})", hint=_HINT) from exc
    schema = pa.schema(list(struct))
    names = ctx.check_columns(schema.names, where="schema")
    ctx.schema = schema
    yield ctx.columns_known()
    buffer = RowBuffer(_builder(schema), batch_rows=ctx.batch_rows)
    record = 0
    records = iter(reader)
    while True:
        try:
            value = cast(dict[str, Any], next(records))
            if convert is not None:
                value = convert(value)
        except StopIteration:
            break
        except _DAMAGED as exc:
            raise ctx.unreadable(
                f"after record {record}: the data is damaged ({exc})", hint=_HINT
            ) from exc
        record += 1
        try:
            yield from buffer.add(record, [value.get(name) for name in names])
        except _UNFIT as exc:
            raise _unfit(ctx, record, exc) from exc
    try:
        yield from buffer.flush()
    except _UNFIT as exc:
        raise _unfit(ctx, record, exc) from exc


def _unfit(ctx: ReadContext, record: int, exc: Exception) -> UnreadableFile:
    return ctx.unreadable(
        f"near record {record}: a value does not fit its Avro type ({exc})", hint=_HINT
    )
