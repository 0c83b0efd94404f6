"""Fixtures for the quality tests: an in-process DuckDB that runs the compiled trees for real.

The session runs in UTC, as gnomon's engines do, so typed timestamps come back as
``timestamp[us, tz=UTC]``.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from gnomon.quality import CheckPlan, ContractSpec, DriftReport, compile_contract

Rows = list[dict[str, Any]]


class Duck:
    """One DuckDB connection; :meth:`load` registers the raw rows as the table ``raw``."""

    source = exp.to_table("raw")

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("CREATE SCHEMA silver")
        self.schema = pa.schema([])

    def load(self, table: pa.Table | Mapping[str, list[Any]]) -> pa.Table:
        arrow = table if isinstance(table, pa.Table) else pa.table(dict(table))
        self.con.register("raw", arrow)
        self.schema = arrow.schema
        return arrow

    def plan(self, spec: ContractSpec, *, drift: DriftReport | None = None) -> CheckPlan:
        """``spec`` compiled for the loaded table's columns."""
        columns = {f.name: f.type for f in self.schema}
        return compile_contract(spec, raw_columns=columns, drift=drift)

    def silver(self, name: str, table: pa.Table) -> None:
        self.con.register(f"__silver_{name}", table)
        self.con.execute(f'CREATE TABLE silver."{name}" AS SELECT * FROM "__silver_{name}"')

    def arrow(self, tree: exp.Expr) -> pa.Table:
        return self.con.sql(tree.sql(dialect="duckdb")).to_arrow_table()

    def rows(self, tree: exp.Expr) -> Rows:
        rows: Rows = self.arrow(tree).to_pylist()
        return rows

    def close(self) -> None:
        self.con.close()


@pytest.fixture
def duck() -> Iterator[Duck]:
    """A fresh DuckDB for one test."""
    db = Duck()
    try:
        yield db
    finally:
        db.close()
