"""The insight feed: every finder on every series, corrected, scored and de-duplicated.

Steps, in this order, because each needs the previous one:

1. every finder wanted by the options runs on every series with at least ``min_points``
   non-empty buckets, and the correlation finder on every pair of metrics sharing segment
   and buckets; each yields *candidates* with a p-value, significant or not;
2. the p-values of all candidates of the run (and of the correlation pairs too weak to
   report) are corrected together (Benjamini-Hochberg by default, see
   :mod:`gnomon.insights.patterns.significance`), and candidates whose q-value is not below
   ``alpha`` are dropped; the q-value is kept in ``details["q_value"]`` while ``p_value``
   stays the test's own;
3. each survivor is scored (:mod:`gnomon.insights.patterns.scoring`) with its series'
   ``share_of_total`` and its age in buckets before ``now``; ``details["share"]`` holds the
   share used;
4. insights of one metric (or pair of metrics) that are one root event are merged
   (:mod:`gnomon.insights.patterns.dedup`), within ``merge_gap`` buckets of that metric.

Cost: linear in series and points, plus the pairs of the correlation step (matrix products);
change points are searched only in the last ``change_window`` buckets. Fifty daily series of
two years take well under a second.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from gnomon.insights.findings import Insight, InsightKind, Moment
from gnomon.insights.patterns.correlation import correlation_tests
from gnomon.insights.patterns.dedup import deduplicate
from gnomon.insights.patterns.finders import (
    find_level_shifts,
    find_records,
    find_seasonality_change,
    find_spikes,
    find_trend,
)
from gnomon.insights.patterns.models import PatternOptions, SeriesInput, to_datetime64
from gnomon.insights.patterns.scoring import score_insight
from gnomon.insights.patterns.significance import adjust

__all__ = ["find_insights"]

logger = logging.getLogger(__name__)

Finder = Callable[..., list[Insight]]

_FINDERS: tuple[tuple[frozenset[InsightKind], Finder], ...] = (
    (frozenset({"trend"}), find_trend),
    (frozenset({"spike", "drop"}), find_spikes),
    (frozenset({"record_high", "record_low"}), find_records),
    (frozenset({"level_shift"}), find_level_shifts),
    (frozenset({"seasonality_change"}), find_seasonality_change),
)
_CORRELATIONS: frozenset[InsightKind] = frozenset({"correlation_appeared", "correlation_broke"})


@dataclass(frozen=True, slots=True)
class _Candidate:
    insight: Insight
    series: int


def _candidates(
    series: Sequence[SeriesInput], options: PatternOptions
) -> tuple[list[_Candidate], list[float]]:
    """Every tested pattern with the index of its series, and the silent p-values."""
    found: list[_Candidate] = []
    for index, one in enumerate(series):
        if int(np.count_nonzero(np.isfinite(one.value_array))) < options.min_points:
            continue
        for kinds, finder in _FINDERS:
            if not any(options.wants(kind) for kind in kinds):
                continue
            found += [
                _Candidate(insight, index)
                for insight in finder(one, options=options)
                if options.wants(insight.kind)
            ]
    silent: list[float] = []
    if any(options.wants(kind) for kind in _CORRELATIONS):
        tests = correlation_tests(series, options=options)
        for insight, left, _ in tests.candidates:
            if options.wants(insight.kind):
                found.append(_Candidate(insight, left))
        silent = list(tests.silent_p_values)
    return found, silent


def _latest(series: Sequence[SeriesInput]) -> np.datetime64 | None:
    ends = [one.time_array[-1] for one in series if one.time_array.size]
    return max(ends) if ends else None


def _family(insight: Insight) -> tuple[str, ...]:
    names = {insight.metric.name}
    if insight.other_metric is not None:
        names.add(insight.other_metric.name)
    return tuple(sorted(names))


def find_insights(
    series: Sequence[SeriesInput],
    *,
    options: PatternOptions | None = None,
    now: Moment | None = None,
) -> list[Insight]:
    """The significant patterns of these series, merged per root event, best score first.

    Args:
        series: the series to scan (totals and segments of any metrics; correlations are
            looked for between series of different metrics with the same segment and buckets).
        options: windows, significance level and correction (defaults: :class:`PatternOptions`).
        now: the moment ages are measured to (naive UTC if a datetime); defaults to the latest
            bucket start among the series.

    Raises:
        MissingDependency: ``ruptures`` or ``scipy`` is missing (``gnomon[insights]``).
    """
    options = options or PatternOptions()
    found, silent = _candidates(series, options)
    if not found:
        return []
    q_values = adjust([c.insight.p_value for c in found] + silent, options.correction)
    reference = to_datetime64(now) if now is not None else _latest(series)
    groups: dict[tuple[str, ...], list[Insight]] = {}
    steps: dict[tuple[str, ...], np.timedelta64] = {}
    for candidate, q in zip(found, q_values, strict=False):
        if not q < options.alpha:
            continue
        source = series[candidate.series]
        insight = candidate.insight
        age = 0.0
        if reference is not None:
            age = float((reference - to_datetime64(insight.end)) / source.step)
        scored = replace(
            insight,
            score=score_insight(
                insight,
                age=age,
                share=source.share_of_total,
                half_life=options.half_life,
                magnitude_half=options.magnitude_half,
            ),
            details={**insight.details, "q_value": q, "share": source.share_of_total},
        )
        family = _family(scored)
        groups.setdefault(family, []).append(scored)
        steps[family] = max(steps.get(family, source.step), source.step)
    feed: list[Insight] = []
    for family, members in groups.items():
        gap = timedelta(microseconds=int(steps[family] / np.timedelta64(1, "us")))
        feed += deduplicate(members, gap=gap * options.merge_gap)
    feed.sort(key=lambda one: (-one.score, one.p_value))
    logger.debug(
        "pattern feed: %d series, %d candidates, %d insights", len(series), len(found), len(feed)
    )
    return feed
