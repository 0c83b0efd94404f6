"""The nouns of forecasting: a series to forecast and the forecast made of it."""

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.forecast.grains import Grain, check_grain, check_regular, default_seasonality

__all__ = ["FROM_GRAIN", "MIN_LENGTH", "Forecast", "Series"]

MIN_LENGTH = 4
"""Fewest known values a series needs: less leaves nothing to check a forecast against."""

FROM_GRAIN: tuple[int, ...] = (0,)
"""Marker for :attr:`Series.seasonality`: take the grain's default periods."""


@dataclass(frozen=True, slots=True)
class Series:
    """A regular time series of one KPI.

    Attributes:
        times: datetime64[us], ascending, exactly one grain apart (a missing period is a NaN
            value, not a missing timestamp). Anything numpy converts to datetime64 is accepted.
        values: float64; NaN for missing periods, never infinite.
        freq: the grain: ``"hour"``, ``"day"``, ``"week"``, ``"month"``, ``"quarter"`` or
            ``"year"``.
        seasonality: seasonal periods in points, ascending. Left out, it comes from the grain:
            hour (24, 168), day (7,), week (52,) from two years of data on, month (12,),
            quarter (4,), year none. Models use the periods the history holds twice.

    Raises:
        InvalidInput: unknown grain, lengths that differ, fewer than :data:`MIN_LENGTH` known
            values, infinite values, or irregular times.

    >>> s = Series(np.arange("2024-01", "2025-01", dtype="datetime64[M]"), np.arange(12.0), "month")
    >>> len(s), s.seasonality, str(s.times.dtype)
    (12, (12,), 'datetime64[us]')
    """

    times: np.ndarray
    values: np.ndarray
    freq: Grain
    seasonality: tuple[int, ...] = field(default=FROM_GRAIN)

    def __post_init__(self) -> None:
        grain = check_grain(self.freq)
        times = _as_times(self.times)
        values = _as_values(self.values)
        if times.shape != values.shape:
            raise InvalidInput(
                f"Invalid series: {len(times)} times but {len(values)} values.",
                hint="Pass one value per timestamp.",
            )
        known = int(np.isfinite(values).sum())
        if known < MIN_LENGTH:
            raise InvalidInput(
                f"Invalid series: too short, {known} known value(s).",
                hint=f"A forecast needs at least {MIN_LENGTH} known values.",
                length=known,
            )
        check_regular(times, grain)
        if self.seasonality == FROM_GRAIN:
            seasonality = default_seasonality(grain, len(values))
        else:
            seasonality = _as_periods(self.seasonality)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "seasonality", seasonality)

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True, slots=True)
class Forecast:
    """A forecast of a series' next periods, with what chose it.

    Attributes:
        times: datetime64[us], the horizon's timestamps, continuing the series' grain.
        mean: float64 point forecasts.
        intervals: level (e.g. 80, 95) → (lower, upper) float64 arrays; for every level and
            point ``lower <= mean <= upper``, and a higher level's band contains a lower one's.
        model: the chosen model's name, ``"ensemble"`` for a mean of several.
        members: the models averaged when ``model == "ensemble"``; ``(model,)`` otherwise.
        backtest: per candidate tried: ``smape`` (percent), ``mase``, ``coverage`` (the share
            of held-out values inside the interval at the lowest level, estimated by leaving
            each window out), ``coverage_<level>`` for each level, and ``windows``.
    """

    times: np.ndarray
    mean: np.ndarray
    intervals: dict[int, tuple[np.ndarray, np.ndarray]]
    model: str
    members: tuple[str, ...]
    backtest: dict[str, dict[str, float]]
    record: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.mean.shape[0])

    def params(self) -> dict[str, Any]:
        """JSON-able record of how this forecast was made (a registry version stores it).

        Holds the arguments that reproduce it (``forecast(series, **params()["arguments"])``
        on the same data gives the same forecast), the selection (candidates, scores, chosen
        model and members), the backtest set-up, the seasonality, the interval method and
        the library versions. Non-finite numbers become ``None``.
        """
        record = copy.deepcopy(self.record)
        record["model"] = self.model
        record["members"] = list(self.members)
        record["backtest"] = {
            name: {key: _json_number(value) for key, value in scores.items()}
            for name, scores in self.backtest.items()
        }
        return record


def _json_number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _as_times(times: Any) -> np.ndarray:
    try:
        array = np.asarray(times, dtype="datetime64[us]")
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid series: times are not timestamps ({exc}).",
            hint="Pass datetime64 values, datetimes or ISO 8601 strings.",
        ) from exc
    if array.ndim != 1:
        raise InvalidInput(f"Invalid series: times must be 1-D, got shape {array.shape}.")
    if np.isnat(array).any():
        raise InvalidInput(
            "Invalid series: a timestamp is missing (NaT).",
            hint="Every period needs its timestamp; mark a missing value with NaN instead.",
        )
    return array


def _as_values(values: Any) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid series: values are not numbers ({exc}).",
            hint="Pass floats, with NaN for missing periods.",
        ) from exc
    if array.ndim != 1:
        raise InvalidInput(f"Invalid series: values must be 1-D, got shape {array.shape}.")
    if np.isinf(array).any():
        raise InvalidInput(
            "Invalid series: a value is infinite.",
            hint="Replace infinite values by NaN (missing) or by a finite value.",
        )
    return array


def _as_periods(periods: Any) -> tuple[int, ...]:
    try:
        found = sorted({int(p) for p in periods})
        valid = all(int(p) == p for p in periods)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid seasonality {periods!r}: expected integers.",
            hint="Pass seasonal periods in points, e.g. (7,) for days in a week.",
        ) from exc
    if not valid or any(p < 2 for p in found):
        raise InvalidInput(
            f"Invalid seasonality {periods!r}: every period must be an integer of at least 2.",
            hint="Pass seasonal periods in points, e.g. (24, 168) for hours; () for none.",
        )
    return tuple(found)
