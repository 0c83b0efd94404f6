"""A small deterministic lake for the semantic tests, and answers computed without the compiler.

The rows are kept in Python too, so that every expected value is computed independently of the
compiler: plain loops over the same rows.
"""

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa

from gnomon.engine import DuckDBEngine, TableSource, scope_to_tenant
from gnomon.lake import Lake
from gnomon.semantic import MetricQuery, SemanticLayer, compile_query

Row = dict[str, Any]

TENANT = "acme"
OTHER = "globex"
START = datetime(2024, 1, 1, tzinfo=UTC)
EMPTY_DAYS = (date(2024, 6, 10), date(2024, 6, 20))
"""No orders on these days and the ones between: the spine must still show them."""
REGIONS = ("EMEA", "AMER", "APAC", None)
CHANNELS = ("web", "store", "app")


def _orders(tenant: str, count: int, factor: float) -> list[Row]:
    rows = []
    for i in range(count):
        moment = START + timedelta(hours=i * 19 + (i % 5) * 3, minutes=(i * 7) % 60)
        if EMPTY_DAYS[0] <= moment.date() <= EMPTY_DAYS[1]:
            continue
        status = "cancelled" if i % 11 == 0 else ("returned" if i % 7 == 0 else "ok")
        rows.append(
            {
                "order_id": i,
                "order_time": moment,
                "customer_id": i % 37,
                "region": REGIONS[i % 4],
                "channel": CHANNELS[i % 3],
                "status": status,
                "amount": (10 + (i * 37) % 90 + 0.25) * factor,
                "quantity": 1 + i % 6,
                "_tenant_id": tenant,
            }
        )
    # 23:30 UTC on 15 January 2025 is already 16 January in Berlin.
    rows.append(
        {
            "order_id": 100_000,
            "order_time": datetime(2025, 1, 15, 23, 30, tzinfo=UTC),
            "customer_id": 1,
            "region": "EMEA",
            "channel": "web",
            "status": "ok",
            "amount": 1000.0 * factor,
            "quantity": 2,
            "_tenant_id": tenant,
        }
    )
    return rows


ORDERS = _orders(TENANT, 600, 1.0) + _orders(OTHER, 300, 1000.0)
ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("order_time", pa.timestamp("us", tz="UTC")),
        ("customer_id", pa.int64()),
        ("region", pa.string()),
        ("channel", pa.string()),
        ("status", pa.string()),
        ("amount", pa.float64()),
        ("quantity", pa.int64()),
        ("_tenant_id", pa.string()),
    ]
)
VISITS: list[Row] = [
    {
        "visit_time": START + timedelta(hours=7 * i),
        "region": REGIONS[i % 3],
        "_tenant_id": TENANT if i % 5 else OTHER,
    }
    for i in range(1500)
]
DAILY: list[Row] = [
    {
        "day": date(2024, 12, 1) + timedelta(days=i),
        "region": REGIONS[i % 2],
        "budget": float(100 + i),
        "_tenant_id": tenant,
    }
    for i in range(0, 90, 1)
    if i % 10 != 3
    for tenant in (TENANT, OTHER)
]
NAIVE: list[Row] = [
    {"at": datetime(2025, 1, 15, 23, 30), "n": 1, "_tenant_id": TENANT},
    {"at": datetime(2025, 1, 16, 12, 0), "n": 10, "_tenant_id": TENANT},
]

METRICS_YAML = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: order_time}
    dimensions:
      region: {}
      channel: {}
      size: {expr: "CASE WHEN quantity >= 4 THEN 'bulk' ELSE 'single' END"}
    measures:
      revenue: {agg: sum, expr: amount, filter: "status <> 'cancelled'"}
      orders: {agg: count, filter: "status <> 'cancelled'"}
      all_rows: {agg: count}
      returned: {agg: count, filter: "status = 'returned'"}
      customers: {agg: count_distinct, expr: customer_id}
      avg_amount: {agg: avg, expr: amount}
      min_amount: {agg: min, expr: amount}
      max_amount: {agg: max, expr: amount}
      median_amount: {agg: median, expr: amount}
      p90_amount: {agg: percentile, percentile: 0.9, expr: amount}
      units: {agg: sum, expr: quantity}
  visits:
    table: silver.visits
    time: {column: visit_time}
    dimensions: {region: {}}
    measures: {visits: {agg: count}}
  daily:
    table: silver.daily
    time: {column: day}
    dimensions: {region: {}}
    measures: {budget: {agg: sum, expr: budget}}
  naive:
    table: gold.naive
    time: {column: at}
    measures: {n: {agg: sum, expr: n}}
metrics:
  revenue: {measure: orders.revenue}
  orders: {measure: orders.orders}
  all_rows: {measure: orders.all_rows}
  returned: {measure: orders.returned}
  customers: {measure: orders.customers}
  avg_amount: {measure: orders.avg_amount}
  min_amount: {measure: orders.min_amount}
  max_amount: {measure: orders.max_amount}
  median_amount: {measure: orders.median_amount}
  p90_amount: {measure: orders.p90_amount}
  units: {measure: orders.units}
  web_revenue: {measure: orders.revenue, filter: "channel = 'web'"}
  aov: {type: ratio, numerator: revenue, denominator: orders}
  return_rate: {type: ratio, numerator: returned, denominator: orders}
  revenue_per_return: {type: derived, expr: revenue / returned}
  margin: {type: derived, expr: "revenue * 0.5 - units"}
  revenue_7d: {type: cumulative, metric: revenue, window: 7 days}
  revenue_running: {type: cumulative, metric: revenue}
  revenue_mtd: {type: cumulative, metric: revenue, grain_to_date: month}
  revenue_3m: {type: cumulative, metric: revenue, window: 3 months}
  aov_7d: {type: cumulative, metric: aov, window: 7 days}
  max_7d: {type: cumulative, metric: max_amount, window: 7 days}
  revenue_prev: {type: period_over_period, metric: revenue, output: value}
  revenue_delta: {type: period_over_period, metric: revenue, output: delta}
  revenue_pct: {type: period_over_period, metric: revenue, output: percent}
  revenue_ly:
    type: period_over_period
    metric: revenue
    compare_to: same_period_last_year
    output: value
  revenue_yoy: {type: period_over_period, metric: revenue, compare_to: same_period_last_year}
  aov_pct: {type: period_over_period, metric: aov}
  visits: {measure: visits.visits}
  visits_per_order: {type: derived, expr: visits / orders}
  budget: {measure: daily.budget}
  n: {measure: naive.n}
"""


class Shop:
    """The lake, its snapshots and an engine; ``run`` answers a query for a tenant."""

    def __init__(self, root: Path) -> None:
        self.lake = Lake(str(root))
        self.lake.append(
            "silver", "orders", pa.Table.from_pylist(ORDERS, ORDERS_SCHEMA), batch_id="b"
        )
        self.lake.append("silver", "visits", pa.Table.from_pylist(VISITS), batch_id="b")
        self.lake.append("silver", "daily", pa.Table.from_pylist(DAILY), batch_id="b")
        naive = pa.schema(
            [("at", pa.timestamp("us")), ("n", pa.int64()), ("_tenant_id", pa.string())]
        )
        self.lake.append("gold", "naive", pa.Table.from_pylist(NAIVE, naive), batch_id="b")
        self.snapshots: dict[str, TableSource] = {
            f"{layer}.{name}": self.lake.snapshot(layer, name)
            for layer, name in (
                ("silver", "orders"),
                ("silver", "visits"),
                ("silver", "daily"),
                ("gold", "naive"),
            )
        }
        self.engine = DuckDBEngine(threads=2, allowed_roots=[str(root)])

    @property
    def schemas(self) -> dict[str, pa.Schema]:
        return {key: snap.schema for key, snap in self.snapshots.items()}

    def run(self, layer: SemanticLayer, query: MetricQuery, *, tenant: str = TENANT) -> list[Row]:
        compiled = compile_query(layer, query, dialect="duckdb")
        tree = scope_to_tenant(compiled.tree, tenant=tenant)
        table = self.engine.execute(
            tree,
            tables={key: self.snapshots[key] for key in compiled.tables},
            relations=compiled.relations,
        )
        assert table.column_names == compiled.columns
        rows: list[Row] = table.to_pylist()
        return rows


# ------------------------------------------------------------------ independent answers


def local(row: Row, zone: str = "UTC", column: str = "order_time") -> datetime:
    value = row[column]
    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


def day_of(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def month_of(moment: datetime) -> datetime:
    return day_of(moment).replace(day=1)


def week_of(moment: datetime) -> datetime:
    return day_of(moment) - timedelta(days=moment.weekday())


def tenant_rows(rows: Sequence[Row], tenant: str = TENANT) -> list[Row]:
    return [r for r in rows if r["_tenant_id"] == tenant]


def in_range(
    rows: Sequence[Row],
    start: datetime,
    end: datetime,
    zone: str = "UTC",
    column: str = "order_time",
) -> list[Row]:
    return [r for r in rows if start <= local(r, zone, column) < end]


def cont(values: Sequence[float], fraction: float) -> float | None:
    """PERCENTILE_CONT: linear interpolation between the closest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _kept(rows: Sequence[Row]) -> list[Row]:
    return [r for r in rows if r["status"] != "cancelled"]


MEASURES: dict[str, Callable[[Sequence[Row]], Any]] = {
    "revenue": lambda rows: sum(r["amount"] for r in _kept(rows)),
    "orders": lambda rows: len(_kept(rows)),
    "all_rows": len,
    "returned": lambda rows: sum(1 for r in rows if r["status"] == "returned"),
    "customers": lambda rows: len({r["customer_id"] for r in rows}),
    "avg_amount": lambda rows: sum(r["amount"] for r in rows) / len(rows) if rows else None,
    "min_amount": lambda rows: min((r["amount"] for r in rows), default=None),
    "max_amount": lambda rows: max((r["amount"] for r in rows), default=None),
    "median_amount": lambda rows: cont([r["amount"] for r in rows], 0.5),
    "p90_amount": lambda rows: cont([r["amount"] for r in rows], 0.9),
    "units": lambda rows: sum(r["quantity"] for r in rows),
    "web_revenue": lambda rows: sum(r["amount"] for r in _kept(rows) if r["channel"] == "web"),
}


def divide(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def series(
    measure: str,
    buckets: Sequence[datetime],
    bucket_of: Callable[[datetime], datetime],
    *,
    zone: str = "UTC",
    rows: Sequence[Row] | None = None,
) -> dict[datetime, Any]:
    """``measure`` per bucket over the tenant's orders (every given bucket, empty ones too)."""
    chosen = tenant_rows(ORDERS) if rows is None else rows
    groups: dict[datetime, list[Row]] = {b: [] for b in buckets}
    for row in chosen:
        key = bucket_of(local(row, zone))
        if key in groups:
            groups[key].append(row)
    return {b: MEASURES[measure](groups[b]) for b in buckets}


def days(start: date, end: date) -> list[datetime]:
    """Every day from start to end, both included."""
    count = (end - start).days + 1
    return [datetime(start.year, start.month, start.day) + timedelta(days=i) for i in range(count)]
