"""Maintenance: compact, vacuum, restore, and the files a commit added."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from gnomon.errors import InvalidInput
from gnomon.lake import Lake, TableNotFound

ReadRows = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def fragmented(lake: Lake) -> Lake:
    """gold.events: six small appends over two tenants, so 12 small files."""
    for number in range(6):
        data = pa.table({"_tenant_id": ["a", "b"], "n": [number, number + 100]})
        lake.append("gold", "events", data, batch_id=f"b{number}")
    return lake


def test_compact_reduces_files_and_keeps_rows(fragmented: Lake, read_rows: ReadRows) -> None:
    before_rows = read_rows(fragmented, "gold", "events")
    before_files = fragmented.snapshot("gold", "events").files
    metrics = fragmented.compact("gold", "events")
    after = fragmented.snapshot("gold", "events")
    assert len(before_files) == 12
    assert len(after.files) == 2
    assert metrics["numFilesRemoved"] == 12
    assert metrics["numFilesAdded"] == 2
    assert metrics["version"] == after.version == 6
    assert read_rows(fragmented, "gold", "events") == before_rows
    head = fragmented.history("gold", "events", limit=1)[0]
    assert (head.operation, head.gnomon_operation) == ("OPTIMIZE", "compact")


def test_compact_of_a_compact_table_commits_nothing(fragmented: Lake) -> None:
    fragmented.compact("gold", "events")
    metrics = fragmented.compact("gold", "events")
    assert metrics["numFilesAdded"] == 0
    assert metrics["version"] == fragmented.head_version("gold", "events") == 6


def test_compact_refuses_a_silly_target_size(fragmented: Lake) -> None:
    with pytest.raises(InvalidInput, match="Invalid target_size"):
        fragmented.compact("gold", "events", target_size=0)


def test_vacuum_dry_run_lists_and_real_run_deletes(fragmented: Lake, read_rows: ReadRows) -> None:
    old_files = set(fragmented.snapshot("gold", "events").files)
    fragmented.compact("gold", "events")
    head_files = set(fragmented.snapshot("gold", "events").files)

    listed = fragmented.vacuum("gold", "events", retention_hours=0, force=True, dry_run=True)
    assert set(listed) == old_files
    assert all(Path(path).exists() for path in listed)
    assert fragmented.head_version("gold", "events") == 6

    deleted = fragmented.vacuum("gold", "events", retention_hours=0, force=True, dry_run=False)
    assert deleted == listed
    assert not any(Path(path).exists() for path in deleted)
    assert all(Path(path).exists() for path in head_files)
    assert len(read_rows(fragmented, "gold", "events")) == 12
    assert fragmented.vacuum("gold", "events", retention_hours=0, force=True) == []
    operations = [c.gnomon_operation for c in fragmented.history("gold", "events", limit=2)]
    assert operations == ["vacuum", "vacuum"]


def test_vacuum_keeps_recently_removed_files_within_retention(fragmented: Lake) -> None:
    fragmented.compact("gold", "events")
    assert fragmented.vacuum("gold", "events", retention_hours=1) == []
    assert fragmented.vacuum("gold", "events") == []


@pytest.mark.parametrize(("hours", "force"), [(0, False), (-1, True), (-5, False)])
def test_vacuum_refuses_short_retention(fragmented: Lake, hours: int, force: bool) -> None:
    with pytest.raises(InvalidInput, match="Retention too short") as caught:
        fragmented.vacuum("gold", "events", retention_hours=hours, force=force, dry_run=False)
    assert "force=True" in str(caught.value.hint)


def test_restore_brings_back_an_old_version(lake: Lake, read_rows: ReadRows) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b0")
    lake.overwrite_partition("silver", "t", pa.table({"id": [2]}), tenant="a", batch_id="b1")
    lake.append("silver", "t", pa.table({"_tenant_id": ["b"], "id": [3]}), batch_id="b2")
    version = lake.restore("silver", "t", version=0)
    assert version == 3
    assert read_rows(lake, "silver", "t") == read_rows(lake, "silver", "t", version=0)
    assert read_rows(lake, "silver", "t", columns=["id"]) == [{"id": 1}]
    assert read_rows(lake, "silver", "t", version=2, columns=["id"]) == [{"id": 2}, {"id": 3}]


def test_restore_of_the_head_changes_nothing(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"]}), batch_id="b0")
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"]}), batch_id="b1")
    assert lake.restore("silver", "t", version=1) == 1
    assert lake.head_version("silver", "t") == 1


def test_restore_to_an_unknown_version_is_refused(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"]}), batch_id="b0")
    with pytest.raises(InvalidInput, match="kept versions are 0 to 0"):
        lake.restore("silver", "t", version=5)
    with pytest.raises(TableNotFound):
        lake.restore("silver", "nope", version=0)


def test_files_added_in_each_commit(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a", "b"], "id": [1, 2]}), batch_id="0")
    lake.append("silver", "t", pa.table({"_tenant_id": ["b"], "id": [3]}), batch_id="1")
    lake.overwrite_partition("silver", "t", pa.table({"id": [4]}), tenant="a", batch_id="2")
    uri = lake.uri("silver", "t")
    files = [set(DeltaTable(uri, version=v).file_uris()) for v in range(3)]

    first = lake.files_added_in("silver", "t", version=0)
    assert set(first) == files[0]
    assert len(first) == 2
    second = lake.files_added_in("silver", "t", version=1)
    assert len(second) == 1
    assert set(second) == files[1] - files[0]
    assert "_tenant_id=b" in second[0]
    third = lake.files_added_in("silver", "t", version=2)
    assert set(third) == files[2] - files[1]
    assert len(third) == 1
    assert "_tenant_id=a" in third[0]
    assert all(Path(path).is_absolute() for path in (*first, *second, *third))
    added = pa.concat_tables(pq.read_table(path) for path in third)
    assert added.column("id").to_pylist() == [4]


def test_files_added_in_an_unknown_version(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"]}), batch_id="0")
    with pytest.raises(InvalidInput, match="kept versions are 0 to 0"):
        lake.files_added_in("silver", "t", version=1)


def test_vacuum_removes_leftovers_of_a_crashed_write(fragmented: Lake) -> None:
    table_dir = Path(fragmented.uri("gold", "events"))
    leftover = table_dir / "_tenant_id=a" / "part-never-committed.parquet"
    pq.write_table(pa.table({"n": [1]}), leftover)
    rows = fragmented.snapshot("gold", "events").to_dataset().to_table().num_rows
    assert rows == 12
    assert fragmented.vacuum("gold", "events", retention_hours=1) == []
    head = fragmented.head_version("gold", "events")
    assert head is not None

    assert fragmented.vacuum("gold", "events", retention_hours=0, force=True) == [str(leftover)]
    deleted = fragmented.vacuum("gold", "events", retention_hours=0, force=True, dry_run=False)
    assert deleted == [str(leftover)]
    assert not leftover.exists()
    assert fragmented.head_version("gold", "events") == head + 2

    assert fragmented.vacuum("gold", "events", retention_hours=0, force=True, dry_run=False) == []
    assert fragmented.head_version("gold", "events") == head + 2
