"""Rollups answer exactly as the raw tables do, stay fresh incrementally, and the cache is honest.

One small demo project is built for the module. Queries are answered twice, from the rollup and
from the raw table, and must agree; hypothesis draws the queries.
"""

import json
import math
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.demo import run_demo
from gnomon.semantic.errors import MetricQueryError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROLLED = ["revenue", "orders", "returned_orders", "web_revenue"]
"""The demo's metrics the day rollup holds (sums and counts)."""
OVER_ROLLED = ["average_order_value", "return_rate", "revenue_7d", "revenue_ytd", "revenue_mom"]
"""Metrics computed only from rolled-up metrics: answered from the rollup too."""
NEVER_ROLLED = ["distinct_customers", "median_basket"]
DIMENSIONS = ["region", "country", "channel", "category", "order_size"]
GRAINS = ["day", "week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year", None]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gnomon]:
    project = tmp_path_factory.mktemp("rollups") / "retail"
    run_demo(project, rows=4000, seed=5)
    with Gnomon.open(project) as opened:
        opened.semantic.refresh(ctx=opened.context())
        yield opened


def _same(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            x, y = a[key], b[key]
            if isinstance(x, float) or isinstance(y, float):
                assert x is not None and y is not None, (key, a, b)
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-6), (key, a, b)
            else:
                assert x == y, (key, a, b)


def _both(app: Gnomon, **query: Any) -> tuple[Any, Any]:
    fresh = app.semantic
    rolled = app.query(**query, ctx=app.context())
    raw = app.query(**query, use_rollups=False, ctx=app.context())
    assert fresh is app.semantic
    return rolled, raw


def test_a_fresh_rollup_answers_and_says_so(app: Gnomon) -> None:
    [status] = app.semantic.rollup_status(ctx=app.context())
    assert status["state"] == "fresh"
    assert status["grain"] == "day"
    assert set(status["metrics"]) == set(ROLLED)
    rolled, raw = _both(
        app,
        metrics=["revenue", "average_order_value", "revenue_ytd"],
        by=["region"],
        grain="month",
        start=date(2024, 3, 1),
        end=date(2025, 2, 28),
    )
    assert rolled.compiled.sources == {"orders": f"gold.{status['name']}"}
    assert raw.compiled.sources == {"orders": "silver.orders"}
    _same(rolled.table.to_pylist(), raw.table.to_pylist())


def test_metrics_that_cannot_be_combined_read_the_raw_table_and_explain_why(app: Gnomon) -> None:
    plan = app.semantic.explain(
        _metric_query(["revenue", "distinct_customers"], grain="month"), ctx=app.context()
    )
    assert plan["rollups_used"] == []
    assert "distinct_customers" in plan["rollups_not_used"]["orders"]
    hourly = app.semantic.explain(_metric_query(["revenue"], grain="hour"), ctx=app.context())
    assert "hour buckets are not made of whole day buckets" in hourly["rollups_not_used"]["orders"]


def _metric_query(metrics: list[str], **kwargs: Any) -> Any:
    from gnomon.semantic import MetricQuery

    return MetricQuery.build(metrics, start=date(2025, 1, 1), end=date(2025, 3, 31), **kwargs)


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    metrics = draw(
        st.lists(st.sampled_from(ROLLED + OVER_ROLLED), min_size=1, max_size=3, unique=True)
    )
    grain = draw(st.sampled_from(GRAINS))
    if grain not in ("day", "week"):  # a 7-day window is whole days or one week
        metrics = [m for m in metrics if m != "revenue_7d"] or ["revenue"]
    if grain is None:
        metrics = [m for m in metrics if m in [*ROLLED, "average_order_value", "return_rate"]] or [
            "orders"
        ]
    by = draw(st.lists(st.sampled_from(DIMENSIONS), max_size=2, unique=True))
    start = date(2024, 1, 1) + timedelta(days=draw(st.integers(0, 600)))
    end = start + timedelta(days=draw(st.integers(0, 120)))
    where = draw(
        st.sampled_from(
            [None, "channel = 'web'", "region IN ('EMEA', 'APAC')", "order_size <> 'bulk'"]
        )
    )
    return {
        "metrics": metrics,
        "by": by,
        "grain": grain,
        "start": start,
        "end": end,
        "where": where,
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries())
def test_rollup_answers_equal_raw_answers(app: Gnomon, query: dict[str, Any]) -> None:
    rolled, raw = _both(app, **query)
    assert set(rolled.compiled.sources.values()) != {"silver.orders"}, rolled.compiled
    _same(rolled.table.to_pylist(), raw.table.to_pylist())


def test_new_data_makes_the_rollup_stale_until_an_incremental_refresh(app: Gnomon) -> None:
    ctx = app.context()
    before = app.query(["orders"], grain="month", start=date(2025, 12, 1), end=date(2025, 12, 31))
    updates = app.layout.root / "data" / "updates" / "late.ndjson"
    _write_late_orders(updates, count=7)
    [load] = app.ingest.ingest("order_updates", ctx=ctx)
    assert load.status == "succeeded", load
    [status] = app.semantic.rollup_status(ctx=ctx)
    assert status["state"] == "stale"
    stale = app.query(["orders"], grain="month", start=date(2025, 12, 1), end=date(2025, 12, 31))
    assert stale.compiled.sources == {"orders": "silver.orders"}  # never a stale answer
    assert not stale.cached  # the table moved on: the cached answer is not served
    assert stale.table.to_pylist()[0]["orders"] == before.table.to_pylist()[0]["orders"] + 7
    [refreshed] = app.semantic.refresh(ctx=ctx)
    assert refreshed["mode"] == "incremental"
    assert refreshed["recomputed_from"].date() == date(2025, 12, 1)
    assert refreshed["recomputed_to"].date() == date(2026, 1, 1)
    rolled, raw = _both(app, metrics=["orders", "revenue"], by=["region"], grain="month",
                        start=date(2024, 1, 1), end=date(2025, 12, 31))  # fmt: skip
    assert rolled.compiled.sources["orders"].startswith("gold.rollup_orders_day_")
    _same(rolled.table.to_pylist(), raw.table.to_pylist())
    [again] = app.semantic.refresh(ctx=ctx)
    assert again["mode"] == "unchanged"
    # Rows are kept in time order (after the incremental merge too), so a query over a range
    # reads only the row groups whose days overlap it.
    rollup = app.snapshot("gold", rolled.compiled.sources["orders"].split(".", 1)[1])
    assert rollup.files
    for file in rollup.files:
        times = pq.read_table(file, columns=["time"]).column("time").to_pylist()
        assert times == sorted(times)


def _write_late_orders(path: Path, *, count: int) -> None:
    rows = [
        {
            "order_id": f"O9{i:08d}",
            "order_time": f"2025-12-{10 + i:02d} 12:00:00",
            "updated_at": f"2025-12-{10 + i:02d} 12:00:00",
            "region": "EMEA",
            "country": "DE",
            "channel": "web",
            "category": "toys",
            "product": "Kite",
            "customer_id": "C9999999",
            "quantity": 1,
            "unit_price": 10.0,
            "discount": 0.0,
            "status": "placed",
        }
        for i in range(count)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_the_cache_serves_repeats_per_principal_and_only_while_data_is_unchanged(
    app: Gnomon,
) -> None:
    args: dict[str, Any] = {"metrics": ["revenue"], "by": ["channel"], "grain": "quarter",
                            "start": date(2024, 1, 1), "end": date(2024, 12, 31)}  # fmt: skip
    first = app.query(**args)
    second = app.query(**args)
    assert second.cached and second.table.equals(first.table)
    analyst = RequestContext(
        principal=Principal(tenant=app.settings.tenant, user="ann", roles=frozenset({"viewer"}))
    )
    other = app.query(**args, ctx=analyst)
    assert not other.cached  # another principal's policies may differ: computed for it
    assert other.table.equals(first.table)
    assert app.query(**args, use_rollups=False).cached is False


def test_latest_values_and_their_change_agree_with_plain_queries(app: Gnomon) -> None:
    """What rules on KPI values read: the newest day per region, and its weekly change."""
    ctx = app.context()
    rows = app.semantic.latest(
        ["revenue", "average_order_value"],
        by=["region"],
        changes=[("revenue", "week"), ("average_order_value", "month")],
        ctx=ctx,
    )
    assert {r["region"] for r in rows} <= {"EMEA", "AMER", "APAC"} and rows
    day = rows[0]["time"].date()
    assert all(r["time"] == rows[0]["time"] for r in rows)
    assert all(
        r["revenue_target"] == 25000 and r["average_order_value_target"] is None for r in rows
    )

    def window(metric: str, end: date, days: int) -> dict[str, float]:
        start = end - timedelta(days=days - 1)
        found = app.query([metric], by=["region"], start=start, end=end, ctx=ctx).table
        return {r["region"]: r[metric] for r in found.to_pylist()}

    that_day = window("revenue", day, 1)
    now, before = window("revenue", day, 7), window("revenue", day - timedelta(days=7), 7)
    aov_now = window("average_order_value", day, 30)
    aov_before = window("average_order_value", day - timedelta(days=30), 30)

    def change(now: dict[str, float], before: dict[str, float], region: str) -> float | None:
        if not before.get(region) or now.get(region) is None:
            return None
        return (now[region] - before[region]) / abs(before[region])

    for row in rows:
        region = row["region"]
        if region in that_day:
            assert row["revenue"] == pytest.approx(that_day[region])
        else:  # no orders there that day: the time spine's empty bucket
            assert not row["revenue"]
        assert row["pct_change:revenue:week"] == pytest.approx(change(now, before, region))
        assert row["pct_change:average_order_value:month"] == pytest.approx(
            change(aov_now, aov_before, region)
        )
    assert any(row["pct_change:revenue:week"] is not None for row in rows)
    with pytest.raises(MetricQueryError, match="fortnight"):
        app.semantic.latest(["revenue"], changes=[("revenue", "fortnight")], ctx=ctx)
