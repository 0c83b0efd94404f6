"""``forecast``: backtest the candidate models, then average the good ones.

Selection policy. Every candidate that suits the series' length is backtested over the same
rolling-origin windows (:mod:`gnomon.insights.forecast.backtest`), cheapest first, and ranked
by MASE: it is scale-free, defined for zero and negative KPIs (sMAPE is not meaningful there),
and relative to the seasonal naive forecast, so "below 1" means "better than repeating last
season".

The forecast is then the mean of the best candidates, at most :data:`ENSEMBLE_MAX` of them,
keeping only those whose backtest MASE is within :data:`ENSEMBLE_TRIM` times the best one's. A
series built for one model (a season that repeats exactly, a clean trend) leaves the others far
behind, and that model is used alone; otherwise the "ensemble" is used. Why not let the
backtest choose between the best model and the ensemble: with three windows the choice mostly
follows noise. Measured on the same backtests of every 10th M4 Hourly and every 5th Weekly
series (OWA, lower is better): the best model alone 0.49 and 0.65, choosing between it and the
mean by backtest 0.49 and 0.63, always the trimmed mean of the top four 0.48 and 0.63.
Averaging cancels the models' different mistakes, and trimming keeps a model that is clearly
wrong for the series out of the mean. The chosen models are refitted on
the whole series for the final forecast; their averaged backtest forecasts calibrate the
intervals.

A candidate that fails on a series (an estimation that does not converge, a numerical error)
is left out and recorded; seasonal naive needs nothing and is the fallback, so one bad series
never sinks a batch.
"""

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from gnomon.errors import GnomonError, InvalidInput
from gnomon.insights.forecast._libraries import versions
from gnomon.insights.forecast._prepare import (
    Prepared,
    as_names,
    check_horizon,
    check_levels,
    check_windows,
    prepare,
)
from gnomon.insights.forecast.backtest import (
    Plan,
    Trial,
    actuals,
    plan_windows,
    run_model,
    score,
)
from gnomon.insights.forecast.factory import AUTOMATIC, ENSEMBLE, build, known_models
from gnomon.insights.forecast.intervals import Bands, calibrate
from gnomon.insights.forecast.models import Forecast, Series
from gnomon.insights.forecast.protocols import Forecaster

__all__ = ["CRITERION", "ENSEMBLE_MAX", "ENSEMBLE_TRIM", "forecast"]

logger = logging.getLogger(__name__)

CRITERION = "mase"
"""The backtest score candidates are ranked by (lower is better)."""

ENSEMBLE_MAX = 4
"""The ensemble averages at most this many of the best candidates."""

ENSEMBLE_TRIM = 2.0
"""A candidate joins the ensemble only if its backtest score is within this factor of the best."""

FALLBACK = "seasonal_naive"


def forecast(
    series: Series,
    horizon: int,
    *,
    models: Sequence[str] | str | None = None,
    levels: Sequence[int] = (80, 95),
    exog: Any = None,
    future_exog: Any = None,
    country: str | None = None,
    backtest_windows: int = 3,
) -> Forecast:
    """Forecast ``series`` ``horizon`` periods ahead with the model that backtests best.

    Args:
        series: the KPI series (missing periods as NaN).
        horizon: periods to forecast, 1 to 90.
        models: candidate names from :data:`MODELS` (or plugins); ``None`` tries every
            built-in the series suits and averages the good ones (see the module). Listing
            ``"ensemble"`` averages the good ones among the other listed candidates (alone,
            among the automatic ones); without it, the best listed candidate is used alone.
        levels: prediction interval levels in percent.
        exog: past values of external regressors, one row per period of the series: a 2-D
            array (periods x regressors), a 1-D array for one, or a mapping name → values.
            The models that use them (lightgbm, arima) learn from them.
        future_exog: the regressors' values over the horizon, same layout, one row per period.
        country: ISO 3166 code whose public holidays become features (lightgbm).
        backtest_windows: rolling-origin windows per candidate, 1 to 10.

    Returns:
        The forecast, with the chosen model, the candidates' backtest scores and conformal
        intervals calibrated on the chosen model's backtest errors.

    Cost: one fit per candidate plus one per chosen model, 0.05-1 s each for a few hundred
    points (more with thousands): about 1-3 s per series with automatic selection. Schedule
    it; do not call it per request.

    Raises:
        InvalidInput: a bad argument (the message says which and the valid values), or named
            models that all cannot fit a series this short.
    """
    step = check_horizon(horizon)
    chosen_levels = check_levels(levels)
    windows = check_windows(backtest_windows)
    requested = as_names(models)
    candidates, with_ensemble = _candidates(requested)
    prepared = prepare(series, step, exog=exog, future_exog=future_exog, country=country)
    plan = plan_windows(len(prepared.history), step, windows, prepared.context.periods)

    fitted, trials, skipped = _backtest_all(candidates, prepared, plan)
    if not trials:
        if requested is not None and all(r == "too short" for r in skipped.values()):
            raise InvalidInput(
                f"Invalid models {list(candidates)}: none can be fitted on this series "
                f"({plan.first} points before the first backtest window).",
                hint="Use a longer series, a shorter horizon, or models=None.",
                skipped=skipped,
            )
        fitted, trials, more = _backtest_all((FALLBACK,), prepared, plan)
        skipped.update(more)
    scores = {
        name: score(trial, prepared.observed, plan, chosen_levels) for name, trial in trials.items()
    }
    ranking = sorted(trials, key=lambda name: _key(scores[name]))
    members: tuple[str, ...] = (ranking[0],)
    chosen_trial = trials[ranking[0]]
    if with_ensemble:
        pool = _pool(ranking, scores)
        if len(pool) > 1:
            chosen_trial = Trial(forecasts=np.mean([trials[m].forecasts for m in pool], axis=0))
            scores[ENSEMBLE] = score(chosen_trial, prepared.observed, plan, chosen_levels)
            members = pool

    mean = _final(members, fitted, prepared, plan)
    bands = calibrate(actuals(prepared.observed, plan) - chosen_trial.forecasts, chosen_levels)
    model = ENSEMBLE if len(members) > 1 else members[0]
    record = _record(
        prepared,
        plan,
        bands,
        arguments={
            "horizon": step,
            "models": None if requested is None else list(requested),
            "levels": list(chosen_levels),
            "country": prepared.context.country,
            "backtest_windows": windows,
        },
        candidates=candidates,
        ranking=ranking,
        skipped=skipped,
    )
    return Forecast(
        times=prepared.future.times,
        mean=mean,
        intervals=bands.around(mean),
        model=model,
        members=members,
        backtest=scores,
        record=record,
    )


def _candidates(requested: tuple[str, ...] | None) -> tuple[tuple[str, ...], bool]:
    if requested is None:
        return AUTOMATIC, True
    known = known_models()
    unknown = [name for name in requested if name not in known]
    if unknown:
        raise InvalidInput(
            f"Invalid models: unknown name(s) {', '.join(map(repr, unknown))}.",
            hint=f"Use any of: {', '.join(known)}.",
            valid=known,
        )
    singles = tuple(name for name in requested if name != ENSEMBLE)
    with_ensemble = ENSEMBLE in requested
    return (singles or AUTOMATIC), with_ensemble


def _backtest_all(
    candidates: tuple[str, ...], prepared: Prepared, plan: Plan
) -> tuple[dict[str, Forecaster], dict[str, Trial], dict[str, str]]:
    fitted: dict[str, Forecaster] = {}
    trials: dict[str, Trial] = {}
    skipped: dict[str, str] = {}
    for name in candidates:
        forecaster = build(name, prepared.context)
        if not forecaster.suits(plan.first):
            skipped[name] = "too short"
            continue
        try:
            trials[name] = run_model(forecaster, prepared.history, plan)
        except GnomonError:
            raise
        except Exception as exc:  # noqa: BLE001 - one model failing must not sink the forecast
            logger.info("forecasting model %s failed in backtest: %s", name, exc)
            skipped[name] = f"failed: {type(exc).__name__}"
            continue
        fitted[name] = forecaster
    return fitted, trials, skipped


def _key(scores: dict[str, float]) -> tuple[float, float]:
    primary = scores[CRITERION]
    secondary = scores["smape"]
    return (
        primary if np.isfinite(primary) else np.inf,
        secondary if np.isfinite(secondary) else np.inf,
    )


def _pool(ranking: list[str], scores: dict[str, dict[str, float]]) -> tuple[str, ...]:
    """The best candidates within :data:`ENSEMBLE_TRIM` times the best score (at most four)."""
    best = _key(scores[ranking[0]])[0]
    if not np.isfinite(best) or best <= 0.0:
        return (ranking[0],)
    return tuple(
        name for name in ranking[:ENSEMBLE_MAX] if _key(scores[name])[0] <= ENSEMBLE_TRIM * best
    )


def _final(
    members: tuple[str, ...], fitted: dict[str, Forecaster], prepared: Prepared, plan: Plan
) -> np.ndarray:
    """Refit each member on the whole history and average their forecasts."""
    forecasts = []
    for name in members:
        forecaster = fitted[name]
        try:
            forecaster.fit(prepared.history)
            values = forecaster.predict(prepared.future)
        except Exception as exc:  # noqa: BLE001 - fall back to the backtest's parameters
            logger.info("refitting %s failed, forecasting with backtest fit: %s", name, exc)
            values = _forward_with_first_fit(name, prepared, plan)
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (len(prepared.future),) or not np.isfinite(values).all():
            values = _forward_with_first_fit(name, prepared, plan)
        forecasts.append(values)
    return np.asarray(np.mean(forecasts, axis=0), dtype=np.float64)


def _forward_with_first_fit(name: str, prepared: Prepared, plan: Plan) -> np.ndarray:
    forecaster = build(name, prepared.context)
    forecaster.fit(prepared.history.head(plan.first))
    return np.asarray(forecaster.forward(prepared.history, prepared.future), dtype=np.float64)


def _record(
    prepared: Prepared,
    plan: Plan,
    bands: Bands,
    *,
    arguments: dict[str, Any],
    candidates: tuple[str, ...],
    ranking: list[str],
    skipped: dict[str, str],
) -> dict[str, Any]:
    history = prepared.history
    return {
        "arguments": arguments,
        "regressors": list(prepared.exog_names),
        "freq": prepared.context.grain,
        "seasonality": list(prepared.context.periods),
        "history": {
            "points": len(history),
            "observed": int(np.isfinite(prepared.observed).sum()),
            "start": str(history.times[0]),
            "end": str(history.times[-1]),
        },
        "selection": {
            "criterion": CRITERION,
            "candidates": list(candidates),
            "ranking": ranking,
            "skipped": skipped,
            "ensemble": {"max_members": ENSEMBLE_MAX, "trim": ENSEMBLE_TRIM},
            "backtest": {
                "windows": len(plan.origins),
                "horizon": plan.horizon,
                "origins": [str(history.times[o]) for o in plan.origins],
                "mase_period": plan.period,
                "re_estimation": "first window only",
            },
        },
        "intervals": {
            "method": "conformal",
            "growth": bands.growth,
            "quantiles": {str(level): q for level, q in bands.quantiles.items()},
            "errors": bands.errors,
        },
        "versions": versions(),
    }
