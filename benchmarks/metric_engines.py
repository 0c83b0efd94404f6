"""Engines: the 20 dashboard queries on DuckDB, on Spark local mode and on PostgreSQL.

    python -m benchmarks.metric_engines [--rows 1000000] [--repeat 3] [--pg URL]

Each query is compiled by gnomon for the engine's dialect and run there (rollups off, no result
cache): DuckDB in process over the silver version's Parquet files; Spark in local mode over the
same files (temporary views on the version's file list), timed warm after one warm-up round,
with its session start reported apart; PostgreSQL, when it answers at ``--pg``, over a copy of
the same silver version, whose copy time is reported apart. Every engine's rows are checked
equal to DuckDB's before timing. Reported: per query and in total, the median of the rounds.
"""

import argparse
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from benchmarks._metrics import (
    dashboard,
    demo_project,
    differences,
    median,
    metric_query,
    ms,
    uncached_service,
)
from benchmarks._setup import report
from gnomon.app import Gnomon
from gnomon.engine import Engine
from gnomon.semantic import MetricQuery, SemanticService

SPARK_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "2g",
}
"""Settings for two local cores (the test suite's, with more driver memory)."""

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def reachable(host: str, port: int) -> bool:
    """Whether something listens at ``host:port`` (probed once, briefly)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def postgres_engine(url: str) -> Iterator[Engine]:
    """A PostgreSQL engine on a schema of its own, dropped afterwards."""
    import psycopg

    from gnomon.engine.postgres import PostgresEngine

    schema = f"gnomon_bench_{uuid.uuid4().hex[:10]}"
    try:
        with PostgresEngine(url, schema=schema, statement_timeout_s=None) as engine:
            yield engine
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run_round(
    service: SemanticService, app: Gnomon, engine: str, queries: list[tuple[str, MetricQuery]]
) -> dict[str, float]:
    """Seconds per query for one pass over the dashboard on ``engine``."""
    ctx = app.context()
    out = {}
    for name, query in queries:
        started = time.perf_counter()
        service.query(query, ctx=ctx, engine=engine, use_rollups=False)
        out[name] = time.perf_counter() - started
    return out


def check_engine(
    service: SemanticService, app: Gnomon, engine: str, queries: list[tuple[str, MetricQuery]]
) -> None:
    """Every query gives DuckDB's rows on ``engine`` (else: exit with the differences)."""
    ctx = app.context()
    problems = {}
    for name, query in queries:
        expected = service.query(query, ctx=ctx, engine="duckdb", use_rollups=False).table
        actual = service.query(query, ctx=ctx, engine=engine, use_rollups=False).table
        diff = differences(expected.to_pylist(), actual.to_pylist())
        if expected.schema.names != actual.schema.names:
            diff.insert(0, f"columns {expected.schema.names} vs {actual.schema.names}")
        if diff:
            problems[name] = diff
    if problems:
        for name, diff in problems.items():
            print(f"{name}: {engine} and duckdb differ")
            for line in diff:
                print(f"    {line}")
        raise SystemExit(f"{len(problems)} of {len(queries)} queries differ on {engine}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds per engine")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL URL (skipped if unreachable)")
    parser.add_argument("--no-pg", action="store_true", help="leave PostgreSQL out")
    args = parser.parse_args()
    project = demo_project(args.rows)
    queries = [(spec["name"], metric_query(spec)) for spec in dashboard()]
    result: dict[str, Any] = {"rows": args.rows, "repeat": args.repeat}
    with Gnomon.open(project) as app, ExitStack() as stack:
        from gnomon.engine.spark import SparkEngine

        snapshot = app.snapshot("silver", "orders")
        started = time.perf_counter()
        spark = stack.enter_context(
            SparkEngine(
                app.settings.engine.spark.master,
                app_name="gnomon-bench",
                conf=SPARK_CONF,
                allowed_roots=[app.settings.lake_root],
            )
        )
        result["spark_session_start_s"] = round(time.perf_counter() - started, 1)
        spark.session.sparkContext.setLogLevel("ERROR")
        result["spark_master"] = app.settings.engine.spark.master
        engines: dict[str, Engine] = {"duckdb": app.engine, "spark": spark}
        host_port = args.pg.split("@")[-1].split("/")[0]
        host, _, port = host_port.partition(":")
        if not args.no_pg and reachable(host, int(port or 5432)):
            postgres = stack.enter_context(postgres_engine(args.pg))
            started = time.perf_counter()
            postgres.ensure_copies({"silver.orders": snapshot})  # type: ignore[attr-defined]
            result["postgres_copy_s"] = round(time.perf_counter() - started, 1)
            engines["postgres"] = postgres
        else:
            result["postgres"] = f"not reachable at {args.pg} (or --no-pg)"
        service = uncached_service(app, engines)
        for name in engines:
            if name != "duckdb":
                check_engine(service, app, name, queries)
        # One round everywhere before timing: Spark compiles code and fills its caches on
        # first use, DuckDB reads the Parquet metadata, PostgreSQL fills its buffers.
        for name in engines:
            run_round(service, app, name, queries)
        rounds: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
        for _ in range(args.repeat):
            for name in engines:
                rounds[name].append(run_round(service, app, name, queries))
    per_query = {
        query: {
            f"{engine}_ms": ms(median([r[query] for r in rounds[engine]])) for engine in engines
        }
        for query, _ in queries
    }
    totals = {engine: ms(median([sum(r.values()) for r in rounds[engine]])) for engine in engines}
    report(
        "metric_engines",
        {
            **result,
            "silver_version": snapshot.version,
            "queries": per_query,
            "total_ms": totals,
            "spark_over_duckdb": round(totals["spark"] / totals["duckdb"], 1),
            **(
                {"postgres_over_duckdb": round(totals["postgres"] / totals["duckdb"], 1)}
                if "postgres" in totals
                else {}
            ),
        },
    )


if __name__ == "__main__":
    main()
