"""Parquet and Avro keep their own Arrow types."""

import io
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files import read_file


def _read(path, spec, **kwargs):
    with read_file(path, spec, **kwargs) as reader:
        batches = list(reader)
    return reader, batches


def _parquet(table, **kwargs):
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **kwargs)
    return buffer.getvalue()


def _avro(schema, records, **kwargs):
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, records, **kwargs)
    return buffer.getvalue()


def test_parquet_keeps_its_types(kit):
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "amount": pa.array([Decimal("1.50"), None], pa.decimal128(10, 2)),
            "at": pa.array([datetime(2024, 1, 1, tzinfo=UTC), None], pa.timestamp("us", "UTC")),
            "tags": pa.array([["a"], []], pa.list_(pa.string())),
        }
    )
    reader, batches = _read(kit.write("a.parquet", _parquet(table)), kit.spec())
    assert reader.schema == table.schema
    assert pa.Table.from_batches([b.batch for b in batches]).equals(table)


def test_parquet_row_groups_are_rebatched(kit):
    table = pa.table({"id": pa.array(range(1000), pa.int32())})
    data = _parquet(table, row_group_size=70)
    _, batches = _read(
        kit.write("a.parquet.gz", kit.compress(data, "gzip")), kit.spec(), batch_rows=400
    )
    assert [(b.first_row, b.batch.num_rows) for b in batches] == [(1, 400), (401, 400), (801, 200)]
    assert all(row["id"] == n - 1 for n, row in kit.numbered(batches).items())


def test_parquet_without_rows_has_columns(kit):
    table = pa.table({"id": pa.array([], pa.int64())})
    reader, batches = _read(kit.write("a.parquet", _parquet(table)), kit.spec())
    assert batches == []
    assert reader.columns == ["id"]


def test_parquet_progress_reaches_the_size(kit):
    data = _parquet(pa.table({"id": pa.array(range(10_000))}), row_group_size=1000)
    seen: list[int] = []
    reader, _ = _read(
        kit.write("a.parquet", data), kit.spec(), batch_rows=1000, on_progress=seen.append
    )
    assert seen == sorted(seen)
    assert seen[0] < reader.size
    assert seen[-1] == reader.size


@pytest.mark.parametrize("fmt", ["parquet", "avro"])
@pytest.mark.parametrize("data", [b"", b"garbage that is not a file", b"PAR1PAR1", b"Obj\x01junk"])
def test_zero_byte_or_corrupt_is_unreadable(kit, fmt, data):
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write(f"a.{fmt}", data), kit.spec())
    assert f"a.{fmt}" in caught.value.message
    assert caught.value.hint


def test_truncated_parquet_is_unreadable(kit):
    data = _parquet(pa.table({"id": pa.array(range(1000))}))
    with pytest.raises(UnreadableFile):
        _read(kit.write("a.parquet", data[: len(data) - 20]), kit.spec())


AVRO_SCHEMA = {
    "type": "record",
    "name": "Order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "qty", "type": "int"},
        {"name": "score", "type": "double"},
        {"name": "ratio", "type": "float"},
        {"name": "ok", "type": "boolean"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "blob", "type": "bytes"},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-micros"}},
        {"name": "clock", "type": {"type": "int", "logicalType": "time-millis"}},
        {
            "name": "amount",
            "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2},
        },
        {"name": "ref", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 2}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {
            "name": "address",
            "type": {
                "type": "record",
                "name": "Address",
                "fields": [{"name": "city", "type": "string"}],
            },
        },
        {"name": "previous", "type": ["null", "Address"]},
        {"name": "either", "type": ["null", "long", "string"]},
    ],
}
REF = uuid.UUID("12345678-1234-5678-1234-567812345678")
AVRO_RECORD = {
    "id": 1,
    "qty": 2,
    "score": 0.5,
    "ratio": 0.25,
    "ok": True,
    "name": None,
    "blob": b"\x00\x01",
    "day": date(2024, 1, 31),
    "at": datetime(2024, 1, 31, 8, 0, tzinfo=UTC),
    "local": datetime(2024, 1, 31, 8, 0, 0, 123456),
    "clock": time(8, 30),
    "amount": Decimal("12.34"),
    "ref": REF,
    "kind": "B",
    "code": b"ab",
    "tags": ["x", "y"],
    "attrs": {"k": 7},
    "address": {"city": "Oslo"},
    "previous": {"city": "Bergen"},
    "either": "text",
}


def test_avro_maps_its_types(kit):
    data = _avro(AVRO_SCHEMA, [AVRO_RECORD, {**AVRO_RECORD, "previous": None, "either": 5}])
    reader, batches = _read(kit.write("a.avro", data), kit.spec())
    schema = reader.schema
    expected = {
        "id": pa.int64(),
        "qty": pa.int32(),
        "score": pa.float64(),
        "ratio": pa.float32(),
        "ok": pa.bool_(),
        "name": pa.string(),
        "blob": pa.binary(),
        "day": pa.date32(),
        "at": pa.timestamp("ms", "UTC"),
        "local": pa.timestamp("us"),
        "clock": pa.time32("ms"),
        "amount": pa.decimal128(10, 2),
        "ref": pa.string(),
        "kind": pa.string(),
        "code": pa.binary(2),
        "tags": pa.list_(pa.string()),
        "attrs": pa.map_(pa.string(), pa.int64()),
        "address": pa.struct([("city", pa.string())]),
        "previous": pa.struct([("city", pa.string())]),
        "either": pa.string(),
    }
    assert {field.name: field.type for field in schema} == expected
    rows = kit.rows_of(batches)
    assert rows[0]["ref"] == str(REF)
    assert rows[0]["amount"] == Decimal("12.34")
    assert rows[0]["at"] == datetime(2024, 1, 31, 8, 0, tzinfo=UTC)
    assert rows[0]["local"] == datetime(2024, 1, 31, 8, 0, 0, 123456)
    assert rows[0]["attrs"] == [("k", 7)]
    assert rows[0]["previous"] == {"city": "Bergen"}
    assert rows[0]["either"] == '"text"'
    assert rows[1]["previous"] is None
    assert rows[1]["either"] == "5"


@pytest.mark.parametrize("codec", ["null", "deflate", "bzip2"])
def test_avro_codecs_and_batches(kit, codec):
    schema = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}
    data = _avro(schema, [{"id": i} for i in range(1, 1001)], codec=codec, sync_interval=500)
    _, batches = _read(kit.write("a.avro", data), kit.spec(), batch_rows=300)
    assert [b.first_row for b in batches] == [1, 301, 601, 901]
    assert all(row["id"] == n for n, row in kit.numbered(batches).items())


def test_avro_without_records_has_columns(kit):
    schema = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}
    reader, batches = _read(kit.write("a.avro", _avro(schema, [])), kit.spec())
    assert batches == []
    assert reader.columns == ["id"]


def test_avro_of_plain_values_is_unreadable(kit):
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.avro", _avro("long", [1, 2])), kit.spec())
    assert "not Avro records" in caught.value.message


def test_truncated_avro_keeps_the_records_before_the_damage(kit):
    schema = {"type": "record", "name": "R", "fields": [{"name": "id", "type": "long"}]}
    data = _avro(schema, [{"id": i} for i in range(1, 5001)], sync_interval=200)
    reader = read_file(kit.write("a.avro", data[: len(data) // 2]), kit.spec(), batch_rows=100)
    received = []
    with pytest.raises(UnreadableFile) as caught, reader:
        received.extend(reader)
    assert received
    assert all(row["id"] == n for n, row in kit.numbered(received).items())
    assert "the data is damaged" in caught.value.message
