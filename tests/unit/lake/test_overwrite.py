"""Partition overwrites: exactly one tenant's rows are replaced."""

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from gnomon.errors import InvalidInput
from gnomon.lake import Lake

ReadRows = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def seeded(lake: Lake) -> Lake:
    data = pa.table({"_tenant_id": ["a", "a", "b", "c"], "id": [1, 2, 3, 4]})
    lake.append("silver", "orders", data, batch_id="seed")
    return lake


def test_replaces_only_that_tenant(seeded: Lake, read_rows: ReadRows) -> None:
    new = pa.table({"_tenant_id": ["a"], "id": [10]})
    version = seeded.overwrite_partition("silver", "orders", new, tenant="a", batch_id="o1")
    assert version == 1
    assert read_rows(seeded, "silver", "orders", columns=["_tenant_id", "id", "_batch_id"]) == [
        {"_tenant_id": "a", "id": 10, "_batch_id": "o1"},
        {"_tenant_id": "b", "id": 3, "_batch_id": "seed"},
        {"_tenant_id": "c", "id": 4, "_batch_id": "seed"},
    ]
    commit = seeded.find_commit("silver", "orders", batch_id="o1")
    assert commit is not None
    assert commit.gnomon_operation == "overwrite_partition"
    assert commit.version == 1


def test_tenant_column_may_be_left_out(seeded: Lake, read_rows: ReadRows) -> None:
    seeded.overwrite_partition(
        "silver", "orders", pa.table({"id": [7, 8]}), tenant="b", batch_id="o"
    )
    assert read_rows(seeded, "silver", "orders", columns=["_tenant_id", "id"]) == [
        {"_tenant_id": "a", "id": 1},
        {"_tenant_id": "a", "id": 2},
        {"_tenant_id": "b", "id": 7},
        {"_tenant_id": "b", "id": 8},
        {"_tenant_id": "c", "id": 4},
    ]


def test_rows_of_another_tenant_are_refused(seeded: Lake, read_rows: ReadRows) -> None:
    before = read_rows(seeded, "silver", "orders")
    leaky = pa.table({"_tenant_id": ["a", "b"], "id": [10, 11]})
    with pytest.raises(InvalidInput, match="Rows of other tenants"):
        seeded.overwrite_partition("silver", "orders", leaky, tenant="a", batch_id="o1")
    assert seeded.head_version("silver", "orders") == 0
    assert read_rows(seeded, "silver", "orders") == before


def test_empty_data_deletes_the_tenant_and_commits(seeded: Lake, read_rows: ReadRows) -> None:
    empty = pa.table({"id": pa.array([], pa.int64())})
    assert seeded.overwrite_partition("silver", "orders", empty, tenant="a", batch_id="o") == 1
    assert read_rows(seeded, "silver", "orders", columns=["_tenant_id"]) == [
        {"_tenant_id": "b"},
        {"_tenant_id": "c"},
    ]


def test_tenant_with_quotes_is_matched_literally(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("gold", "t", pa.table({"_tenant_id": ["o'neil", "x"], "id": [1, 2]}), batch_id="s")
    lake.overwrite_partition("gold", "t", pa.table({"id": [3]}), tenant="o'neil", batch_id="o")
    assert read_rows(lake, "gold", "t", columns=["_tenant_id", "id"]) == [
        {"_tenant_id": "o'neil", "id": 3},
        {"_tenant_id": "x", "id": 2},
    ]


def test_creates_the_table_when_missing(lake: Lake, read_rows: ReadRows) -> None:
    assert (
        lake.overwrite_partition("gold", "kpi", pa.table({"v": [1]}), tenant="a", batch_id="o") == 0
    )
    assert read_rows(lake, "gold", "kpi", columns=["_tenant_id", "v"]) == [
        {"_tenant_id": "a", "v": 1}
    ]


def test_new_columns_are_added(seeded: Lake, read_rows: ReadRows) -> None:
    new = pa.table({"id": [5], "note": ["hi"]})
    seeded.overwrite_partition("silver", "orders", new, tenant="c", batch_id="o")
    assert read_rows(seeded, "silver", "orders", columns=["id", "note"])[-1] == {
        "id": 5,
        "note": "hi",
    }


def test_bronze_is_refused(lake: Lake) -> None:
    lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"]}), batch_id="s")
    with pytest.raises(
        InvalidInput, match=r"Bronze is append-only: cannot overwrite bronze\.orders"
    ):
        lake.overwrite_partition(
            "bronze", "orders", pa.table({"id": [1]}), tenant="a", batch_id="o"
        )
    assert lake.head_version("bronze", "orders") == 0


def test_empty_tenant_is_refused(seeded: Lake) -> None:
    with pytest.raises(InvalidInput, match="Missing tenant"):
        seeded.overwrite_partition(
            "silver", "orders", pa.table({"id": [1]}), tenant="", batch_id="o"
        )
