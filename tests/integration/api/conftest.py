"""One small project with two tenants behind one API, shared by the API tests.

Tenant ``default`` (A, the configured tenant) and tenant ``globex`` (B) each load their own
orders into the same lake tables and apply the same metric definitions. Both load a ``returns``
dataset; only B loads ``refunds``. Callers are users with API keys made through the identity
service; each test makes the ones it needs with unique names, so tests do not see each other's
users, roles or policies.
"""

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from tests.integration.api.helpers import TENANT_A, TENANT_B, TestClient, World
from tests.projects import write_csv, write_project

ROWS_A = 600
ROWS_B = 90
REGIONS = ("EMEA", "AMER", "APAC")

_METRICS = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions:
      region: {description: Sales region}
      size:
        expr: "CASE WHEN quantity >= 3 THEN 'bulk' ELSE 'single' END"
    measures:
      revenue: {agg: sum, expr: quantity * price}
      orders: {agg: count}
      units: {agg: sum, expr: quantity}

metrics:
  revenue:
    measure: orders.revenue
    description: Revenue.
    unit: EUR
    target: 25000
  orders:
    measure: orders.orders
    format: integer
  units:
    measure: orders.units
  average_order_value:
    type: ratio
    numerator: revenue
    denominator: orders
    unit: EUR
"""

_SMALL_CONTRACT = """
dataset: {name}
version: 1
primary_key: [return_id]
ordering: updated_at
columns:
  return_id:  {{type: string, required: true}}
  updated_at: {{type: timestamp, required: true}}
  reason:     {{type: string, required: true}}
"""


def _source(project: Path, name: str, *, dataset: str, pattern: str) -> None:
    (project / "sources" / f"{name}.yaml").write_text(
        textwrap.dedent(
            f"""
            name: {name}
            kind: file
            path: {pattern}
            format: csv
            dataset: {dataset}
            """
        ),
        encoding="utf-8",
    )


def _orders(start: int, count: int) -> list[list[str]]:
    return [
        [
            f"O{i:06d}",
            f"2025-01-{1 + i % 28:02d} 10:00:00",
            REGIONS[i % 3],
            str(1 + i % 5),
            f"{10 + i % 7}.50",
        ]
        for i in range(start, start + count)
    ]


def _small_dataset(project: Path, name: str, rows: int) -> None:
    _source(project, name, dataset=name, pattern=f"{name}/*.csv")
    (project / "contracts" / f"{name}.yaml").write_text(
        _SMALL_CONTRACT.format(name=name), encoding="utf-8"
    )
    write_csv(
        project / name / "part-1.csv",
        [[f"R{i:04d}", "2025-01-02 10:00:00", "damaged"] for i in range(rows)],
        header=("return_id", "updated_at", "reason"),
    )


def build_project(root: Path) -> Path:
    """The project: sources ``orders`` (A's files), ``orders_b`` (B's), ``returns``, ``refunds``."""
    project = write_project(root)
    write_csv(project / "data" / "orders.csv", _orders(0, ROWS_A))
    _source(project, "orders_b", dataset="orders", pattern="data_b/*.csv")
    write_csv(project / "data_b" / "orders.csv", _orders(500_000, ROWS_B))
    _small_dataset(project, "returns", rows=5)
    _small_dataset(project, "refunds", rows=3)
    (project / "metrics").mkdir(exist_ok=True)
    (project / "metrics" / "orders.yaml").write_text(_METRICS, encoding="utf-8")
    return project


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = build_project(tmp_path_factory.mktemp("api"))
    with Gnomon.open(project, api={"requests_per_minute": 1_000_000}) as app:
        a, b = app.context(TENANT_A), app.context(TENANT_B)
        for source, ctx in (("orders", a), ("returns", a)):
            app.ingest.ingest(source, ctx=ctx)
        for source in ("orders_b", "returns", "refunds"):
            app.ingest.ingest(source, ctx=b)
        app.semantic.apply(ctx=a)
        app.semantic.apply(ctx=b)
        with TestClient(create_app(app)) as client:
            world = World(app, client)
            world.admin_a = world.caller(TENANT_A, ["admin"])
            world.admin_b = world.caller(TENANT_B, ["admin"])
            yield world
