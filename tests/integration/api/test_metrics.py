"""Metric definitions through the API: read, version, create, replace, delete, per tenant."""

import uuid
from typing import Any

import pytest

from tests.integration.api.helpers import TENANT_A, World, assert_error

pytestmark = [pytest.mark.integration]


def _name(prefix: str = "m") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _put(world: World, name: str, spec: Any, caller: Any = None) -> Any:
    caller = caller or world.admin_a
    return world.client.put(f"/api/v1/metrics/{name}", headers=caller.headers, json=spec)


def test_metrics_list_the_tenants_definitions(world: World) -> None:
    items = world.get("/api/v1/metrics", world.admin_a, limit=500).json()["items"]
    names = [m["name"] for m in items]
    assert names == sorted(names)
    assert {"revenue", "orders", "average_order_value"} <= set(names)
    [revenue] = [m for m in items if m["name"] == "revenue"]
    assert revenue["type"] == "simple"
    assert revenue["unit"] == "EUR"
    assert revenue["target"] == 25000
    assert "region" in revenue["dimensions"]


def test_a_metric_shows_definition_dimensions_and_sql(world: World) -> None:
    response = world.get("/api/v1/metrics/average_order_value", world.admin_a)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "ratio"
    assert body["definition"]["numerator"] == "revenue"
    assert set(body["inputs"]) >= {"revenue", "orders"}
    assert body["dimensions"] == ["region", "size"]
    assert "SELECT" in body["sql"].upper()
    assert "silver" in body["sql"]
    assert_error(world.get("/api/v1/metrics/no_such_metric", world.admin_a), 404, "not_found")


def test_versions_of_a_metric(world: World) -> None:
    body = world.get("/api/v1/metrics/revenue/versions", world.admin_a).json()
    [first] = body["items"]
    assert first["version"] == 1
    assert first["kind"] == "metric"
    assert first["spec"]["measure"] == "orders.revenue"
    assert first["deleted"] is False
    assert_error(world.get("/api/v1/metrics/nothing/versions", world.admin_a), 404, "not_found")


def test_put_creates_then_keeps_then_updates_a_metric(world: World) -> None:
    name = _name()
    spec = {"measure": "orders.units", "description": "Units sold.", "format": "integer"}
    first = _put(world, name, spec)
    assert first.status_code == 200, first.text
    assert first.json() == {"kind": "metric", "name": name, "version": 1, "change": "created"}
    assert _put(world, name, spec).json()["change"] == "unchanged"
    changed = _put(world, name, {**spec, "description": "Units sold, all channels."})
    assert changed.json() == {"kind": "metric", "name": name, "version": 2, "change": "updated"}

    versions = world.get(f"/api/v1/metrics/{name}/versions", world.admin_a).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["created_by"] == world.admin_a.name
    assert versions[1]["source"] == "<api>"
    assert world.get(f"/api/v1/metrics/{name}", world.admin_a).json()["description"] == (
        "Units sold, all channels."
    )

    query = world.client.post(
        "/api/v1/metrics/query",
        headers=world.admin_a.headers,
        json={"metrics": [name, "orders"], "by": ["region"]},
    )
    assert query.status_code == 200, query.text
    assert query.json()["columns"] == ["region", name, "orders"]
    assert len(query.json()["rows"]) == 3

    audit = world.get("/api/v1/audit", world.admin_a, action="metric.put", limit=500).json()
    assert [e["details"]["version"] for e in audit["items"] if e["target"] == name] == [1, 2]


def test_a_bad_definition_is_refused_with_its_issues_and_stores_nothing(world: World) -> None:
    name = _name()
    shape = _put(world, name, {"measure": "orders.units", "grain": "fortnight"})
    body = assert_error(shape, 422, "invalid_input")
    issues = body["details"]["issues"]
    assert issues and any("grain" in i["path"] for i in issues)
    assert "day" in body["details"]["hint"]

    reference = _put(world, name, {"measure": "orders.no_such_measure"})
    body = assert_error(reference, 422, "invalid_input")
    assert "no_such_measure" in body["message"]

    assert_error(world.get(f"/api/v1/metrics/{name}/versions", world.admin_a), 404, "not_found")
    not_an_object = _put(world, name, ["measure", "orders.units"])
    assert_error(not_an_object, 422, "invalid_input")
    bad_name = _put(world, "1-not-a-name", {"measure": "orders.units"})
    body = assert_error(bad_name, 422, "invalid_input")
    assert body["details"]["problems"][0]["field"] == "path.name"


def test_delete_retires_a_metric(world: World) -> None:
    name = _name()
    assert _put(world, name, {"measure": "orders.units"}).status_code == 200
    response = world.client.delete(f"/api/v1/metrics/{name}", headers=world.admin_a.headers)
    assert response.status_code == 204
    assert_error(world.get(f"/api/v1/metrics/{name}", world.admin_a), 404, "not_found")
    names = [
        m["name"] for m in world.get("/api/v1/metrics", world.admin_a, limit=500).json()["items"]
    ]
    assert name not in names
    versions = world.get(f"/api/v1/metrics/{name}/versions", world.admin_a).json()["items"]
    assert [v["deleted"] for v in versions] == [False, True]
    again = world.client.delete(f"/api/v1/metrics/{name}", headers=world.admin_a.headers)
    assert_error(again, 404, "not_found")


def test_a_metric_others_are_built_on_cannot_be_deleted(world: World) -> None:
    response = world.client.delete("/api/v1/metrics/revenue", headers=world.admin_a.headers)
    body = assert_error(response, 422, "invalid_input")
    assert "revenue" in body["message"]
    assert world.get("/api/v1/metrics/revenue", world.admin_a).status_code == 200


def test_another_tenants_metric_is_not_found_and_not_touched(world: World) -> None:
    name = _name("globex")
    assert _put(world, name, {"measure": "orders.units"}, world.admin_b).status_code == 200
    for path in (f"/api/v1/metrics/{name}", f"/api/v1/metrics/{name}/versions"):
        assert world.get(path, world.admin_b).status_code == 200
        assert_error(world.get(path, world.admin_a), 404, "not_found")
    response = world.client.delete(f"/api/v1/metrics/{name}", headers=world.admin_a.headers)
    assert_error(response, 404, "not_found")
    # The same name in tenant A is a definition of its own.
    assert _put(world, name, {"measure": "orders.revenue"}).json()["change"] == "created"
    spec_b = world.get(f"/api/v1/metrics/{name}", world.admin_b).json()["definition"]
    assert spec_b["measure"] == "orders.units"


def test_semantic_models_list_and_put(world: World) -> None:
    models = world.get("/api/v1/semantic-models", world.admin_a).json()["items"]
    assert "orders" in [m["name"] for m in models]
    name = _name("model")
    spec = {
        "table": "silver.orders",
        "time": {"column": "updated_at"},
        "dimensions": {"region": {}},
        "measures": {"lines": {"agg": "count"}},
    }
    response = world.client.put(
        f"/api/v1/semantic-models/{name}", headers=world.admin_a.headers, json=spec
    )
    assert response.status_code == 200, response.text
    assert response.json()["change"] == "created"
    assert _put(world, _name(), {"measure": f"{name}.lines"}).status_code == 200
    names = [m["name"] for m in world.get("/api/v1/semantic-models", world.admin_a).json()["items"]]
    assert name in names

    bad = world.client.put(
        f"/api/v1/semantic-models/{_name('model')}",
        headers=world.admin_a.headers,
        json={**spec, "table": "silver.no_such_table"},
    )
    assert_error(bad, 422, "invalid_input")


def test_editors_write_metrics_and_analysts_do_not(world: World) -> None:
    editor = world.caller(TENANT_A, ["editor"])
    analyst = world.caller(TENANT_A, ["analyst"])
    assert _put(world, _name(), {"measure": "orders.units"}, editor).status_code == 200
    body = assert_error(
        _put(world, _name(), {"measure": "orders.units"}, analyst), 403, "forbidden"
    )
    assert body["details"]["permission"] == "metrics:write"
    assert world.get("/api/v1/metrics", analyst).status_code == 200


def test_a_change_made_from_definitions_that_moved_on_is_refused_with_409(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    added, name = _name(), _name()
    assert _put(world, added, {"measure": "orders.units"}).status_code == 200
    semantic = world.app.semantic
    real = semantic.stored

    def as_before_the_last_change(*, ctx: Any) -> Any:
        # What a request read just before another one stored ``added``.
        return [r for r in real(ctx=ctx) if r.name != added]

    monkeypatch.setattr(semantic, "stored", as_before_the_last_change)
    body = assert_error(_put(world, name, {"measure": "orders.units"}), 409, "conflict")
    assert "Retry" in body["details"]["hint"]
    monkeypatch.undo()
    names = {
        m["name"] for m in world.get("/api/v1/metrics", world.admin_a, limit=500).json()["items"]
    }
    assert added in names and name not in names  # nothing lost, nothing half-stored
    assert _put(world, name, {"measure": "orders.units"}).status_code == 200  # a retry goes through
