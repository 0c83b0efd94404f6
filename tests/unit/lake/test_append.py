"""Appends: table creation, partitioning, commit labels, schema evolution, streaming, errors."""

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from gnomon.clock import FixedClock
from gnomon.errors import InvalidInput
from gnomon.lake import INGESTED_AT_COLUMN, Lake, Layer

ReadRows = Callable[..., list[dict[str, Any]]]


def test_first_append_creates_a_tenant_partitioned_table(
    lake: Lake, clock: FixedClock, read_rows: ReadRows
) -> None:
    data = pa.table({"_tenant_id": ["a", "b"], "id": [1, 2], "_source": ["crm", "crm"]})
    version = lake.append("bronze", "orders", data, batch_id="b1", run_id="r1")
    assert version == 0
    table = DeltaTable(lake.uri("bronze", "orders"))
    assert table.metadata().partition_columns == ["_tenant_id"]
    assert sorted(p["_tenant_id"] for p in table.partitions()) == ["a", "b"]
    assert read_rows(lake, "bronze", "orders") == [
        {"_tenant_id": "a", "id": 1, "_source": "crm", "_batch_id": "b1"},
        {"_tenant_id": "b", "id": 2, "_source": "crm", "_batch_id": "b1"},
    ]
    ingested = table.to_pyarrow_table().column(INGESTED_AT_COLUMN)
    assert ingested.type == pa.timestamp("us", tz="UTC")
    assert set(ingested.to_pylist()) == {clock.now()}


def test_each_append_is_one_labelled_commit(lake: Lake) -> None:
    data = pa.table({"_tenant_id": ["a", "b", "c"], "id": [1, 2, 3]})
    assert lake.append("bronze", "orders", data, batch_id="b1", run_id="r1") == 0
    assert lake.append("bronze", "orders", data, batch_id="b2", operation="replay") == 1
    history = DeltaTable(lake.uri("bronze", "orders")).history()
    assert [h["version"] for h in history] == [1, 0]
    assert history[0]["gnomon.batch_id"] == "b2"
    assert history[0]["gnomon.operation"] == "replay"
    assert history[0]["gnomon.run_id"] is None
    assert history[1]["gnomon.batch_id"] == "b1"
    assert history[1]["gnomon.operation"] == "append"
    assert history[1]["gnomon.run_id"] == "r1"


def test_new_column_is_added_by_default(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    evolved = pa.table({"_tenant_id": ["a"], "id": [2], "channel": ["web"]})
    assert lake.append("bronze", "orders", evolved, batch_id="b2") == 1
    assert "channel" in lake.snapshot("bronze", "orders").schema.names
    assert read_rows(lake, "bronze", "orders", columns=["id", "channel"]) == [
        {"id": 1, "channel": None},
        {"id": 2, "channel": "web"},
    ]


def test_missing_column_is_null_under_schema_merge(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [1], "x": [5]}), batch_id="1")
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [2]}), batch_id="2")
    assert read_rows(lake, "silver", "t", columns=["id", "x"]) == [
        {"id": 1, "x": 5},
        {"id": 2, "x": None},
    ]


def test_strict_schema_mode_refuses_a_new_column(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    evolved = pa.table({"_tenant_id": ["a"], "id": [2], "channel": ["web"]})
    with pytest.raises(InvalidInput, match="Schema mismatch"):
        lake.append("bronze", "orders", evolved, batch_id="b2", schema_mode=None)
    assert lake.head_version("bronze", "orders") == 0


def test_type_clash_is_invalid_input(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    with pytest.raises(InvalidInput, match="Delta rejected the data"):
        lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": ["x"]}), batch_id="2")


def test_reader_is_written_in_one_commit(lake: Lake, read_rows: ReadRows) -> None:
    schema = pa.schema([("_tenant_id", pa.string()), ("id", pa.int64())])

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, 50, 10):
            ids = list(range(start, start + 10))
            yield pa.record_batch([pa.array(["a"] * 10), pa.array(ids)], schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    assert lake.append("bronze", "events", reader, batch_id="b1") == 0
    rows = read_rows(lake, "bronze", "events", columns=["id"])
    assert [row["id"] for row in rows] == list(range(50))
    assert len(DeltaTable(lake.uri("bronze", "events")).history()) == 1


def test_failure_mid_stream_commits_nothing_and_keeps_the_error(lake: Lake) -> None:
    lake.append("bronze", "events", pa.table({"_tenant_id": ["a"], "id": [0]}), batch_id="b0")
    schema = pa.schema([("_tenant_id", pa.string()), ("id", pa.int64())])

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([pa.array(["a"]), pa.array([1])], schema=schema)
        yield pa.record_batch([pa.array([None], pa.string()), pa.array([2])], schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(InvalidInput, match="null '_tenant_id'"):
        lake.append("bronze", "events", reader, batch_id="b1")
    assert lake.head_version("bronze", "events") == 0
    assert lake.find_commit("bronze", "events", batch_id="b1") is None


class SourceBrokeError(Exception):
    pass


@pytest.mark.parametrize("error", [SourceBrokeError, FileNotFoundError])
def test_source_errors_pass_through_unchanged(lake: Lake, error: type[Exception]) -> None:
    schema = pa.schema([("_tenant_id", pa.string())])

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch([pa.array(["a"])], schema=schema)
        raise error("line 7 is garbled")

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(error, match="garbled"):
        lake.append("bronze", "events", reader, batch_id="b1")
    assert lake.head_version("bronze", "events") is None


def test_empty_input_still_commits(lake: Lake, read_rows: ReadRows) -> None:
    empty = pa.table({"_tenant_id": pa.array([], pa.string()), "id": pa.array([], pa.int64())})
    assert lake.append("bronze", "orders", empty, batch_id="b0") == 0
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    assert lake.append("bronze", "orders", empty, batch_id="b2") == 2
    commit = lake.find_commit("bronze", "orders", batch_id="b2")
    assert commit is not None
    assert commit.version == 2
    assert commit.metrics["num_added_rows"] == 0
    assert read_rows(lake, "bronze", "orders", columns=["id"]) == [{"id": 1}]


@pytest.mark.parametrize("layer", list(Layer))
def test_every_layer_accepts_appends(lake: Lake, layer: Layer) -> None:
    assert lake.append(layer, "t", pa.table({"_tenant_id": ["a"]}), batch_id="b") == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_id": ""}, "Missing batch_id"),
        ({"batch_id": "b", "operation": " "}, "Missing operation"),
        ({"batch_id": "b", "schema_mode": "overwrite"}, "Unknown schema_mode"),
    ],
)
def test_bad_arguments_are_refused(lake: Lake, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"]}), **kwargs)
    assert not lake.exists("bronze", "orders")


def test_unsupported_data_is_refused(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match="Unsupported data for a lake write: dict"):
        lake.append("bronze", "orders", {"_tenant_id": ["a"]}, batch_id="b")


def test_missing_tenant_is_refused_before_anything_is_written(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match="Missing tenant column"):
        lake.append("bronze", "orders", pa.table({"id": [1]}), batch_id="b")
    assert not lake.exists("bronze", "orders")
