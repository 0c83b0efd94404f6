"""The shapes a load proves while landing, and that silver and quarantine do not depend on them.

A load watches the contract's typed text columns on their way into bronze and compiles its plan
with the shapes every landed value has. These tests check which shapes reach the plan (none for a
batch re-checked from bronze, whose rows were never watched) and that silver and the quarantine
equal what the plan without shapes gives over the same bronze rows.
"""

from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

import gnomon.ingest.service as ingest_service
from gnomon.app import Gnomon
from gnomon.engine import scope_to_tenant
from gnomon.lake import Layer
from gnomon.quality import TextShape, compile_contract
from tests.projects import HEADER, order_rows, write_contract, write_csv, write_project


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, TextShape]]:
    """The shapes of every plan the ingest service compiles, in order."""
    seen: list[dict[str, TextShape]] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(dict(kwargs.get("shapes") or {}))
        return compile_contract(*args, **kwargs)

    monkeypatch.setattr(ingest_service, "compile_contract", spy)
    return seen


def _rows(table: Any, columns: tuple[str, ...]) -> list[tuple[str, ...]]:
    return sorted(tuple(str(row[c]) for c in columns) for row in table.to_pylist())


def _unshaped(app: Gnomon, batch_id: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Valid and quarantined rows of the batch by the plan compiled without shapes."""
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
    tables = {"bronze.orders": bronze}
    valid = app.engine.execute(scope_to_tenant(plan.valid(source), tenant="default"), tables=tables)
    judged = app.engine.execute(
        scope_to_tenant(plan.quarantined(source), tenant="default"), tables=tables
    )
    return _rows(valid, HEADER), _rows(judged, ("order_id", "_rule", "_reason"))


def test_only_columns_whose_every_landed_value_has_the_shape_skip_their_guard(
    tmp_path: Path, compiled: list[dict[str, TextShape]]
) -> None:
    project = write_project(tmp_path / "project")
    write_csv(project / "data" / "a.csv", order_rows(1, 30))
    # The second file pads a quantity and writes an instant with an offset: both still valid,
    # but not in the plain shape, so those columns keep their guards; prices stay plain.
    write_csv(
        project / "data" / "b.csv",
        [
            ["O900001", "2025-01-02 10:00:00", "EMEA", " 7 ", "12.50"],
            ["O900002", "2025-01-02T10:00:00Z", "AMER", "3", ".5"],
            ["O900003", "2025-01-02 10:00:00", "APAC", "0", "-1"],
            ["O900004", "2025-01-02 10:00:00", "MARS", "2", "1"],
        ],
    )
    with Gnomon.open(project) as app:
        [result] = app.ingest.ingest("orders", ctx=app.context())
        assert compiled == [{"price": TextShape.DECIMAL}]
        valid, judged = _unshaped(app, str(result.batch_id))
        silver = _rows(app.sql("SELECT * FROM silver.orders"), HEADER)
        quarantine = app.sql("SELECT * FROM quarantine.orders WHERE _rule <> 'parse'")
        assert silver == valid
        assert _rows(quarantine, ("order_id", "_rule", "_reason")) == judged
    assert result.rows_written == 32
    assert {row[0] for row in judged} == {"O900003", "O900004"}


def test_a_batch_rechecked_from_bronze_claims_no_shape(
    tmp_path: Path, compiled: list[dict[str, TextShape]]
) -> None:
    project = write_project(tmp_path / "project", min_rows=100)
    write_csv(project / "data" / "a.csv", order_rows(1, 20))
    with Gnomon.open(project) as app:
        [blocked] = app.ingest.ingest("orders", ctx=app.context())
    assert blocked.status == "blocked"
    assert compiled[-1] == {
        "updated_at": TextShape.WALL_CLOCK,
        "quantity": TextShape.INTEGER,
        "price": TextShape.DECIMAL,
    }
    write_contract(project, min_rows=1, version=2)
    with Gnomon.open(project) as app:
        results = app.ingest.ingest("orders", ctx=app.context())
        assert [r.status for r in results] == ["succeeded", "skipped"]
        valid, _ = _unshaped(app, str(blocked.batch_id))
        assert _rows(app.sql("SELECT * FROM silver.orders"), HEADER) == valid
    assert compiled[-1] == {}
    assert len(valid) == 20
