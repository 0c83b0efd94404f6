"""One small project with two tenants behind one API, shared by the API tests.

Tenant ``default`` (A, the configured tenant) and tenant ``globex`` (B) each load their own
orders into the same lake tables and apply the same metric definitions. Both load a ``returns``
dataset; only B loads ``refunds``. Callers are users with API keys made through the identity
service; each test makes the ones it needs with unique names, so tests do not see each other's
users, roles or policies.
"""

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from gnomon.context import RequestContext
from tests.integration.api.helpers import TENANT_A, TENANT_B, Caller, TestClient, World
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


# ---------------------------------------------------------------- twin tenants (tenant escape)

TWIN_A = "acme"
TWIN_B = "initech"
TWIN_ROWS = 30
"""Orders per twin tenant; both use the ids O000000…O000029."""
TWIN_B_PRICE = "987.65"
TWIN_B_QUANTITY = "77"
TWIN_B_YEAR = "2031"
"""Values only B's rows carry: A's prices are 10.50 to 16.50, quantities 1 to 5, dates 2025."""
TWIN_A_BAD_QUANTITY = "101"
TWIN_B_BAD_QUANTITY = "500"
"""One row per tenant breaks the contract (quantity ≤ 100), so each has quarantined rows."""
TWIN_ANALYST_ROLE = "analyst"
TWIN_POLICIES = ("own_region", "mask_order_ids")
TWIN_USERS = ("admin@shop", "emea@shop", "viewer@shop")


@dataclass
class Twins:
    """Two tenants that share every name and id but no data: A (acme) and B (initech).

    Both load ``orders`` with the same order ids and regions, apply the same metric and semantic
    model names, hold users with the same names and policies with the same names; only the values
    differ (see ``TWIN_B_*``). ``callers`` holds, per tenant, the admin, the EMEA analyst (row
    policy ``own_region`` and mask ``mask_order_ids`` apply to it) and a viewer.
    """

    world: World
    callers: dict[str, dict[str, Caller]]
    rollups: dict[str, list[str]]

    def of(self, tenant: str, user: str) -> Caller:
        return self.callers[tenant][user]


def _twin_orders(*, b: bool) -> list[list[str]]:
    rows = []
    for i in range(TWIN_ROWS):
        day = f"{1 + i % 28:02d}"
        rows.append(
            [
                f"O{i:06d}",
                f"{TWIN_B_YEAR}-07-{day} 10:00:00" if b else f"2025-01-{day} 10:00:00",
                REGIONS[i % 3],
                TWIN_B_QUANTITY if b else str(1 + i % 5),
                TWIN_B_PRICE if b else f"{10 + i % 7}.50",
            ]
        )
    bad = TWIN_B_QUANTITY if b else "2"
    rows.append(
        [
            "O999999",
            f"{TWIN_B_YEAR}-07-01 10:00:00" if b else "2025-01-01 10:00:00",
            "EMEA",
            TWIN_B_BAD_QUANTITY if b else TWIN_A_BAD_QUANTITY,
            TWIN_B_PRICE if b else bad + ".50",
        ]
    )
    return rows


def build_twins_project(root: Path) -> Path:
    """Sources ``orders`` (A's file) and ``orders_b`` (B's) into one ``orders`` dataset."""
    project = write_project(root)
    write_csv(project / "data" / "orders.csv", _twin_orders(b=False))
    _source(project, "orders_b", dataset="orders", pattern="data_b/*.csv")
    write_csv(project / "data_b" / "orders.csv", _twin_orders(b=True))
    (project / "metrics").mkdir(exist_ok=True)
    (project / "metrics" / "orders.yaml").write_text(_METRICS, encoding="utf-8")
    return project


def _twin_tenant(world: World, tenant: str, *, mask: str) -> dict[str, Caller]:
    """The tenant's users (same names in both tenants) and its two policies."""
    admin, emea, viewer = TWIN_USERS
    callers = {
        "admin": world.caller(tenant, ["admin"], name=admin),
        "emea": world.caller(tenant, [TWIN_ANALYST_ROLE], attributes={"region": "EMEA"}, name=emea),
        "viewer": world.caller(tenant, ["viewer"], name=viewer),
    }
    app = world.app
    ctx = RequestContext.system(tenant)
    columns = [f.name for f in app.snapshot("silver", "orders").schema]
    row, masked = TWIN_POLICIES
    app.policies.save(
        ctx=ctx,
        name=row,
        kind="row",
        table="silver.orders",
        roles=[TWIN_ANALYST_ROLE],
        spec={"predicate": "region = {{ user.region }}"},
        columns=columns,
    )
    app.policies.save(
        ctx=ctx,
        name=masked,
        kind="mask",
        table="silver.orders",
        roles=[TWIN_ANALYST_ROLE],
        spec={"column": "order_id", "strategy": mask, "reveal": 2},
        columns=columns,
    )
    return callers


@pytest.fixture(scope="session")
def twins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Twins]:
    project = build_twins_project(tmp_path_factory.mktemp("twins"))
    with Gnomon.open(project, api={"requests_per_minute": 1_000_000}) as app:
        a, b = app.context(TWIN_A), app.context(TWIN_B)
        app.ingest.ingest("orders", ctx=a)
        app.ingest.ingest("orders_b", ctx=b)
        rollups: dict[str, list[str]] = {}
        for ctx in (a, b):
            app.semantic.apply(ctx=ctx)
            rollups[ctx.tenant] = [str(r["name"]) for r in app.semantic.refresh(ctx=ctx)]
        with TestClient(create_app(app)) as client:
            world = World(app, client)
            callers = {
                TWIN_A: _twin_tenant(world, TWIN_A, mask="partial"),
                TWIN_B: _twin_tenant(world, TWIN_B, mask="hash"),
            }
            world.admin_a, world.admin_b = callers[TWIN_A]["admin"], callers[TWIN_B]["admin"]
            yield Twins(world, callers, rollups)
