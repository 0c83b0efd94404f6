"""Prediction intervals from backtest errors (split conformal), the same way for every model.

Why conformal and not each model's own intervals: the ensemble and gradient boosting have no
model-based intervals, and the statistical models' ones assume their model is right, which is
what a backtest shows it often is not. Errors measured out of sample are honest for any model,
built-in or plugin, and the backtest computes them anyway.

Why pooled over the horizon: three windows give three errors per step, too few for a 95 %
quantile. Errors grow with the step roughly as ``step ** b``; ``b`` is fitted to the mean
absolute error per step (clipped to [0, 1]: flat for seasonal repeats, square-root growth for a
random walk, linear for a drifting trend). Errors divided by that growth are exchangeable across
steps, so all windows x steps form one calibration set, and the growth curve carries the band
past the backtest horizon when the series was too short to backtest the full horizon.

Why wider than the calibration quantile by ``sqrt(1 + 1 / windows)``: the errors of a few
windows estimate the spread of the next window's errors, and that estimate is itself uncertain
(as a prediction interval from a sample mean widens by ``sqrt(1 + 1/n)``). The steps of one
window share the model's level error, so the windows, not the steps, are the independent
draws: three windows widen the band by 15 %. Without it, the bands of every 10th M4 Hourly and
every 5th Weekly series held 77 % and 92 % of the test values at the 80 % and 95 % levels. With
it, on all the series, Hourly holds 81 % and 95 %, Weekly 77 % and 91 %: a few windows of a
weekly series do not show all the level shifts of the next quarter.

With too few errors for the finite-sample quantile, the band falls back to a normal
approximation from the calibration set's root mean square.
"""

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = ["Bands", "calibrate"]

DEFAULT_GROWTH = 0.5
"""Growth exponent when the backtest horizon is too short to fit one (random walk)."""


@dataclass(frozen=True, slots=True)
class Bands:
    """Calibrated half-widths: ``quantiles[level] * step ** growth`` around the point forecast.

    Attributes:
        growth: exponent of the error growth with the step (1-based).
        quantiles: level → calibrated quantile of the normalised absolute errors, widened
            for the number of windows (see the module).
        errors: how many errors calibrated them.
    """

    growth: float
    quantiles: dict[int, float]
    errors: int

    def around(self, mean: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Lower and upper bounds around ``mean`` for every level."""
        steps = np.arange(1, len(mean) + 1, dtype=np.float64) ** self.growth
        return {level: (mean - q * steps, mean + q * steps) for level, q in self.quantiles.items()}


def calibrate(errors: np.ndarray, levels: tuple[int, ...]) -> Bands:
    """Bands from backtest ``errors`` (windows x steps, actual - forecast; NaN = unknown).

    >>> e = np.array([[1.0, -2.0, 2.0], [-1.0, 1.5, -2.5], [0.5, -1.0, 3.0]])
    >>> b = calibrate(e, (80, 95))
    >>> b.quantiles[80] <= b.quantiles[95]
    True
    """
    growth = _growth(errors)
    steps = np.arange(1, errors.shape[1] + 1, dtype=np.float64) ** growth
    scores = np.abs(errors) / steps
    scores = np.sort(scores[np.isfinite(scores)])
    n = scores.size
    widen = math.sqrt(1.0 + 1.0 / max(errors.shape[0], 1))
    quantiles: dict[int, float] = {}
    previous = 0.0
    for level in sorted(levels):
        share = level / 100.0
        rank = math.ceil((n + 1) * share)
        if n == 0:
            q = 0.0
        elif rank <= n:
            q = float(scores[rank - 1])
        else:
            rms = float(np.sqrt(np.mean(scores**2)))
            q = NormalDist().inv_cdf(0.5 + share / 2) * rms
        previous = max(previous, q * widen)
        quantiles[level] = previous
    return Bands(growth=growth, quantiles=quantiles, errors=n)


def _growth(errors: np.ndarray) -> float:
    """Least-squares slope of log mean absolute error on log step, clipped to [0, 1]."""
    if errors.shape[1] < 3:
        return DEFAULT_GROWTH
    absolute = np.abs(errors)
    known = np.isfinite(absolute)
    counts = known.sum(axis=0)
    totals = np.where(known, absolute, 0.0).sum(axis=0)
    keep = (counts > 0) & (totals > 0)
    if keep.sum() < 3:
        return DEFAULT_GROWTH
    steps = np.arange(1, errors.shape[1] + 1, dtype=np.float64)
    x = np.log(steps[keep])
    y = np.log(totals[keep] / counts[keep])
    slope = float(np.polyfit(x, y, 1)[0])
    return min(max(slope, 0.0), 1.0)
