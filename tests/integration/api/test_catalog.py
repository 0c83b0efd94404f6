"""Sources, datasets (detail and sample rows) and runs through the API, tenant by tenant."""

import re
import uuid

import pytest

from tests.integration.api.conftest import ROWS_A, ROWS_B
from tests.integration.api.helpers import TENANT_A, TENANT_B, World, assert_error

pytestmark = [pytest.mark.integration]

ORDER_COLUMNS = ["order_id", "updated_at", "region", "quantity", "price"]


def test_sources_are_the_projects(world: World) -> None:
    body = world.get("/api/v1/sources", world.admin_a).json()
    assert [s["name"] for s in body["items"]] == ["orders", "orders_b", "refunds", "returns"]
    orders = body["items"][0]
    assert orders == {
        "name": "orders",
        "kind": "file",
        "dataset": "orders",
        "format": "csv",
        "contract": "contracts/orders.yaml",
    }


def test_each_tenant_lists_its_own_datasets(world: World) -> None:
    names_a = [d["name"] for d in world.get("/api/v1/datasets", world.admin_a).json()["items"]]
    names_b = [d["name"] for d in world.get("/api/v1/datasets", world.admin_b).json()["items"]]
    assert names_a == ["orders", "returns"]
    assert names_b == ["orders", "refunds", "returns"]


def test_a_dataset_shows_schema_contract_and_versions(world: World) -> None:
    response = world.get("/api/v1/datasets/orders", world.admin_a)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [c["name"] for c in body["columns"]] == ORDER_COLUMNS
    assert body["columns"][0] == {"name": "order_id", "type": "string", "nullable": False}
    assert body["contract_version"] == 1
    assert body["contract_versions"] == [1]
    assert body["contract"]["dataset"] == "orders"
    assert body["contract"]["primary_key"] == ["order_id"]
    layers = {t["layer"]: t["version"] for t in body["tables"]}
    assert set(layers) == {"bronze", "silver", "quarantine"}
    silver = world.app.snapshot("silver", "orders").version
    assert layers["silver"] == silver


def test_another_tenants_dataset_is_not_found(world: World) -> None:
    assert world.get("/api/v1/datasets/refunds", world.admin_b).status_code == 200
    for path in ("/api/v1/datasets/refunds", "/api/v1/datasets/refunds/sample"):
        body = assert_error(world.get(path, world.admin_a), 404, "not_found")
        assert "refunds" not in str(body["details"].get("known", []))
        assert TENANT_B not in body["message"]


def test_a_sample_reads_the_callers_tenant_only(world: World) -> None:
    for caller in (world.admin_a, world.admin_b):
        response = world.get("/api/v1/datasets/returns/sample", caller, limit=1000)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["columns"] == ["return_id", "updated_at", "reason"]
        assert len(body["rows"]) == 5
        assert body["truncated"] is False
    response = world.get("/api/v1/datasets/refunds/sample", world.admin_b)
    assert len(response.json()["rows"]) == 3
    for caller, rows in ((world.admin_a, ROWS_A), (world.admin_b, ROWS_B)):
        body = world.get("/api/v1/datasets/orders/sample", caller, limit=1000).json()
        assert len(body["rows"]) == rows
        prefix = "O5" if caller is world.admin_b else "O0"
        assert all(row[0].startswith(prefix) for row in body["rows"])


def test_a_sample_is_limited(world: World) -> None:
    body = world.get("/api/v1/datasets/orders/sample", world.admin_a, limit=7).json()
    assert len(body["rows"]) == 7
    assert body["truncated"] is True
    assert body["columns"] == ORDER_COLUMNS
    price = body["columns"].index("price")
    assert all(isinstance(row[price], float) for row in body["rows"])
    body = assert_error(
        world.get("/api/v1/datasets/orders/sample", world.admin_a, limit=0), 422, "invalid_input"
    )
    assert body["details"]["problems"][0]["field"] == "query.limit"


def test_a_sample_applies_row_policies_and_masks(world: World) -> None:
    role = world.role(TENANT_A, ["datasets:read"])
    emea = world.caller(TENANT_A, [role], attributes={"region": "EMEA"})
    suffix = uuid.uuid4().hex[:8]
    for name, policy in (
        (
            f"emea_rows_{suffix}",
            {"kind": "row", "spec": {"predicate": "region = {{ user.region }}"}},
        ),
        (
            f"mask_customers_{suffix}",
            {"kind": "mask", "spec": {"column": "order_id", "strategy": "partial", "reveal": 2}},
        ),
    ):
        response = world.client.put(
            f"/api/v1/policies/{name}",
            headers=world.admin_a.headers,
            json={**policy, "table": "silver.orders", "roles": [role]},
        )
        assert response.status_code == 200, response.text

    seen = world.get("/api/v1/datasets/orders/sample", emea, limit=1000).json()
    region = seen["columns"].index("region")
    order = seen["columns"].index("order_id")
    assert len(seen["rows"]) == ROWS_A // 3
    assert {row[region] for row in seen["rows"]} == {"EMEA"}
    assert all(re.fullmatch(r"\*{5}[0-9]{2}", row[order]) for row in seen["rows"])

    full = world.get("/api/v1/datasets/orders/sample", world.admin_a, limit=1000).json()
    assert len(full["rows"]) == ROWS_A
    assert {row[region] for row in full["rows"]} == {"EMEA", "AMER", "APAC"}
    assert all(re.fullmatch(r"O[0-9]{6}", row[order]) for row in full["rows"])

    entries = world.get("/api/v1/audit", world.admin_a, action="sql.query", limit=500).json()
    mine = [e for e in entries["items"] if e["principal"] == emea.name]
    assert mine and mine[-1]["details"]["rows"] == ROWS_A // 3


def test_runs_are_the_tenants_newest_first(world: World) -> None:
    runs = world.get("/api/v1/runs", world.admin_a, limit=500).json()["items"]
    assert runs
    starts = [r["started_at"] for r in runs]
    assert starts == sorted(starts, reverse=True)
    ids_b = {r["id"] for r in world.get("/api/v1/runs", world.admin_b, limit=500).json()["items"]}
    assert ids_b and not ids_b & {r["id"] for r in runs}


def test_runs_filter_by_status_and_dataset(world: World) -> None:
    succeeded = world.get("/api/v1/runs", world.admin_a, status="succeeded").json()["items"]
    assert succeeded and {r["status"] for r in succeeded} == {"succeeded"}
    returns = world.get("/api/v1/runs", world.admin_a, dataset="returns").json()["items"]
    assert [r["dataset"] for r in returns] == ["returns"]
    body = assert_error(
        world.get("/api/v1/runs", world.admin_a, status="exploded"), 422, "invalid_input"
    )
    assert "succeeded" in str(body)


def test_one_run_of_the_tenant_and_not_of_another(world: World) -> None:
    [run_a] = world.get("/api/v1/runs", world.admin_a, dataset="returns").json()["items"]
    response = world.get(f"/api/v1/runs/{run_a['id']}", world.admin_a)
    assert response.status_code == 200
    assert response.json()["id"] == run_a["id"]
    assert response.json()["rows_read"] == 5
    [run_b] = world.get("/api/v1/runs", world.admin_b, dataset="refunds").json()["items"]
    body = assert_error(world.get(f"/api/v1/runs/{run_b['id']}", world.admin_a), 404, "not_found")
    assert TENANT_B not in str(body)
    assert_error(world.get("/api/v1/runs/no-such-run", world.admin_a), 404, "not_found")


def test_viewers_read_the_catalog_but_not_admin_routes(world: World) -> None:
    viewer = world.caller(TENANT_A, ["viewer"])
    for path in ("/api/v1/sources", "/api/v1/datasets", "/api/v1/runs"):
        assert world.get(path, viewer).status_code == 200
    assert world.get("/api/v1/datasets/orders/sample", viewer).status_code == 200
    assert_error(world.get("/api/v1/users", viewer), 403, "forbidden")
