"""One finder per pattern kind of a single series: each tests a hypothesis and says how sure.

A finder returns *candidates*: every pattern it tested, with the test's statistic and p-value,
whether significant or not. The feed (:func:`gnomon.insights.patterns.find_insights`) corrects
the p-values of all candidates of a run together and drops those that do not pass, so a
finder never filters on ``alpha`` itself. Candidates are unscored (score 0).

How each finder decides (windows from :class:`PatternOptions`):

- **trend**: Mann-Kendall over the last ``trend_window`` buckets of the de-seasonalised series
  (season profile removed, so a weekly rhythm is not a trend); Sen's slope sizes it, and the
  magnitude is the change over the window relative to its start.
- **spike / drop**: each of the last ``spike_points`` buckets against a seasonal-naive
  expectation (the median of the same phase in the last ``cycles`` seasons); its residual is
  turned into a robust z-score against the residuals of the ``spike_history`` buckets before
  (median and MAD), and the p-value is the normal two-sided tail of that z.
- **level_shift**: change points in the last ``change_window`` de-seasonalised buckets (a
  kernel change-point search with the linear kernel, i.e. a least-squares cost, penalised by
  ``2 sigma² log n`` from the noise level sigma), each tested with Welch's t-test between its
  neighbouring segments. Because the search picked the position, the t-test's p-value is
  multiplied by the number of positions it could have picked (Bonferroni).
- **seasonality_change**: the season profile of the last ``season_cycles`` complete seasons
  against up to three times as many before, by the F-test of the period-by-phase interaction
  after removing each season's mean; residuals are winsorised at four robust standard
  deviations so one outlier cannot fake a new shape. Needs a season and at least as many
  complete seasons before as in the recent part.
- **record_high / record_low**: the latest value above (below) every earlier value; the test
  is its excess over the previous record in units of the noise level (robust spread of
  seasonal differences), with a one-sided normal p-value, so a record by a hair is noted
  only if the series is very quiet.
"""

import math

import numpy as np

from gnomon.insights.findings import Insight, InsightKind
from gnomon.insights.patterns._shape import (
    deseasonalise,
    finite,
    noise_and_persistence,
    noise_sd,
    row_medians,
)
from gnomon.insights.patterns.models import PatternOptions, SeriesInput
from gnomon.insights.patterns.significance import (
    f_test_sf,
    mann_kendall,
    normal_sf,
    sens_slope,
    two_sided_normal,
    welch_t_test,
)
from gnomon.insights.spread import robust_sd
from gnomon.optional import require

__all__ = [
    "find_level_shifts",
    "find_records",
    "find_seasonality_change",
    "find_spikes",
    "find_trend",
    "relative",
]

_WINSOR = 4.0
"""Residuals beyond this many robust standard deviations are clipped before the F-test."""


def relative(change: float, reference: float | None, scale: float = 0.0) -> float:
    """``change`` relative to ``|reference|``, or to ``scale`` when the reference is near 0.

    >>> relative(-20.0, 100.0)
    -0.2
    """
    base = max(abs(reference) if reference is not None else 0.0, scale, 1e-12)
    return change / base


def _insight(
    series: SeriesInput,
    kind: InsightKind,
    *,
    start: int,
    end: int,
    value: float | None,
    reference: float | None,
    magnitude: float,
    test: str,
    statistic: float,
    p_value: float,
    details: dict[str, object],
) -> Insight:
    return Insight(
        kind=kind,
        metric=series.metric,
        segment=dict(series.segment),
        start=series.moment(start),
        end=series.moment(end),
        value=value,
        reference=reference,
        magnitude=magnitude,
        test=test,
        statistic=statistic,
        p_value=p_value,
        details=details,
    )


def find_trend(series: SeriesInput, *, options: PatternOptions | None = None) -> list[Insight]:
    """The Mann-Kendall trend candidate over the recent window (at most one).

    ``value`` and ``reference`` are Sen's line at the window's end and start (de-seasonalised
    units); ``details["slope"]`` is the change per bucket.
    """
    options = options or PatternOptions()
    values = series.value_array
    season = series.period
    start = max(0, values.size - options.trend_window)
    window = deseasonalise(values, season)[start:]
    y, positions = finite(window)
    if y.size < max(8, options.trend_window // 2):
        return []
    _, persistence = noise_and_persistence(finite(deseasonalise(values, season))[0])
    result = mann_kendall(y, positions, persistence=persistence)
    slope, intercept = sens_slope(y, positions)
    last = float(window.size - 1)
    reference = intercept
    value = intercept + slope * last
    scale = noise_sd(values, season)
    return [
        _insight(
            series,
            "trend",
            start=start,
            end=values.size - 1,
            value=value,
            reference=reference,
            magnitude=relative(value - reference, reference, scale),
            test="mann-kendall",
            statistic=result.statistic,
            p_value=result.p_value,
            details={
                "slope": slope,
                "buckets": int(window.size),
                "variance_inflation": result.df,
                "persistence": persistence,
                "deseasonalised": season > 1,
            },
        )
    ]


def find_spikes(series: SeriesInput, *, options: PatternOptions | None = None) -> list[Insight]:
    """A spike or drop candidate for each of the last ``spike_points`` non-empty buckets.

    ``value`` is the observed value, ``reference`` the expected one (seasonal naive, shifted
    by the median residual of the history); ``statistic`` is the robust z-score.
    """
    options = options or PatternOptions()
    values = series.value_array
    lag = max(series.period, 1)
    tested = options.spike_points
    reach = options.cycles * lag
    history = min(options.spike_history, values.size - tested - reach)
    if history < 8:
        return []
    positions = np.arange(values.size - tested - history, values.size)
    lags = positions[:, None] - lag * np.arange(1, options.cycles + 1)[None, :]
    expected = row_medians(values[lags])
    residuals = values[positions] - expected
    past = residuals[:history]
    if int(np.count_nonzero(np.isfinite(past))) < 8:
        return []
    centre = float(row_medians(past[None, :])[0])
    spread = robust_sd(past)
    found: list[Insight] = []
    for offset in range(history, positions.size):
        residual = float(residuals[offset])
        if not math.isfinite(residual):
            continue
        deviation = residual - centre
        if spread > 0.0:
            z = deviation / spread
        elif deviation == 0.0:
            continue
        else:
            z = math.copysign(math.inf, deviation)
        index = int(positions[offset])
        reference = float(expected[offset]) + centre
        value = float(values[index])
        found.append(
            _insight(
                series,
                "spike" if z > 0 else "drop",
                start=index,
                end=index,
                value=value,
                reference=reference,
                magnitude=relative(value - reference, reference, spread),
                test="robust-z",
                statistic=z,
                p_value=two_sided_normal(z),
                details={"expected": reference, "spread": spread, "cycles": options.cycles},
            )
        )
    return found


def find_records(series: SeriesInput, *, options: PatternOptions | None = None) -> list[Insight]:
    """A record candidate when the latest value is beyond every earlier one (at most one).

    ``reference`` is the previous record and ``details["previous_at"]`` its bucket;
    ``statistic`` is the excess in noise units.
    """
    options = options or PatternOptions()
    values = series.value_array
    y, positions = finite(values)
    if y.size < options.min_points:
        return []
    latest = float(y[-1])
    earlier = y[:-1]
    high_at, low_at = int(np.argmax(earlier)), int(np.argmin(earlier))
    if latest > earlier[high_at]:
        kind: InsightKind = "record_high"
        previous_at = high_at
    elif latest < earlier[low_at]:
        kind = "record_low"
        previous_at = low_at
    else:
        return []
    previous = float(earlier[previous_at])
    scale = noise_sd(values, series.period) or robust_sd(np.diff(y))
    excess = abs(latest - previous)
    statistic = excess / scale if scale > 0.0 else math.inf
    index = int(positions[-1])
    return [
        _insight(
            series,
            kind,
            start=index,
            end=index,
            value=latest,
            reference=previous,
            magnitude=relative(latest - previous, previous, scale),
            test="record-excess",
            statistic=statistic,
            p_value=normal_sf(statistic),
            details={
                "previous_at": series.moment(int(positions[previous_at])),
                "noise": scale,
            },
        )
    ]


def find_level_shifts(
    series: SeriesInput, *, options: PatternOptions | None = None
) -> list[Insight]:
    """A level-shift candidate per change point found in the recent window.

    ``value`` and ``reference`` are the mean levels after and before the change point
    (de-seasonalised); ``start`` is the first bucket at the new level and ``end`` the last
    bucket before the next change point (or the series' end).

    Raises:
        MissingDependency: ``ruptures`` is not installed (``gnomon[insights]``).
    """
    options = options or PatternOptions()
    values = series.value_array
    first = max(0, values.size - options.change_window)
    y, positions = finite(deseasonalise(values, series.period)[first:])
    shortest = options.min_segment
    if y.size < 2 * shortest + 2:
        return []
    sigma, persistence = noise_and_persistence(y)
    if sigma == 0.0:
        return []
    inflation = (1.0 + persistence) / (1.0 - persistence)
    ruptures = require("ruptures", extra="insights")
    search = ruptures.KernelCPD(kernel="linear", min_size=shortest)
    penalty = 2.0 * sigma**2 * inflation * math.log(y.size)
    edges = [0, *(int(b) for b in search.fit(y.reshape(-1, 1)).predict(pen=penalty))]
    choices = y.size - 2 * shortest + 1
    found: list[Insight] = []
    for k in range(1, len(edges) - 1):
        before = y[edges[k - 1] : edges[k]]
        after = y[edges[k] : edges[k + 1]]
        result = welch_t_test(before, after, inflation=inflation)
        level, old = float(np.mean(after)), float(np.mean(before))
        found.append(
            _insight(
                series,
                "level_shift",
                start=first + int(positions[edges[k]]),
                end=first + int(positions[edges[k + 1] - 1]),
                value=level,
                reference=old,
                magnitude=relative(level - old, old, sigma),
                test="welch-t",
                statistic=result.statistic,
                p_value=min(1.0, result.p_value * choices),
                details={
                    "p_single": result.p_value,
                    "positions_searched": choices,
                    "before_start": series.moment(first + int(positions[edges[k - 1]])),
                    "noise": sigma,
                    "persistence": persistence,
                },
            )
        )
    return found


def _ratio(explained: float, unexplained: float) -> float:
    """An F ratio, infinite when the residual is exactly 0 and something is explained."""
    if unexplained > 0.0:
        return explained / unexplained
    return math.inf if explained > 0.0 else 0.0


def _season_blocks(series: SeriesInput, options: PatternOptions) -> tuple[np.ndarray, int] | None:
    """Complete seasons ending at the last bucket (rows), and how many of them are recent."""
    season = series.period
    if season < 2:
        return None
    values = series.value_array
    recent = options.season_cycles
    earlier = min(values.size // season - recent, 3 * recent)
    if earlier < recent:
        return None
    used = (recent + earlier) * season
    return values[values.size - used :].reshape(recent + earlier, season), recent


def find_seasonality_change(
    series: SeriesInput, *, options: PatternOptions | None = None
) -> list[Insight]:
    """A candidate comparing the recent seasons' profile with the earlier ones' (at most one).

    ``value`` and ``reference`` are the profile amplitudes (root mean square of the phase
    effects) in the recent and earlier seasons; ``magnitude`` is the size of the profile's
    change relative to the earlier profile. The profiles are in ``details``, phase 0 being
    the first bucket of the recent part.
    """
    options = options or PatternOptions()
    blocks = _season_blocks(series, options)
    if blocks is None:
        return []
    rows, recent = blocks
    complete = np.all(np.isfinite(rows), axis=1)
    is_recent = np.arange(rows.shape[0]) >= rows.shape[0] - recent
    new, old = complete & is_recent, complete & ~is_recent
    if int(new.sum()) < 3 or int(old.sum()) < 3:
        return []
    centred = rows[complete] - rows[complete].mean(axis=1, keepdims=True)
    spread = robust_sd(centred.ravel())
    if spread > 0.0:
        centred = np.clip(centred, -_WINSOR * spread, _WINSOR * spread)
    recent_rows = is_recent[complete]
    shape_new = centred[recent_rows].mean(axis=0)
    shape_old = centred[~recent_rows].mean(axis=0)
    full = float(
        np.sum((centred[recent_rows] - shape_new) ** 2)
        + np.sum((centred[~recent_rows] - shape_old) ** 2)
    )
    reduced = float(np.sum((centred - centred.mean(axis=0)) ** 2))
    count, season = centred.shape
    dfn = season - 1
    dfd = count * season - count - 2 * (season - 1)
    if dfd <= 0:
        return []
    f = _ratio((reduced - full) / dfn, full / dfd)
    amplitude_new = float(np.sqrt(np.mean(shape_new**2)))
    amplitude_old = float(np.sqrt(np.mean(shape_old**2)))
    change = float(np.linalg.norm(shape_new - shape_old))
    size = series.value_array.size
    return [
        _insight(
            series,
            "seasonality_change",
            start=size - recent * season,
            end=size - 1,
            value=amplitude_new,
            reference=amplitude_old,
            magnitude=relative(change, float(np.linalg.norm(shape_old)), spread),
            test="f-interaction",
            statistic=f,
            p_value=f_test_sf(f, dfn, dfd),
            details={
                "profile_recent": [float(v) for v in shape_new],
                "profile_before": [float(v) for v in shape_old],
                "seasons_recent": int(new.sum()),
                "seasons_before": int(old.sum()),
            },
        )
    ]
