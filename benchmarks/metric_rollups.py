"""Rollups: a dashboard of 10 metric queries answered from the day rollup vs. from silver.

    python -m benchmarks.metric_rollups [--rows 10000000] [--repeat 5] [--extra 5000]

gnomon with rollups: ``app.semantic.refresh`` first (timed, in full), then each dashboard query
through ``SemanticService.query`` with rollups on. Baseline: the same queries with
``use_rollups=False`` (raw ``silver.orders``). Both without a result cache, rounds interleaved,
results checked equal and the rollup checked to be used. Reported: the dashboard's total time
each way and the speed-up (target >= 20x). Then an incremental refresh: a CSV of ``--extra`` new
orders dated after the data is written into the project's data folder and ingested, and the
refresh that follows (only changed periods) is timed against a full rebuild of the rollup.
Works on a scratch copy of the cached demo project, so the cached one stays as built.
"""

import argparse
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from benchmarks._metrics import (
    copy_project,
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
from gnomon.semantic import MetricQuery, SemanticService

# The dashboard: the questions a day rollup (sums and counts per day and dimension) can answer
# exactly. Left out: distinct customers, median and p90 baskets (never rolled up), and weekly
# queries whose range starts mid-week (the compiler reads raw rows then).
ROLLUP_DASHBOARD = (
    "revenue_by_month",
    "kpis_by_month",
    "aov_by_channel_quarter",
    "return_rate_by_category",
    "revenue_7d_daily",
    "revenue_yoy_monthly",
    "revenue_mom_by_region",
    "web_revenue_daily",
    "top_countries",
    "region_channel_matrix",
)

NEW_MONTH = "2026-01"
"""The extra orders are dated one month after the demo's data, which ends in 2025-12."""


def check_dashboard(
    service: SemanticService, app: Gnomon, queries: Sequence[tuple[str, MetricQuery]]
) -> None:
    """Each query uses the rollup and gives exactly the raw answer (else: exit with the diff)."""
    ctx = app.context()
    for name, query in queries:
        plan = service.explain(query, ctx=ctx)
        if not plan["rollups_used"]:
            raise SystemExit(f"{name}: the rollup is not used: {plan['rollups_not_used']}")
        fast = service.query(query, ctx=ctx).table.to_pylist()
        slow = service.query(query, ctx=ctx, use_rollups=False).table.to_pylist()
        diff = differences(slow, fast)
        if diff:
            raise SystemExit(f"{name}: rollup and raw answers differ:\n  " + "\n  ".join(diff))


def timed_rounds(
    service: SemanticService,
    app: Gnomon,
    queries: Sequence[tuple[str, MetricQuery]],
    repeat: int,
) -> dict[str, dict[str, float]]:
    """Per query: median seconds with and without rollups, rounds interleaved."""
    ctx = app.context()
    fast: dict[str, list[float]] = {name: [] for name, _ in queries}
    slow: dict[str, list[float]] = {name: [] for name, _ in queries}
    for round_ in range(repeat):
        for name, query in queries:
            order = [(fast, True), (slow, False)]
            if round_ % 2:
                order.reverse()
            for sink, rollups in order:
                started = time.perf_counter()
                service.query(query, ctx=ctx, use_rollups=rollups)
                sink[name].append(time.perf_counter() - started)
    return {
        name: {"rollup_s": median(fast[name]), "raw_s": median(slow[name])} for name, _ in queries
    }


def write_new_orders(project: Path, source: Path, rows: int) -> Path:
    """``rows`` orders of the demo's last month, moved one month on and given new order ids.

    Same columns and text format as the generated files, so the source and its contract read
    them like any monthly export.
    """
    table = pacsv.read_csv(
        source,
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(_COLUMNS, pa.string())),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda _row: "skip"),
    )
    table = table.filter(pc.match_substring_regex(table["order_id"], r"^O[0-9]+$"))
    table = table.slice(0, rows)
    shift = timedelta(days=31)

    def later(column: str) -> pa.Array:
        times = pc.strptime(table[column], format="%Y-%m-%d %H:%M:%S", unit="s")
        moved = pc.add(times, pa.scalar(shift, pa.duration("s")))
        return pc.strftime(moved, format="%Y-%m-%d %H:%M:%S")

    ids = pa.array([f"O9{i:08d}" for i in range(table.num_rows)])
    table = table.set_column(0, "order_id", ids)
    table = table.set_column(1, "order_time", later("order_time"))
    table = table.set_column(2, "updated_at", later("updated_at"))
    target = project / "data" / "orders" / f"orders-{NEW_MONTH}.csv"
    pacsv.write_csv(table, target, pacsv.WriteOptions(quoting_style="needed"))
    return target


_COLUMNS = (
    "order_id",
    "order_time",
    "updated_at",
    "region",
    "country",
    "channel",
    "category",
    "product",
    "customer_id",
    "quantity",
    "unit_price",
    "discount",
    "status",
)


def incremental(app: Gnomon, service: SemanticService, cached: Path, extra: int) -> dict[str, Any]:
    """Ingest a file of new orders; time the incremental refresh, then a full rebuild."""
    ctx = app.context()
    before = app.snapshot("silver", "orders")
    last_month = cached / "data" / "orders" / "orders-2025-12.csv.gz"
    path = write_new_orders(app.layout.root, last_month, extra)
    started = time.perf_counter()
    app.ingest.ingest("orders", ctx=ctx)
    ingest_s = time.perf_counter() - started
    after = app.snapshot("silver", "orders")
    changed = sorted(set(before.files) ^ set(after.files))
    started = time.perf_counter()
    (step,) = service.refresh(ctx=ctx)
    incremental_s = time.perf_counter() - started
    span = MetricQuery.build(
        ["revenue", "orders", "return_rate"],
        by=["region"],
        grain="day",
        start=date(2025, 12, 1),
        end=date(2026, 1, 31),
    )
    diff = differences(
        service.query(span, ctx=ctx, use_rollups=False).table.to_pylist(),
        service.query(span, ctx=ctx).table.to_pylist(),
    )
    if diff:
        lines = "\n  ".join(diff)
        raise SystemExit(f"after the incremental refresh, rollup and raw differ:\n  {lines}")
    if not service.explain(span, ctx=ctx)["rollups_used"]:
        raise SystemExit("after the incremental refresh, the rollup is not used")
    started = time.perf_counter()
    (full,) = service.refresh(ctx=ctx, full=True)
    full_s = time.perf_counter() - started
    return {
        "extra_rows": extra,
        "file": path.name,
        "ingest_s": round(ingest_s, 2),
        "silver_files_changed": len(changed),
        "silver_files": len(after.files),
        "incremental_mode": step["mode"],
        "incremental_span": [str(step["recomputed_from"]), str(step["recomputed_to"])],
        "incremental_refresh_s": round(incremental_s, 2),
        "full_refresh_s": round(full_s, 2),
        "full_over_incremental": round(full_s / incremental_s, 1),
        "rollup_rows": full["rows"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--extra", type=int, default=5000, help="new orders for the refresh")
    args = parser.parse_args()
    cached = demo_project(args.rows)
    started = time.perf_counter()
    project = copy_project(cached, f"metrics-rollups-{args.rows}-work")
    print(f"copied the project in {time.perf_counter() - started:.0f} s", flush=True)
    queries = [(spec["name"], metric_query(spec)) for spec in dashboard(ROLLUP_DASHBOARD)]
    with Gnomon.open(project) as app:
        service = uncached_service(app)
        ctx = app.context()
        started = time.perf_counter()
        (refreshed,) = service.refresh(ctx=ctx, full=True)
        refresh_s = time.perf_counter() - started
        check_dashboard(service, app, queries)
        rounds = timed_rounds(service, app, queries, args.repeat)
        extra = incremental(app, service, cached, args.extra)
    rollup_total = sum(t["rollup_s"] for t in rounds.values())
    raw_total = sum(t["raw_s"] for t in rounds.values())
    report(
        "metric_rollups",
        {
            "rows": args.rows,
            "repeat": args.repeat,
            "rollup": refreshed["name"],
            "rollup_rows": refreshed["rows"],
            "full_refresh_s": round(refresh_s, 2),
            "queries": {
                name: {
                    "rollup_ms": ms(t["rollup_s"]),
                    "raw_ms": ms(t["raw_s"]),
                    "speedup": round(t["raw_s"] / t["rollup_s"], 1),
                }
                for name, t in rounds.items()
            },
            "dashboard_rollup_ms": ms(rollup_total),
            "dashboard_raw_ms": ms(raw_total),
            "speedup": round(raw_total / rollup_total, 1),
            "target": ">= 20x",
            "incremental": extra,
        },
    )


if __name__ == "__main__":
    main()
