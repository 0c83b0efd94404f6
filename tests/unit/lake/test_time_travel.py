"""Snapshots: head, by version, by instant; the file list matches what Delta reads."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable

from gnomon.errors import InvalidInput
from gnomon.lake import Lake, Layer, TableNotFound

ReadRows = Callable[..., list[dict[str, Any]]]
SortRows = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


@pytest.fixture
def versioned(lake: Lake) -> Lake:
    """silver.orders at versions 0-3: append, merge, tenant overwrite, append of a new column."""
    lake.append(
        "silver", "orders", pa.table({"_tenant_id": ["a", "b"], "id": [1, 2]}), batch_id="0"
    )
    lake.merge(
        "silver",
        "orders",
        pa.table({"_tenant_id": ["a", "a"], "id": [1, 3]}),
        keys=["id"],
        order_by=None,
        batch_id="1",
    )
    lake.overwrite_partition("silver", "orders", pa.table({"id": [9]}), tenant="b", batch_id="2")
    lake.append(
        "silver", "orders", pa.table({"_tenant_id": ["c"], "id": [4], "x": [1.5]}), batch_id="3"
    )
    return lake


def test_head_snapshot_describes_the_latest_version(versioned: Lake) -> None:
    snap = versioned.snapshot("silver", "orders")
    table = DeltaTable(versioned.uri("silver", "orders"))
    assert snap.layer is Layer.SILVER
    assert snap.name == "orders"
    assert snap.uri == versioned.uri("silver", "orders")
    assert snap.version == 3
    assert snap.partition_columns == ("_tenant_id",)
    assert snap.files == tuple(sorted(table.file_uris()))
    assert all(path.startswith(snap.uri + "/_tenant_id=") for path in snap.files)
    assert snap.schema == pa.schema(table.schema().to_arrow())
    assert "x" in snap.schema.names


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_snapshot_files_read_like_delta_at_that_version(
    versioned: Lake, sort_rows: SortRows, version: int
) -> None:
    snap = versioned.snapshot("silver", "orders", version=version)
    expected = sort_rows(DeltaTable(snap.uri, version=version).to_pyarrow_table().to_pylist())
    partitioning = pads.partitioning(
        pa.schema([snap.schema.field(c) for c in snap.partition_columns]), flavor="hive"
    )
    plain = pads.dataset(
        list(snap.files),
        schema=snap.schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=snap.uri,
    )
    assert snap.version == version
    assert sort_rows(plain.to_table().to_pylist()) == expected
    assert sort_rows(snap.to_dataset().to_table().to_pylist()) == expected


def test_old_versions_keep_their_rows(versioned: Lake, read_rows: ReadRows) -> None:
    assert read_rows(versioned, "silver", "orders", version=0, columns=["_tenant_id", "id"]) == [
        {"_tenant_id": "a", "id": 1},
        {"_tenant_id": "b", "id": 2},
    ]
    rows = versioned.snapshot("silver", "orders", version=2).to_dataset().to_table()
    assert sorted(zip(rows["_tenant_id"].to_pylist(), rows["id"].to_pylist(), strict=True)) == [
        ("a", 1),
        ("a", 3),
        ("b", 9),
    ]
    assert "x" not in versioned.snapshot("silver", "orders", version=2).schema.names


def test_as_of_picks_the_last_version_committed_at_or_before(versioned: Lake) -> None:
    commits = versioned.history("silver", "orders")
    for commit in commits:
        expected = max(c.version for c in commits if c.timestamp <= commit.timestamp)
        assert expected >= commit.version
        snap = versioned.snapshot("silver", "orders", as_of=commit.timestamp)
        assert snap.version == expected
    later = commits[0].timestamp + timedelta(days=1)
    assert versioned.snapshot("silver", "orders", as_of=later).version == 3


def test_as_of_in_another_time_zone_is_the_same_instant(versioned: Lake) -> None:
    first = versioned.history("silver", "orders")[-1]
    shifted = first.timestamp.astimezone(timezone(timedelta(hours=-5)))
    assert shifted.utcoffset() == timedelta(hours=-5)
    expected = versioned.snapshot("silver", "orders", as_of=first.timestamp).version
    assert versioned.snapshot("silver", "orders", as_of=shifted).version == expected


def test_as_of_before_the_first_commit_is_refused(versioned: Lake) -> None:
    first = versioned.history("silver", "orders")[-1]
    with pytest.raises(InvalidInput, match=r"No version of silver\.orders existed") as caught:
        versioned.snapshot("silver", "orders", as_of=first.timestamp - timedelta(milliseconds=1))
    assert caught.value.details["earliest"] == 0


def test_naive_as_of_is_refused(versioned: Lake) -> None:
    with pytest.raises(InvalidInput, match="Naive as_of"):
        versioned.snapshot("silver", "orders", as_of=datetime(2030, 1, 1))


def test_version_and_as_of_together_are_refused(versioned: Lake) -> None:
    with pytest.raises(InvalidInput, match="Conflicting snapshot selectors"):
        versioned.snapshot("silver", "orders", version=1, as_of=datetime.now(UTC))


@pytest.mark.parametrize("version", [4, 99, -1])
def test_version_out_of_range_names_the_range(versioned: Lake, version: int) -> None:
    with pytest.raises(InvalidInput, match="the kept versions are 0 to 3") as caught:
        versioned.snapshot("silver", "orders", version=version)
    assert caught.value.details == {"version": version, "earliest": 0, "head": 3}


def test_unknown_table_lists_the_tables_of_its_layer(versioned: Lake) -> None:
    versioned.append("silver", "customers", pa.table({"_tenant_id": ["a"]}), batch_id="c")
    versioned.append("gold", "kpis", pa.table({"_tenant_id": ["a"]}), batch_id="k")
    with pytest.raises(TableNotFound, match=r"silver\.order does not exist") as caught:
        versioned.snapshot("silver", "order")
    assert caught.value.tables == ["customers", "orders"]
    assert caught.value.hint == "Existing silver tables: customers, orders."
    assert caught.value.layer == "silver"


def test_unknown_table_in_an_empty_layer(lake: Lake) -> None:
    with pytest.raises(TableNotFound) as caught:
        lake.snapshot("gold", "kpis", version=0)
    assert caught.value.tables == []
    assert "has no tables yet" in str(caught.value.hint)


def test_head_version(versioned: Lake) -> None:
    assert versioned.head_version("silver", "orders") == 3
    assert versioned.head_version("silver", "missing") is None
