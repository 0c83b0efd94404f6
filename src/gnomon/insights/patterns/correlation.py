"""Correlations between metrics that appeared or broke: the recent window against the one before.

Which series are paired: those of different metrics with the same segment and the same
buckets. What is correlated: the bucket-to-bucket changes of each de-seasonalised series, not
the levels, because two metrics that merely both grow (or share a weekly rhythm) would
otherwise look tied. The correlation is Spearman's (Pearson's on ranks within each window),
because one shared jump (both metrics falling on the same day) would otherwise dominate a
Pearson r and read as "they now move together"; that jump is a drop or a level shift, and
is reported as one. Changes of a series are autocorrelated (differencing makes neighbours
move against each other), which makes r look surer than it is; the sample sizes are
therefore shrunk by Bartlett's factor ``1 + 2 Σ rho_x(k) rho_y(k)`` over the first lags (at
least one season), and by Spearman's variance factor 1.06, before Fisher's z-test compares
the two windows.

All pairs of a group are computed at once with matrix products (pairwise-complete, so NaN
buckets are left out pair by pair): fifty metrics are 1 225 pairs per segment. Every pair is
tested, but only a change whose stronger side reaches ``min_correlation`` becomes a
candidate; the other pairs' p-values are still handed to the feed's correction
(:func:`correlation_tests`), so looking at many pairs is paid for.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gnomon.insights.findings import Insight
from gnomon.insights.patterns._shape import deseasonalise
from gnomon.insights.patterns.models import PatternOptions, SeriesInput
from gnomon.insights.patterns.significance import fisher_z_test
from gnomon.optional import require

__all__ = ["CorrelationTests", "correlation_tests", "find_correlation_changes"]

_MAX_LAGS = 10
_SPEARMAN = 1.06
"""How much wider Spearman's r is than Pearson's under the null (Fieller, Hartley and Pearson)."""


@dataclass(frozen=True, slots=True)
class CorrelationTests:
    """The outcome of testing every pair of a run.

    Attributes:
        candidates: the changes strong enough to report, each with its pair's indices into
            the input series (``metric`` is the first, ``other_metric`` the second).
        silent_p_values: the p-values of the pairs tested but too weak to report.
    """

    candidates: tuple[tuple[Insight, int, int], ...]
    silent_p_values: tuple[float, ...]


def _ranks(matrix: np.ndarray) -> np.ndarray:
    """Each row's values replaced by their ranks (ties averaged, NaN kept)."""
    stats = require("scipy.stats", extra="insights")
    return np.asarray(stats.rankdata(matrix, axis=1, nan_policy="omit"), dtype=np.float64)


def _pairwise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson r of every pair of rows over their common finite columns, and their count."""
    present = np.isfinite(matrix).astype(np.float64)
    filled = np.where(present > 0, matrix, 0.0)
    count = present @ present.T
    sums = filled @ present.T
    squares = (filled**2) @ present.T
    products = filled @ filled.T
    with np.errstate(invalid="ignore", divide="ignore"):
        covariance = products - sums * sums.T / count
        spread = (squares - sums**2 / count) * (squares.T - sums.T**2 / count)
        r = covariance / np.sqrt(spread)
    r = np.where(np.isfinite(r) & (spread > 0), np.clip(r, -1.0, 1.0), np.nan)
    return r, count


def _autocorrelations(matrix: np.ndarray, lags: int) -> np.ndarray:
    """Each row's autocorrelation at lags 1..``lags`` (NaN buckets read as the row's mean)."""
    present = np.isfinite(matrix)
    counts = np.maximum(present.sum(axis=1, keepdims=True), 1)
    means = np.where(present, matrix, 0.0).sum(axis=1, keepdims=True) / counts
    centred = np.where(present, matrix - means, 0.0)
    norm = np.sum(centred**2, axis=1)
    out = np.zeros((matrix.shape[0], lags))
    for lag in range(1, lags + 1):
        if lag >= matrix.shape[1]:
            break
        lagged = np.sum(centred[:, :-lag] * centred[:, lag:], axis=1)
        out[:, lag - 1] = np.divide(lagged, norm, out=np.zeros_like(norm), where=norm > 0)
    return out


def _group_key(series: SeriesInput) -> tuple[str, bytes]:
    segment = repr(sorted((str(k), repr(v)) for k, v in series.segment.items()))
    return segment, series.time_array.tobytes()


def _groups(series: Sequence[SeriesInput]) -> list[list[int]]:
    found: dict[tuple[str, bytes], list[int]] = {}
    for index, one in enumerate(series):
        found.setdefault(_group_key(one), []).append(index)
    return [members for members in found.values() if len(members) > 1]


def _test_group(
    series: Sequence[SeriesInput], members: list[int], options: PatternOptions
) -> tuple[list[tuple[Insight, int, int]], list[float]]:
    first = series[members[0]]
    size = first.value_array.size
    window = options.correlation_window
    earlier = min(3 * window, size - 1 - window)
    if earlier < window:
        return [], []
    changes = np.vstack(
        [np.diff(deseasonalise(series[i].value_array, series[i].period)) for i in members]
    )[:, -(window + earlier) :]
    r_old, n_old = _pairwise(_ranks(changes[:, :earlier]))
    r_new, n_new = _pairwise(_ranks(changes[:, earlier:]))
    lags = min(max(first.period, 2), _MAX_LAGS)
    rho = _autocorrelations(changes, lags)
    factor = _SPEARMAN * np.maximum(1.0 + 2.0 * (rho @ rho.T), 1.0)
    candidates: list[tuple[Insight, int, int]] = []
    silent: list[float] = []
    for a in range(len(members)):
        for b in range(a + 1, len(members)):
            left, right = series[members[a]], series[members[b]]
            if left.metric.name == right.metric.name:
                continue
            before, after = float(r_old[a, b]), float(r_new[a, b])
            if not (math.isfinite(before) and math.isfinite(after)):
                continue
            result = fisher_z_test(
                before, n_old[a, b] / factor[a, b], after, n_new[a, b] / factor[a, b]
            )
            if max(abs(before), abs(after)) < options.min_correlation:
                silent.append(result.p_value)
                continue
            insight = Insight(
                kind="correlation_appeared" if abs(after) > abs(before) else "correlation_broke",
                metric=left.metric,
                segment=dict(left.segment),
                start=left.moment(size - window),
                end=left.moment(size - 1),
                value=after,
                reference=before,
                magnitude=after - before,
                test="fisher-z (spearman)",
                statistic=result.statistic,
                p_value=result.p_value,
                other_metric=right.metric,
                details={
                    "window": window,
                    "window_before": earlier,
                    "effective_factor": float(factor[a, b]),
                    "of": "changes",
                },
            )
            candidates.append((insight, members[a], members[b]))
    return candidates, silent


def correlation_tests(
    series: Sequence[SeriesInput], *, options: PatternOptions | None = None
) -> CorrelationTests:
    """Test every pair of series that share a segment and buckets (see the module docstring).

    A pair needs ``correlation_window`` buckets recent and as many before them.
    """
    options = options or PatternOptions()
    candidates: list[tuple[Insight, int, int]] = []
    silent: list[float] = []
    for members in _groups(series):
        found, quiet = _test_group(series, members, options)
        candidates += found
        silent += quiet
    return CorrelationTests(tuple(candidates), tuple(silent))


def find_correlation_changes(
    series: Sequence[SeriesInput], *, options: PatternOptions | None = None
) -> list[Insight]:
    """The correlation candidates of :func:`correlation_tests`, without their pair indices.

    ``value`` and ``reference`` are the recent and earlier Spearman r of the two metrics'
    changes; ``magnitude`` is their difference.
    """
    return [insight for insight, _, _ in correlation_tests(series, options=options).candidates]
