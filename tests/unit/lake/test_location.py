"""Addressing: layers, table names, URIs, listing and existence."""

import re
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.lake import Lake, Layer

VALID_NAME = r"[a-z_][a-z0-9_]*"


def _rows(tenant: str = "acme") -> pa.Table:
    return pa.table({"_tenant_id": [tenant], "id": [1]})


def test_uri_is_root_layer_name(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    assert lake.uri(Layer.SILVER, "orders") == str(tmp_path / "silver" / "orders")
    assert lake.uri("gold", "kpi_daily") == str(tmp_path / "gold" / "kpi_daily")


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    lake = Lake("data/lake")
    assert lake.root == str(tmp_path / "data" / "lake")
    assert Lake(f"file://{tmp_path}/x").root == str(tmp_path / "x")


def test_object_store_root_is_passed_through() -> None:
    lake = Lake("s3://bucket/lake/", storage_options={"AWS_REGION": "eu-west-1"})
    assert lake.root == "s3://bucket/lake"
    assert lake.uri("bronze", "events") == "s3://bucket/lake/bronze/events"
    assert "AWS_REGION" not in repr(lake)


def test_empty_root_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Empty lake root"):
        Lake("  ")


def test_unknown_layer_lists_layers(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="Unknown lake layer") as caught:
        Lake(str(tmp_path)).uri("platinum", "orders")
    assert caught.value.hint == "Use one of: bronze, silver, gold, quarantine."


@pytest.mark.parametrize("name", ["Orders", "1orders", "orders-daily", "", "a b", "x/y", "é"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid table name"):
        Lake(str(tmp_path)).uri("silver", name)


@given(st.from_regex(VALID_NAME, fullmatch=True))
def test_every_lower_case_identifier_is_a_valid_name(name: str) -> None:
    assert Lake("/lake").uri("gold", name) == f"/lake/gold/{name}"


@given(st.text(max_size=12).filter(lambda s: not re.fullmatch(VALID_NAME, s)))
def test_anything_else_is_an_invalid_name(name: str) -> None:
    with pytest.raises(InvalidInput):
        Lake("/lake").uri("gold", name)


def test_trailing_newline_is_not_a_valid_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        Lake(str(tmp_path)).uri("gold", "orders\n")


def test_tables_and_exists(lake: Lake) -> None:
    assert lake.tables() == []
    assert not lake.exists("silver", "orders")
    lake.append("silver", "orders", _rows(), batch_id="b1")
    lake.append("bronze", "orders", _rows(), batch_id="b1")
    lake.append("bronze", "customers", _rows(), batch_id="b1")
    lake.append("quarantine", "orders", _rows(), batch_id="b1")
    assert lake.exists("silver", "orders")
    assert not lake.exists("gold", "orders")
    assert lake.tables() == [
        (Layer.BRONZE, "customers"),
        (Layer.BRONZE, "orders"),
        (Layer.SILVER, "orders"),
        (Layer.QUARANTINE, "orders"),
    ]


def test_tables_ignores_folders_that_are_not_tables(lake: Lake) -> None:
    lake.append("gold", "kpis", _rows(), batch_id="b1")
    Path(lake.root, "gold", "scratch").mkdir()
    Path(lake.root, "gold", "Not_A_Name").mkdir()
    assert lake.tables() == [(Layer.GOLD, "kpis")]
