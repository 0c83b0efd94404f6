"""The insight feed: correction, scoring, de-duplication and personalisation."""

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.feed import insight_rows
from gnomon.insights.findings import Insight, InsightKind, MetricFacts
from gnomon.insights.patterns import (
    PatternOptions,
    SeriesInput,
    deduplicate,
    find_insights,
    personalise,
    same_event,
    score_insight,
)

START = np.datetime64("2023-01-02", "us")
DAY0 = date(2023, 1, 2)
WEEK = np.array([0.0, 4.0, 8.0, 10.0, 6.0, -12.0, -16.0])
_MOVES: frozenset[InsightKind] = frozenset(
    {"spike", "drop", "level_shift", "record_high", "record_low"}
)


def daily(
    values: np.ndarray,
    name: str = "revenue",
    *,
    segment: dict[str, str] | None = None,
    share: float | None = None,
    importance: float = 1.0,
) -> SeriesInput:
    times = START + np.arange(values.size) * np.timedelta64(1, "D")
    return SeriesInput(
        MetricFacts(name, importance=importance),
        times,
        values,
        segment=segment or {},
        share_of_total=share,
    )


def weekly_noise(seed: int, length: int = 400, noise: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return 100.0 + WEEK[t % 7] + rng.normal(0.0, noise, length)


def insight(
    kind: str = "spike",
    *,
    metric: str = "revenue",
    segment: dict[str, str] | None = None,
    day: int = 0,
    days: int = 1,
    value: float = 120.0,
    reference: float = 100.0,
    score: float = 0.5,
    p_value: float = 0.001,
) -> Insight:
    return Insight(
        kind=kind,  # type: ignore[arg-type]
        metric=MetricFacts(metric),
        segment=segment or {},
        start=DAY0 + timedelta(days=day),
        end=DAY0 + timedelta(days=day + days - 1),
        value=value,
        reference=reference,
        magnitude=(value - reference) / abs(reference),
        test="t",
        statistic=3.0,
        p_value=p_value,
        score=score,
    )


# ---------------------------------------------------------------- false positives


def test_pure_noise_gives_almost_no_insight() -> None:
    noisy = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        feed = find_insights([daily(100.0 + rng.normal(0.0, 5.0, 400))])
        noisy += bool(feed)
    # The correction bounds the chance of any insight on a pure-noise series near alpha.
    assert noisy <= 3


def test_weekly_seasonality_alone_gives_no_trend_in_the_feed() -> None:
    trends = sum(
        any(one.kind == "trend" for one in find_insights([daily(weekly_noise(seed))]))
        for seed in range(20)
    )
    assert trends <= 1


def test_correction_drops_what_single_tests_would_keep() -> None:
    # Many noise series tested at once: uncorrected, some pass by chance; corrected, fewer.
    series = [daily(weekly_noise(100 + k), f"m{k}") for k in range(20)]
    kinds: frozenset[InsightKind] = frozenset({"spike", "drop", "trend"})
    raw = find_insights(series, options=PatternOptions(correction="none", kinds=kinds))
    corrected = find_insights(series, options=PatternOptions(kinds=kinds))
    assert len(raw) >= 2
    assert len(corrected) < len(raw)
    assert all(one.details["q_value"] >= one.p_value for one in corrected)


# ---------------------------------------------------------------- feed contents


def test_feed_reports_a_spike_with_its_value() -> None:
    values = weekly_noise(3)
    values[-1] += 30.0
    [top, *_] = find_insights([daily(values)])
    assert top.kind == "spike"
    assert top.value == values[-1]
    assert top.start == DAY0 + timedelta(days=399)
    assert 0.0 < top.score <= 1.0


def test_drop_and_level_shift_become_one_insight() -> None:
    values = weekly_noise(11)
    values[390:] -= 15.0  # ten days ago: the last days are drops, and a level shift
    feed = find_insights([daily(values, share=1.0)], options=PatternOptions(kinds=_MOVES))
    assert len(feed) == 1
    [event] = feed
    kinds = {event.kind, *(other["kind"] for other in event.details.get("also", ()))}
    assert {"level_shift", "drop"} <= kinds
    shifts = [event] if event.kind == "level_shift" else []
    shifts += [o for o in event.details.get("also", ()) if o["kind"] == "level_shift"]
    assert any(abs((_start(s) - DAY0).days - 390) <= 2 for s in shifts)
    [row] = insight_rows(feed)
    assert row["q_value"] >= row["p_value"] and row["q_value"] < 0.05
    assert row["share"] == 1.0
    assert {seen["kind"] for seen in row["also"]} == kinds - {event.kind}
    assert all(set(seen) == {"kind", "segment", "start", "end"} for seen in row["also"])


def _start(found: Insight | dict[str, object]) -> date:
    start = found.start if isinstance(found, Insight) else found["start"]
    assert isinstance(start, date)
    return start


def test_segment_and_total_of_one_event_merge() -> None:
    base = weekly_noise(12)
    total = base.copy()
    total[-1] += 40.0
    segment = 0.3 * base
    segment[-1] += 40.0
    feed = find_insights(
        [daily(total, share=1.0), daily(segment, segment={"country": "DE"}, share=0.3)],
        options=PatternOptions(kinds=frozenset({"spike", "drop"})),
    )
    assert len(feed) == 1
    assert feed[0].segment == {}  # the total scores higher (share 1)
    assert feed[0].details["also"][0]["segment"] == {"country": "DE"}


def test_new_record_is_reported() -> None:
    rng = np.random.default_rng(13)
    values = 100.0 + rng.normal(0.0, 2.0, 300)
    values[-1] = values[:-1].max() + 12.0
    feed = find_insights([daily(values)])
    kinds = {(one.kind, *(o["kind"] for o in one.details.get("also", ()))) for one in feed}
    assert any("record_high" in group for group in kinds)


def test_correlation_break_in_the_feed() -> None:
    rng = np.random.default_rng(14)
    common = rng.normal(0.0, 1.0, 400)
    own = common.copy()
    own[344:] = rng.normal(0.0, 1.0, 56)
    a = daily(100.0 + np.cumsum(common + rng.normal(0.0, 0.3, 400)), "sessions")
    b = daily(50.0 + np.cumsum(own + rng.normal(0.0, 0.3, 400)), "orders")
    options = PatternOptions(kinds=frozenset({"correlation_broke", "correlation_appeared"}))
    [broke] = find_insights([a, b], options=options)
    assert broke.kind == "correlation_broke"
    assert {broke.metric.name, broke.other_metric.name if broke.other_metric else ""} == {
        "sessions",
        "orders",
    }


# ---------------------------------------------------------------- scoring


def test_recent_and_big_rank_above_old_and_small() -> None:
    big = insight(value=150.0)
    small = insight(value=105.0)
    assert score_insight(big, age=0, share=None) > score_insight(small, age=0, share=None)
    assert score_insight(big, age=0, share=None) > score_insight(big, age=14, share=None)
    # One half-life halves the score.
    assert score_insight(big, age=7, share=None) == pytest.approx(
        score_insight(big, age=0, share=None) / 2
    )
    assert score_insight(big, age=0, share=1.0) > score_insight(big, age=0, share=0.05)
    important = replace(big, metric=MetricFacts("revenue", importance=3.0))
    assert score_insight(important, age=0, share=0.2) > score_insight(big, age=0, share=0.2)
    assert 0.0 <= score_insight(insight(value=1e9), age=0, share=None) <= 1.0


def test_feed_orders_recent_big_before_old_small() -> None:
    recent = weekly_noise(15)
    recent[-1] += 60.0
    old = weekly_noise(16)
    old[-3] += 15.0
    feed = find_insights(
        [daily(old, "orders"), daily(recent, "revenue")],
        options=PatternOptions(kinds=frozenset({"spike"})),
    )
    assert [one.metric.name for one in feed][:2] == ["revenue", "orders"]
    assert feed[0].score > feed[1].score


# ---------------------------------------------------------------- de-duplication


def test_same_event_rules() -> None:
    drop = insight("drop", day=10, value=80.0)
    shift = insight("level_shift", day=8, days=5, value=85.0)
    assert same_event(drop, shift)
    assert not same_event(drop, insight("level_shift", day=8, days=5, value=120.0))
    assert not same_event(drop, insight("drop", day=20, value=80.0))
    assert same_event(drop, insight("drop", day=11, value=80.0), gap=timedelta(days=1))
    assert not same_event(drop, insight("drop", day=12, value=80.0), gap=timedelta(days=1))
    parent = insight("drop", day=10, value=80.0, segment={"country": "DE"})
    child = insight("drop", day=10, value=80.0, segment={"country": "DE", "channel": "web"})
    sibling = insight("drop", day=10, value=80.0, segment={"country": "FR"})
    assert same_event(parent, child)
    assert not same_event(child, sibling)
    assert not same_event(drop, insight("drop", metric="orders", day=10, value=80.0))
    trend = insight("trend", day=0, days=20, value=70.0)
    assert same_event(trend, shift)
    assert not same_event(trend, drop)


def test_deduplicate_keeps_the_best_scored_and_mentions_the_rest() -> None:
    drop = insight("drop", day=10, value=80.0, score=0.4)
    shift = insight("level_shift", day=8, days=5, value=85.0, score=0.6)
    unrelated = insight("spike", metric="orders", day=3, score=0.5)
    kept = deduplicate([drop, unrelated, shift])
    assert [one.kind for one in kept] == ["level_shift", "spike"]
    assert [other["kind"] for other in kept[0].details["also"]] == ["drop"]
    assert "also" not in kept[1].details


# ---------------------------------------------------------------- personalisation


def test_personalise_puts_owned_metrics_first() -> None:
    feed = [
        insight(metric="revenue", score=0.9),
        insight(metric="orders", score=0.5),
        insight(metric="churn", score=0.7),
    ]
    ordered = personalise(feed, role=None, owned={"orders"})
    assert [one.metric.name for one in ordered] == ["orders", "revenue", "churn"]


def test_executive_sees_top_totals_and_big_moves() -> None:
    feed = [
        insight(metric="revenue", score=0.9),
        insight(metric="revenue", segment={"country": "DE"}, score=0.95),
        insight(metric="orders", value=101.0, score=0.8),  # a 1 % move
        insight("seasonality_change", metric="visits", score=0.85),
        *[insight(metric=f"m{k}", score=0.1 + k / 100) for k in range(12)],
    ]
    shown = personalise(feed, role="executive", owned=())
    assert len(shown) == 10
    assert shown[0].metric.name == "revenue"
    assert all(not one.segment for one in shown)
    assert all(one.kind != "seasonality_change" for one in shown)
    assert "orders" not in {one.metric.name for one in shown}
    analyst = personalise(feed, role="analyst", owned=())
    assert len(analyst) == len(feed)
    assert analyst[0].segment == {"country": "DE"}


def test_manager_sees_shallow_segments_without_technical_kinds() -> None:
    feed = [
        insight(segment={"country": "DE"}, score=0.9),
        insight(segment={"country": "DE", "channel": "web"}, score=0.8),
        insight("correlation_broke", score=0.7),
    ]
    shown = personalise(feed, role="manager", owned=())
    assert [dict(one.segment) for one in shown] == [{"country": "DE"}]


def test_unknown_role_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Unknown role 'ceo'") as caught:
        personalise([], role="ceo", owned=())
    assert "executive" in (caught.value.hint or "")
