"""One root event, one insight: merging what several finders or segments saw of the same thing.

A sudden fall shows up as drops on its last buckets, as a level shift, and often in a segment
as well as in the total; a reader wants it once. Two insights are the same event when they
concern the same metric (and, for correlations, the same pair of metrics), their segments
are nested (one's dimension values include the other's: ``{}`` ⊂ ``{country: DE}`` ⊂
``{country: DE, channel: web}``), and:

- both are moves (spike, drop, level_shift, record_high, record_low) in the same direction
  whose bucket spans overlap or lie within ``gap`` of each other;
- or one is a trend and the other a level shift in the same direction starting inside the
  trend's span (a step read as a trend);
- or both are trends in the same direction, both seasonality changes, or both the same kind
  of correlation change, with overlapping spans.

Sameness is transitive (a drop in DE, the total's level shift and a drop in FR are one
event). Of each group the best-scored insight stays; the others are listed in its
``details["also"]`` (kind, segment, start, end, score, p_value), best first.
"""

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import numpy as np

from gnomon.insights.findings import Insight
from gnomon.insights.patterns.models import to_datetime64

__all__ = ["deduplicate", "same_event"]

_MOVES = frozenset({"spike", "drop", "level_shift", "record_high", "record_low"})
_UP = frozenset({"spike", "record_high"})
_DOWN = frozenset({"drop", "record_low"})


def _direction(insight: Insight) -> int:
    if insight.kind in _UP:
        return 1
    if insight.kind in _DOWN:
        return -1
    if insight.value is not None and insight.reference is not None:
        change = insight.value - insight.reference
    else:
        change = insight.magnitude
    return int(np.sign(change))


def _nested(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return all(key in large and large[key] == value for key, value in small.items())


def _pair(insight: Insight) -> frozenset[str]:
    names = {insight.metric.name}
    if insight.other_metric is not None:
        names.add(insight.other_metric.name)
    return frozenset(names)


def _span(insight: Insight) -> tuple[np.datetime64, np.datetime64]:
    return to_datetime64(insight.start), to_datetime64(insight.end)


def _near(a: Insight, b: Insight, gap: np.timedelta64) -> bool:
    a_start, a_end = _span(a)
    b_start, b_end = _span(b)
    return bool(a_start <= b_end + gap and b_start <= a_end + gap)


def _inside(step: Insight, trend: Insight, gap: np.timedelta64) -> bool:
    start, end = _span(trend)
    at = to_datetime64(step.start)
    return bool(start - gap <= at <= end + gap)


def same_event(a: Insight, b: Insight, *, gap: timedelta = timedelta(0)) -> bool:
    """Whether two insights are one root event (the rules are in the module docstring)."""
    if _pair(a) != _pair(b) or not _nested(a.segment, b.segment):
        return False
    slack = np.timedelta64(gap, "us")
    kinds = {a.kind, b.kind}
    if kinds <= _MOVES:
        return _direction(a) == _direction(b) and _near(a, b, slack)
    if kinds == {"trend", "level_shift"}:
        trend, step = (a, b) if a.kind == "trend" else (b, a)
        return _direction(a) == _direction(b) and _inside(step, trend, slack)
    if a.kind != b.kind:
        return False
    if a.kind == "trend" and _direction(a) != _direction(b):
        return False
    return _near(a, b, slack)


def _root(parents: list[int], index: int) -> int:
    while parents[index] != index:
        parents[index] = parents[parents[index]]
        index = parents[index]
    return index


def _mention(insight: Insight) -> dict[str, Any]:
    return {
        "kind": insight.kind,
        "segment": dict(insight.segment),
        "start": insight.start,
        "end": insight.end,
        "score": insight.score,
        "p_value": insight.p_value,
    }


def deduplicate(insights: Sequence[Insight], *, gap: timedelta = timedelta(0)) -> list[Insight]:
    """One insight per root event, best score first (ties: smaller p-value first).

    Args:
        insights: scored insights, of any metrics.
        gap: how far apart (between one's end and the other's start) two moves may be and
            still be one event; the feed passes ``merge_gap`` buckets of the metric's grain.
    """
    parents = list(range(len(insights)))
    for i in range(len(insights)):
        for j in range(i + 1, len(insights)):
            if _root(parents, i) != _root(parents, j) and same_event(
                insights[i], insights[j], gap=gap
            ):
                parents[_root(parents, j)] = _root(parents, i)
    groups: dict[int, list[Insight]] = {}
    for index, insight in enumerate(insights):
        groups.setdefault(_root(parents, index), []).append(insight)
    kept: list[Insight] = []
    for members in groups.values():
        members.sort(key=lambda one: (-one.score, one.p_value))
        best, others = members[0], members[1:]
        if others:
            also = [*best.details.get("also", ()), *(_mention(one) for one in others)]
            best = dataclasses.replace(best, details={**best.details, "also": also})
        kept.append(best)
    kept.sort(key=lambda one: (-one.score, one.p_value))
    return kept
