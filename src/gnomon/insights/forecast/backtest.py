"""Rolling-origin backtests: how a model would have done over the last few horizons.

The last ``windows x h`` points are cut into consecutive windows of ``h``. A model is fitted once
on everything before the first window, then forecasts each window from all the points before it
with those parameters (rolling origin without re-estimation): the fitting cost is paid once, not
per window, and each window still sees the latest data, as the live forecast does.

A series too short for ``windows`` full horizons is backtested over a shorter horizon (never
shorter than one point) and, if need be, fewer windows, keeping enough points to fit on.
Scores: sMAPE and MASE over the held-out values (MASE scaled by the seasonal naive error of each
window's own past), and interval coverage with each window's bands calibrated on the other
windows' errors, so coverage is measured out of sample too.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.forecast._prepare import (
    Prepared,
    as_names,
    check_horizon,
    check_levels,
    check_windows,
    prepare,
)
from gnomon.insights.forecast.factory import ENSEMBLE, build
from gnomon.insights.forecast.grains import usable_periods
from gnomon.insights.forecast.intervals import calibrate
from gnomon.insights.forecast.metrics import coverage, mase_scale, smape
from gnomon.insights.forecast.models import Series
from gnomon.insights.forecast.protocols import Forecaster, History, Horizon

__all__ = ["Plan", "Trial", "backtest", "plan_windows", "run_model", "score"]

MIN_TRAIN = 8
"""Points a first window wants before it (fewer only when the series has no more)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Where the backtest windows start and how long they are.

    Attributes:
        origins: index of each window's first point (the model sees the points before it).
        horizon: points per window.
        period: the MASE seasonal period.
    """

    origins: tuple[int, ...]
    horizon: int
    period: int

    @property
    def first(self) -> int:
        """How many points the model is fitted on."""
        return self.origins[0]


@dataclass(frozen=True, slots=True)
class Trial:
    """One model's backtest: its forecasts for each window (windows x horizon)."""

    forecasts: np.ndarray


def plan_windows(length: int, horizon: int, windows: int, periods: tuple[int, ...]) -> Plan:
    """Lay ``windows`` windows of up to ``horizon`` points at the end of ``length`` points."""
    usable = usable_periods(periods, length)
    wanted = max(MIN_TRAIN, 2 * usable[0]) if usable else MIN_TRAIN
    min_train = max(2, min(wanted, length // 2))
    step = min(horizon, max(1, (length - min_train) // windows))
    count = min(windows, max(1, (length - min_train) // step))
    origins = tuple(length - (count - k) * step for k in range(count))
    period = _mase_period(periods, origins[0])
    return Plan(origins=origins, horizon=step, period=period)


def _mase_period(periods: tuple[int, ...], length: int) -> int:
    usable = usable_periods(periods, length)
    return usable[0] if usable else 1


def run_model(model: Forecaster, history: History, plan: Plan) -> Trial:
    """Fit ``model`` before the first window and forecast every window.

    Raises:
        ValueError: the model gave a forecast of the wrong length or with non-finite values.
    """
    rows = []
    for k, origin in enumerate(plan.origins):
        window = _window(history, origin, plan.horizon)
        if k == 0:
            model.fit(history.head(origin))
            forecast = model.predict(window)
        else:
            forecast = model.forward(history.head(origin), window)
        rows.append(_checked(forecast, plan.horizon, model.name))
    return Trial(forecasts=np.vstack(rows))


def _window(history: History, origin: int, horizon: int) -> Horizon:
    exog = None if history.exog is None else history.exog[origin : origin + horizon]
    return Horizon(times=history.times[origin : origin + horizon], exog=exog)


def _checked(forecast: Any, horizon: int, name: str) -> np.ndarray:
    values = np.asarray(forecast, dtype=np.float64)
    if values.shape != (horizon,) or not np.isfinite(values).all():
        raise ValueError(f"model {name!r} gave an unusable forecast: {values!r}")
    return values


def actuals(observed: np.ndarray, plan: Plan) -> np.ndarray:
    """The observed values of every window (windows x horizon, NaN where missing)."""
    return np.vstack([observed[origin : origin + plan.horizon] for origin in plan.origins])


def score(
    trial: Trial, observed: np.ndarray, plan: Plan, levels: tuple[int, ...]
) -> dict[str, float]:
    """sMAPE, MASE and out-of-sample interval coverage of a trial."""
    truth = actuals(observed, plan)
    forecasts = trial.forecasts
    scores: dict[str, float] = {
        "smape": smape(truth.ravel(), forecasts.ravel()),
        "mase": _mase(truth, forecasts, observed, plan),
    }
    covered = _coverage(truth, forecasts, levels)
    scores["coverage"] = covered[min(levels)]
    for level in levels:
        scores[f"coverage_{level}"] = covered[level]
    scores["windows"] = float(len(plan.origins))
    return scores


def _mase(truth: np.ndarray, forecasts: np.ndarray, observed: np.ndarray, plan: Plan) -> float:
    per_window = []
    for k, origin in enumerate(plan.origins):
        known = np.isfinite(truth[k])
        if not known.any():
            continue
        error = float(np.abs(truth[k][known] - forecasts[k][known]).mean())
        per_window.append(error / robust_scale(observed[:origin], plan.period))
    return float(np.mean(per_window)) if per_window else float("nan")


def robust_scale(past: np.ndarray, period: int) -> float:
    """The MASE scale, falling back to lag 1 and then to the mean level for flat histories."""
    for lag in dict.fromkeys((period, 1)):
        scale = mase_scale(past, lag)
        if np.isfinite(scale) and scale > 0:
            return scale
    level = float(np.nanmean(np.abs(past))) if np.isfinite(past).any() else 0.0
    return level if level > 0 else 1.0


def _coverage(
    truth: np.ndarray, forecasts: np.ndarray, levels: tuple[int, ...]
) -> dict[int, float]:
    windows = truth.shape[0]
    if windows < 2:
        return dict.fromkeys(levels, float("nan"))
    errors = truth - forecasts
    inside: dict[int, list[float]] = {level: [] for level in levels}
    for k in range(windows):
        others = np.delete(errors, k, axis=0)
        bands = calibrate(others, levels).around(forecasts[k])
        for level, (lower, upper) in bands.items():
            share = coverage(truth[k], lower, upper)
            if np.isfinite(share):
                inside[level].append(share)
    return {
        level: float(np.mean(shares)) if shares else float("nan")
        for level, shares in inside.items()
    }


def backtest(
    series: Series,
    model: str | Sequence[str],
    horizon: int,
    windows: int = 3,
    *,
    levels: Sequence[int] = (80, 95),
    exog: Any = None,
    country: str | None = None,
) -> dict[str, float]:
    """Rolling-origin backtest of one model, or of the mean of several (an ensemble).

    Args:
        series: the series; its last ``windows x horizon`` points are held out in turn.
        model: a model name, or the names of an ensemble's members (their forecasts are
            averaged). ``"ensemble"`` alone is refused: name the members.
        horizon: points per window, 1 to 90 (shortened for short series).
        windows: how many consecutive windows, 1 to 10.
        levels: interval levels whose coverage is measured.
        exog: past regressor values, one row per period (their "future" in a window is known).
        country: holiday calendar for the models that use holidays.

    Returns:
        ``smape``, ``mase``, ``coverage`` (lowest level), ``coverage_<level>`` and ``windows``
        (as a float): the same dictionary the selection stores per candidate.

    Raises:
        InvalidInput: bad arguments, unknown model names, or a model that cannot fit the
            series (too short for it).
    """
    names = as_names(model)
    if names is None or ENSEMBLE in names:
        raise InvalidInput(
            f"Invalid model {model!r}: name a model, or an ensemble's members.",
            hint="Pass e.g. 'ets', or ('ets', 'theta') for the mean of both.",
        )
    step = check_horizon(horizon)
    count = check_windows(windows)
    chosen = check_levels(levels)
    prepared = prepare(series, step, exog=exog, country=country, backtest_only=True)
    plan = plan_windows(len(prepared.history), step, count, prepared.context.periods)
    trials = [fitted_trial(name, prepared, plan) for name in names]
    mean = np.mean([t.forecasts for t in trials], axis=0)
    return score(Trial(forecasts=mean), prepared.observed, plan, chosen)


def fitted_trial(name: str, prepared: Prepared, plan: Plan) -> Trial:
    """Build model ``name`` and backtest it, or :class:`InvalidInput` if it cannot fit."""
    forecaster = build(name, prepared.context)
    if not forecaster.suits(plan.first):
        raise InvalidInput(
            f"Invalid model {name!r} for this series: {plan.first} points before the first "
            "backtest window are too few for it.",
            hint="Use a longer series, a shorter horizon or fewer windows, or a simpler model.",
        )
    return run_model(forecaster, prepared.history, plan)
