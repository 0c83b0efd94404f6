"""Each built-in model on its own, through the protocol the selection uses."""

import numpy as np
import pytest

from gnomon.insights.forecast import MODELS, Forecaster, ForecasterContext, History, Horizon
from gnomon.insights.forecast.factory import build, known_models
from gnomon.insights.forecast.forecasters.boosting import LightGbm
from gnomon.insights.forecast.forecasters.naive import SeasonalNaive


def days(n: int, start: str = "2024-01-01") -> np.ndarray:
    return np.datetime64(start, "us") + np.arange(n) * np.timedelta64(1, "D")


def history(values: np.ndarray, exog: np.ndarray | None = None) -> History:
    return History(np.asarray(values, dtype=np.float64), days(len(values)), exog)


def after(length: int, steps: int, exog: np.ndarray | None = None) -> Horizon:
    return Horizon(days(length + steps)[length:], exog)


def test_seasonal_naive_repeats_the_last_cycle_exactly() -> None:
    model = SeasonalNaive(ForecasterContext(grain="day", periods=(7,)))
    values = np.arange(21.0) ** 2
    model.fit(history(values))
    assert model.predict(after(21, 10)).tolist() == [*values[-7:], *values[-7:-4]]
    longer = np.r_[values, 1.0, 2.0]
    assert model.forward(history(longer), after(23, 3)).tolist() == longer[-7:-4].tolist()


def test_seasonal_naive_is_plain_naive_without_two_cycles() -> None:
    model = SeasonalNaive(ForecasterContext(grain="day", periods=(7,)))
    model.fit(history(np.array([4.0, 8.0, 1.0, 9.0, 5.0, 6.0, 2.0, 3.0, 7.0])))
    assert model.predict(after(9, 4)).tolist() == [7.0, 7.0, 7.0, 7.0]


@pytest.mark.parametrize("name", [m for m in MODELS if m != "ensemble"])
def test_every_built_in_follows_the_protocol(name: str) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(120)
    values = 30 + 0.2 * t + np.array([0, 2, 4, 6, 3, -7, -8])[t % 7] + rng.normal(0, 0.5, 120)
    model = build(name, ForecasterContext(grain="day", periods=(7,)))
    assert isinstance(model, Forecaster)
    assert model.name == name
    assert model.suits(100)
    assert model.suits(2) == (name == "seasonal_naive")
    model.fit(history(values[:100]))
    first = model.predict(after(100, 10))
    assert first.shape == (10,) and np.isfinite(first).all()
    later = model.forward(history(values[:110]), after(110, 10))
    assert later.shape == (10,) and np.isfinite(later).all()
    assert np.mean(np.abs(later - values[110:])) < 3.0
    assert name in known_models()


def test_boosting_differences_a_wandering_level_but_not_a_strong_season() -> None:
    rng = np.random.default_rng(4)
    model = LightGbm(ForecasterContext(grain="day", periods=(7,)))
    walk = np.cumsum(rng.normal(0, 1, 200)) + 100
    assert model.differenced(history(walk))
    t = np.arange(200)
    season = 100 + 20 * np.array([0, 1, 2, 3, 2, -4, -4])[t % 7] + rng.normal(0, 1, 200)
    assert not model.differenced(history(season))
    assert not model.differenced(history(walk, exog=np.ones((200, 1))))
    assert model.lags(200) == [1, 2, 3, 6, 7, 8, 14]


def test_boosting_forecast_follows_the_future_regressor() -> None:
    rng = np.random.default_rng(8)
    driver = rng.uniform(0, 1, 160)
    values = 10 + 8 * driver + rng.normal(0, 0.2, 160)
    model = LightGbm(ForecasterContext(grain="day", periods=()))
    model.fit(history(values[:150], exog=driver[:150, None]))
    low = model.predict(after(150, 10, exog=np.full((10, 1), 0.1)))
    high = model.predict(after(150, 10, exog=np.full((10, 1), 0.9)))
    assert np.all(high - low > 4.0)
