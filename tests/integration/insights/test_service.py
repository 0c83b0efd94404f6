"""Scans and forecasts over a real project: found once, per view, tuned by feedback, in gold.

A small project holds 140 days of orders in three regions, with EMEA's orders gone on day 120
(an outage). The scan must flag that day in EMEA's series and in the overall one, record each
anomaly once with an event, keep a region analyst's anomalies apart from the admin's, and widen
the threshold when an anomaly is dismissed.
"""

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.errors import InvalidInput, NotFound
from gnomon.insights import ANOMALY_EVENT, anomaly_row
from gnomon.insights.service import forecast_rows
from gnomon.semantic import UnknownMetric
from tests.projects import daily_orders, write_csv, write_project

pytestmark = pytest.mark.integration

START = date(2024, 1, 1)
OUTAGE = START + timedelta(days=120)
DAYS = 140
METRICS = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions:
      region: {}
    measures:
      orders: {agg: count}
      units: {agg: sum, expr: quantity}
metrics:
  orders:
    measure: orders.orders
    monitor: {sensitivity: medium}
  units:
    measure: orders.units
    monitor: {enabled: false}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_project(tmp_path_factory.mktemp("scan") / "project")
    write_csv(root / "data" / "orders.csv", daily_orders(START, DAYS, outage=OUTAGE))
    (root / "metrics").mkdir(exist_ok=True)
    (root / "metrics" / "orders.yaml").write_text(METRICS, encoding="utf-8")
    with Gnomon.open(root) as app:
        ctx = app.context()
        app.ingest.ingest("orders", ctx=ctx)
        app.semantic.apply(ctx=ctx)
        app.policies.save(
            ctx=ctx,
            name="analysts_see_their_region",
            kind="row",
            table="silver.orders",
            roles=["analyst"],
            spec={"predicate": "region = {{ user.region }}"},
        )
    return root


@pytest.fixture()
def app(project: Path) -> Iterator[Gnomon]:
    with Gnomon.open(project) as opened:
        yield opened


ANALYST = RequestContext(
    Principal(tenant="default", user="emea", roles=frozenset({"analyst"}),
              attributes={"region": "EMEA"})
)  # fmt: skip


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_a_scan_finds_the_outage_once_and_announces_it(app: Gnomon) -> None:
    ctx = app.context()
    first = app.insights.scan(ctx=ctx)
    assert first.metrics == ("orders",)
    assert first.skipped == {"units": "monitor.enabled is false"}
    assert first.series == 4  # overall and three regions
    assert first.points == 4 * DAYS
    found = {(json.dumps(dict(a.segment)), a.time) for a in first.new}
    assert ('{"region": "EMEA"}', _at(OUTAGE)) in found
    assert ("{}", _at(OUTAGE)) in found
    emea = next(a for a in first.new if a.segment == {"region": "EMEA"} and a.time == _at(OUTAGE))
    assert (emea.actual, emea.direction, emea.metric, emea.grain) == (0.0, "down", "orders", "day")
    assert emea.expected is not None and emea.lower is not None and emea.expected > 40
    assert emea.lower > 0.0 and emea.score > 0.99 and emea.severity in ("high", "critical")
    assert len(first.new) <= 12, [anomaly_row(a) for a in first.new]

    again = app.insights.scan(ctx=ctx)
    assert again.new == ()
    listed = app.insights.anomalies(ctx=ctx, metric="orders")
    assert sorted(a.id for a in listed) == sorted(a.id for a in first.new)
    with app.catalog.transaction() as tx:
        events = [e for e in tx.outbox.pending(limit=1000) if e.type == ANOMALY_EVENT]
        run = tx.runs.get(first.run_id, tenant="default")
    assert sorted(e.data["id"] for e in events) == sorted(a.id for a in first.new)
    assert (run.kind, run.status, run.rows_read, run.rows_written) == (
        "scan", "succeeded", 4 * DAYS, len(first.new)
    )  # fmt: skip


def test_gold_insights_holds_the_unrestricted_views_anomalies(app: Gnomon) -> None:
    ctx = app.context()
    app.insights.scan(ctx=ctx)
    table = app.sql(
        "SELECT metric, segment, time, actual, status FROM gold.insights ORDER BY anomaly_id",
        ctx=ctx,
    )
    listed = app.insights.anomalies(ctx=ctx)
    assert table.num_rows == len(listed)
    rows = {
        (json.dumps(json.loads(row["segment"]), sort_keys=True), row["time"], row["actual"])
        for row in table.to_pylist()
    }
    expected = {(json.dumps(dict(a.segment), sort_keys=True), a.time, a.actual) for a in listed}
    assert rows == expected
    assert ('{"region": "EMEA"}', _at(OUTAGE), 0.0) in rows


def test_a_region_analyst_sees_only_what_scans_of_their_view_found(app: Gnomon) -> None:
    admin = app.context()
    app.insights.scan(ctx=admin)
    assert app.insights.anomalies(ctx=ANALYST) == [], "the admin's view is not the analyst's"
    mine = app.insights.scan(ctx=ANALYST)
    assert mine.series >= 1
    assert all(a.segment.get("region", "EMEA") == "EMEA" for a in mine.new)
    # The analyst's overall series is EMEA's: its outage is found there as the whole metric.
    assert any(a.segment == {} and a.time == _at(OUTAGE) for a in mine.new)
    seen = app.insights.anomalies(ctx=ANALYST)
    assert sorted(a.id for a in seen) == sorted(a.id for a in mine.new)
    admin_ids = {a.id for a in app.insights.anomalies(ctx=admin)}
    assert admin_ids.isdisjoint(a.id for a in seen)
    with pytest.raises(NotFound):
        app.insights.feedback(min(admin_ids), anomalous=False, ctx=ANALYST)


def test_dismissing_an_anomaly_widens_the_metrics_threshold(app: Gnomon) -> None:
    ctx = app.context()
    app.insights.scan(ctx=ctx)
    [before] = app.insights.models(ctx=ctx, kind="detector", metric="orders")
    target = min(app.insights.anomalies(ctx=ctx, metric="orders"), key=lambda a: a.score)
    updated = app.insights.feedback(target.id, anomalous=False, ctx=ctx)
    assert (updated.status, updated.feedback_by) == ("dismissed", "system")
    [after] = app.insights.models(ctx=ctx, kind="detector", metric="orders")
    assert after.version == before.version + 1
    assert after.params["detector"]["threshold"] > before.params["detector"]["threshold"]
    assert after.params["detector"]["threshold"] > target.score
    assert after.params["base"] == before.params["base"]


def test_a_forecast_continues_the_series_with_nested_intervals(app: Gnomon) -> None:
    ctx = app.context()
    result = app.insights.forecast("orders", ctx=ctx, horizon=14)
    made = result.forecast
    assert result.refitted and result.segment == {} and result.grain == "day"
    last = START + timedelta(days=DAYS - 1)
    expected_days = [np.datetime64(last + timedelta(days=k), "us") for k in range(1, 15)]
    assert list(made.times) == expected_days
    low80, high80 = made.intervals[80]
    low95, high95 = made.intervals[95]
    assert np.all(low95 <= low80) and np.all(low80 <= made.mean)
    assert np.all(made.mean <= high80) and np.all(high80 <= high95)
    assert np.all(low95 >= 0), "orders were never negative: neither is their forecast"
    # About 150 orders a day with a weekly swing of a fifth: the forecast stays in that range.
    assert 100 < float(np.mean(made.mean)) < 200
    assert made.model in made.backtest or made.model == "ensemble"
    rows = forecast_rows(result)
    assert [r["time"][:10] for r in rows][:2] == [
        str(last + timedelta(days=1)),
        str(last + timedelta(days=2)),
    ]
    assert set(rows[0]) == {"time", "forecast", "lower_80", "upper_80", "lower_95",
                            "upper_95", "model"}  # fmt: skip

    again = app.insights.forecast("orders", ctx=ctx, horizon=7)
    assert not again.refitted, "the recent selection is reused"
    assert set(again.forecast.members) <= set(made.members)
    assert set(again.forecast.backtest) <= {*made.members, "ensemble"}
    assert again.model.id == result.model.id, "a refit of the same choice is no new version"


def test_a_segment_forecast_and_bad_requests(app: Gnomon) -> None:
    ctx = app.context()
    emea = app.insights.forecast("orders", ctx=ctx, horizon=7, segment={"region": "EMEA"})
    assert emea.segment == {"region": "EMEA"}
    assert 20 < float(np.mean(emea.forecast.mean)) < 100
    with pytest.raises(NotFound, match="no series"):
        app.insights.forecast("orders", ctx=ctx, horizon=7, segment={"region": "MARS"})
    with pytest.raises(InvalidInput, match="1 to 90"):
        app.insights.forecast("orders", ctx=ctx, horizon=91)
    with pytest.raises(UnknownMetric):
        app.insights.forecast("ordrs", ctx=ctx)


def test_the_registry_lists_versions_and_forecasters_of_the_readers_view(app: Gnomon) -> None:
    admin = app.context()
    app.insights.scan(ctx=admin)
    app.insights.forecast("orders", ctx=admin, horizon=7)
    app.insights.forecast("orders", ctx=ANALYST, horizon=7)
    latest = app.insights.models(ctx=admin, metric="orders")
    kinds = {(r.kind, json.dumps(r.segment)) for r in latest}
    assert ("detector", "{}") in kinds and ("forecaster", "{}") in kinds
    [forecaster] = [r for r in latest if r.kind == "forecaster" and r.segment == {}]
    assert forecaster.params["view"] == ""
    assert forecaster.metrics and forecaster.training_end is not None
    # The analyst's forecast of the same series was fitted on EMEA's rows only: a version of
    # its own, not listed for the admin, and the admin's not listed for the analyst.
    [theirs] = app.insights.models(ctx=ANALYST, kind="forecaster", metric="orders")
    assert theirs.params["view"] != "" and theirs.version != forecaster.version
    # Forecasting again within insights.retrain_after_days refits the chosen model: no new
    # version, and the analyst's selection did not make the admin's stale.
    again = app.insights.forecast("orders", ctx=admin, horizon=7)
    assert not again.refitted and again.model.id == forecaster.id
    everything = app.insights.models(ctx=admin, kind="forecaster", all_versions=True)
    assert [r.id for r in everything if r.segment == {}] == [forecaster.id]
    with pytest.raises(UnknownMetric):
        app.insights.models(ctx=admin, metric="ordrs")
    with pytest.raises(InvalidInput):
        app.insights.models(ctx=admin, kind="model")
