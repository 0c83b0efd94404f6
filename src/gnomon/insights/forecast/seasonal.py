"""Classical seasonal adjustment, as the M4 competition's statistical benchmarks applied it.

A series counts as seasonal at period m only if it has three full cycles and its autocorrelation
at lag m passes a 90 % test; then it is divided by (or, with zero or negative values, reduced by)
the seasonal indices of a classical decomposition, a non-seasonal model forecasts the adjusted
series, and the forecast is re-seasonalised with the last cycle's indices. This lets smoothing
models handle periods they cannot hold as states (exponential smoothing stops at 24), and lets the
M4 benchmark rebuild Naive2 with exactly the organisers' arithmetic.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["Adjustment", "adjust", "is_seasonal", "seasonal_strength"]

_T_CRIT_90 = 1.645


def is_seasonal(values: np.ndarray, period: int) -> bool:
    """Whether the autocorrelation at lag ``period`` is significant at 90 % (M4's test).

    >>> t = np.arange(96)
    >>> is_seasonal(10 + np.sin(2 * np.pi * t / 12), 12), is_seasonal(np.ones(96) + t, 12)
    (True, False)
    """
    n = len(values)
    if period < 2 or n < 3 * period:
        return False
    centred = values - values.mean()
    denominator = float(centred @ centred)
    if denominator == 0.0:
        return False
    acf = np.array(
        [float(centred[k:] @ centred[: n - k]) / denominator for k in range(1, period + 1)]
    )
    limit = _T_CRIT_90 / np.sqrt(n) * np.sqrt(1.0 + 2.0 * float(np.sum(acf[:-1] ** 2)))
    return bool(abs(acf[-1]) > limit)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A seasonal adjustment of one series.

    Attributes:
        adjusted: the series without its seasonal component.
        seasonal: the seasonal component over the series (ones or zeros when not seasonal).
        multiplicative: whether ``adjusted = values / seasonal`` (else ``values - seasonal``).
        period: the period tested.
    """

    adjusted: np.ndarray
    seasonal: np.ndarray
    multiplicative: bool
    period: int

    def future(self, horizon: int) -> np.ndarray:
        """The seasonal component for the next ``horizon`` points: the last cycle, repeated."""
        last = self.seasonal[-self.period :] if self.period > 1 else self.seasonal[-1:]
        return np.resize(last, horizon)

    def restore(self, forecast: np.ndarray) -> np.ndarray:
        """Put the seasonal component back into a forecast of the adjusted series."""
        future = self.future(len(forecast))
        restored: np.ndarray = forecast * future if self.multiplicative else forecast + future
        return restored


def adjust(
    values: np.ndarray, period: int, *, test: bool = True, multiplicative: bool | None = None
) -> Adjustment:
    """Seasonally adjust ``values`` at ``period`` when it is seasonal there (or ``test=False``).

    ``multiplicative=None`` chooses: additive when a value is zero or negative, otherwise the
    decomposition whose adjusted series is smoother (smaller squared changes), i.e. the one
    that removed more of the cycle. A season that grows with the level needs the multiplicative
    one; a fixed-size season on a strong trend needs the additive one, which multiplicative
    indices would over- and under-correct at the ends. Not seasonal (or shorter than two
    cycles): the adjustment is the identity.
    """
    positive = bool(np.all(values > 0))
    seasonal_here = len(values) >= 2 * period and period >= 2
    if test:
        seasonal_here = seasonal_here and is_seasonal(values, period)
    if not seasonal_here:
        kind = positive if multiplicative is None else multiplicative and positive
        neutral = np.ones_like(values) if kind else np.zeros_like(values)
        return Adjustment(values.copy(), neutral, kind, max(period, 1))
    kinds = [multiplicative and positive] if multiplicative is not None else [False]
    if multiplicative is None and positive:
        kinds.append(True)
    candidates = [_decomposed(values, period, multiplicative=kind) for kind in kinds]
    return min(candidates, key=lambda adjustment: _roughness(adjustment.adjusted))


def _decomposed(values: np.ndarray, period: int, *, multiplicative: bool) -> Adjustment:
    seasonal = _classical_seasonal(values, period, multiplicative=multiplicative)
    adjusted = values / seasonal if multiplicative else values - seasonal
    return Adjustment(adjusted, seasonal, multiplicative, period)


def _roughness(adjusted: np.ndarray) -> float:
    return float(np.sum(np.diff(adjusted) ** 2))


def seasonal_strength(values: np.ndarray, period: int) -> float:
    """How much of the detrended variation the season explains, in [0, 1] (0: none).

    ``1 - var(remainder) / var(season + remainder)`` of an additive classical decomposition
    (Wang, Smith & Hyndman's measure); 0 when the series is shorter than two cycles.

    >>> t = np.arange(96)
    >>> round(seasonal_strength(np.sin(2 * np.pi * t / 12) + 0.01 * t, 12), 2)
    1.0
    """
    if period < 2 or len(values) < 2 * period:
        return 0.0
    trend = _centred_trend(values, period)
    seasonal = _classical_seasonal(values, period, multiplicative=False)
    remainder = values - trend - seasonal
    known = np.isfinite(remainder)
    spread = float(np.var((seasonal + remainder)[known]))
    if spread == 0.0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(remainder[known])) / spread)


def _centred_trend(values: np.ndarray, period: int) -> np.ndarray:
    """The centred moving average over one period (2 x m for even m); NaN at the ends."""
    n = len(values)
    if period % 2 == 0:
        weights = np.r_[0.5, np.ones(period - 1), 0.5] / period
    else:
        weights = np.ones(period) / period
    half = len(weights) // 2
    trend = np.full(n, np.nan)
    trend[half : n - half] = np.convolve(values, weights, mode="valid")
    return trend


def _classical_seasonal(values: np.ndarray, period: int, *, multiplicative: bool) -> np.ndarray:
    """The seasonal component of a classical decomposition (centred moving average trend)."""
    n = len(values)
    trend = _centred_trend(values, period)
    detrended = values / trend if multiplicative else values - trend
    figure = np.array([np.nanmean(detrended[i::period]) for i in range(period)])
    figure = figure / figure.mean() if multiplicative else figure - figure.mean()
    return np.resize(figure, n)
