"""How storage and Delta failures surface: as gnomon's error kinds, with hints."""

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import (
    CommitFailedError,
    DeltaError,
    DeltaProtocolError,
    SchemaMismatchError,
    TableNotFoundError,
)

from gnomon.errors import Conflict, InvalidInput, NotFound, Unavailable
from gnomon.lake import Lake, LakeUnavailable, TableNotFound
from gnomon.lake._delta_errors import delta_errors, translate


def test_error_kinds() -> None:
    assert issubclass(TableNotFound, NotFound)
    assert issubclass(LakeUnavailable, Unavailable)
    assert LakeUnavailable("x", uri="u").retryable


def test_root_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "not_a_dir"
    root.write_text("oops")
    lake = Lake(str(root))
    with pytest.raises(LakeUnavailable, match="Lake storage unavailable while writing") as caught:
        lake.append("bronze", "orders", pa.table({"_tenant_id": ["a"]}), batch_id="b")
    assert caught.value.uri == lake.uri("bronze", "orders")
    assert caught.value.hint is not None
    with pytest.raises(LakeUnavailable):
        lake.tables()


def test_missing_root_has_no_tables(tmp_path: Path) -> None:
    assert Lake(str(tmp_path / "nowhere")).tables() == []


def test_unreachable_object_store_is_unavailable() -> None:
    lake = Lake(
        "s3://gnomon-test/lake",
        storage_options={
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "max_retries": "0",
            "timeout": "2s",
            "connect_timeout": "2s",
        },
    )
    with pytest.raises(LakeUnavailable) as caught:
        lake.snapshot("silver", "orders")
    assert caught.value.uri == "s3://gnomon-test/lake/silver/orders"


def test_concurrent_commit_is_a_conflict(lake: Lake) -> None:
    lake.append("silver", "t", pa.table({"_tenant_id": ["a"], "id": [1]}), batch_id="b0")
    stale = DeltaTable(lake.uri("silver", "t"))
    lake.overwrite_partition("silver", "t", pa.table({"id": [2]}), tenant="a", batch_id="b1")
    merger = stale.merge(
        pa.table({"_tenant_id": ["a"], "id": [1]}),
        't."id" = s."id"',
        source_alias="s",
        target_alias="t",
    ).when_matched_delete()
    with (
        pytest.raises(Conflict, match="another writer committed first") as caught,
        delta_errors(lake.uri("silver", "t"), action="merging"),
    ):
        merger.execute()
    assert caught.value.details["uri"] == lake.uri("silver", "t")
    assert lake.head_version("silver", "t") == 1


@pytest.mark.parametrize(
    ("exc", "kind", "message"),
    [
        (CommitFailedError("Commit failed"), Conflict, "Concurrent commit"),
        (SchemaMismatchError("fields differ"), InvalidInput, "Schema mismatch"),
        (DeltaProtocolError("reader v9"), InvalidInput, "Unsupported Delta table"),
        (TableNotFoundError("could not create"), LakeUnavailable, "Lake storage unavailable"),
        (PermissionError("denied"), LakeUnavailable, "Lake storage unavailable"),
        (DeltaError("Arrow error: Cast error: bad int"), InvalidInput, "Delta rejected the data"),
        (DeltaError("Object store: connection reset"), LakeUnavailable, "Delta operation failed"),
    ],
)
def test_translation(exc: Exception, kind: type[Exception], message: str) -> None:
    error = translate(exc, uri="/lake/silver/t", action="writing silver.t")
    assert type(error) is kind
    assert str(error).startswith(message)
    assert "/lake/silver/t" in error.message
    assert error.hint


def test_translation_keeps_only_the_first_line_in_the_message() -> None:
    error = translate(DeltaError("Cast error: x\nPython traceback ..."), uri="u", action="a")
    assert "traceback" not in error.message
    assert "traceback" in error.details["cause"]
