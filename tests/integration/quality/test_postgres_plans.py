"""A plan compiled for PostgreSQL runs there and agrees with the DuckDB plan run on DuckDB.

The rows avoid text that has a valid shape but no valid value (``2024-02-30``): PostgreSQL casts
without ``TRY_CAST``, so such text stops the query there, where DuckDB reads it as a type error.
"""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from sqlglot import exp

from gnomon.quality import CheckPlan, ContractSpec, compile_contract

pytestmark = pytest.mark.postgres

SOURCE = exp.to_table("raw")
TEXT_COLUMNS = ["id", "at", "local", "n", "price", "flag", "day", "tag"]
CONTRACT = ContractSpec.model_validate(
    {
        "dataset": "orders",
        "version": 1,
        "primary_key": ["id"],
        "ordering": "at",
        "columns": {
            "id": {"type": "string", "regex": "^O[0-9]+$"},
            "at": {"type": "timestamp", "required": True},
            "local": {"type": "timestamp", "timezone": "Europe/Berlin"},
            "n": {"type": "integer", "min": 1, "max": 100},
            "price": {"type": "decimal(8,2)", "max": 500, "severity": "warn"},
            "flag": {"type": "boolean"},
            "day": {"type": "date", "min": "2020-01-01"},
            "tag": {"type": "string", "allowed": ["a", "b"], "severity": "warn"},
        },
    }
)
ROWS: list[tuple[str | None, ...]] = [
    # id, at, local, n, price, flag, day, tag, tenant
    ("O1", "2024-01-01 10:00:00", "2024-06-01 12:00", "5", "9.99", "true", "2024-01-01", "a", "t1"),
    ("O1", "2024-01-02T10:00:00Z", "2024-01-01", " 7 ", "600", "Y", " 2024-05-05 ", "c", "t1"),
    ("O1", "2024-01-03 10:00:00+02:00", None, "1.5", "1", "0", "2024-01-01", "a", "t1"),
    ("O1", None, "2024-01-01 00:00:00", "8", "2", "f", None, None, "t1"),
    ("O1", "2024-01-01 09:00:00", None, "9", None, None, None, "b", "t2"),
    (
        "O2",
        "2024-03-01 00:00:00.123456",
        "2024-02-01T08:30:00",
        "100",
        "12.345",
        "no",
        None,
        "",
        None,
    ),
    ("O2", "2024-03-01 00:00:00", "yesterday", "3", "x", "1", "2024-01-01", "a", None),
    (
        "O3",
        "2024-05-05",
        "2024-05-05 10:00:00-0530",
        "0",
        " 3.5 ",
        "maybe",
        "2019-12-31",
        "b",
        "t1",
    ),
    (
        "bad",
        "2024-05-05 10:00",
        "2024-05-05 10:00:00+05",
        "101",
        "-1",
        "TRUE",
        "01/02/2024",
        "a",
        "t1",
    ),
    (" ", "   ", "", "", "", "", "", "a", "t1"),
    ("O4", "2024-01-01T10", "2024-01-01", "1e3", "1e3", "yes", "2021-06-30", "b", "t2"),
    (
        "O5",
        "2024-07-07 07:07:07",
        "2024-07-07 07:07:07",
        "+4",
        ".5",
        " N ",
        "2024-07-07",
        "b",
        "t2",
    ),
]


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        columns = ", ".join(f'"{name}" TEXT' for name in [*TEXT_COLUMNS, "_tenant_id"])
        conn.execute(f'CREATE TABLE raw ({columns}, "_row" BIGINT)')
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO raw VALUES ({', '.join(['%s'] * (len(TEXT_COLUMNS) + 2))})",
                [(*row, i) for i, row in enumerate(ROWS, start=1)],
            )
        yield conn


def arrow_rows() -> pa.Table:
    columns = list(zip(*ROWS, strict=True))
    names = [*TEXT_COLUMNS, "_tenant_id"]
    table = {
        name: pa.array(values, pa.string()) for name, values in zip(names, columns, strict=True)
    }
    return pa.table({**table, "_row": pa.array(range(1, len(ROWS) + 1), pa.int64())})


def plan(dialect: Any) -> CheckPlan:
    raw = {name: pa.string() for name in [*TEXT_COLUMNS, "_tenant_id"]} | {"_row": pa.int64()}
    return compile_contract(CONTRACT, raw_columns=raw, dialect=dialect)


def on_postgres(conn: Any, tree: exp.Expr) -> list[dict[str, Any]]:
    with conn.cursor() as cursor:
        cursor.execute(tree.sql(dialect="postgres"))
        names = [d.name for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def on_duckdb(tree: exp.Expr) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("raw", arrow_rows())
        rows: list[dict[str, Any]] = (
            con.sql(tree.sql(dialect="duckdb")).to_arrow_table().to_pylist()
        )
        return rows
    finally:
        con.close()


def comparable(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, str], ...]]:
    """Rows as sorted text, instants in UTC (the drivers attach different ``tzinfo`` objects)."""

    def text(value: Any) -> str:
        return repr(value.astimezone(UTC) if isinstance(value, datetime) else value)

    return sorted(tuple(sorted((k, text(v)) for k, v in row.items())) for row in rows)


@pytest.mark.parametrize("method", ["checked", "valid", "quarantined", "warnings"])
def test_postgres_plan_agrees_with_the_duckdb_plan(pg: Any, method: str) -> None:
    expected = on_duckdb(getattr(plan("duckdb"), method)(SOURCE))

    found = on_postgres(pg, getattr(plan("postgres"), method)(SOURCE))

    assert comparable(found) == comparable(expected)
    assert found, "every query should return rows for these inputs"


def test_postgres_plan_keeps_one_row_per_tenant_and_key(pg: Any) -> None:
    valid = on_postgres(pg, plan("postgres").valid(SOURCE))

    assert sorted((r["_tenant_id"] or "", r["id"], r["_row"]) for r in valid) == [
        ("", "O2", 6),
        ("t1", "O1", 2),
        ("t2", "O1", 5),
        ("t2", "O5", 12),
    ]
