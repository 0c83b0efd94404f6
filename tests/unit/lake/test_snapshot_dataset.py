"""TableSnapshot.to_dataset: reads exactly the snapshot's files, partition values included."""

from dataclasses import replace

import pyarrow as pa
import pytest

from gnomon.lake import Lake, Layer, TableSnapshot


def _tenants_and_ids(snapshot: TableSnapshot) -> list[tuple[str, int]]:
    table = snapshot.to_dataset().to_table()
    tenants = table.column("_tenant_id").to_pylist()
    ids = table.column("id").to_pylist()
    return sorted(zip(tenants, ids, strict=True))


def test_tenant_names_that_need_escaping_round_trip(lake: Lake) -> None:
    tenants = ["a b", "it's", "x/y", "100%", "ünï"]
    data = pa.table({"_tenant_id": tenants, "id": list(range(len(tenants)))})
    lake.append("bronze", "odd", data, batch_id="b")
    assert _tenants_and_ids(lake.snapshot("bronze", "odd")) == sorted(
        zip(tenants, range(len(tenants)), strict=True)
    )


def test_a_narrowed_snapshot_reads_only_its_files(lake: Lake) -> None:
    lake.append("bronze", "ev", pa.table({"_tenant_id": ["a", "b"], "id": [1, 2]}), batch_id="0")
    lake.append("bronze", "ev", pa.table({"_tenant_id": ["b"], "id": [3]}), batch_id="1")
    snapshot = lake.snapshot("bronze", "ev", version=1)
    batch_only = replace(snapshot, files=lake.files_added_in("bronze", "ev", version=1))
    assert _tenants_and_ids(snapshot) == [("a", 1), ("b", 2), ("b", 3)]
    assert _tenants_and_ids(batch_only) == [("b", 3)]
    assert batch_only.storage_options == snapshot.storage_options


def test_files_from_before_a_new_column_read_it_as_null(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="0")
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [2], "x": [7]}), batch_id="1")
    table = lake.snapshot("silver", "t").to_dataset().to_table()
    assert sorted(zip(table["id"].to_pylist(), table["x"].to_pylist(), strict=True)) == [
        (1, None),
        (2, 7),
    ]


def test_object_store_snapshots_read_through_the_delta_storage_handler(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.append("bronze", "ev", pa.table({"_tenant_id": ["a b", "c"], "id": [1, 2]}), batch_id="0")
    snapshot = lake.snapshot("bronze", "ev")
    monkeypatch.setattr("gnomon.lake.models.is_remote", lambda uri: True)
    assert _tenants_and_ids(snapshot) == [("a b", 1), ("c", 2)]


def test_storage_options_stay_out_of_repr() -> None:
    snapshot = TableSnapshot(
        layer=Layer.GOLD,
        name="t",
        uri="/lake/gold/t",
        version=0,
        schema=pa.schema([("_tenant_id", pa.string())]),
        partition_columns=("_tenant_id",),
        files=(),
        storage_options={"AWS_SECRET_ACCESS_KEY": "hunter2"},
    )
    assert "hunter2" not in repr(snapshot)
    assert snapshot.to_dataset().to_table().num_rows == 0
