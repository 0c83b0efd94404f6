"""What the explaining and pattern-finding parts of insights hand to narration and the feed.

Root-cause search (:mod:`gnomon.insights.explain`), pattern tests
(:mod:`gnomon.insights.patterns`) and narration (:mod:`gnomon.insights.narrate`) are written
against these plain values, so each can be tested alone and the narrator never needs to know
which algorithm found a cause. Nothing here reads data.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

__all__ = [
    "Cause",
    "Effect",
    "Explanation",
    "Insight",
    "InsightKind",
    "MetricFacts",
    "Moment",
]

Moment = date | datetime
"""A bucket's start: a date for daily and coarser grains, a datetime for finer ones."""

Effect = Literal["rate", "mix", "both", "volume"]
"""How a segment moved a metric.

``volume`` for additive metrics (sums and counts: the segment's amount changed). For ratio
metrics, ``rate`` means the segment's own ratio changed (checkout conversion fell in DE/web),
``mix`` that its share of the denominator changed while its ratio held (more orders came from
a cheap category), ``both`` that each accounts for at least a quarter of its contribution.
"""

InsightKind = Literal[
    "trend",
    "spike",
    "drop",
    "level_shift",
    "seasonality_change",
    "record_high",
    "record_low",
    "correlation_appeared",
    "correlation_broke",
]


@dataclass(frozen=True, slots=True)
class MetricFacts:
    """What narration needs to know of a metric to write about it.

    Attributes:
        name: the metric's name (``revenue``).
        label: how people call it (the description's first words, or the name).
        unit: a currency code (``EUR``), ``%``, or a count noun (``orders``), if any.
        format: ``currency``, ``percent``, ``integer``, ``number`` or a Babel pattern.
        direction: ``up`` when higher is better, ``down`` when lower is.
        owner: who owns the metric (to personalise a feed).
        importance: the metric's weight in business impact scores (1 by default).
    """

    name: str
    label: str | None = None
    unit: str | None = None
    format: str | None = None
    direction: Literal["up", "down"] = "up"
    owner: str | None = None
    importance: float = 1.0


@dataclass(frozen=True, slots=True)
class Cause:
    """One root-cause element: a segment that explains part of a metric's change.

    Attributes:
        segment: dimension → value; dimensions not named are "any" (``{"country": "DE",
            "channel": "web"}``).
        contribution: the segment's share of the total change, signed: 0.83 means 83 % of
            the change came from it; a segment that moved against the total has a negative
            share. For additive metrics the shares of disjoint segments add up.
        before: the segment's value of the metric in the baseline (or as expected).
        after: its value in the focus window (as observed).
        confidence: how sure the search is that this element is a cause, between 0 and 1.
        effect: how the segment moved the metric (see :data:`Effect`).
        surprise: how unexpected the segment's move is given its baseline share
            (Jensen-Shannon divergence of its shares, as in Adtributor), when computed.
    """

    segment: Mapping[str, Any]
    contribution: float
    before: float | None
    after: float | None
    confidence: float
    effect: Effect = "volume"
    surprise: float | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    """Why a metric moved between a baseline and a focus window.

    Attributes:
        metric: the metric explained.
        focus: the focus window, ``[start, end)``.
        baseline: the baseline window, ``[start, end)``: from the start of the earliest
            window it averages to the end of the latest.
        baseline_windows: how many windows of the focus window's length the baseline
            averages (4 for the same weekdays of the four weeks before, say); 1 when it is one
            stretch of time.
        before: the metric's total in the baseline (or expected).
        after: the metric's total in the focus window.
        causes: the root-cause elements, most important first; empty when nothing stands out.
        dimensions: the dimensions searched.
        segment: a segment the whole explanation was restricted to (a filter), if any.
    """

    metric: MetricFacts
    focus: tuple[Moment, Moment]
    baseline: tuple[Moment, Moment] | None
    before: float | None
    after: float | None
    causes: tuple[Cause, ...]
    dimensions: tuple[str, ...] = ()
    segment: Mapping[str, Any] = field(default_factory=dict)
    baseline_windows: int = 1

    @property
    def change(self) -> float | None:
        """``after - before``."""
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def relative_change(self) -> float | None:
        """The change as a fraction of ``before`` (``-0.18`` for -18 %); None from 0."""
        change = self.change
        if change is None or not self.before:
            return None
        return change / abs(self.before)


@dataclass(frozen=True, slots=True)
class Insight:
    """A significant pattern in a metric's series (or between two series).

    Attributes:
        kind: what was found (see :data:`InsightKind`).
        metric: the metric it concerns.
        segment: the segment of the series (empty for the metric's total).
        start: where the pattern starts (the bucket of a spike, the first bucket of a trend).
        end: where it ends (inclusive; equal to ``start`` for a single point).
        value: the value the pattern is about (the spike's value, the new level, the record).
        reference: what it is compared with (the expected value, the old level, the old
            record, the trend's value at its start).
        magnitude: the relative size of the pattern: ``(value - reference) / |reference|``
            for spikes, shifts and records; the total relative change over the trend; the
            change of correlation for correlation insights.
        test: the significance test applied (``mann-kendall``, ``t-test`` …).
        statistic: the test's statistic.
        p_value: the test's p-value (insights above the significance level are dropped).
        score: the rank in a feed: magnitude, recency and business impact combined, 0 to 1.
        other_metric: the second metric of a correlation insight.
        details: anything else a narrative or chart may use (slope per bucket, lag …).
    """

    kind: InsightKind
    metric: MetricFacts
    segment: Mapping[str, Any]
    start: Moment
    end: Moment
    value: float | None
    reference: float | None
    magnitude: float
    test: str
    statistic: float
    p_value: float
    score: float = 0.0
    other_metric: MetricFacts | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
