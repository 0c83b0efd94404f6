"""Explanations, drivers, impact and the insight feed through the API: own rows only, errors.

The twin tenants hold orders in January (acme) and in July of another year (initech); acme's EMEA
analyst sees EMEA's rows only (row policy). An explanation must be built from exactly the rows the
caller may query: its totals equal the caller's own metric query, no cause names a region the
caller cannot see, and the other tenant's data never enters.
"""

from typing import Any

import pytest

from tests.integration.api.conftest import TWIN_A, TWIN_B, Twins
from tests.integration.api.helpers import TENANT_A, World, assert_error

pytestmark = [pytest.mark.integration]

AT = "2025-01-01"
"""The one day with orders of two regions (EMEA and AMER) in the twin data."""
BASELINE = {"baseline_start": "2025-01-08", "baseline_end": "2025-01-28"}
CAUSE_FIELDS = {
    "rank", "segment", "contribution", "before", "after", "confidence", "effect", "surprise",
}  # fmt: skip


def _explain(world: World, caller: Any, metric: str = "revenue", **params: Any) -> Any:
    return world.get(f"/api/v1/explain/{metric}", caller, at=AT, **BASELINE, **params)


def _revenue_on(world: World, caller: Any, day: str) -> float:
    response = world.client.post(
        "/api/v1/metrics/query",
        headers=caller.headers,
        json={"metrics": ["revenue"], "start": day, "end": day},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    column = body["columns"].index("revenue")
    return float(body["rows"][0][column] or 0.0)


def test_an_explanation_is_built_from_the_callers_own_rows(twins: Twins) -> None:
    world = twins.world
    admin, emea = twins.of(TWIN_A, "admin"), twins.of(TWIN_A, "emea")
    whole = _explain(world, admin)
    assert whole.status_code == 200, whole.text
    body = whole.json()
    assert body["metric"] == "revenue" and body["baseline_windows"] == 1
    assert body["after"] == pytest.approx(_revenue_on(world, admin, AT))
    assert all(set(c) == CAUSE_FIELDS for c in body["causes"])
    assert body["narrative"]
    mine = _explain(world, emea)
    assert mine.status_code == 200, mine.text
    restricted = mine.json()
    assert restricted["after"] == pytest.approx(_revenue_on(world, emea, AT))
    assert restricted["after"] < body["after"]
    assert all(c["segment"].get("region", "EMEA") == "EMEA" for c in restricted["causes"])
    # Asking for another region's segment finds none of its rows.
    other = _explain(world, emea, segment=["region=AMER"])
    assert other.status_code == 200, other.text
    assert other.json()["after"] == 0.0 and other.json()["causes"] == []


def test_another_tenants_data_never_enters(twins: Twins) -> None:
    world = twins.world
    theirs = _explain(world, twins.of(TWIN_B, "admin"))
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["after"] == 0.0 and theirs.json()["before"] == 0.0
    assert theirs.json()["causes"] == []


def test_explain_needs_insights_read_and_checks_its_input(world: World) -> None:
    nobody = world.caller(TENANT_A, [world.role(TENANT_A, ["metrics:read"])])
    assert_error(_explain(world, nobody), 403, "forbidden")
    admin = world.admin_a
    assert_error(_explain(world, admin, metric="nope"), 404, "not_found")
    assert_error(
        world.get("/api/v1/explain/revenue", admin, at=AT, baseline_start="2025-01-01"),
        422,
        "invalid_input",
    )
    assert_error(
        world.get(
            "/api/v1/explain/revenue",
            admin,
            at=AT,
            baseline_start="2024-12-31",
            baseline_end="2025-01-02",
        ),
        422,
        "invalid_input",
    )
    assert_error(_explain(world, admin, by=["planet"]), 422, "invalid_input")
    assert_error(_explain(world, admin, segment=["region"]), 422, "invalid_input")
    assert_error(_explain(world, admin, lang="xx"), 422, "invalid_input")
    response = world.get("/api/v1/explain/revenue", admin, at="tomorrow")
    assert response.status_code == 422


def test_a_ratio_is_explained_in_german_markdown(world: World) -> None:
    response = _explain(
        world, world.admin_a, metric="average_order_value", lang="de", narrative_format="md"
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["narrative"].startswith("#")
    assert all(c["effect"] in ("rate", "mix", "both") for c in body["causes"])


def test_drivers_and_impact(world: World) -> None:
    admin = world.admin_a
    response = world.get("/api/v1/drivers/revenue", admin, candidate=["orders"], max_lag=2)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["grain"] == "day" and body["buckets"] >= 10
    assert [r["candidate"] for r in body["relations"]] == ["orders"]
    response = world.get(
        "/api/v1/impact/revenue",
        admin,
        change="2025-01-15",
        treated=["region=EMEA"],
        control=["region=AMER"],
        since="2025-01-01",
        until="2025-01-28",
    )
    assert response.status_code == 200, response.text
    impact = response.json()
    assert impact["ci_low"] <= impact["estimate"] <= impact["ci_high"]
    assert impact["n_before"] + impact["n_after"] == 28
    missing = world.get("/api/v1/impact/revenue", admin, change="2025-01-15")
    assert_error(missing, 422, "invalid_input")


def test_the_insight_feed(world: World) -> None:
    response = world.get("/api/v1/insights", world.admin_a, lang="es", narrative_format="html")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["document"].lstrip().lower().startswith("<!doctype html")
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= item["p_value"] <= 1 and item["narrative"] for item in body["items"])
    assert all(item["p_value"] <= item["q_value"] < 0.05 for item in body["items"])
    assert all(0 < item["share"] <= 1 for item in body["items"])
    bad = world.get("/api/v1/insights", world.admin_a, role="intern")
    assert bad.status_code == 422
