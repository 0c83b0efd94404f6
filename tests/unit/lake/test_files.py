"""Appends whose Parquet files gnomon writes itself and adds in one Delta commit."""

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake
from sqlglot import parse_one

from gnomon.engine.duckdb import DuckDBEngine
from gnomon.errors import InvalidInput
from gnomon.lake import Lake
from gnomon.lake._files import (
    PartitionedFiles,
    delta_schema,
    partition_folder,
    plain_type,
    prefetched,
)


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)


def _committed(uri: str) -> set[str]:
    return {Path(u).resolve().as_posix() for u in DeltaTable(uri).file_uris()}


def test_a_plain_append_is_one_commit_of_our_files(lake: Lake) -> None:
    data = pa.table({"_tenant_id": ["a", "b", "a"], "id": [1, 2, 3]})
    assert lake.append("bronze", "orders", data, batch_id="b1", run_id="r1") == 0
    uri = lake.uri("bronze", "orders")
    table = DeltaTable(uri)
    [commit] = table.history()
    assert commit["gnomon.batch_id"] == "b1"
    assert commit["gnomon.run_id"] == "r1"
    assert commit["gnomon.operation"] == "append"
    assert commit["operationMetrics"]["num_added_rows"] == 3
    assert commit["operationMetrics"]["num_added_files"] == 2
    assert table.metadata().partition_columns == ["_tenant_id"]
    names = {p.name for p in _data_files(Path(uri))}
    assert all(n.endswith(".snappy.parquet") for n in names), "written by gnomon, not delta-rs"
    # The partition value lives in the folder and the add action, not in the file.
    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert sorted(a["partition._tenant_id"] for a in actions) == ["a", "b"]
    assert sorted(a["num_records"] for a in actions) == [1, 2]
    for path in _data_files(Path(uri)):
        assert "_tenant_id" not in pq.read_schema(path).names


def test_files_without_a_commit_are_invisible_and_vacuumed(lake: Lake, tmp_path: Path) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    uri = lake.uri("bronze", "orders")
    schema = pa.schema([("id", pa.int64()), ("_tenant_id", pa.string())])
    files = PartitionedFiles(
        Path(uri), schema, partition_column="_tenant_id", file_rows=10, row_group_rows=10
    )
    files.write(pa.record_batch({"id": [7, 8], "_tenant_id": ["a", "a"]}, schema=schema))
    [orphan] = files.close()
    assert (Path(uri) / orphan.path).is_file()
    assert DeltaTable(uri).to_pyarrow_table().column("id").to_pylist() == [1]
    assert lake.snapshot("bronze", "orders").files == tuple(sorted(_committed(uri)))
    deleted = lake.vacuum("bronze", "orders", retention_hours=0, dry_run=False, force=True)
    assert deleted == [str(Path(uri) / orphan.path)]
    assert not (Path(uri) / orphan.path).exists()


def test_a_failing_source_commits_nothing_and_leaves_no_files(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    schema = pa.schema([("_tenant_id", pa.string()), ("id", pa.int64())])

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"_tenant_id": ["a"], "id": [2]}, schema=schema)
        raise InvalidInput("the source broke", hint="fix it")

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    with pytest.raises(InvalidInput, match="the source broke"):
        lake.append("bronze", "orders", reader, batch_id="b2")
    uri = lake.uri("bronze", "orders")
    assert DeltaTable(uri).version() == 0
    assert {p.resolve().as_posix() for p in _data_files(Path(uri))} == _committed(uri)


def test_time_travel_over_our_commits(lake: Lake) -> None:
    lake.append("silver", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    lake.append("silver", "orders", pa.table({"_tenant_id": ["a"], "id": [2]}), batch_id="b2")
    assert DeltaTable(lake.uri("silver", "orders")).history()[0]["operation"] == "WRITE"
    first = lake.snapshot("silver", "orders", version=0)
    second = lake.snapshot("silver", "orders", version=1)
    assert len(first.files) == 1
    assert len(second.files) == 2
    assert lake.files_added_in("silver", "orders", version=1) == tuple(
        sorted(set(second.files) - set(first.files))
    )
    assert lake.find_commit("silver", "orders", batch_id="b2").version == 1  # type: ignore[union-attr]


def test_the_engine_reads_partition_values_of_our_files(lake: Lake, tmp_path: Path) -> None:
    tenants = ["acme", "a b", "x/y", "123"]
    data = pa.table({"_tenant_id": tenants, "id": [1, 2, 3, 4]})
    lake.append("silver", "orders", data, batch_id="b1")
    snapshot = lake.snapshot("silver", "orders")
    with DuckDBEngine(allowed_roots=[lake.root]) as engine:
        rows = engine.execute(
            _select("SELECT _tenant_id, id FROM silver.orders ORDER BY id"),
            tables={"silver.orders": snapshot},
        ).to_pylist()
    assert rows == [{"_tenant_id": t, "id": i} for i, t in enumerate(tenants, start=1)]


def test_folders_are_named_as_delta_rs_names_them(tmp_path: Path) -> None:
    tenants = ["a b", "x/y", "c=d", "p%q", "é", "n_o.p-q", "r+s"]
    write_deltalake(
        str(tmp_path / "t"),
        pa.table({"_tenant_id": tenants, "v": list(range(len(tenants)))}),
        partition_by=["_tenant_id"],
    )
    theirs = {p.name for p in (tmp_path / "t").iterdir() if p.name != "_delta_log"}
    assert {partition_folder("_tenant_id", t) for t in tenants} == theirs


def test_files_roll_over_and_keep_row_counts(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64()), ("_tenant_id", pa.string())])
    files = PartitionedFiles(
        tmp_path, schema, partition_column="_tenant_id", file_rows=4, row_group_rows=2
    )
    ids = list(range(10))
    files.write(pa.record_batch({"id": ids, "_tenant_id": ["t"] * 10}, schema=schema))
    files.write(pa.record_batch({"id": [None], "_tenant_id": ["t"]}, schema=schema))
    written = files.close()
    assert [f.rows for f in written] == [4, 4, 3]
    assert [f.null_counts["id"] for f in written] == [0, 0, 1]
    read = [pq.read_table(tmp_path / f.path).column("id").to_pylist() for f in written]
    assert read == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, None]]
    assert pq.read_metadata(tmp_path / written[0].path).num_row_groups == 2


def test_text_without_statistics_still_counts_its_nulls(tmp_path: Path) -> None:
    schema = pa.schema([("id", pa.int64()), ("raw", pa.string()), ("_tenant_id", pa.string())])
    files = PartitionedFiles(
        tmp_path,
        schema,
        partition_column="_tenant_id",
        file_rows=4,
        row_group_rows=2,
        text_statistics=False,
    )
    raw = ["a", None, "c", None, None, "f"]
    files.write(pa.record_batch({"id": [1, 2, None, 4, 5, 6], "raw": raw, "_tenant_id": ["t"] * 6}))
    written = files.close()
    assert [f.null_counts for f in written] == [{"id": 1, "raw": 2}, {"id": 0, "raw": 1}]
    metadata = pq.read_metadata(tmp_path / written[0].path)
    columns = [metadata.row_group(0).column(i) for i in range(metadata.num_columns)]
    assert [c.path_in_schema for c in columns if c.statistics is not None] == ["id"]
    assert pq.read_table(tmp_path / written[0].path).column("raw").to_pylist() == raw[:4]


def test_bronze_text_has_no_statistics_and_other_layers_keep_them(lake: Lake) -> None:
    rows = pa.table({"id": [1, 2], "raw": ["x", None], "_tenant_id": ["t", "t"]})
    for layer in ("bronze", "silver"):
        lake.append(layer, "events", rows, batch_id="b1")
        [path] = lake.snapshot(layer, "events").files
        metadata = pq.read_metadata(path)
        kept = {
            metadata.row_group(0).column(i).path_in_schema
            for i in range(metadata.num_columns)
            if metadata.row_group(0).column(i).statistics is not None
        }
        assert ("raw" in kept) is (layer == "silver"), layer
        assert "id" in kept
        actions = pa.table(DeltaTable(lake.uri(layer, "events")).get_add_actions(flatten=True))
        assert actions.column("null_count.raw").to_pylist() == [1], layer


def test_new_columns_and_other_types_still_go_through_delta_rs(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    wider = pa.table({"_tenant_id": ["a"], "id": [2], "note": ["new"]})
    lake.append("bronze", "orders", wider, batch_id="b2")
    unsigned = pa.table({"_tenant_id": ["a"], "id": [3], "n": pa.array([1], pa.uint32())})
    lake.append("bronze", "orders", unsigned, batch_id="b3")
    table = DeltaTable(lake.uri("bronze", "orders"))
    assert {f.name for f in pa.schema(table.schema().to_arrow())} == {
        "_tenant_id",
        "id",
        "_ingested_at",
        "_batch_id",
        "_source",
        "note",
        "n",
    }
    assert [h["operation"] for h in table.history()] == ["WRITE", "WRITE", "CREATE TABLE"]
    assert sorted(table.to_pyarrow_table().column("id").to_pylist()) == [1, 2, 3]


def test_a_narrower_append_adds_nulls(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"]}), batch_id="b2")
    rows = DeltaTable(lake.uri("bronze", "orders")).to_pyarrow_table().to_pylist()
    assert sorted((r["id"] is None, r["_batch_id"]) for r in rows) == [
        (False, "b1"),
        (True, "b2"),
    ]


def test_utc_aliases_are_written_as_utc() -> None:
    schema = pa.schema([("t", pa.timestamp("us", tz="Etc/UTC")), ("n", pa.timestamp("us"))])
    assert delta_schema(schema).field("t").type == pa.timestamp("us", tz="UTC")
    assert delta_schema(schema).field("n").type == pa.timestamp("us")
    assert plain_type(pa.timestamp("us", tz="Etc/UTC"))
    assert not plain_type(pa.timestamp("us"))
    assert not plain_type(pa.timestamp("ns", tz="UTC"))
    assert not plain_type(pa.uint8())
    assert not plain_type(pa.dictionary(pa.int32(), pa.string()))
    assert all(plain_type(t) for t in (pa.string(), pa.int16(), pa.decimal128(4, 2), pa.date32()))


def test_prefetch_raises_the_source_error_and_stops_early() -> None:
    schema = pa.schema([("x", pa.int64())])
    produced: list[int] = []

    def failing() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"x": [1]}, schema=schema)
        raise ValueError("broken source")

    got = prefetched(pa.RecordBatchReader.from_batches(schema, failing()))
    assert next(got).column(0).to_pylist() == [1]
    with pytest.raises(ValueError, match="broken source"):
        next(got)

    def endless() -> Iterator[pa.RecordBatch]:
        for i in range(10_000):
            produced.append(i)
            yield pa.record_batch({"x": [i]}, schema=schema)

    stream = prefetched(pa.RecordBatchReader.from_batches(schema, endless()), depth=2)
    assert next(stream).column(0).to_pylist() == [0]
    stream.close()
    assert len(produced) < 10, "the reading thread stops once the consumer stops"
    assert not [t for t in threading.enumerate() if t.name == "gnomon-prefetch"]


def _select(sql: str) -> Any:
    return parse_one(sql, read="duckdb")
