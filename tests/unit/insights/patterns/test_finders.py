"""Pattern finders and their tests, on synthetic daily series with a seeded rng."""

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.findings import MetricFacts
from gnomon.insights.patterns import (
    PatternOptions,
    SeriesInput,
    adjust,
    find_correlation_changes,
    find_level_shifts,
    find_records,
    find_seasonality_change,
    find_spikes,
    find_trend,
)
from gnomon.insights.patterns.significance import mann_kendall, sens_slope, welch_t_test

START = np.datetime64("2023-01-02", "us")  # a Monday
WEEK = np.array([0.0, 4.0, 8.0, 10.0, 6.0, -12.0, -16.0])


def daily(values: np.ndarray, name: str = "revenue", **extra: object) -> SeriesInput:
    times = START + np.arange(values.size) * np.timedelta64(1, "D")
    return SeriesInput(MetricFacts(name), times, values, **extra)  # type: ignore[arg-type]


def weekly_noise(seed: int, length: int = 400, noise: float = 2.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return 100.0 + WEEK[t % 7] + rng.normal(0.0, noise, length)


# ---------------------------------------------------------------- significance


def test_bh_matches_hand_computation() -> None:
    # m = 4, sorted p: 0.01, 0.03, 0.04, 0.5 -> p*m/rank: 0.04, 0.06, 0.0533, 0.5, then the
    # running minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
    q = adjust([0.04, 0.5, 0.01, 0.03], "bh")
    assert q == pytest.approx([0.16 / 3, 0.5, 0.04, 0.16 / 3])
    assert adjust([0.01, 0.3], "bonferroni") == pytest.approx([0.02, 0.6])
    assert adjust([0.01, 0.3], "none") == pytest.approx([0.01, 0.3])


def test_mann_kendall_without_ties_matches_the_textbook_variance() -> None:
    values = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 6.0])
    # 15 pairs, one discordant (4 > 3): S = 13; var = 6*5*17/18 = 28.33; Z = 12/sqrt(28.33).
    result = mann_kendall(values, persistence=0.0)
    assert result.statistic == pytest.approx(12 / math.sqrt(6 * 5 * 17 / 18))
    assert result.p_value == pytest.approx(math.erfc(result.statistic / math.sqrt(2)))


def test_sens_slope_ignores_an_outlier() -> None:
    values = 3.0 + 0.5 * np.arange(20.0)
    values[7] = 100.0
    slope, intercept = sens_slope(values)
    assert slope == pytest.approx(0.5)
    assert intercept == pytest.approx(3.0)


def test_welch_t_test_against_known_values() -> None:
    before = np.array([1.0, 2.0, 3.0, 4.0])
    after = np.array([3.0, 4.0, 5.0, 6.0, 7.0])
    # means 2.5 and 5; variances 5/3 and 2.5: se² = 5/12 + 0.5; t = 2.5 / sqrt(11/12).
    result = welch_t_test(before, after)
    assert result.statistic == pytest.approx(2.5 / math.sqrt(11 / 12))
    assert 0.01 < result.p_value < 0.05
    inflated = welch_t_test(before, after, inflation=4.0)
    assert inflated.statistic == pytest.approx(result.statistic / 2)
    assert inflated.p_value > result.p_value


# ---------------------------------------------------------------- trend


def test_linear_trend_under_weekly_seasonality_is_found() -> None:
    t = np.arange(400)
    values = weekly_noise(1) + 0.15 * t
    [trend] = find_trend(daily(values))
    assert trend.kind == "trend"
    assert trend.p_value < 0.01
    assert trend.statistic > 0
    assert trend.details["slope"] == pytest.approx(0.15, abs=0.05)
    assert trend.magnitude > 0
    assert trend.end == date(2023, 1, 2) + timedelta(days=399)


def test_trend_needs_the_season_removed() -> None:
    # Without de-seasonalising, the weekly swing drowns a trend the seasonal reading finds.
    values = weekly_noise(2) + 0.15 * np.arange(400)
    seasonal = find_trend(daily(values))[0]
    plain = find_trend(daily(values, season=0))[0]
    assert seasonal.p_value < 0.01
    assert plain.p_value > seasonal.p_value * 1000


def test_weekly_seasonality_alone_gives_no_trend() -> None:
    p_values = [find_trend(daily(weekly_noise(seed)))[0].p_value for seed in range(20)]
    assert sum(p < 0.05 for p in p_values) <= 2


# ---------------------------------------------------------------- spikes, records


def test_spike_on_the_last_day() -> None:
    values = weekly_noise(3)
    values[-1] += 30.0
    found = find_spikes(daily(values))
    last = [one for one in found if one.start == date(2023, 1, 2) + timedelta(days=399)]
    assert [one.kind for one in last] == ["spike"]
    spike = last[0]
    assert spike.value == values[-1]
    # Expected: the same weekday in the previous weeks, about 100 + WEEK[399 % 7].
    assert spike.reference == pytest.approx(100.0 + WEEK[399 % 7], abs=2.0)
    assert spike.p_value < 1e-6
    others = [one for one in found if one is not spike]
    assert all(one.p_value > 1e-3 for one in others)


def test_drop_is_negative() -> None:
    values = weekly_noise(4)
    values[-1] -= 30.0
    [drop] = [one for one in find_spikes(daily(values)) if one.p_value < 1e-6]
    assert drop.kind == "drop"
    assert drop.magnitude < -0.2


def test_new_record_high() -> None:
    rng = np.random.default_rng(5)
    values = 100.0 + rng.normal(0.0, 2.0, 300)
    previous = int(np.argmax(values[:-1]))
    values[-1] = values[previous] + 12.0
    [record] = find_records(daily(values, season=0))
    assert record.kind == "record_high"
    assert record.reference == values[previous]
    assert record.details["previous_at"] == date(2023, 1, 2) + timedelta(days=previous)
    assert record.statistic == pytest.approx(6.0, rel=0.25)  # 12 over a noise level of ~2
    assert record.p_value < 1e-4


def test_no_record_when_the_latest_value_is_not_beyond_every_earlier_one() -> None:
    rng = np.random.default_rng(6)
    values = 100.0 + rng.normal(0.0, 2.0, 300)
    values[-1] = values[:-1].max() - 0.01
    assert find_records(daily(values, season=0)) == []


# ---------------------------------------------------------------- level shift


def test_level_shift_near_the_right_bucket() -> None:
    values = weekly_noise(7)
    values[360:] -= 12.0
    found = [one for one in find_level_shifts(daily(values)) if one.p_value < 0.01]
    assert len(found) == 1
    shift = found[0]
    assert isinstance(shift.start, date)
    assert abs((shift.start - date(2023, 1, 2)).days - 360) <= 2
    assert shift.value is not None
    assert shift.reference is not None
    assert shift.value - shift.reference == pytest.approx(-12.0, abs=2.0)
    assert shift.end == date(2023, 1, 2) + timedelta(days=399)


def test_level_shift_p_value_pays_for_the_search() -> None:
    values = weekly_noise(8)
    values[370:] += 6.0
    [shift] = find_level_shifts(daily(values))
    # The search tried every position leaving min_segment buckets on each side.
    assert shift.details["positions_searched"] == 120 - 2 * 7 + 1
    assert 0.0 < shift.p_value < 1.0
    assert shift.p_value / shift.details["p_single"] == pytest.approx(120 - 2 * 7 + 1)


# ---------------------------------------------------------------- seasonality


def test_seasonality_change_found_when_the_week_turns_over() -> None:
    rng = np.random.default_rng(9)
    t = np.arange(280)
    shape = np.where(t >= 238, -WEEK[t % 7], WEEK[t % 7])  # the last six weeks inverted
    values = 100.0 + shape + rng.normal(0.0, 2.0, t.size)
    [change] = find_seasonality_change(daily(values))
    assert change.p_value < 1e-6
    assert change.start == date(2023, 1, 2) + timedelta(days=238)
    assert change.magnitude == pytest.approx(2.0, abs=0.3)  # |new - old| / |old| with new = -old


def test_stable_seasonality_is_not_a_change() -> None:
    p_values = [find_seasonality_change(daily(weekly_noise(s)))[0].p_value for s in range(20)]
    assert sum(p < 0.05 for p in p_values) <= 2


def test_no_seasonality_test_without_a_season_or_history() -> None:
    assert find_seasonality_change(daily(weekly_noise(1), season=0)) == []
    assert find_seasonality_change(daily(weekly_noise(1, length=60))) == []


# ---------------------------------------------------------------- correlation


def _pair(seed: int, *, break_at: int | None) -> tuple[SeriesInput, SeriesInput]:
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 1.0, 400)
    own = common.copy()
    if break_at is not None:
        own[break_at:] = rng.normal(0.0, 1.0, 400 - break_at)
    a = 100.0 + np.cumsum(common + rng.normal(0.0, 0.3, 400))
    b = 50.0 + np.cumsum(own + rng.normal(0.0, 0.3, 400))
    return daily(a, "sessions"), daily(b, "orders")


def test_correlation_that_breaks() -> None:
    [broke] = find_correlation_changes(_pair(10, break_at=344))
    assert broke.kind == "correlation_broke"
    assert broke.metric.name == "sessions"
    assert broke.other_metric is not None
    assert broke.other_metric.name == "orders"
    assert broke.reference is not None
    assert broke.value is not None
    assert broke.reference > 0.8
    assert abs(broke.value) < 0.35
    assert broke.p_value < 1e-6
    assert broke.start == date(2023, 1, 2) + timedelta(days=344)


def test_stable_correlation_is_not_a_change() -> None:
    p_values = [find_correlation_changes(_pair(s, break_at=None))[0].p_value for s in range(10)]
    assert min(p_values) > 0.01


# ---------------------------------------------------------------- inputs


def test_series_from_dates_and_aware_datetimes() -> None:
    days = [date(2024, 3, 1) + timedelta(days=i) for i in range(3)]
    as_dates = SeriesInput(MetricFacts("m"), days, [1.0, 2.0, 3.0])
    assert as_dates.as_dates
    assert as_dates.period == 7
    assert as_dates.moment(2) == date(2024, 3, 3)
    hours = [datetime(2024, 3, 1, h, tzinfo=UTC) for h in range(3)]
    as_hours = SeriesInput(MetricFacts("m"), hours, [1.0, 2.0, 3.0])
    assert not as_hours.as_dates
    assert as_hours.period == 24
    assert as_hours.moment(1) == datetime(2024, 3, 1, 1)


def test_bad_inputs_raise_with_a_hint() -> None:
    with pytest.raises(InvalidInput, match="2 times but 3 values") as caught:
        SeriesInput(MetricFacts("m"), [date(2024, 1, 1), date(2024, 1, 2)], [1.0, 2.0, 3.0])
    assert caught.value.hint
    with pytest.raises(InvalidInput, match="not strictly ascending"):
        SeriesInput(MetricFacts("m"), [date(2024, 1, 2), date(2024, 1, 1)], [1.0, 2.0])
    with pytest.raises(InvalidInput, match="alpha"):
        PatternOptions(alpha=1.5)
    with pytest.raises(InvalidInput, match="Unknown insight kinds: bump"):
        PatternOptions(kinds=frozenset({"bump"}))  # type: ignore[arg-type]


def test_one_shared_jump_does_not_make_a_correlation() -> None:
    # Two unrelated metrics that both drop on the same day: a drop each, not a new tie.
    rng = np.random.default_rng(17)
    a, b = 100.0 + rng.normal(0.0, 2.0, (2, 400))
    a[385:] -= 30.0
    b[385:] -= 30.0
    found = find_correlation_changes([daily(a, "sessions"), daily(b, "orders")])
    assert all(one.p_value > 0.01 for one in found)
