"""The ``kpi`` detector on the shapes business series take: seasonal, positive, Poisson, yearly.

Series are daily with a weekly cycle (season 7), as a scan of a daily metric judges them.
"""

from typing import Any

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.detect import Detector, PointScore, Scored, detector

WEEK = np.array([1.0, 1.05, 1.1, 1.05, 1.15, 0.8, 0.75])
YEAR = 364
FIELDS = ("score", "flagged", "direction", "expected", "lower", "upper", "severity")


def kpi(**params: Any) -> Detector:
    made = detector("kpi", season=7, **params)
    assert isinstance(made, Detector)
    return made


def level(days: int, base: float = 1000.0) -> np.ndarray:
    """The noiseless series: a level times the weekly profile."""
    return base * WEEK[np.arange(days) % 7]


def revenue(days: int, seed: int, base: float = 1000.0, noise: float = 0.06) -> np.ndarray:
    """A positive seasonal series with multiplicative (log-normal) noise."""
    rng = np.random.default_rng(seed)
    return level(days, base) * np.exp(rng.normal(0.0, noise, days))


def counts(days: int, seed: int, mean: float) -> np.ndarray:
    """Poisson counts around a weekly profile: what a small segment's order count looks like."""
    rng = np.random.default_rng(seed)
    return rng.poisson(level(days, mean)).astype(np.float64)


def flags(scored: Scored) -> set[int]:
    return {int(i) for i in np.flatnonzero(scored.flagged)}


def test_a_spike_is_flagged_up_with_the_seasonal_level_as_expected() -> None:
    values = revenue(400, seed=1)
    at = 300  # a Saturday-like phase: the weekly profile is low there
    values[at] = 1.8 * level(400)[at]
    scored = kpi().score_series(values)
    point = scored.point(at)
    assert point.flagged and point.direction == 1 and point.severity != "none"
    assert point.expected == pytest.approx(level(400)[at], rel=0.08)
    assert point.lower < point.expected < point.upper < values[at]
    assert flags(scored) == {at}


def test_a_drop_to_zero_is_flagged_down_with_a_finite_band() -> None:
    values = revenue(300, seed=2)
    values[250] = 0.0
    point = kpi().score_series(values).point(250)
    assert point.flagged and point.direction == -1
    assert np.isfinite([point.expected, point.lower, point.upper]).all()
    assert point.lower > 0.0


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_noisy_poisson_counts_without_an_event_are_left_alone(seed: int) -> None:
    values = counts(730, seed=seed, mean=12.0)
    scored = kpi().score_series(values)
    assert scored.flagged.sum() <= 1
    assert not np.isnan(scored.expected[-1])


def test_a_slow_decline_is_caught_by_the_level_view() -> None:
    days, start, ramp = 420, 200, 70
    factor = np.ones(days)
    factor[start : start + ramp] = np.linspace(1.0, 0.65, ramp)
    factor[start + ramp :] = 0.65
    values = revenue(days, seed=6) * factor
    with_levels = kpi().score_series(values)
    without = kpi(short=0).score_series(values)
    caught = sorted(flags(with_levels))
    assert caught and start < caught[0] < start + ramp + 21
    assert with_levels.direction[caught[0]] == -1
    assert not flags(without) & set(range(start, days))  # too slow for the one-step view
    assert len(caught) == 1  # one decline, one anomaly


def test_a_yearly_event_is_news_the_first_year_only() -> None:
    days = 2 * YEAR + 60
    values = revenue(days, seed=7)
    first, again = 330, 330 + YEAR
    values[first] *= 2.5
    values[again] *= 2.5
    other = 600  # a spike with no precedent a year before
    values[other] *= 2.5
    scored = kpi().score_series(values)
    assert scored.flagged[first] and scored.direction[first] == 1
    assert not scored.flagged[again]
    assert scored.flagged[other]
    forgetful = kpi(year=0).score_series(values)
    assert forgetful.flagged[again]


def test_a_bigger_event_than_last_year_is_news_by_its_excess() -> None:
    days = YEAR + 200
    values = revenue(days, seed=8)
    values[100] *= 2.0
    values[100 + YEAR] *= 6.0
    scored = kpi().score_series(values)
    assert scored.flagged[100] and scored.flagged[100 + YEAR]


def test_one_event_is_one_detection_and_the_next_event_is_another() -> None:
    values = revenue(400, seed=9)
    values[200:212] *= np.geomspace(0.6, 0.05, 12)  # an outage that deepens for twelve days
    values[300] *= 2.0
    scored = kpi().score_series(values)
    outage = flags(scored) & set(range(200, 240))
    assert outage == {200}
    assert (scored.score[201:212] == 0.0).all()  # the quiet stretch after the flag
    assert scored.flagged[300]


def test_the_tail_model_follows_a_series_that_gets_noisier() -> None:
    values = revenue(700, seed=15)
    values[350:] = revenue(350, seed=16, noise=0.2)
    scored = kpi().score_series(values)
    assert scored.flagged[550:].sum() <= 1
    assert scored.upper[650] - scored.lower[650] > 2 * (scored.upper[300] - scored.lower[300])


def test_update_continues_score_series_exactly() -> None:
    days = YEAR + 220
    values = revenue(days, seed=10)
    values[[90, 150, 150 + YEAR]] *= 2.5
    values[200:230] *= 0.7
    values[40] = np.nan
    values[300] = np.inf
    whole = kpi().score_series(values)
    online = kpi()
    head = online.score_series(values[:250])
    tail: list[PointScore] = [online.update(v) for v in values[250:]]
    rest = Scored.from_points(tail)
    for field in FIELDS:
        joined = np.concatenate([getattr(head, field), getattr(rest, field)])
        np.testing.assert_array_equal(joined, getattr(whole, field), err_msg=field)
    assert whole.flagged.any()


def test_lower_sensitivity_flags_a_subset() -> None:
    days = 800
    values = revenue(days, seed=11)
    for k, at in enumerate(range(120, days, 45)):
        values[at] *= 1.25 + 0.12 * (k % 8)
    found = {s: flags(kpi(sensitivity=s).score_series(values)) for s in ("low", "medium", "high")}
    assert found["low"] <= found["medium"] <= found["high"]
    assert len(found["low"]) < len(found["high"])


def test_changes_below_min_change_are_not_flagged() -> None:
    values = level(400) * np.exp(np.random.default_rng(12).normal(0.0, 0.005, 400))
    values[300] *= 1.08  # sixteen sigmas, but only eight percent
    assert not kpi().score_series(values).flagged[300]
    assert kpi(min_change=0.05).score_series(values).flagged[300]


def test_a_series_with_negative_values_is_judged_on_its_own_scale() -> None:
    rng = np.random.default_rng(13)
    values = 5.0 * np.sin(np.arange(400) * 2 * np.pi / 7) + rng.normal(0.0, 1.0, 400)
    values[300] += 15.0
    scored = kpi().score_series(values)
    assert scored.flagged[300] and scored.direction[300] == 1
    assert kpi(transform="none").params()["transform"] == "none"


def test_params_rebuild_the_same_detector() -> None:
    d = kpi(sensitivity="high", window=90, refractory=3)
    values = revenue(300, seed=14)
    params = d.params()
    assert params["name"] == "kpi" and params["window"] == 90 and params["year"] == YEAR
    np.testing.assert_array_equal(
        detector(**params).score_series(values).score, d.score_series(values).score
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"transform": "sqrt"}, "auto, log, none"),
        ({"alpha": 0.0}, "alpha"),
        ({"gamma": 1.5}, "gamma"),
        ({"window": 10}, "window"),
        ({"min_change": -0.1}, "min_change"),
        ({"refractory": -1}, "refractory"),
        ({"refractory": 2.5}, "refractory"),
        ({"short": 1}, "short"),
        ({"year": 10}, "year"),
        ({"min_history": 5}, "min_history"),
        ({"season": 1}, "season"),
        ({"sensitivity": "extreme"}, "low, medium, high"),
        ({"windw": 90}, "Unknown parameter"),
    ],
)
def test_bad_parameters_are_invalid_input(params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        detector("kpi", **{"season": 7, **params})
