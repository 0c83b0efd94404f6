"""The significance tests behind pattern insights, and the correction for testing many at once.

Why these tests: each matches a pattern's question with few assumptions a KPI series breaks.
Mann-Kendall asks "do later values tend to be higher?" from signs alone, so outliers and
skew do not fake a trend; its variance is corrected for ties and, after Hamed and Rao, for
the serial correlation of the detrended ranks (lags whose autocorrelation is significant),
because autocorrelated noise otherwise looks like a trend. Sen's slope (the median pairwise
slope) sizes it just as robustly. Welch's t-test compares two levels without assuming equal
spreads; the F-test of a two-way interaction compares seasonal profiles; Fisher's z compares
two correlations. Normal tails come from :func:`math.erfc`; Student and Fisher-Snedecor tails
from SciPy's special functions, loaded through :func:`gnomon.optional.require`.

Why a correction: a feed run tests hundreds of patterns, so at ``alpha = 0.05`` a few would
pass by chance alone. :func:`adjust` turns p-values into q-values: Benjamini-Hochberg by
default (among the insights kept, the expected share of false ones is at most ``alpha``; with
no real pattern at all, the chance of any insight is at most ``alpha``), Bonferroni when any
false insight is too many.

>>> [round(q, 3) for q in adjust([0.01, 0.04, 0.03, 0.5], "bh")]
[0.04, 0.053, 0.053, 0.5]
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.insights.patterns.models import Correction
from gnomon.optional import require

__all__ = [
    "TestResult",
    "adjust",
    "f_test_sf",
    "fisher_z_test",
    "mann_kendall",
    "normal_sf",
    "sens_slope",
    "two_sided_normal",
    "welch_t_test",
]

_SQRT2 = math.sqrt(2.0)
_MAX_R = 1.0 - 1e-9


@dataclass(frozen=True, slots=True)
class TestResult:
    """A test's statistic, its two-sided (or stated) p-value, and degrees of freedom if any."""

    __test__ = False  # not a pytest test class, whatever its name

    statistic: float
    p_value: float
    df: float | None = None


def _special() -> Any:
    return require("scipy.special", extra="insights")


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / _SQRT2)


def two_sided_normal(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z.

    >>> round(two_sided_normal(1.959964), 4)
    0.05
    """
    return math.erfc(abs(z) / _SQRT2)


def sens_slope(values: np.ndarray, positions: np.ndarray | None = None) -> tuple[float, float]:
    """Sen's slope (median of pairwise slopes) and the matching intercept at position 0.

    Args:
        values: the series, without NaN.
        positions: each value's bucket index (defaults to 0, 1, 2 …), so gaps count.

    >>> sens_slope(np.array([1.0, 3.0, 5.0, 40.0, 9.0]))
    (2.0, 1.0)
    """
    t = np.arange(values.size, dtype=np.float64) if positions is None else positions
    i, j = np.triu_indices(values.size, k=1)
    if i.size == 0:
        return 0.0, float(np.median(values)) if values.size else math.nan
    slope = float(np.median((values[j] - values[i]) / (t[j] - t[i])))
    intercept = float(np.median(values - slope * t))
    return slope, intercept


def _tie_term(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    counts = counts[counts > 1].astype(np.float64)
    return float(np.sum(counts * (counts - 1) * (2 * counts + 5)))


def _hamed_rao(n: int, rho: np.ndarray) -> float:
    """Hamed-Rao's variance inflation for autocorrelations ``rho`` at lags 1, 2 and on."""
    lags = np.arange(1, rho.size + 1, dtype=np.float64)
    weights = (n - lags) * (n - lags - 1) * (n - lags - 2)
    factor = 1.0 + 2.0 * float(np.dot(weights, rho)) / (n * (n - 1) * (n - 2))
    return max(factor, 1.0)


def _autocorrelation_factor(values: np.ndarray, positions: np.ndarray, slope: float) -> float:
    """Hamed-Rao's variance inflation from significant autocorrelation of detrended ranks."""
    n = values.size
    detrended = values - slope * positions
    ranks = np.argsort(np.argsort(detrended, kind="stable"), kind="stable").astype(np.float64)
    centred = ranks - ranks.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 1.0
    bound = 1.96 / math.sqrt(n)
    rho = np.array(
        [
            float(np.dot(centred[:-lag], centred[lag:])) / denominator
            for lag in range(1, min(n // 3, 20) + 1)
        ]
    )
    return _hamed_rao(n, np.where(np.abs(rho) > bound, rho, 0.0))


def mann_kendall(
    values: np.ndarray,
    positions: np.ndarray | None = None,
    *,
    persistence: float | None = None,
) -> TestResult:
    """The Mann-Kendall trend test: ``statistic`` is the normal score Z, sign = direction.

    The variance is corrected for ties and for serial correlation (see the module's
    docstring); a continuity correction of 1 is applied to S. ``df`` holds the variance
    inflation factor that serial correlation caused (1 when none).

    Args:
        values: the series in time order, without NaN (at least 4 values).
        positions: each value's bucket index (defaults to 0, 1, 2 …).
        persistence: the noise's lag-1 autocorrelation phi when known from a longer stretch
            of the series (then the inflation assumes AR(1) noise, autocorrelation phi^k at
            lag k); ``None`` estimates it from the values' own detrended ranks.
    """
    n = values.size
    if n < 4:
        return TestResult(0.0, 1.0, 1.0)
    t = np.arange(n, dtype=np.float64) if positions is None else positions
    i, j = np.triu_indices(n, k=1)
    s = float(np.sum(np.sign(values[j] - values[i])))
    variance = (n * (n - 1) * (2 * n + 5) - _tie_term(values)) / 18.0
    slope, _ = sens_slope(values, t)
    if persistence is None:
        factor = _autocorrelation_factor(values, t, slope)
    else:
        factor = _hamed_rao(n, persistence ** np.arange(1, n - 2, dtype=np.float64))
    variance *= factor
    if variance <= 0.0 or s == 0.0:
        return TestResult(0.0, 1.0, factor)
    z = (s - math.copysign(1.0, s)) / math.sqrt(variance)
    return TestResult(z, two_sided_normal(z), factor)


def welch_t_test(before: np.ndarray, after: np.ndarray, *, inflation: float = 1.0) -> TestResult:
    """Welch's two-sample t-test of ``mean(after) - mean(before)`` (two-sided).

    Both samples need two values or more (NaN already removed); otherwise p is 1.
    ``inflation`` (≥ 1) is how much serial correlation widens the means' variances
    (``(1 + phi) / (1 - phi)`` for AR(1) noise): the variances are multiplied and the degrees
    of freedom divided by it.
    """
    if before.size < 2 or after.size < 2:
        return TestResult(0.0, 1.0)
    share_before = inflation * float(np.var(before, ddof=1)) / before.size
    share_after = inflation * float(np.var(after, ddof=1)) / after.size
    difference = float(np.mean(after) - np.mean(before))
    spread = share_before + share_after
    if spread == 0.0:
        return (
            TestResult(0.0, 1.0)
            if difference == 0.0
            else TestResult(math.copysign(math.inf, difference), 0.0)
        )
    t = difference / math.sqrt(spread)
    df = spread**2 / (share_before**2 / (before.size - 1) + share_after**2 / (after.size - 1))
    df = max(df / inflation, 1.0)
    p = float(2.0 * _special().stdtr(df, -abs(t)))
    return TestResult(t, min(p, 1.0), df)


def f_test_sf(f: float, dfn: float, dfd: float) -> float:
    """P(F > f) for Fisher-Snedecor's F with ``dfn`` and ``dfd`` degrees of freedom."""
    if not math.isfinite(f):
        return 0.0 if f > 0 else 1.0
    if f <= 0.0:
        return 1.0
    return float(_special().fdtrc(dfn, dfd, f))


def fisher_z_test(before: float, n_before: float, after: float, n_after: float) -> TestResult:
    """Fisher's z-test of two independent Pearson correlations (two-sided).

    ``n_before`` and ``n_after`` are (effective) sample sizes; each must exceed 3.

    >>> result = fisher_z_test(0.1, 50, 0.8, 50)
    >>> round(result.statistic, 2), result.p_value < 0.001
    (4.84, True)
    """
    if n_before <= 3 or n_after <= 3:
        return TestResult(0.0, 1.0)
    z_before = math.atanh(max(-_MAX_R, min(_MAX_R, before)))
    z_after = math.atanh(max(-_MAX_R, min(_MAX_R, after)))
    z = (z_after - z_before) / math.sqrt(1.0 / (n_before - 3) + 1.0 / (n_after - 3))
    return TestResult(z, two_sided_normal(z))


def adjust(p_values: Sequence[float] | np.ndarray, method: Correction) -> list[float]:
    """The q-values of a family of tests: reject where ``q < alpha``.

    Args:
        p_values: one p-value per test, in any order.
        method: ``bh`` (Benjamini-Hochberg step-up), ``bonferroni`` or ``none``.
    """
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if m == 0 or method == "none":
        return [float(v) for v in p]
    if method == "bonferroni":
        return [float(v) for v in np.minimum(p * m, 1.0)]
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(m, dtype=np.float64)
    q[order] = np.minimum(ranked, 1.0)
    return [float(v) for v in q]
