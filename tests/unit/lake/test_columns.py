"""Stamping the metadata columns: types, overwritten values, tenant checks."""

from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from gnomon.errors import InvalidInput
from gnomon.lake import (
    BATCH_COLUMN,
    INGESTED_AT_COLUMN,
    INGESTED_AT_TYPE,
    METADATA_COLUMNS,
    SOURCE_COLUMN,
    TENANT_COLUMN,
)
from gnomon.lake.columns import stamp_batch, stamped_schema

NOW = datetime(2025, 5, 1, 8, 30, tzinfo=UTC)


def _stamp(batch: pa.RecordBatch, *, tenant: str | None = None) -> pa.RecordBatch:
    schema = stamped_schema(batch.schema, tenant=tenant)
    return stamp_batch(batch, schema, batch_id="b-7", ingested_at=NOW, tenant=tenant)


def test_constants_name_the_four_columns() -> None:
    assert METADATA_COLUMNS == ("_tenant_id", "_ingested_at", "_batch_id", "_source")
    assert pa.timestamp("us", tz="UTC") == INGESTED_AT_TYPE


def test_missing_metadata_columns_are_appended_and_filled() -> None:
    batch = pa.record_batch({"_tenant_id": ["a", "b"], "id": [1, 2]})
    stamped = _stamp(batch)
    assert stamped.schema.names == ["_tenant_id", "id", *METADATA_COLUMNS[1:]]
    assert stamped.schema.field(INGESTED_AT_COLUMN).type == INGESTED_AT_TYPE
    assert stamped.column(BATCH_COLUMN).to_pylist() == ["b-7", "b-7"]
    assert stamped.column(INGESTED_AT_COLUMN).to_pylist() == [NOW, NOW]
    assert stamped.column(SOURCE_COLUMN).to_pylist() == [None, None]


def test_batch_and_ingested_at_are_overwritten_in_place() -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    batch = pa.record_batch(
        {
            BATCH_COLUMN: ["old", "old"],
            "_tenant_id": ["a", "a"],
            INGESTED_AT_COLUMN: pa.array([old, old], pa.timestamp("ns", tz="UTC")),
            SOURCE_COLUMN: pa.array(["crm", "crm"]).dictionary_encode(),
        }
    )
    stamped = _stamp(batch)
    assert stamped.schema.names == [BATCH_COLUMN, "_tenant_id", INGESTED_AT_COLUMN, SOURCE_COLUMN]
    assert stamped.column(BATCH_COLUMN).to_pylist() == ["b-7", "b-7"]
    assert stamped.column(INGESTED_AT_COLUMN).to_pylist() == [NOW, NOW]
    assert stamped.column(SOURCE_COLUMN).type == pa.string()
    assert stamped.column(SOURCE_COLUMN).to_pylist() == ["crm", "crm"]


def test_ingested_at_is_converted_to_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    batch = pa.record_batch({"_tenant_id": ["a"]})
    stamped = stamp_batch(batch, stamped_schema(batch.schema), batch_id="b", ingested_at=local)
    assert stamped.column(INGESTED_AT_COLUMN).to_pylist() == [NOW]


def test_large_string_tenant_is_cast_to_string() -> None:
    batch = pa.record_batch({"_tenant_id": pa.array(["a"], pa.large_string())})
    assert _stamp(batch).schema.field(TENANT_COLUMN).type == pa.string()


def test_missing_tenant_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Missing tenant column") as caught:
        stamped_schema(pa.schema([("id", pa.int64())]))
    assert caught.value.details["columns"] == ["id"]


@pytest.mark.parametrize("column", [TENANT_COLUMN, SOURCE_COLUMN])
def test_non_string_tenant_or_source_is_refused(column: str) -> None:
    schema = pa.schema([(TENANT_COLUMN, pa.string()), (column, pa.int64())])
    if column == TENANT_COLUMN:
        schema = pa.schema([(TENANT_COLUMN, pa.int64())])
    with pytest.raises(InvalidInput, match=f"Wrong type for '{column}'"):
        stamped_schema(schema)


def test_null_and_empty_tenants_are_refused() -> None:
    with pytest.raises(InvalidInput, match="1 rows have a null '_tenant_id'"):
        _stamp(pa.record_batch({"_tenant_id": ["a", None]}))
    with pytest.raises(InvalidInput, match="empty '_tenant_id'"):
        _stamp(pa.record_batch({"_tenant_id": ["a", ""]}))


def test_scoped_tenant_fills_a_missing_column() -> None:
    stamped = _stamp(pa.record_batch({"id": [1, 2]}), tenant="acme")
    assert stamped.column(TENANT_COLUMN).to_pylist() == ["acme", "acme"]


def test_scoped_tenant_refuses_rows_of_other_tenants() -> None:
    batch = pa.record_batch({"_tenant_id": ["acme", "zeta", "beta"]})
    with pytest.raises(InvalidInput, match=r"other tenants.*'acme': beta, zeta") as caught:
        _stamp(batch, tenant="acme")
    assert caught.value.details["others"] == ["beta", "zeta"]


def test_empty_batch_stamps_to_empty_batch() -> None:
    batch = pa.record_batch({"_tenant_id": pa.array([], pa.string())})
    stamped = _stamp(batch)
    assert stamped.num_rows == 0
    assert stamped.schema.names == list(METADATA_COLUMNS)
