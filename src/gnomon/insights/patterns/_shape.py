"""Season profiles, de-seasonalising and noise levels shared by the finders.

The profile is the median deviation of each phase from a one-season moving average, so a
trend or a level shift elsewhere in the history does not leak into it, and a few outliers do
not bend it. Everything here is NaN-aware without numpy's all-NaN warnings.
"""

import math

import numpy as np

from gnomon.insights.spread import robust_sd

__all__ = [
    "deseasonalise",
    "finite",
    "moving_average",
    "noise_and_persistence",
    "noise_sd",
    "profile",
    "row_medians",
]

_WINSOR = 4.0
"""Differences beyond this many robust standard deviations are clipped (a level shift's)."""


def row_medians(matrix: np.ndarray) -> np.ndarray:
    """The median of each row's finite values (NaN for a row without any)."""
    ordered = np.sort(matrix, axis=1)
    counts = np.sum(np.isfinite(matrix), axis=1)
    rows = np.arange(matrix.shape[0])
    low = np.clip((counts - 1) // 2, 0, None)
    high = np.clip(counts // 2, 0, None)
    high = np.minimum(high, matrix.shape[1] - 1)
    medians = 0.5 * (ordered[rows, low] + ordered[rows, high])
    return np.where(counts > 0, medians, np.nan)


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """A centred moving average over ``width`` buckets, ignoring NaN (NaN where all are)."""
    present = np.isfinite(values)
    filled = np.where(present, values, 0.0)
    kernel = np.ones(width)
    sums = np.convolve(filled, kernel, mode="same")
    counts = np.convolve(present.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)


def profile(values: np.ndarray, season: int) -> np.ndarray:
    """Each phase's typical deviation from the local level, centred on 0 (zeros if no season).

    Phase ``p`` holds positions ``p, p + season, …`` of ``values``.
    """
    if season < 2 or values.size < 2 * season:
        return np.zeros(max(season, 1))
    deviation = values - moving_average(values, season)
    cycles = math.ceil(values.size / season)
    padded = np.full(cycles * season, np.nan)
    padded[: values.size] = deviation
    shape = row_medians(padded.reshape(cycles, season).T)
    shape = np.where(np.isfinite(shape), shape, 0.0)
    return np.asarray(shape - shape.mean(), dtype=np.float64)


def deseasonalise(values: np.ndarray, season: int) -> np.ndarray:
    """``values`` minus their season profile (a copy of ``values`` without a season)."""
    if season < 2:
        return values.copy()
    shape = profile(values, season)
    return np.asarray(values - np.resize(shape, values.size), dtype=np.float64)


def noise_sd(values: np.ndarray, season: int) -> float:
    """The noise level: the robust spread of seasonal (or plain) differences over sqrt 2."""
    lag = max(season, 1)
    if values.size <= lag + 2:
        return 0.0
    return robust_sd(values[lag:] - values[:-lag]) / math.sqrt(2.0)


def finite(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The finite values and their positions (as floats, for slopes over gaps)."""
    keep = np.flatnonzero(np.isfinite(values))
    return values[keep], keep.astype(np.float64)


def noise_and_persistence(values: np.ndarray) -> tuple[float, float]:
    """The noise level and lag-1 autocorrelation (in [0, 0.9]) of a series with level shifts.

    Both come from the bucket-to-bucket differences, which a level shift disturbs in one
    place only (and that place is winsorised away): for AR(1) noise with coefficient phi, the
    differences have variance ``2 sigma² (1 - phi)`` and lag-1 autocorrelation
    ``-(1 - phi) / 2``.
    """
    changes = np.diff(values)
    spread = robust_sd(changes)
    if spread == 0.0:
        return float(np.std(values)), 0.0
    changes = np.clip(changes - np.median(changes), -_WINSOR * spread, _WINSOR * spread)
    head, tail = changes[:-1], changes[1:]
    scale = float(np.sqrt(np.dot(head, head) * np.dot(tail, tail)))
    lag1 = float(np.dot(head, tail)) / scale if scale > 0.0 else -0.5
    persistence = min(max(1.0 + 2.0 * lag1, 0.0), 0.9)
    sigma = spread / math.sqrt(2.0 * (1.0 - persistence))
    return sigma, persistence
