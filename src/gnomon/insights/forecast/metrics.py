"""Forecast accuracy as the M4 competition defined it, so our figures compare with published ones.

sMAPE is in percent (0-200) and symmetric in actual and forecast; MASE scales the mean absolute
error by the in-sample mean absolute error of the seasonal naive forecast, so 1.0 means "as good
as repeating the last season in sample". Missing actuals (NaN) are left out of both, which is how
a backtest over a series with gaps stays honest.
"""

import numpy as np
from numpy.typing import ArrayLike

from gnomon.errors import InvalidInput

__all__ = ["coverage", "mase", "mase_scale", "smape"]


def smape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Symmetric mean absolute percentage error, in percent.

    A point where actual and forecast are both zero counts as a perfect forecast (0), not as 0/0.
    Returns NaN when no actual is known.

    >>> round(smape([100.0, 200.0], [110.0, 180.0]), 6)
    10.025063
    """
    y, f = _pair(actual, forecast)
    denominator = np.abs(y) + np.abs(f)
    ratio = np.divide(
        200.0 * np.abs(y - f), denominator, out=np.zeros_like(y), where=denominator > 0
    )
    return float(ratio.mean()) if ratio.size else float("nan")


def mase_scale(insample: ArrayLike, period: int) -> float:
    """The in-sample mean absolute error of the seasonal naive forecast with lag ``period``.

    Differences touching a missing value are skipped. NaN when fewer than ``period + 1`` points
    are known.

    >>> mase_scale([1.0, 2.0, 4.0, 7.0], 1)
    2.0
    """
    x = np.asarray(insample, dtype=np.float64)
    if period < 1:
        raise InvalidInput(f"Invalid MASE period {period}: it must be at least 1.")
    diffs = np.abs(x[period:] - x[:-period])
    diffs = diffs[np.isfinite(diffs)]
    return float(diffs.mean()) if diffs.size else float("nan")


def mase(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike, period: int) -> float:
    """Mean absolute scaled error: out-of-sample MAE over :func:`mase_scale`.

    A flat in-sample series has scale 0: the result is 0 for a perfect forecast and infinite
    otherwise.

    >>> mase([10.0, 12.0], [11.0, 11.0], [1.0, 2.0, 4.0, 7.0], 1)
    0.5
    """
    y, f = _pair(actual, forecast)
    if not y.size:
        return float("nan")
    error = float(np.abs(y - f).mean())
    scale = mase_scale(insample, period)
    if scale == 0.0:
        return 0.0 if error == 0.0 else float("inf")
    return error / scale


def coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """The share of known actuals inside ``[lower, upper]`` (NaN when none is known).

    >>> coverage([1.0, 5.0, 3.0], [0.0, 0.0, 0.0], [2.0, 2.0, 4.0])
    0.6666666666666666
    """
    y = np.asarray(actual, dtype=np.float64)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    known = np.isfinite(y)
    if not known.any():
        return float("nan")
    inside = (y[known] >= lo[known]) & (y[known] <= hi[known])
    return float(inside.mean())


def _pair(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if y.shape != f.shape:
        raise InvalidInput(
            f"Invalid forecast: actual has shape {y.shape} but forecast has shape {f.shape}."
        )
    known = np.isfinite(y)
    return y[known], f[known]
