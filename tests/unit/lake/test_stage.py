"""Staged writes: data files written first, judged while invisible, then committed or dropped."""

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from sqlglot import parse_one

from gnomon.engine.duckdb import DuckDBEngine
from gnomon.errors import InvalidInput
from gnomon.lake import Lake, StagedFiles
from gnomon.lake._files import dictionary_columns
from tests.unit.lake.conftest import ReadRows


def _data_files(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts}


_SCHEMA = pa.schema([("_tenant_id", pa.string()), ("id", pa.int64()), ("status", pa.string())])


def _orders(*rows: tuple[str, int, str]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"_tenant_id": t, "id": i, "status": s} for t, i, s in rows], schema=_SCHEMA
    )


def test_staged_rows_are_invisible_until_committed(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("silver", "orders", _orders(("t", 1, "old")), batch_id="b0")
    before = lake.snapshot("silver", "orders")

    staged = lake.stage(
        "silver", "orders", _orders(("t", 2, "new"), ("u", 3, "new")), batch_id="b1"
    )

    assert staged.rows == 2
    assert lake.snapshot("silver", "orders") == before
    assert read_rows(lake, "silver", "orders", columns=["id"]) == [{"id": 1}]
    assert set(staged.snapshot.files) <= _data_files(Path(lake.uri("silver", "orders")))
    assert set(staged.snapshot.files).isdisjoint(before.files)


def test_staged_files_read_like_a_table_version_with_the_batch_stamped(lake: Lake) -> None:
    staged = lake.stage("silver", "orders", _orders(("t", 1, "a"), ("u", 2, "b")), batch_id="b1")

    rows = staged.snapshot.to_dataset().to_table().to_pylist()
    assert sorted((r["_tenant_id"], r["id"], r["_batch_id"]) for r in rows) == [
        ("t", 1, "b1"),
        ("u", 2, "b1"),
    ]
    with DuckDBEngine(allowed_roots=[lake.root]) as engine:
        counted = engine.execute(
            parse_one('SELECT _tenant_id, count(*) AS n FROM silver."orders#staged" GROUP BY 1'),
            tables={"silver.orders#staged": staged.snapshot},
        )
    assert sorted(counted.to_pylist(), key=lambda r: r["_tenant_id"]) == [
        {"_tenant_id": "t", "n": 1},
        {"_tenant_id": "u", "n": 1},
    ]


def test_commit_adds_the_staged_files_themselves_in_one_labelled_commit(
    lake: Lake, read_rows: ReadRows
) -> None:
    staged = lake.stage("silver", "orders", _orders(("t", 1, "a"), ("t", 2, "b")), batch_id="b1")

    version = lake.commit_staged(staged, run_id="r1", operation="silver:x")

    uri = lake.uri("silver", "orders")
    table = DeltaTable(uri)
    assert version == table.version() == 0
    [commit] = table.history()
    assert (commit["gnomon.batch_id"], commit["gnomon.run_id"]) == ("b1", "r1")
    assert commit["gnomon.operation"] == "silver:x"
    assert set(lake.snapshot("silver", "orders").files) == set(staged.snapshot.files)
    assert read_rows(lake, "silver", "orders", columns=["id", "status"]) == [
        {"id": 1, "status": "a"},
        {"id": 2, "status": "b"},
    ]
    assert lake.find_commit("silver", "orders", batch_id="b1", operation="silver:x") is not None


def test_commit_with_keys_merges_into_the_table_and_drops_the_staged_files(
    lake: Lake, read_rows: ReadRows
) -> None:
    lake.append("silver", "orders", _orders(("t", 1, "old"), ("t", 2, "kept")), batch_id="b0")
    staged = lake.stage(
        "silver", "orders", _orders(("t", 1, "new"), ("t", 3, "added")), batch_id="b1"
    )

    version = lake.commit_staged(staged, keys=["id"], operation="merge")

    assert version == 1
    assert read_rows(lake, "silver", "orders", columns=["id", "status"]) == [
        {"id": 1, "status": "new"},
        {"id": 2, "status": "kept"},
        {"id": 3, "status": "added"},
    ]
    assert not any(Path(f).exists() for f in staged.snapshot.files)
    assert DeltaTable(lake.uri("silver", "orders")).history(1)[0]["operation"] == "MERGE"


def test_commit_of_rows_with_a_new_column_evolves_the_table(
    lake: Lake, read_rows: ReadRows
) -> None:
    lake.append("silver", "orders", _orders(("t", 1, "a")), batch_id="b0")
    wider = _orders(("t", 2, "b")).append_column("coupon", pa.array(["SAVE"]))
    staged = lake.stage("silver", "orders", wider, batch_id="b1")

    lake.commit_staged(staged)

    assert read_rows(lake, "silver", "orders", columns=["id", "coupon"]) == [
        {"id": 1, "coupon": None},
        {"id": 2, "coupon": "SAVE"},
    ]
    live = set(lake.snapshot("silver", "orders").files)
    assert _data_files(Path(lake.uri("silver", "orders"))) == live, "staged copies are gone"


def test_discard_deletes_the_files_and_leaves_the_table_unchanged(
    lake: Lake, read_rows: ReadRows
) -> None:
    lake.append("silver", "orders", _orders(("t", 1, "a")), batch_id="b0")
    staged = lake.stage("silver", "orders", _orders(("t", 2, "b")), batch_id="b1")

    lake.discard_staged(staged)
    lake.discard_staged(staged)

    assert not any(Path(f).exists() for f in staged.snapshot.files)
    assert read_rows(lake, "silver", "orders", columns=["id"]) == [{"id": 1}]
    assert DeltaTable(lake.uri("silver", "orders")).version() == 0


def test_empty_staged_rows_still_commit(lake: Lake) -> None:
    staged = lake.stage("silver", "orders", _orders(), batch_id="b1")

    assert staged.rows == 0
    assert staged.snapshot.files == ()
    assert lake.commit_staged(staged) == 0
    assert DeltaTable(lake.uri("silver", "orders")).to_pyarrow_table().num_rows == 0


def test_a_failing_source_stages_nothing(lake: Lake) -> None:
    schema = _orders().schema

    def batches() -> Iterator[pa.RecordBatch]:
        yield pa.record_batch({"_tenant_id": ["t"], "id": [1], "status": ["a"]}, schema=schema)
        raise InvalidInput("the source broke", hint="fix it")

    with pytest.raises(InvalidInput, match="the source broke"):
        lake.stage(
            "silver", "orders", pa.RecordBatchReader.from_batches(schema, batches()), batch_id="b"
        )
    assert _data_files(Path(lake.uri("silver", "orders"))) == set()


def test_rows_without_a_tenant_are_refused(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match="tenant"):
        lake.stage("silver", "orders", pa.table({"id": [1]}), batch_id="b1")


def test_staging_needs_a_local_lake() -> None:
    remote = Lake("s3://bucket/lake")
    with pytest.raises(InvalidInput, match="object store"):
        remote.stage("silver", "orders", _orders(("t", 1, "a")), batch_id="b1")


def test_staged_files_are_a_frozen_value(lake: Lake) -> None:
    staged = lake.stage("silver", "orders", _orders(("t", 1, "a")), batch_id="b1")
    assert isinstance(staged, StagedFiles)
    assert staged.snapshot.version == -1
    assert staged.batch_id == "b1"
    assert pq.read_schema(staged.snapshot.files[0]).names == [
        "id",
        "status",
        "_ingested_at",
        "_batch_id",
        "_source",
    ]


# ---------------------------------------------------------------- dictionary encoding


def test_only_columns_whose_values_repeat_are_dictionary_encoded() -> None:
    n = 10_000
    batch = pa.record_batch(
        {
            "id": [f"O{i:08d}" for i in range(n)],
            "status": ["placed", "shipped"] * (n // 2),
            "seq": list(range(n)),
            "empty": pa.nulls(n, pa.string()),
            "untyped": pa.nulls(n),
        }
    )
    assert dictionary_columns(batch) == ["status", "empty", "untyped"]


def test_a_small_first_batch_keeps_the_default_encoding() -> None:
    assert dictionary_columns(pa.record_batch({"id": ["a", "b", "c"]})) is True


def test_files_use_the_chosen_encodings(lake: Lake) -> None:
    n = 10_000
    data = pa.table(
        {
            "_tenant_id": ["t"] * n,
            "id": [f"O{i:08d}" for i in range(n)],
            "status": ["placed", "shipped"] * (n // 2),
        }
    )
    staged = lake.stage("silver", "orders", data, batch_id="b1")
    [path] = staged.snapshot.files
    group = pq.ParquetFile(path).metadata.row_group(0)
    encodings = {
        group.column(i).path_in_schema: group.column(i).encodings for i in range(group.num_columns)
    }
    assert "RLE_DICTIONARY" not in encodings["id"]
    assert "RLE_DICTIONARY" in encodings["status"]


def test_a_large_first_batch_is_judged_on_its_first_rows() -> None:
    # Distinct in its first 40k rows, then one value: judged on the first rows, it is not a
    # column of repeated values (counting the whole batch would have said it is).
    n = 200_000
    head = 40_000
    batch = pa.record_batch({"code": [f"c{i}" if i < head else "same" for i in range(n)]})
    assert dictionary_columns(batch) == []
