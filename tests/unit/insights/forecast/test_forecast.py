import json
from typing import Any

import holidays
import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.forecast import MODELS, Series, backtest, forecast

Case = tuple[Series, np.ndarray]


def daily(values: Any, start: str = "2023-01-02") -> Series:
    times = np.datetime64(start, "us") + np.arange(len(values)) * np.timedelta64(1, "D")
    return Series(times, np.asarray(values, dtype=np.float64), "day")


def mae(a: Any, b: Any) -> float:
    return float(np.mean(np.abs(np.asarray(a) - np.asarray(b))))


@pytest.fixture(scope="module")
def naive_error(seasonal_trend: Case) -> float:
    series, future = seasonal_trend
    return mae(forecast(series, 28, models=["seasonal_naive"]).mean, future)


@pytest.mark.parametrize("model", ["ets", "arima", "theta", "mstl"])
def test_statistical_models_beat_seasonal_naive_on_a_trending_season(
    model: str, seasonal_trend: Case, naive_error: float
) -> None:
    series, future = seasonal_trend
    result = forecast(series, 28, models=[model])
    assert result.model == model
    assert mae(result.mean, future) < 0.6 * naive_error
    assert result.backtest[model]["mase"] < 1.0


def test_lightgbm_learns_a_noisy_season_better_than_repeating_last_week() -> None:
    rng = np.random.default_rng(11)
    t = np.arange(280)
    values = 50 + np.array([0, 3, 6, 9, 5, -10, -13])[t % 7] + rng.normal(0, 2.0, len(t))
    series, future = daily(values[:252]), values[252:]
    boosted = forecast(series, 28, models=["lightgbm"])
    naive = forecast(series, 28, models=["seasonal_naive"])
    assert mae(boosted.mean, future) < 0.85 * mae(naive.mean, future)


@pytest.mark.parametrize("model", ["ets", "arima", "theta"])
def test_models_beat_naive_on_a_pure_trend(model: str, trend_only: Case) -> None:
    series, future = trend_only
    naive = mae(forecast(series, 5, models=["seasonal_naive"]).mean, future)
    assert mae(forecast(series, 5, models=[model]).mean, future) < 0.3 * naive


def test_selection_keeps_seasonal_naive_on_an_exactly_repeating_season() -> None:
    pattern = np.array([10.0, 14.0, 13.0, 12.0, 15.0, 4.0, 3.0])
    result = forecast(daily(np.tile(pattern, 16)), 14)
    assert result.model == "seasonal_naive"
    assert result.mean == pytest.approx(np.tile(pattern, 2))
    assert result.backtest["seasonal_naive"]["mase"] == 0.0
    assert set(result.backtest) >= {"seasonal_naive", "ets", "theta", "mstl"}


def test_selection_moves_off_naive_on_a_trend_and_records_its_choice(trend_only: Case) -> None:
    series, _ = trend_only
    result = forecast(series, 5, models=["seasonal_naive", "ets", "theta", "ensemble"])
    assert result.model != "seasonal_naive"
    assert set(result.members) <= {"ets", "theta"}
    naive = result.backtest["seasonal_naive"]["mase"]
    assert all(result.backtest[m]["mase"] < 0.5 * naive for m in result.members)
    params = result.params()
    json.dumps(params, allow_nan=False)
    assert params["model"] == result.model
    assert params["selection"]["ranking"][0] in result.members
    assert params["selection"]["backtest"]["windows"] == 3
    assert params["versions"]["statsforecast"]
    again = forecast(series, **params["arguments"])
    assert again.mean == pytest.approx(result.mean)
    assert again.model == result.model


def test_intervals_nest_and_cover_about_their_level_on_noise() -> None:
    rng = np.random.default_rng(2024)
    values = 10 + rng.normal(0, 1, 390)
    result = forecast(daily(values[:300]), 90, models=["ets"], levels=(80, 95))
    lo80, hi80 = result.intervals[80]
    lo95, hi95 = result.intervals[95]
    assert np.all(lo95 <= lo80) and np.all(lo80 <= result.mean)
    assert np.all(result.mean <= hi80) and np.all(hi80 <= hi95)
    future = values[300:]
    inside80 = np.mean((future >= lo80) & (future <= hi80))
    inside95 = np.mean((future >= lo95) & (future <= hi95))
    assert 0.6 <= inside80 <= 0.97
    assert inside95 >= 0.85
    assert 0.5 <= result.backtest["ets"]["coverage_80"] <= 1.0


def test_forecast_times_continue_month_ends_and_weeks() -> None:
    ends = np.array(
        [np.datetime64(f"2022-{m:02d}", "M") + 1 for m in range(1, 13)], dtype="datetime64[M]"
    ).astype("datetime64[D]") - np.timedelta64(1, "D")
    series = Series(ends, np.arange(12.0) + 1, "month")
    result = forecast(series, 3, models=["seasonal_naive"])
    assert [str(t)[:10] for t in result.times] == ["2023-01-31", "2023-02-28", "2023-03-31"]
    weeks = np.datetime64("2024-01-01", "us") + np.arange(20) * np.timedelta64(7, "D")
    weekly = forecast(Series(weeks, np.arange(20.0), "week"), 2, models=["seasonal_naive"])
    assert [str(t)[:10] for t in weekly.times] == ["2024-05-20", "2024-05-27"]


@pytest.mark.parametrize("model", ["arima", "lightgbm"])
def test_a_series_driven_by_a_regressor_is_forecast_better_with_it(model: str) -> None:
    rng = np.random.default_rng(5)
    driver = rng.uniform(0, 4, 230)
    values = 20 + 5 * driver + rng.normal(0, 0.3, 230)
    series, future = daily(values[:200]), values[200:]
    with_it = forecast(
        series,
        30,
        models=[model],
        exog={"price": driver[:200]},
        future_exog={"price": driver[200:]},
    )
    without = forecast(series, 30, models=[model])
    assert mae(with_it.mean, future) < 0.5 * mae(without.mean, future)
    assert with_it.params()["regressors"] == ["price"]


def test_holidays_of_the_given_country_shape_the_boosted_forecast() -> None:
    times = np.arange("2022-01-01", "2024-07-31", dtype="datetime64[D]")
    us = holidays.country_holidays("US", years=range(2022, 2025))
    values = 100 + np.random.default_rng(1).normal(0, 1, len(times))
    values[[t.item() in us for t in times]] -= 40
    series = Series(times[:-30], values[:-30], "day")
    result = forecast(series, 30, models=["lightgbm"], country="us")
    by_day = {str(t)[:10]: v for t, v in zip(result.times, result.mean, strict=True)}
    assert by_day["2024-07-04"] < by_day["2024-07-03"] - 25
    assert result.params()["arguments"]["country"] == "US"
    blind = forecast(series, 30, models=["lightgbm"])
    assert blind.mean[3] > result.mean[3] + 25


def test_gaps_are_filled_for_fitting_and_left_out_of_scoring(seasonal_trend: Case) -> None:
    series, _ = seasonal_trend
    values = series.values.copy()
    values[[50, 51, 200, 205]] = np.nan
    values[:3] = np.nan
    gappy = Series(series.times, values, "day")
    result = forecast(gappy, 7, models=["theta"])
    assert np.isfinite(result.mean).all()
    assert np.isfinite(result.backtest["theta"]["mase"])
    assert result.params()["history"]["observed"] == len(values) - 7


def test_a_very_short_series_still_gets_a_forecast() -> None:
    result = forecast(daily([3.0, 4.0, 5.0, 6.0, 7.0]), 3)
    assert len(result) == 3
    assert np.isfinite(result.mean).all()
    assert result.model in MODELS


def test_backtest_scores_one_model_or_an_ensemble_of_named_members(seasonal_trend: Case) -> None:
    series, _ = seasonal_trend
    single = backtest(series, "theta", 14, 2)
    assert set(single) >= {"smape", "mase", "coverage", "coverage_80", "coverage_95"}
    assert single["windows"] == 2.0
    pair = backtest(series, ("theta", "seasonal_naive"), 14, 2)
    assert pair["mase"] != single["mase"]
    with pytest.raises(InvalidInput, match="members"):
        backtest(series, "ensemble", 14)


def test_mstl_refuses_a_series_without_a_season(trend_only: Case) -> None:
    series, _ = trend_only
    with pytest.raises(InvalidInput, match="none can be fitted"):
        forecast(series, 3, models=["mstl"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "between 1 and 90"),
        ({"horizon": 91}, "between 1 and 90"),
        ({"horizon": 2.5}, "whole number"),
        ({"models": ["prophet"]}, "unknown name"),
        ({"models": []}, "empty"),
        ({"levels": (80, 100)}, "1 to 99"),
        ({"backtest_windows": 0}, "backtest_windows"),
        ({"exog": np.ones(40)}, "without future_exog"),
        ({"exog": np.ones(39), "future_exog": np.ones(3)}, "expected 40 rows"),
        ({"exog": np.ones(40), "future_exog": np.ones((3, 2))}, "column"),
        ({"exog": np.r_[np.ones(39), np.nan], "future_exog": np.ones(3)}, "missing"),
        ({"exog": {"a": np.ones(40)}, "future_exog": {"b": np.ones(3)}}, "differ"),
        ({"country": "Atlantis"}, "holiday calendar"),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(
    kwargs: dict[str, Any], message: str, trend_only: Case
) -> None:
    series, _ = trend_only
    arguments = {"horizon": 3, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        forecast(series, **arguments)


def test_a_non_series_is_refused() -> None:
    with pytest.raises(InvalidInput, match="expected a Series"):
        forecast([1.0, 2.0, 3.0], 2)  # type: ignore[arg-type]


def test_automatic_selection_keeps_only_the_models_that_use_a_driving_regressor() -> None:
    rng = np.random.default_rng(5)
    driver = rng.uniform(0, 4, 230)
    values = 20 + 5 * driver + rng.normal(0, 0.3, 230)
    result = forecast(
        daily(values[:200]), 30, exog=driver[:200, None], future_exog=driver[200:, None]
    )
    assert set(result.backtest) >= {"seasonal_naive", "ets", "theta", "lightgbm", "arima"}
    assert result.members and set(result.members) <= {"arima", "lightgbm"}
    assert mae(result.mean, values[200:]) < 1.0
