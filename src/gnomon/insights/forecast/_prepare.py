"""Checking the arguments of a forecast and turning a series into a model's history.

Models need every value: leading missing periods are dropped (the series starts at its first
known value), gaps inside are interpolated linearly and trailing ones carry the last known value.
The backtest still scores only the values that were observed.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.forecast.features import check_country
from gnomon.insights.forecast.grains import future_times
from gnomon.insights.forecast.models import Series
from gnomon.insights.forecast.protocols import ForecasterContext, History, Horizon

__all__ = [
    "MAX_HORIZON",
    "Prepared",
    "as_names",
    "check_horizon",
    "check_levels",
    "check_windows",
    "prepare",
]

MAX_HORIZON = 90
"""Longest horizon in periods: beyond it, errors are too wide for the forecast to guide anyone."""

MAX_WINDOWS = 10


@dataclass(frozen=True, slots=True)
class Prepared:
    """A series ready for the models.

    Attributes:
        history: filled values from the first known one on, with times and regressors.
        observed: the same span's values as observed (NaN where missing), for scoring.
        future: the horizon's times and regressors.
        context: what the models are built for.
        exog_names: the regressors' names, in column order.
    """

    history: History
    observed: np.ndarray
    future: Horizon
    context: ForecasterContext
    exog_names: tuple[str, ...]


def check_horizon(horizon: Any) -> int:
    """``horizon`` as an int in 1..:data:`MAX_HORIZON`, or :class:`InvalidInput`."""
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise InvalidInput(
            f"Invalid horizon {horizon!r}: expected a whole number of periods.",
            hint=f"Pass an integer from 1 to {MAX_HORIZON}.",
        )
    if not 1 <= horizon <= MAX_HORIZON:
        raise InvalidInput(
            f"Invalid horizon {horizon}: it must be between 1 and {MAX_HORIZON} periods.",
            hint=f"Forecast at most {MAX_HORIZON} periods ahead, or use a coarser grain.",
            limit=MAX_HORIZON,
        )
    return int(horizon)


def check_levels(levels: Any) -> tuple[int, ...]:
    """Interval levels as sorted distinct ints in 1..99, or :class:`InvalidInput`."""
    try:
        found = sorted({int(level) for level in levels})
        whole = all(float(level) == int(level) for level in levels)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid levels {levels!r}: expected percentages.", hint="Pass e.g. (80, 95)."
        ) from exc
    if not whole or not all(1 <= level <= 99 for level in found):
        raise InvalidInput(
            f"Invalid levels {levels!r}: each must be a whole percentage from 1 to 99.",
            hint="Pass e.g. (80, 95).",
        )
    return tuple(found)


def check_windows(windows: Any) -> int:
    """Backtest windows as an int in 1..:data:`MAX_WINDOWS`, or :class:`InvalidInput`."""
    if (
        isinstance(windows, bool)
        or not isinstance(windows, int | np.integer)
        or not 1 <= windows <= MAX_WINDOWS
    ):
        raise InvalidInput(
            f"Invalid backtest_windows {windows!r}: expected an integer from 1 to {MAX_WINDOWS}.",
            hint="Three windows balance a reliable choice against fitting time.",
        )
    return int(windows)


def prepare(
    series: Series,
    horizon: int,
    *,
    exog: Any = None,
    future_exog: Any = None,
    country: str | None = None,
    backtest_only: bool = False,
) -> Prepared:
    """Check the regressors and country, fill the series' gaps and lay out the horizon.

    ``backtest_only``: the regressors' future is not needed (only past windows are forecast).
    """
    if not isinstance(series, Series):
        raise InvalidInput(
            f"Invalid series: expected a Series, got {type(series).__name__}.",
            hint="Build one with Series(times, values, freq).",
        )
    if backtest_only and exog is not None and future_exog is None:
        columns = _matrix(exog, "exog", len(series), None)
        future_exog = dict.fromkeys(columns[0], np.zeros(horizon))
        exog = dict(zip(columns[0], columns[1].T, strict=True))
    names, past, future = _regressors(exog, future_exog, len(series), horizon)
    code = check_country(country)
    known = np.isfinite(series.values)
    first = int(np.argmax(known))
    observed = series.values[first:]
    history = History(
        values=_filled(observed),
        times=series.times[first:],
        exog=None if past is None else past[first:],
    )
    return Prepared(
        history=history,
        observed=observed,
        future=Horizon(times=future_times(series.times, series.freq, horizon), exog=future),
        context=ForecasterContext(grain=series.freq, periods=series.seasonality, country=code),
        exog_names=names,
    )


def _filled(values: np.ndarray) -> np.ndarray:
    known = np.isfinite(values)
    if known.all():
        return values.copy()
    positions = np.arange(len(values))
    # np.interp holds the end values flat: trailing gaps carry the last known value.
    filled: np.ndarray = np.interp(positions, positions[known], values[known])
    return filled


def _regressors(
    exog: Any, future_exog: Any, length: int, horizon: int
) -> tuple[tuple[str, ...], np.ndarray | None, np.ndarray | None]:
    if exog is None and future_exog is None:
        return (), None, None
    if exog is None or future_exog is None:
        given, missing = ("exog", "future_exog") if exog is not None else ("future_exog", "exog")
        raise InvalidInput(
            f"Invalid regressors: {given} was given without {missing}.",
            hint="A model that learns from regressors needs their past values (exog, one row "
            "per period of the series) and their future values (future_exog, one row per "
            "period of the horizon).",
        )
    names, past = _matrix(exog, "exog", length, None)
    future_names, future = _matrix(future_exog, "future_exog", horizon, names)
    if future.shape[1] != past.shape[1]:
        raise InvalidInput(
            f"Invalid regressors: exog has {past.shape[1]} column(s) but future_exog has "
            f"{future.shape[1]}.",
            hint="Pass the same regressors, in the same order, for the past and the future.",
        )
    return names or future_names, past, future


def _matrix(
    value: Any, label: str, rows: int, names: tuple[str, ...] | None
) -> tuple[tuple[str, ...], np.ndarray]:
    found: tuple[str, ...] = ()
    if isinstance(value, Mapping):
        found = tuple(str(key) for key in value)
        if names and set(found) != set(names):
            raise InvalidInput(
                f"Invalid regressors: {label} names {sorted(found)} differ from exog's "
                f"{sorted(names)}.",
                hint="Name the same regressors in exog and future_exog.",
            )
        order = names or found
        value = np.column_stack([np.asarray(value[key], dtype=np.float64) for key in order])
        found = order
    try:
        matrix = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Invalid regressors: {label} is not numeric ({exc}).") from exc
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] != rows:
        raise InvalidInput(
            f"Invalid regressors: {label} has shape {matrix.shape}; expected {rows} rows.",
            hint="exog needs one row per period of the series, future_exog one per period of "
            "the horizon.",
        )
    if not np.isfinite(matrix).all():
        raise InvalidInput(
            f"Invalid regressors: {label} holds a missing or infinite value.",
            hint="Fill regressor gaps before forecasting; every period needs a value.",
        )
    if not found:
        found = tuple(f"x{j}" for j in range(matrix.shape[1]))
    return found, matrix


def as_names(models: Any) -> tuple[str, ...] | None:
    """``models`` as a tuple of names (``None`` stays ``None``), or :class:`InvalidInput`."""
    if models is None:
        return None
    if isinstance(models, str):
        return (models,)
    if not isinstance(models, Sequence) or not all(isinstance(m, str) for m in models):
        raise InvalidInput(
            f"Invalid models {models!r}: expected model names.",
            hint="Pass names such as ('ets', 'theta') or None for automatic selection.",
        )
    if not models:
        raise InvalidInput(
            "Invalid models: the list is empty.",
            hint="Pass at least one model name, or None for automatic selection.",
        )
    return tuple(dict.fromkeys(models))
