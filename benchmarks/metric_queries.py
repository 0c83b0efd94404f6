"""Metric query overhead: the 20 dashboard queries through gnomon vs. hand-written DuckDB SQL.

    python -m benchmarks.metric_queries [--rows 1000000] [--repeat 7] [--warm 50]

gnomon: ``SemanticService.query`` of each query in ``DASHBOARD_QUERIES`` (definitions from the
catalog, compiled to one sqlglot tree with a time spine, tenant scoping, the published silver
version), with rollups off and no result cache ("cold"). Baseline: a bare DuckDB connection
running SQL written by hand for the same 20 questions over ``read_parquet`` of the same silver
version's files. Every pair is checked to give the same rows before anything is timed.
Reported: per query the median of interleaved rounds, the median of per-query ratios (target
<= 1.10), and the warm path: the same queries repeated through ``Gnomon.query`` with the result
cache on (target < 5 ms; median and p95).
"""

import argparse
import time
from typing import Any

import duckdb

from benchmarks._metrics import (
    dashboard,
    demo_project,
    differences,
    median,
    metric_query,
    ms,
    percentile,
    uncached_service,
)
from benchmarks._setup import report
from gnomon.app import Gnomon

REVENUE = (
    "SUM(quantity * unit_price * (1 - COALESCE(discount, 0))) FILTER (WHERE status <> 'cancelled')"
)
ORDERS = "COUNT(*) FILTER (WHERE status <> 'cancelled')"
RETURNED = "COUNT(*) FILTER (WHERE status = 'returned')"

ALL = "order_time >= TIMESTAMPTZ '2024-01-01' AND order_time < TIMESTAMPTZ '2026-01-01'"
YEAR = "order_time >= TIMESTAMPTZ '2025-01-01' AND order_time < TIMESTAMPTZ '2026-01-01'"
H1 = "order_time >= TIMESTAMPTZ '2025-01-01' AND order_time < TIMESTAMPTZ '2025-07-01'"

# What a person would write for each dashboard question, over a view `orders` of the files.
# Buckets are cut in UTC (the demo calendar's zone; the connection's TimeZone is UTC).
HAND_SQL: dict[str, str] = {
    "revenue_by_month": f"""
        SELECT date_trunc('month', order_time::TIMESTAMP) AS time, ({REVENUE})::DOUBLE AS revenue
        FROM orders WHERE {ALL}
        GROUP BY 1 ORDER BY 1""",
    "kpis_by_month": f"""
        WITH m AS (
            SELECT date_trunc('month', order_time::TIMESTAMP) AS time,
                   ({REVENUE})::DOUBLE AS revenue, {ORDERS} AS orders
            FROM orders WHERE {YEAR} GROUP BY 1)
        SELECT time, revenue, orders, revenue / NULLIF(orders, 0) AS average_order_value
        FROM m ORDER BY time""",
    "revenue_by_region_week": f"""
        SELECT date_trunc('week', order_time::TIMESTAMP) AS time, region,
               ({REVENUE})::DOUBLE AS revenue
        FROM orders WHERE {H1}
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "aov_by_channel_quarter": f"""
        SELECT date_trunc('quarter', order_time::TIMESTAMP) AS time, channel,
               ({REVENUE})::DOUBLE / NULLIF({ORDERS}, 0) AS average_order_value
        FROM orders WHERE {ALL}
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "return_rate_by_category": f"""
        SELECT category, {RETURNED}::DOUBLE / NULLIF({ORDERS}, 0) AS return_rate
        FROM orders WHERE {YEAR}
        GROUP BY 1 ORDER BY 1""",
    "customers_by_month": f"""
        SELECT date_trunc('month', order_time::TIMESTAMP) AS time,
               COUNT(DISTINCT customer_id) AS distinct_customers
        FROM orders WHERE {YEAR}
        GROUP BY 1 ORDER BY 1""",
    "revenue_7d_daily": f"""
        WITH days AS (
            SELECT generate_series AS time
            FROM generate_series(TIMESTAMP '2024-12-26', TIMESTAMP '2025-06-30', INTERVAL 1 DAY)),
        daily AS (
            SELECT date_trunc('day', order_time::TIMESTAMP) AS time, ({REVENUE})::DOUBLE AS revenue
            FROM orders
            WHERE order_time >= TIMESTAMPTZ '2024-12-26' AND order_time < TIMESTAMPTZ '2025-07-01'
            GROUP BY 1),
        filled AS (
            SELECT days.time, COALESCE(daily.revenue, 0) AS revenue
            FROM days LEFT JOIN daily USING (time))
        SELECT time, revenue,
               SUM(revenue) OVER (ORDER BY time ROWS BETWEEN 6 PRECEDING AND CURRENT ROW)
                   AS revenue_7d
        FROM filled
        QUALIFY time >= TIMESTAMP '2025-01-01'
        ORDER BY time""",
    "revenue_yoy_monthly": f"""
        WITH m AS (
            SELECT date_trunc('month', order_time::TIMESTAMP) AS time,
                   ({REVENUE})::DOUBLE AS revenue
            FROM orders WHERE {ALL} GROUP BY 1)
        SELECT cur.time, (cur.revenue - prev.revenue) / NULLIF(prev.revenue, 0) AS revenue_yoy
        FROM m AS cur LEFT JOIN m AS prev ON prev.time = cur.time - INTERVAL 1 YEAR
        WHERE cur.time >= TIMESTAMP '2025-01-01'
        ORDER BY cur.time""",
    "revenue_mom_by_region": f"""
        WITH m AS (
            SELECT date_trunc('month', order_time::TIMESTAMP) AS time, region,
                   ({REVENUE})::DOUBLE AS revenue
            FROM orders
            WHERE order_time >= TIMESTAMPTZ '2024-12-01' AND order_time < TIMESTAMPTZ '2026-01-01'
            GROUP BY 1, 2)
        SELECT time, region,
               revenue - LAG(revenue) OVER (PARTITION BY region ORDER BY time) AS revenue_mom
        FROM m
        QUALIFY time >= TIMESTAMP '2025-01-01'
        ORDER BY time, region""",
    # Year to date restarts with the year of each week's start, so the first week (starting
    # 2024-12-30) carries 2024's weeks before it, read from the start of 2024; the week itself
    # holds only the range's days (1-5 January), as every first bucket does.
    "revenue_ytd_weekly": f"""
        WITH w AS (
            SELECT date_trunc('week', order_time::TIMESTAMP) AS time,
                   ({REVENUE})::DOUBLE AS revenue
            FROM orders
            WHERE order_time >= TIMESTAMPTZ '2024-01-01' AND order_time < TIMESTAMPTZ '2024-12-30'
               OR {YEAR}
            GROUP BY 1)
        SELECT time, SUM(revenue) OVER (PARTITION BY year(time) ORDER BY time) AS revenue_ytd
        FROM w
        QUALIFY time >= TIMESTAMP '2024-12-30'
        ORDER BY time""",
    "per_customer_quarter": f"""
        SELECT date_trunc('quarter', order_time::TIMESTAMP) AS time,
               ({REVENUE})::DOUBLE / NULLIF(COUNT(DISTINCT customer_id), 0)
                   AS revenue_per_customer
        FROM orders WHERE {ALL}
        GROUP BY 1 ORDER BY 1""",
    "web_revenue_daily": f"""
        WITH days AS (
            SELECT generate_series AS time
            FROM generate_series(TIMESTAMP '2025-01-01', TIMESTAMP '2025-06-30', INTERVAL 1 DAY)),
        daily AS (
            SELECT date_trunc('day', order_time::TIMESTAMP) AS time,
                   ({REVENUE})::DOUBLE AS web_revenue
            FROM orders WHERE {H1} AND channel = 'web' GROUP BY 1)
        SELECT days.time, COALESCE(daily.web_revenue, 0) AS web_revenue
        FROM days LEFT JOIN daily USING (time)
        ORDER BY time""",
    "baskets_by_channel": f"""
        SELECT channel,
               median((quantity * unit_price)::DOUBLE) AS median_basket,
               quantile_cont((quantity * unit_price)::DOUBLE, 0.9) AS p90_basket
        FROM orders WHERE {YEAR}
        GROUP BY 1 ORDER BY 1""",
    "top_countries": f"""
        SELECT country, ({REVENUE})::DOUBLE AS revenue, {ORDERS} AS orders
        FROM orders WHERE {YEAR}
        GROUP BY 1 ORDER BY revenue DESC LIMIT 5""",
    "emea_web_by_month": f"""
        SELECT date_trunc('month', order_time::TIMESTAMP) AS time,
               ({REVENUE})::DOUBLE AS revenue, {ORDERS} AS orders
        FROM orders WHERE {YEAR} AND region = 'EMEA' AND channel = 'web'
        GROUP BY 1 ORDER BY 1""",
    "region_channel_matrix": f"""
        SELECT region, channel, ({REVENUE})::DOUBLE AS revenue,
               ({REVENUE})::DOUBLE / NULLIF({ORDERS}, 0) AS average_order_value
        FROM orders WHERE {YEAR}
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "order_size_by_quarter": f"""
        SELECT date_trunc('quarter', order_time::TIMESTAMP) AS time,
               CASE WHEN quantity >= 5 THEN 'bulk' ELSE 'single' END AS order_size,
               {ORDERS} AS orders, {RETURNED} AS returned_orders
        FROM orders WHERE {ALL}
        GROUP BY 1, 2 ORDER BY 1, 2""",
    # Fiscal years start in April: shift back three months, truncate to the year, shift forward.
    "fiscal_years": f"""
        SELECT date_trunc('year', order_time::TIMESTAMP - INTERVAL 3 MONTH) + INTERVAL 3 MONTH
                   AS time,
               ({REVENUE})::DOUBLE AS revenue, {ORDERS} AS orders
        FROM orders WHERE {ALL}
        GROUP BY 1 ORDER BY 1""",
    "category_month_h1": f"""
        SELECT date_trunc('month', order_time::TIMESTAMP) AS time, category,
               ({REVENUE})::DOUBLE AS revenue
        FROM orders WHERE {H1}
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "totals": f"""
        SELECT ({REVENUE})::DOUBLE AS revenue, {ORDERS} AS orders,
               ({REVENUE})::DOUBLE / NULLIF({ORDERS}, 0) AS average_order_value,
               {RETURNED}::DOUBLE / NULLIF({ORDERS}, 0) AS return_rate,
               COUNT(DISTINCT customer_id) AS distinct_customers
        FROM orders WHERE {ALL}""",
}


def baseline_connection(files: list[str]) -> duckdb.DuckDBPyConnection:
    """A bare DuckDB connection with a view ``orders`` over the silver version's files."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"CREATE VIEW orders AS SELECT * FROM read_parquet({files!r}, hive_partitioning = true)"
        " WHERE _tenant_id = 'acme'"  # the demo's second tenant, globex, is in the same files
    )
    return con


def check(app: Gnomon, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Per query, where gnomon and the hand-written SQL disagree (empty lists: they agree)."""
    service = uncached_service(app)
    ctx = app.context()
    out = {}
    for spec in dashboard():
        ours = service.query(metric_query(spec), ctx=ctx, use_rollups=False).table
        theirs = con.sql(HAND_SQL[spec["name"]]).to_arrow_table()
        out[spec["name"]] = differences(theirs.to_pylist(), ours.to_pylist())
    return out


def cold_rounds(
    app: Gnomon, con: duckdb.DuckDBPyConnection, repeat: int
) -> dict[str, dict[str, float]]:
    """Per query: median seconds through gnomon (no cache, no rollups) and for the hand SQL.

    Also each side's first round: gnomon's includes compiling the query, which later rounds
    find compiled (as a dashboard asking again would).
    """
    service = uncached_service(app)
    ctx = app.context()
    queries = [(spec["name"], metric_query(spec)) for spec in dashboard()]
    ours: dict[str, list[float]] = {name: [] for name, _ in queries}
    theirs: dict[str, list[float]] = {name: [] for name, _ in queries}
    for round_ in range(repeat):
        for name, query in queries:
            sides = ["gnomon", "duckdb"]
            if round_ % 2:  # alternate which side runs first
                sides.reverse()
            for side in sides:
                started = time.perf_counter()
                if side == "gnomon":
                    service.query(query, ctx=ctx, use_rollups=False)
                else:
                    con.sql(HAND_SQL[name]).to_arrow_table()
                (ours if side == "gnomon" else theirs)[name].append(time.perf_counter() - started)
    return {
        name: {
            "gnomon_s": median(ours[name]),
            "duckdb_s": median(theirs[name]),
            "gnomon_first_s": ours[name][0],
            "duckdb_first_s": theirs[name][0],
        }
        for name, _ in queries
    }


def warm_calls(app: Gnomon, repeat: int) -> list[float]:
    """Seconds per ``Gnomon.query`` answered from the result cache (after one filling call)."""
    ctx = app.context()
    specs = dashboard()
    calls: list[dict[str, Any]] = [
        {
            "metrics": s["metrics"],
            "by": s.get("by", ()),
            "grain": s.get("grain"),
            "start": metric_query(s).start,
            "end": metric_query(s).end,
            "where": s.get("where"),
            "order": s.get("order", ()),
            "limit": s.get("limit"),
        }
        for s in specs
    ]
    for call in calls:
        app.query(**call, ctx=ctx)
    times = []
    for _ in range(repeat):
        for call in calls:
            started = time.perf_counter()
            result = app.query(**call, ctx=ctx)
            times.append(time.perf_counter() - started)
            assert result.cached, "a repeated query must be answered from the cache"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="interleaved cold rounds")
    parser.add_argument("--warm", type=int, default=50, help="cached calls per query")
    args = parser.parse_args()
    project = demo_project(args.rows)
    with Gnomon.open(project) as app:
        snapshot = app.snapshot("silver", "orders")
        files = list(snapshot.files)
        con = baseline_connection(files)
        problems = {name: diff for name, diff in check(app, con).items() if diff}
        if problems:
            for name, diff in problems.items():
                print(f"{name}: gnomon and the hand-written SQL differ")
                for line in diff:
                    print(f"    {line}")
            raise SystemExit(f"{len(problems)} of 20 queries differ; nothing was timed")
        cold = cold_rounds(app, con, args.repeat)
        warm = warm_calls(app, args.warm)
    ratios = {name: t["gnomon_s"] / t["duckdb_s"] for name, t in cold.items()}
    report(
        "metric_queries",
        {
            "rows": args.rows,
            "silver_version": snapshot.version,
            "files": len(files),
            "repeat": args.repeat,
            "queries": {
                name: {
                    "gnomon_ms": ms(t["gnomon_s"]),
                    "duckdb_ms": ms(t["duckdb_s"]),
                    "ratio": round(ratios[name], 3),
                }
                for name, t in cold.items()
            },
            "gnomon_total_ms": ms(sum(t["gnomon_s"] for t in cold.values())),
            "duckdb_total_ms": ms(sum(t["duckdb_s"] for t in cold.values())),
            "median_ratio": round(median(list(ratios.values())), 3),
            "target_ratio": "<= 1.10",
            "first_round_median_ratio": round(
                median([t["gnomon_first_s"] / t["duckdb_first_s"] for t in cold.values()]), 3
            ),
            "warm_calls": len(warm),
            "warm_median_ms": ms(median(warm)),
            "warm_p95_ms": ms(percentile(warm, 0.95)),
            "target_warm": "< 5 ms",
        },
    )


if __name__ == "__main__":
    main()
