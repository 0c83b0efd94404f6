"""Silver gets exactly the rows the contract's full valid query gives over the whole batch.

A load stages the valid rows without the dedupe while it proves that no key repeats: by the
keys' ascending order, or when that breaks by a query over the key columns beside the staging;
when a key does repeat, the staged files are dropped and the rows staged again with the dedupe.
These tests compare silver after a load with the plain ``valid`` query (dedupe always on) run
over the batch in bronze, on batches that keep the shortcut and batches that must redo it, and
check that the quarantine and the run record still agree with the whole batch.
"""

from pathlib import Path
from typing import Any

from sqlglot import exp

from gnomon.app import Gnomon
from gnomon.engine import scope_to_tenant
from gnomon.ingest import IngestResult
from gnomon.lake import Layer
from gnomon.quality import compile_contract
from tests.projects import HEADER, order_rows, write_csv, write_project

_SILVER = (*HEADER, "_source")


def _batch(batch_id: str) -> exp.Expression:
    return (
        exp.select(exp.Star())
        .from_(exp.to_table("bronze.orders"))
        .where(
            exp.and_(
                exp.column("_batch_id").eq(exp.Literal.string(batch_id)),
                exp.column("_parse_error").is_(exp.null()),
            )
        )
        .subquery("batch")
    )


def _rows(table: Any, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(row[c]) for c in columns) for row in table.to_pylist())


def _load(project: Path) -> tuple[IngestResult, dict[str, list[tuple[str, ...]]]]:
    """Ingest; then silver and quarantine as stored, and as the whole-batch queries give them."""
    with Gnomon.open(project) as app:
        [result] = app.ingest.ingest("orders", ctx=app.context())
        contract = app.ingest.contract_for(app.ingest.source("orders"))
        bronze = app.lake.snapshot(Layer.BRONZE, "orders")
        plan = compile_contract(contract, raw_columns={f.name: f.type for f in bronze.schema})
        source = _batch(str(result.batch_id))
        tables = {"bronze.orders": bronze}
        run = app.engine.execute
        valid = run(scope_to_tenant(plan.valid(source), tenant="default"), tables=tables)
        judged = run(scope_to_tenant(plan.quarantined(source), tenant="default"), tables=tables)
        silver = app.sql("SELECT * FROM silver.orders")
        quarantine = app.sql("SELECT * FROM quarantine.orders WHERE _rule <> 'parse'")
    reasons = ("order_id", "_row", "_rule", "_rules", "_reason")
    return result, {
        "silver": _rows(silver, _SILVER),
        "valid": _rows(valid, _SILVER),
        "quarantine": _rows(quarantine, reasons),
        "judged": _rows(judged, reasons),
    }


def _project(tmp_path: Path, files: dict[str, list[list[str]]]) -> Path:
    project = write_project(tmp_path / "project")
    for name, rows in files.items():
        write_csv(project / "data" / name, rows)
    return project


FAILING = [
    ["O900001", "2025-01-01 10:00:00", "EMEA", "many", "1.00"],
    ["O900002", "not a time", "MARS", "0", "-1"],
    ["", "2025-01-01 10:00:00", "EMEA", "1", "1.00"],
    ["O900004", "2025-01-01T10:00:00Z", "EMEA", "101", "1.00"],
]


def test_unique_keys_keep_the_rows_staged_without_a_dedupe(tmp_path: Path) -> None:
    project = _project(
        tmp_path,
        {
            "a.csv": [*order_rows(0, 40), *FAILING],
            # A key repeated by a row that fails: the valid rows still have unique keys.
            "b.csv": [*order_rows(100, 40), ["O000003", "2025-01-09 10:00:00", "MARS", "1", "1"]],
        },
    )
    result, rows = _load(project)
    assert (result.status, result.rows_read, result.rows_written) == ("succeeded", 85, 80)
    assert result.rows_quarantined == 5
    assert rows["silver"] == rows["valid"]
    assert len(rows["silver"]) == 80
    assert rows["quarantine"] == rows["judged"]


def test_unique_keys_out_of_order_are_proven_unique_by_the_query(tmp_path: Path) -> None:
    # b.csv's keys come before a.csv's: the order breaks at the second file, the key query
    # finds no repeated key, and the rows staged so far stay.
    project = _project(
        tmp_path, {"a.csv": order_rows(50, 30), "b.csv": [*order_rows(0, 30), *FAILING]}
    )
    result, rows = _load(project)
    assert (result.status, result.rows_read, result.rows_written) == ("succeeded", 64, 60)
    assert rows["silver"] == rows["valid"]
    assert len(rows["silver"]) == 60
    assert rows["quarantine"] == rows["judged"]


def test_repeated_valid_keys_are_staged_again_with_the_dedupe(tmp_path: Path) -> None:
    later = [[r[0], "2025-01-07 10:00:00", "APAC", "5", "9.99"] for r in order_rows(10, 5)]
    tie = [["O000020", "2025-01-01 10:00:00", "AMER", "4", "4.00"]]  # same time: later row wins
    project = _project(
        tmp_path,
        {"a.csv": [*order_rows(0, 40), *FAILING], "b.csv": [*later, *tie, *FAILING[:1]]},
    )
    result, rows = _load(project)
    assert (result.status, result.rows_read, result.rows_written) == ("succeeded", 51, 40)
    assert result.rows_quarantined == 5
    assert rows["silver"] == rows["valid"]
    assert len(rows["silver"]) == 40
    by_key = {row[0]: row for row in rows["silver"]}
    assert by_key["O000012"][2] == "APAC"
    assert by_key["O000020"][2] == "AMER"
    assert rows["quarantine"] == rows["judged"]
    with Gnomon.open(project) as app:
        silver = Path(app.lake.uri(Layer.SILVER, "orders"))
        stored = {str(p) for p in silver.rglob("*.parquet")}
        assert stored == set(app.lake.snapshot(Layer.SILVER, "orders").files), (
            "the files staged without the dedupe were deleted"
        )


def test_a_table_without_primary_key_keeps_every_valid_row(tmp_path: Path) -> None:
    project = _project(tmp_path, {"a.csv": [*order_rows(0, 10), *order_rows(0, 10)]})
    contract = project / "contracts" / "orders.yaml"
    text = contract.read_text(encoding="utf-8").replace("primary_key: [order_id]\n", "")
    contract.write_text(text, encoding="utf-8")
    result, rows = _load(project)
    assert (result.rows_read, result.rows_written) == (20, 20)
    assert rows["silver"] == rows["valid"]
