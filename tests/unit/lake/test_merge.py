"""Merges: latest wins per (tenant, key), tenant isolation, source checks, schema evolution."""

import tempfile
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.lake import Lake, MergeResult

ReadRows = Callable[..., list[dict[str, Any]]]
COLUMNS = ["_tenant_id", "id", "ts", "v"]


def _rows(*rows: tuple[str, int, int | None, str]) -> pa.Table:
    tenants, ids, stamps, values = (list(column) for column in zip(*rows, strict=True))
    return pa.table(
        {
            "_tenant_id": pa.array(tenants, pa.string()),
            "id": pa.array(ids, pa.int64()),
            "ts": pa.array(stamps, pa.int64()),
            "v": pa.array(values, pa.string()),
        }
    )


@pytest.fixture
def seeded(lake: Lake) -> Lake:
    result = lake.merge(
        "silver",
        "orders",
        _rows(("a", 1, 10, "a1"), ("a", 2, 10, "a2"), ("b", 1, 10, "b1")),
        keys=["id"],
        order_by="ts",
        batch_id="m0",
    )
    assert result == MergeResult(version=0, inserted=3, updated=0)
    return lake


def test_latest_wins_equal_keeps_source_older_is_ignored(seeded: Lake, read_rows: ReadRows) -> None:
    source = _rows(("a", 1, 11, "newer"), ("a", 2, 9, "older"), ("b", 1, 10, "same"))
    result = seeded.merge("silver", "orders", source, keys=["id"], order_by="ts", batch_id="m1")
    assert result == MergeResult(version=1, inserted=0, updated=2)
    assert read_rows(seeded, "silver", "orders", columns=[*COLUMNS, "_batch_id"]) == [
        {"_tenant_id": "a", "id": 1, "ts": 11, "v": "newer", "_batch_id": "m1"},
        {"_tenant_id": "a", "id": 2, "ts": 10, "v": "a2", "_batch_id": "m0"},
        {"_tenant_id": "b", "id": 1, "ts": 10, "v": "same", "_batch_id": "m1"},
    ]


def test_unmatched_rows_are_inserted(seeded: Lake, read_rows: ReadRows) -> None:
    source = _rows(("a", 3, 1, "a3"), ("c", 1, 1, "c1"))
    result = seeded.merge("silver", "orders", source, keys=["id"], order_by="ts", batch_id="m1")
    assert (result.inserted, result.updated) == (2, 0)
    assert len(read_rows(seeded, "silver", "orders")) == 5


def test_same_key_in_two_tenants_stays_two_rows(lake: Lake, read_rows: ReadRows) -> None:
    lake.merge("silver", "c", _rows(("a", 1, 1, "a")), keys=["id"], order_by="ts", batch_id="1")
    result = lake.merge(
        "silver", "c", _rows(("b", 1, 5, "b")), keys=["id"], order_by="ts", batch_id="2"
    )
    assert (result.inserted, result.updated) == (1, 0)
    assert read_rows(lake, "silver", "c", columns=COLUMNS) == [
        {"_tenant_id": "a", "id": 1, "ts": 1, "v": "a"},
        {"_tenant_id": "b", "id": 1, "ts": 5, "v": "b"},
    ]


def test_without_order_by_the_source_always_wins(seeded: Lake, read_rows: ReadRows) -> None:
    source = _rows(("a", 1, 0, "replaced"))
    result = seeded.merge("silver", "orders", source, keys=["id"], order_by=None, batch_id="m1")
    assert result.updated == 1
    assert read_rows(seeded, "silver", "orders", columns=COLUMNS)[0] == {
        "_tenant_id": "a",
        "id": 1,
        "ts": 0,
        "v": "replaced",
    }


def test_null_order_counts_as_oldest(seeded: Lake, read_rows: ReadRows) -> None:
    seeded.merge(
        "silver", "orders", _rows(("a", 1, None, "null")), keys=["id"], order_by="ts", batch_id="1"
    )
    assert read_rows(seeded, "silver", "orders", columns=COLUMNS)[0]["v"] == "a1"
    seeded.merge(
        "silver", "orders", _rows(("a", 3, None, "n")), keys=["id"], order_by="ts", batch_id="2"
    )
    seeded.merge(
        "silver", "orders", _rows(("a", 3, 0, "set")), keys=["id"], order_by="ts", batch_id="3"
    )
    assert {"_tenant_id": "a", "id": 3, "ts": 0, "v": "set"} in read_rows(
        seeded, "silver", "orders", columns=COLUMNS
    )


def test_composite_keys_and_quoted_column_names(lake: Lake, read_rows: ReadRows) -> None:
    def rows(region: str, order: int, at: int, note: str) -> pa.Table:
        return pa.table(
            {
                "_tenant_id": ["a"],
                "Region Code": [region],
                "orderId": [order],
                "updatedAt": [at],
                'say "hi"': [note],
            }
        )

    keys = ["Region Code", "orderId"]
    lake.merge("silver", "o", rows("EU", 1, 1, "x"), keys=keys, order_by="updatedAt", batch_id="1")
    lake.merge("silver", "o", rows("US", 1, 1, "y"), keys=keys, order_by="updatedAt", batch_id="2")
    result = lake.merge(
        "silver", "o", rows("EU", 1, 2, "z"), keys=keys, order_by="updatedAt", batch_id="3"
    )
    assert (result.inserted, result.updated) == (0, 1)
    assert read_rows(lake, "silver", "o", columns=[*keys, 'say "hi"']) == [
        {"Region Code": "EU", "orderId": 1, 'say "hi"': "z"},
        {"Region Code": "US", "orderId": 1, 'say "hi"': "y"},
    ]


def test_new_source_column_is_added(seeded: Lake, read_rows: ReadRows) -> None:
    source = _rows(("a", 1, 20, "x")).append_column("channel", pa.array(["web"]))
    seeded.merge("silver", "orders", source, keys=["id"], order_by="ts", batch_id="m1")
    assert read_rows(seeded, "silver", "orders", columns=["_tenant_id", "id", "channel"]) == [
        {"_tenant_id": "a", "id": 1, "channel": "web"},
        {"_tenant_id": "a", "id": 2, "channel": None},
        {"_tenant_id": "b", "id": 1, "channel": None},
    ]


def test_reader_source_is_accepted(seeded: Lake, read_rows: ReadRows) -> None:
    reader = _rows(("a", 9, 1, "r")).to_reader()
    result = seeded.merge("silver", "orders", reader, keys=["id"], order_by="ts", batch_id="m1")
    assert result.inserted == 1


def test_empty_source_commits_and_changes_nothing(seeded: Lake, read_rows: ReadRows) -> None:
    before = read_rows(seeded, "silver", "orders")
    empty = _rows(("a", 1, 1, "x")).slice(0, 0)
    result = seeded.merge("silver", "orders", empty, keys=["id"], order_by="ts", batch_id="m1")
    assert result == MergeResult(version=1, inserted=0, updated=0)
    commit = seeded.find_commit("silver", "orders", batch_id="m1", operation="merge")
    assert commit is not None
    assert commit.version == 1
    assert read_rows(seeded, "silver", "orders") == before


def test_duplicate_source_keys_are_refused(seeded: Lake, read_rows: ReadRows) -> None:
    before = read_rows(seeded, "silver", "orders")
    dup_new = _rows(("a", 7, 1, "x"), ("a", 7, 2, "y"))
    with pytest.raises(InvalidInput, match="Duplicate merge keys") as caught:
        seeded.merge("silver", "orders", dup_new, keys=["id"], order_by="ts", batch_id="m1")
    assert caught.value.details["examples"] == [{"_tenant_id": "a", "id": 7}]
    dup_existing = _rows(("b", 1, 11, "x"), ("b", 1, 12, "y"))
    with pytest.raises(InvalidInput, match="Duplicate merge keys"):
        seeded.merge("silver", "orders", dup_existing, keys=["id"], order_by="ts", batch_id="m2")
    assert seeded.head_version("silver", "orders") == 0
    assert read_rows(seeded, "silver", "orders") == before


def test_duplicates_are_refused_on_the_first_merge_too(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match="Duplicate merge keys"):
        lake.merge(
            "silver",
            "t",
            _rows(("a", 1, 1, "x"), ("a", 1, 1, "y")),
            keys=["id"],
            order_by="ts",
            batch_id="m",
        )
    assert not lake.exists("silver", "t")


def test_same_key_in_two_tenants_is_not_a_duplicate(lake: Lake) -> None:
    result = lake.merge(
        "silver",
        "t",
        _rows(("a", 1, 1, "x"), ("b", 1, 1, "y")),
        keys=["id"],
        order_by="ts",
        batch_id="m",
    )
    assert result.inserted == 2


def test_null_keys_are_refused(seeded: Lake) -> None:
    source = pa.table({"_tenant_id": ["a"], "id": pa.array([None], pa.int64()), "ts": [1]})
    with pytest.raises(InvalidInput, match=r"Null merge key.*'id'"):
        seeded.merge("silver", "orders", source, keys=["id"], order_by="ts", batch_id="m1")


@pytest.mark.parametrize(
    ("keys", "order_by", "message"),
    [
        ([], "ts", "Missing merge keys"),
        ("id", "ts", "Missing merge keys"),
        (["id", "id"], "ts", "Repeated merge keys"),
        (["_batch_id"], "ts", "Invalid merge key"),
        (["id"], "_ingested_at", "Invalid order_by"),
        (["nope"], "ts", "Missing merge columns in the data for silver.orders: nope"),
        (["id"], "when", "Missing merge columns in the data for silver.orders: when"),
    ],
)
def test_bad_keys_are_refused(seeded: Lake, keys: Any, order_by: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        seeded.merge(
            "silver", "orders", _rows(("a", 1, 1, "x")), keys=keys, order_by=order_by, batch_id="m1"
        )


def test_key_missing_from_the_table_is_refused(seeded: Lake) -> None:
    source = _rows(("a", 1, 1, "x")).append_column("sku", pa.array(["s"]))
    with pytest.raises(InvalidInput, match=r"Missing merge columns in table silver\.orders: sku"):
        seeded.merge("silver", "orders", source, keys=["sku"], order_by="ts", batch_id="m1")


def test_bronze_is_refused(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match=r"Bronze is append-only: cannot merge into bronze\.raw"):
        lake.merge(
            "bronze", "raw", _rows(("a", 1, 1, "x")), keys=["id"], order_by="ts", batch_id="m"
        )
    assert not lake.exists("bronze", "raw")


# ---------------------------------------------------------------- model-based

Row = tuple[str, int, int | None, int]  # tenant, key, order, value

batches_of_rows = st.lists(
    st.dictionaries(
        keys=st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 5)),
        values=st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 99)),
        max_size=8,
    ),
    min_size=1,
    max_size=4,
)


def _apply(model: dict[tuple[str, int], tuple[int | None, int]], batch: dict[Any, Any]) -> None:
    for key, (order, value) in batch.items():
        current = model.get(key)
        if current is None or current[0] is None or (order is not None and order >= current[0]):
            model[key] = (order, value)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches_of_rows)
def test_merges_equal_latest_wins_per_tenant_and_key(
    batches: list[dict[tuple[str, int], tuple[int | None, int]]],
) -> None:
    model: dict[tuple[str, int], tuple[int | None, int]] = {}
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(root)
        for number, batch in enumerate(batches):
            source = pa.table(
                {
                    "_tenant_id": pa.array([t for t, _ in batch], pa.string()),
                    "k": pa.array([k for _, k in batch], pa.int64()),
                    "ts": pa.array([o for o, _ in batch.values()], pa.int64()),
                    "v": pa.array([v for _, v in batch.values()], pa.int64()),
                }
            )
            lake.merge("silver", "m", source, keys=["k"], order_by="ts", batch_id=f"b{number}")
            _apply(model, batch)
        table = lake.snapshot("silver", "m").to_dataset().to_table()
    actual = {
        (row["_tenant_id"], row["k"]): (row["ts"], row["v"])
        for row in table.select(["_tenant_id", "k", "ts", "v"]).to_pylist()
    }
    assert table.num_rows == len(actual)
    assert actual == model


def test_operation_labels_the_commit(seeded: Lake) -> None:
    source = _rows(("a", 5, 1, "x"))
    seeded.merge(
        "silver", "orders", source, keys=["id"], order_by="ts", batch_id="m1", operation="promote"
    )
    found = seeded.find_commit("silver", "orders", batch_id="m1", operation="promote")
    assert found is not None
    assert (found.version, found.operation) == (1, "MERGE")
    assert seeded.find_commit("silver", "orders", batch_id="m1", operation="merge") is None
