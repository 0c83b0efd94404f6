"""Small gnomon projects for tests: a source, a contract and CSV files written on the spot."""

import csv
import textwrap
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ORDERS_CONTRACT = """
dataset: orders
version: 1
primary_key: [order_id]
ordering: updated_at
schema_drift: {drift}
columns:
  order_id:   {{type: string, required: true}}
  updated_at: {{type: timestamp, required: true}}
  region:     {{type: string, required: true, allowed: [EMEA, AMER, APAC]}}
  quantity:   {{type: integer, required: true, min: 1, max: 100}}
  price:      {{type: "decimal(10,2)", min: 0}}
checks:
  row_count: {{min: {min_rows}, severity: block}}
"""

HEADER = ("order_id", "updated_at", "region", "quantity", "price")


def write_project(
    root: Path,
    *,
    drift: str = "evolve",
    min_rows: int = 1,
    fmt: str = "csv",
    pattern: str = "data/*.csv",
) -> Path:
    """A project with source `orders` reading `pattern` and the contract above."""
    (root / "sources").mkdir(parents=True, exist_ok=True)
    (root / "contracts").mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "gnomon.yaml").write_text("tenant: default\n", encoding="utf-8")
    (root / "sources" / "orders.yaml").write_text(
        textwrap.dedent(
            f"""
            name: orders
            kind: file
            path: {pattern}
            format: {fmt}
            dataset: orders
            """
        ),
        encoding="utf-8",
    )
    write_contract(root, drift=drift, min_rows=min_rows)
    return root


def write_contract(
    root: Path, *, drift: str = "evolve", min_rows: int = 1, version: int = 1
) -> None:
    """(Re)write the orders contract."""
    text = ORDERS_CONTRACT.format(drift=drift, min_rows=min_rows).replace(
        "version: 1", f"version: {version}"
    )
    (root / "contracts" / "orders.yaml").write_text(text, encoding="utf-8")


def order_rows(start: int, count: int, *, day: int = 1, region: str = "EMEA") -> list[list[str]]:
    """Valid order rows with ids O<start>…"""
    return [
        [f"O{i:06d}", f"2025-01-{day:02d} 10:00:00", region, str(1 + i % 5), f"{10 + i % 7}.50"]
        for i in range(start, start + count)
    ]


def write_csv(path: Path, rows: Iterable[Sequence[str]], *, header: Sequence[str] = HEADER) -> Path:
    """A CSV file with a header."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def daily_orders(
    start: date, days: int, *, outage: date | None = None, seed: int = 3
) -> list[list[str]]:
    """Orders of ``days`` days in three regions (about 60/50/40 a day, a weekly swing).

    On ``outage`` EMEA has no orders at all: an anomaly every detector should find.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for day in range(days):
        when = start + timedelta(days=day)
        weekly = 1.0 + 0.2 * np.sin(2 * np.pi * day / 7)
        for region, mean in (("EMEA", 60), ("AMER", 50), ("APAC", 40)):
            count = 0 if (region == "EMEA" and when == outage) else int(rng.poisson(mean * weekly))
            rows += [
                [f"O{day:03d}{region}{k:03d}", f"{when} 10:{k % 60:02d}:00", region,
                 str(1 + k % 4), "9.50"]
                for k in range(count)
            ]  # fmt: skip
    return rows


EXPLAIN_START = date(2024, 1, 1)
EXPLAIN_DAYS = 70
EXPLAIN_OUTAGE = EXPLAIN_START + timedelta(days=60)
EXPLAIN_CHEAP = EXPLAIN_START + timedelta(days=63)
EXPLAIN_METRICS = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions:
      region: {}
      channel: {}
    measures:
      orders: {agg: count}
      revenue: {agg: sum, expr: quantity * price}
      median_price: {agg: median, expr: price}
metrics:
  orders:
    measure: orders.orders
  revenue:
    measure: orders.revenue
    unit: EUR
    format: currency
  average_order_value:
    type: ratio
    numerator: revenue
    denominator: orders
  median_price:
    measure: orders.median_price
"""
EXPLAIN_SEGMENTS = {
    ("EMEA", "web"): 40,
    ("EMEA", "store"): 25,
    ("AMER", "web"): 35,
    ("AMER", "store"): 20,
    ("APAC", "web"): 15,
    ("APAC", "store"): 30,
}


def explain_orders() -> list[list[str]]:
    """Seventy days of orders in three regions and two channels, with an outage and a price cut.

    On ``EXPLAIN_OUTAGE`` the EMEA web shop takes no orders; on ``EXPLAIN_CHEAP`` APAC's store
    sells at half price (volumes unchanged).
    """
    rng = np.random.default_rng(11)
    rows = []
    for day in range(EXPLAIN_DAYS):
        when = EXPLAIN_START + timedelta(days=day)
        weekly = 1.0 + 0.15 * np.sin(2 * np.pi * day / 7)
        for (region, channel), mean in EXPLAIN_SEGMENTS.items():
            outage = when == EXPLAIN_OUTAGE and (region, channel) == ("EMEA", "web")
            count = 0 if outage else int(rng.poisson(mean * weekly))
            price = (
                5.0 if when == EXPLAIN_CHEAP and (region, channel) == ("APAC", "store") else 10.0
            )
            rows += [
                [f"O{day:03d}{region}{channel}{k:03d}", f"{when} 10:{k % 60:02d}:00", region,
                 str(1 + k % 3), f"{price:.2f}", channel]
                for k in range(count)
            ]  # fmt: skip
    return rows


def write_explain_project(root: Path) -> Path:
    """A project with :func:`explain_orders` and metrics over region and channel."""
    write_project(root)
    write_csv(root / "data" / "orders.csv", explain_orders(), header=(*HEADER, "channel"))
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "orders.yaml").write_text(EXPLAIN_METRICS, encoding="utf-8")
    return root
