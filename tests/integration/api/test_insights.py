"""Scans and anomalies through the API: the caller's view only, permissions, feedback, tenants."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gnomon.catalog import AnomalyInput, AnomalyRecord
from tests.integration.api.helpers import TENANT_A, TENANT_B, World, assert_error

pytestmark = [pytest.mark.integration]

FIELDS = {
    "id", "metric", "time", "grain", "segment", "actual", "expected", "lower", "upper", "score",
    "severity", "direction", "detector", "status", "detected_at",
}  # fmt: skip


def _seed(world: World, tenant: str, metric: str, *, days: int = 3) -> list[AnomalyRecord]:
    """Anomalies of the unrestricted view, as a scan would record them."""
    start = datetime(2025, 1, 10, tzinfo=UTC)
    items = [
        AnomalyInput(
            metric=metric,
            grain="day",
            segment={"region": "EMEA"} if k % 2 else {},
            time=start + timedelta(days=k),
            actual=1.0 + k,
            expected=10.0,
            lower=8.0,
            upper=12.0,
            score=0.9999,
            severity="high",
            direction="down",
            detector="robust_z",
        )
        for k in range(days)
    ]
    with world.app.catalog.transaction() as tx:
        return tx.anomalies.record(tenant=tenant, scope="", run_id=None, items=items)


def _listed(world: World, caller: Any, **params: Any) -> list[dict[str, Any]]:
    response = world.get("/api/v1/anomalies", caller, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_an_editor_scans_the_metrics_it_names(world: World) -> None:
    editor = world.caller(TENANT_A, ["editor"])
    response = world.client.post(
        "/api/v1/scans", headers=editor.headers, json={"metrics": ["orders"]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["metrics"], body["skipped"]) == (["orders"], {})
    assert body["series"] == 6  # overall, three regions, two sizes; 28 days each
    assert body["points"] == 6 * 28
    assert all(set(a) == FIELDS for a in body["new"])
    with world.app.catalog.transaction() as tx:
        run = tx.runs.get(body["run_id"], tenant=TENANT_A)
    assert (run.kind, run.status) == ("scan", "succeeded")


def test_a_viewer_reads_anomalies_but_may_not_scan(world: World) -> None:
    viewer = world.caller(TENANT_A, ["viewer"])
    assert_error(
        world.client.post("/api/v1/scans", headers=viewer.headers, json={}), 403, "forbidden"
    )
    _listed(world, viewer)


def test_unknown_metrics_and_bad_filters_are_client_errors(world: World) -> None:
    response = world.client.post(
        "/api/v1/scans", headers=world.admin_a.headers, json={"metrics": ["nope"]}
    )
    assert_error(response, 404, "not_found")
    assert_error(
        world.get("/api/v1/anomalies", world.admin_a, severity="huge"), 422, "invalid_input"
    )


def test_anomalies_are_listed_per_tenant_oldest_first(world: World) -> None:
    metric = "revenue"
    mine = _seed(world, TENANT_A, metric)
    theirs = _seed(world, TENANT_B, metric, days=2)
    listed = _listed(world, world.admin_a, metric=metric, limit=500)
    ids = {a["id"] for a in listed}
    assert {a.id for a in mine} <= ids
    assert ids.isdisjoint(a.id for a in theirs)
    assert all(set(a) == FIELDS for a in listed)
    times = [a["time"] for a in listed]
    assert times == sorted(times)
    first = next(a for a in listed if a["id"] == mine[1].id)
    assert (first["segment"], first["actual"], first["severity"]) == (
        {"region": "EMEA"},
        2.0,
        "high",
    )
    only_high = _listed(world, world.admin_a, metric=metric, severity="critical")
    assert all(a["severity"] == "critical" for a in only_high)


def test_feedback_needs_its_permission_and_the_callers_tenant(world: World) -> None:
    [anomaly, *_] = _seed(world, TENANT_A, "units", days=1)
    path = f"/api/v1/anomalies/{anomaly.id}/feedback"
    viewer = world.caller(TENANT_A, ["viewer"])
    assert_error(
        world.client.post(path, headers=viewer.headers, json={"anomalous": False}), 403, "forbidden"
    )
    other = world.client.post(path, headers=world.admin_b.headers, json={"anomalous": False})
    assert_error(other, 404, "not_found")
    analyst = world.caller(TENANT_A, ["analyst"])
    response = world.client.post(path, headers=analyst.headers, json={"anomalous": False})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["id"]) == ("dismissed", anomaly.id)
    with world.app.catalog.transaction() as tx:
        stored = tx.anomalies.get(tenant=TENANT_A, id=anomaly.id)
    assert stored is not None and stored.feedback_by == analyst.name


def test_a_viewer_gets_a_forecast_with_intervals(world: World) -> None:
    viewer = world.caller(TENANT_A, ["viewer"])
    response = world.get("/api/v1/forecasts/orders", viewer, horizon=7)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["metric"], body["grain"], body["segment"]) == ("orders", "day", {})
    assert len(body["points"]) == 7
    times = [p["time"] for p in body["points"]]
    assert times == sorted(times) and times[0].startswith("2025-01-29")
    for point in body["points"]:
        assert point["lower_95"] <= point["lower_80"] <= point["forecast"]
        assert point["forecast"] <= point["upper_80"] <= point["upper_95"]
    assert body["model_version"] >= 1 and body["members"]
    emea = world.get("/api/v1/forecasts/orders", viewer, horizon=3, segment="region=EMEA")
    assert emea.status_code == 200, emea.text
    assert emea.json()["segment"] == {"region": "EMEA"}


def test_bad_forecast_requests_are_client_errors(world: World) -> None:
    admin = world.admin_a
    assert_error(world.get("/api/v1/forecasts/orders", admin, horizon=91), 422, "invalid_input")
    assert_error(world.get("/api/v1/forecasts/nope", admin), 404, "not_found")
    assert_error(world.get("/api/v1/forecasts/orders", admin, segment="EMEA"), 422, "invalid_input")
    assert_error(
        world.get("/api/v1/forecasts/orders", admin, segment="region=MARS"), 404, "not_found"
    )


def test_the_registry_lists_model_versions_for_readers(world: World) -> None:
    viewer = world.caller(TENANT_A, ["viewer"])
    assert world.get("/api/v1/forecasts/orders", viewer, horizon=3).status_code == 200
    response = world.get("/api/v1/registry", viewer, kind="forecaster", metric="orders")
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items and {i["kind"] for i in items} == {"forecaster"}
    first = items[0]
    assert first["metric"] == "orders" and first["version"] >= 1 and first["model"]
    assert first["params"]["view"] == "" and "smape" in first["metrics"]
    other = world.get("/api/v1/registry", world.caller(TENANT_B, ["viewer"]), metric="orders")
    assert other.status_code == 200, other.text
    assert all(i["id"] not in {f["id"] for f in items} for i in other.json()["items"])
    assert_error(world.get("/api/v1/registry", viewer, kind="model"), 422, "invalid_input")
    assert_error(world.get("/api/v1/registry", viewer, metric="nope"), 404, "not_found")
