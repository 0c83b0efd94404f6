"""History and commit lookup: what a resumed load asks to learn which steps committed."""

from datetime import UTC

import pyarrow as pa
import pytest

from gnomon.errors import InvalidInput
from gnomon.lake import CommitInfo, Lake, TableNotFound


def _one(tenant: str = "a") -> pa.Table:
    return pa.table({"_tenant_id": [tenant], "id": [1]})


@pytest.fixture
def busy(lake: Lake) -> Lake:
    """silver.orders written by two runs, with batch b2 written twice (two operations)."""
    lake.append("silver", "orders", _one(), batch_id="b1", run_id="r1")
    lake.append("silver", "orders", _one(), batch_id="b2", run_id="r1", operation="land")
    lake.merge(
        "silver", "orders", _one("z"), keys=["id"], order_by=None, batch_id="b2", run_id="r2"
    )
    lake.overwrite_partition("silver", "orders", _one(), tenant="a", batch_id="b3", run_id="r2")
    return lake


def test_history_is_newest_first_with_labels(busy: Lake) -> None:
    history = busy.history("silver", "orders")
    assert [c.version for c in history] == [3, 2, 1, 0]
    assert [c.gnomon_operation for c in history] == [
        "overwrite_partition",
        "merge",
        "land",
        "append",
    ]
    assert [c.batch_id for c in history] == ["b3", "b2", "b2", "b1"]
    assert [c.run_id for c in history] == ["r2", "r2", "r1", "r1"]
    # The first append creates the table and adds its files in one commit.
    assert [c.operation for c in history] == ["WRITE", "MERGE", "WRITE", "CREATE TABLE"]
    assert history[1].metrics["num_target_rows_inserted"] == 1
    assert all(c.timestamp.tzinfo is not None for c in history)
    assert all(c.timestamp.utcoffset() == UTC.utcoffset(None) for c in history)
    assert history[0].timestamp >= history[-1].timestamp


def test_history_limit(busy: Lake) -> None:
    assert [c.version for c in busy.history("silver", "orders", limit=2)] == [3, 2]
    with pytest.raises(InvalidInput, match="Invalid history limit"):
        busy.history("silver", "orders", limit=0)


def test_history_of_a_missing_table(lake: Lake) -> None:
    with pytest.raises(TableNotFound):
        lake.history("gold", "nothing")


def test_find_commit_returns_the_newest_match(busy: Lake) -> None:
    found = busy.find_commit("silver", "orders", batch_id="b2")
    assert isinstance(found, CommitInfo)
    assert (found.version, found.gnomon_operation, found.run_id) == (2, "merge", "r2")


def test_find_commit_filters_by_operation(busy: Lake) -> None:
    found = busy.find_commit("silver", "orders", batch_id="b2", operation="land")
    assert found is not None
    assert found.version == 1
    assert busy.find_commit("silver", "orders", batch_id="b2", operation="append") is None


def test_find_commit_of_an_unknown_batch_or_table_is_none(busy: Lake) -> None:
    assert busy.find_commit("silver", "orders", batch_id="b9") is None
    assert busy.find_commit("silver", "elsewhere", batch_id="b1") is None


def test_find_commit_reaches_past_the_first_page(lake: Lake) -> None:
    lake.append("bronze", "events", _one(), batch_id="old")
    for number in range(40):
        lake.append("bronze", "events", _one(), batch_id=f"n{number}")
    found = lake.find_commit("bronze", "events", batch_id="old")
    assert found is not None
    assert found.version == 0
    newest = lake.find_commit("bronze", "events", batch_id="n39")
    assert newest is not None
    assert newest.version == 40


def test_maintenance_commits_are_labelled_without_a_batch(busy: Lake) -> None:
    busy.restore("silver", "orders", version=0)
    head = busy.history("silver", "orders", limit=1)[0]
    assert (head.operation, head.gnomon_operation, head.batch_id) == ("RESTORE", "restore", None)
