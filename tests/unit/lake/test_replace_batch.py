"""Replacing one batch's rows, and dropping tables no reader can see."""

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from gnomon.errors import InvalidInput
from gnomon.lake import Lake

ReadRows = Callable[..., list[dict[str, Any]]]


def test_replace_batch_replaces_only_that_batch(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("quarantine", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    lake.append(
        "quarantine", "orders", pa.table({"_tenant_id": ["a", "b"], "id": [2, 3]}), batch_id="b2"
    )
    version = lake.replace_batch(
        "quarantine", "orders", pa.table({"_tenant_id": ["a"], "id": [20]}), batch_id="b2"
    )
    assert version == 2
    assert read_rows(lake, "quarantine", "orders", columns=["_batch_id", "id"]) == [
        {"_batch_id": "b1", "id": 1},
        {"_batch_id": "b2", "id": 20},
    ]
    commit = lake.find_commit("quarantine", "orders", batch_id="b2", operation="replace_batch")
    assert commit is not None and commit.version == 2


def test_replace_batch_twice_leaves_one_copy(lake: Lake, read_rows: ReadRows) -> None:
    rows = pa.table({"_tenant_id": ["a", "a"], "id": [1, 2]})
    lake.replace_batch("quarantine", "orders", rows, batch_id="b1")
    lake.replace_batch("quarantine", "orders", rows, batch_id="b1")
    assert read_rows(lake, "quarantine", "orders", columns=["id"]) == [{"id": 1}, {"id": 2}]


def test_replace_batch_with_no_rows_deletes_the_batch(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("quarantine", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    lake.replace_batch(
        "quarantine",
        "orders",
        pa.table({"_tenant_id": pa.array([], pa.string()), "id": pa.array([], pa.int64())}),
        batch_id="b1",
    )
    assert read_rows(lake, "quarantine", "orders", columns=["id"]) == []


def test_replace_batch_refuses_bronze(lake: Lake) -> None:
    with pytest.raises(InvalidInput, match="bronze"):
        lake.replace_batch("bronze", "orders", pa.table({"_tenant_id": ["a"]}), batch_id="b1")


def test_drop_removes_the_table(lake: Lake) -> None:
    lake.append("silver", "orders", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b1")
    assert lake.exists("silver", "orders")
    lake.drop("silver", "orders")
    assert not lake.exists("silver", "orders")
    assert lake.head_version("silver", "orders") is None
    lake.drop("silver", "orders")  # dropping what is gone is not an error


def test_drop_refuses_object_stores() -> None:
    remote = Lake("s3://bucket/lake", storage_options={"AWS_REGION": "us-east-1"})
    with pytest.raises(InvalidInput, match="object store"):
        remote.drop("silver", "orders")
