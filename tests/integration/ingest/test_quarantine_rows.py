"""The quarantine judges only the rows that did not make it into silver, with the same result.

A load computes the valid rows first and then applies the contract's quarantine query to the
batch's other rows only. These tests compare what lands in quarantine with the quarantine query
run over the whole batch, on batches mixing every way a row can fail with duplicated keys.
"""

from pathlib import Path
from typing import Any

from sqlglot import exp

from gnomon.app import Gnomon
from gnomon.engine import scope_to_tenant
from gnomon.lake import Layer
from gnomon.quality import compile_contract
from tests.projects import order_rows, write_csv, write_project

_SHOWN = ("order_id", "updated_at", "region", "quantity", "price", "_row", "_rule", "_rules")


def _rows(table: Any) -> list[tuple[object, ...]]:
    return sorted(
        (tuple(str(row[c]) for c in (*_SHOWN, "_reason")) for row in table.to_pylist()),
    )


def _quarantine_of_whole_batch(app: Gnomon, batch_id: str) -> list[tuple[object, ...]]:
    """The contract's quarantine query over every parsed row of the batch."""
    contract = app.ingest.contract_for(app.ingest.source("orders"))
    bronze = app.lake.snapshot(Layer.BRONZE, "orders")
    plan = compile_contract(contract, raw_columns={f.name: f.type for f in bronze.schema})
    source = (
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
    tree = scope_to_tenant(plan.quarantined(source), tenant="default")
    return _rows(app.engine.execute(tree, tables={"bronze.orders": bronze}))


def _ingest(project: Path) -> tuple[Any, list[tuple[object, ...]], list[tuple[object, ...]]]:
    with Gnomon.open(project) as app:
        [result] = app.ingest.ingest("orders", ctx=app.context())
        quarantine = app.lake.snapshot(Layer.QUARANTINE, "orders")
        stored = app.engine.execute(
            scope_to_tenant(
                exp.select(exp.Star())
                .from_(exp.to_table("quarantine.orders"))
                .where(exp.column("_rule").neq(exp.Literal.string("parse"))),
                tenant="default",
            ),
            tables={"quarantine.orders": quarantine},
        )
        return result, _rows(stored), _quarantine_of_whole_batch(app, str(result.batch_id))


def test_mixed_failures_and_duplicates_quarantine_as_the_whole_batch_would(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "project")
    rows = [
        *order_rows(0, 30),
        # The same key three times: the latest valid copy wins, the invalid one is quarantined.
        ["O000001", "2025-01-05 10:00:00", "AMER", "2", "3.00"],
        ["O000001", "2025-01-06 10:00:00", "MARS", "2", "3.00"],
        ["O000002", "2025-01-01 09:00:00", "APAC", "1", "1.00"],
        # Rows breaking one rule or several.
        ["O900001", "2025-01-01 10:00:00", "EMEA", "many", "1.00"],
        ["O900002", "not a time", "MARS", "0", "-1"],
        ["", "2025-01-01 10:00:00", "EMEA", "1", "1.00"],
        ["O900004", "2025-01-01 10:00:00", "EMEA", "101", "1.00"],
        ["O900004", "2025-01-01 10:00:00", "EMEA", "101", "1.00"],
    ]
    path = write_csv(project / "data" / "a.csv", rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("O900009,2025-01-01 10:00:00,EMEA,1,1.00,surplus\n")
    result, stored, expected = _ingest(project)
    assert result.status == "succeeded"
    assert (result.rows_read, result.rows_written, result.rows_quarantined) == (39, 30, 7)
    assert stored == expected
    assert len(stored) == 6
    with Gnomon.open(project) as app:
        latest = app.sql("SELECT region FROM silver.orders WHERE order_id = 'O000001'")
    assert latest.to_pylist() == [{"region": "AMER"}]


def test_a_clean_batch_has_an_empty_quarantine(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    write_csv(project / "data" / "a.csv", order_rows(0, 40))
    result, stored, expected = _ingest(project)
    assert (result.rows_written, result.rows_quarantined) == (40, 0)
    assert stored == expected == []


def test_a_batch_with_only_bad_rows_quarantines_them_all(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", min_rows=0)
    rows = [[f"O{i:06d}", "2025-01-01 10:00:00", "MARS", "1", "1.00"] for i in range(12)]
    write_csv(project / "data" / "a.csv", rows)
    result, stored, expected = _ingest(project)
    assert (result.rows_written, result.rows_quarantined) == (0, 12)
    assert stored == expected
    assert len(stored) == 12
