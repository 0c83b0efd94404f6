"""Conformal prediction intervals: nested, widening with the horizon, and honest in coverage."""

import math

import numpy as np
import pytest

from gnomon.insights.forecast import Series, forecast
from gnomon.insights.forecast.intervals import calibrate


def daily(values: np.ndarray, seasonality: tuple[int, ...] = ()) -> Series:
    times = np.datetime64("2023-01-02", "us") + np.arange(len(values)) * np.timedelta64(1, "D")
    return Series(times, values, "day", seasonality=seasonality)


def test_bands_of_a_random_walk_widen_with_the_horizon_and_nest() -> None:
    rng = np.random.default_rng(17)
    walk = 200 + np.cumsum(rng.normal(0, 1, 300))
    result = forecast(daily(walk), 60, models=["theta"], levels=(80, 95))
    lo80, hi80 = result.intervals[80]
    lo95, hi95 = result.intervals[95]
    assert np.all(lo95 <= lo80) and np.all(lo80 <= result.mean)
    assert np.all(result.mean <= hi80) and np.all(hi80 <= hi95)
    width = hi80 - lo80
    assert np.all(np.diff(width) >= 0)
    assert width[-1] > 3 * width[0]
    assert result.params()["intervals"]["growth"] > 0.3


def test_bands_hold_about_their_level_of_future_values_on_simulated_series() -> None:
    rng = np.random.default_rng(2024)
    n, h = 160, 20
    inside: dict[int, list[float]] = {80: [], 95: []}
    for _ in range(40):
        noise = rng.normal(0, 1, n + h)
        values = np.empty(n + h)
        values[0] = noise[0]
        for t in range(1, n + h):
            values[t] = 0.5 * values[t - 1] + noise[t]
        values += 50
        result = forecast(daily(values[:n]), h, models=["ets"])
        for level, (lower, upper) in result.intervals.items():
            future = values[n:]
            inside[level].append(float(np.mean((future >= lower) & (future <= upper))))
    assert 0.74 <= np.mean(inside[80]) <= 0.88
    assert 0.91 <= np.mean(inside[95]) <= 0.99


def test_quantiles_are_the_conformal_rank_widened_for_the_number_of_windows() -> None:
    rng = np.random.default_rng(0)
    errors = rng.normal(0, 1, (3, 40))
    bands = calibrate(errors, (50, 80, 95))
    scores = np.sort(np.abs(errors).ravel() / np.tile(np.arange(1, 41.0) ** bands.growth, 3))
    for level in (50, 80, 95):
        rank = math.ceil(121 * level / 100)
        assert bands.quantiles[level] == pytest.approx(scores[rank - 1] * math.sqrt(4 / 3))
