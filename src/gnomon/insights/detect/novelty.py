"""``novelty``: a point is anomalous when some view of the series goes where it has not been.

The series is watched through several views: the value, a short mean, a short median, two
"short mean minus longer mean" contrasts (a local level against its surroundings) and, when the
first points show a clear period, the difference from one period ago. For each view the detector
keeps the range it has taken over the last ``memory`` points; the novelty of a point is how far
the view now lies outside that range, as a share of the range. Every view has a margin: the
share that counts as one unit of surprise. The point's surprise ``c`` is the largest novelty in
units of its margin.

Why ranges and not standard deviations: a KPI's range over a long memory is what its owner knows
as normal, it needs no distributional assumption, and a first excursion beyond it is what people
want to hear about. Once a view has been there, the range includes it, so a repeat of the same
level is no longer news: the detector tunes itself without labels.

Scores are calibrated like a tail probability: ``score = 1 - 10**(-3c)``, so the medium
sensitivity (tail 1e-3) flags at exactly one margin of novelty and low (1e-4) at 4/3 of one. After
a flag the next ``refractory`` points score 0: one event raises one alert, not a burst.

The default parameters are the configuration that scored best on the NAB corpus (see
``benchmarks/nab.py``), tuned once for the whole corpus, never per series.
"""

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import Row, Streaming, check_float, check_int
from gnomon.insights.detect._calibrate import severity_of

if TYPE_CHECKING:
    from gnomon.insights.detect.models import Severity

__all__ = ["VIEWS", "NoveltyDetector"]

VIEWS = ("value", "mean24", "median6", "mean6_vs_48", "mean24_vs_288", "seasonal_diff")
"""The views a margin can be given for; a view without a margin is not watched."""

DEFAULT_MARGINS: dict[str, float] = {
    "value": 0.014784,
    "mean24": 0.0072226,
    "median6": 0.0336,
    "mean6_vs_48": 0.0329,
    "mean24_vs_288": 0.04,
    "seasonal_diff": 0.61875,
}
_NEAR_PEAK = 0.9
_DECADES = 3.0
"""One margin of novelty is a tail probability of 10**-3: the medium sensitivity."""


class _Range:
    """Maximum and minimum of the last ``size`` values pushed, in amortised O(1)."""

    __slots__ = ("_count", "_high", "_low", "_size")

    def __init__(self, size: int) -> None:
        self._size = size
        self._count = 0
        self._high: deque[tuple[int, float]] = deque()
        self._low: deque[tuple[int, float]] = deque()

    def __len__(self) -> int:
        return min(self._count, self._size)

    def push(self, value: float) -> None:
        i = self._count
        high, low = self._high, self._low
        while high and high[-1][1] <= value:
            high.pop()
        high.append((i, value))
        while low and low[-1][1] >= value:
            low.pop()
        low.append((i, value))
        oldest = i - self._size + 1
        if high[0][0] < oldest:
            high.popleft()
        if low[0][0] < oldest:
            low.popleft()
        self._count += 1

    @property
    def high(self) -> float:
        return self._high[0][1]

    @property
    def low(self) -> float:
        return self._low[0][1]


class _Trailing:
    """The last ``size`` values: mean (summed afresh: no drift, no sticky overflow), median."""

    __slots__ = ("_values",)

    def __init__(self, size: int) -> None:
        self._values: deque[float] = deque(maxlen=size)

    def push(self, value: float) -> None:
        self._values.append(value)

    def mean(self) -> float:
        return sum(self._values) / len(self._values)

    def median(self) -> float:
        ordered = sorted(self._values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else ordered[mid - 1] * 0.5 + ordered[mid] * 0.5


def find_period(values: np.ndarray, *, longest: int, strength: float = 0.3) -> int | None:
    """The lag of the strongest autocorrelation peak after the first dip, if it is strong.

    The search starts where the autocorrelation first rises again, so the trivial
    correlation of neighbouring points of a smooth series is not taken for a season.
    """
    y = values - values.mean()
    n = y.size
    if n < 8 or not np.isfinite(y).all() or float(np.dot(y, y)) == 0.0:
        return None
    with np.errstate(all="ignore"):
        acf = []
        for lag in range(1, min(longest, n // 2) + 1):
            a, b = y[:-lag], y[lag:]
            denominator = math.sqrt(
                float(np.dot(a - a.mean(), a - a.mean()))
                * float(np.dot(b - b.mean(), b - b.mean()))
            )
            numerator = float(np.dot(a - a.mean(), b - b.mean()))
            acf.append(numerator / denominator if denominator > 0 else 0.0)
    rises = next((i for i in range(1, len(acf)) if acf[i] > acf[i - 1]), None)
    if rises is None:
        return None
    peak = max(acf[rises:])
    if peak <= strength:
        return None
    # Multiples of the season correlate about as well as the season: take the first near-peak.
    best = next(i for i in range(rises, len(acf)) if acf[i] >= _NEAR_PEAK * peak)
    while best + 1 < len(acf) and acf[best + 1] > acf[best]:
        best += 1
    return best + 1


class NoveltyDetector(Streaming):
    """``novelty``: range novelty over several views, with seasonal difference and refractory.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points; ``None`` finds it from the first ``period_search`` points
            (the seasonal view is left out when none is clear).
        threshold: an explicit score threshold (overrides the sensitivity).
        margins: view name -> share of the view's range that is one unit of surprise; views
            left out are not watched. Keys from :data:`VIEWS`.
        memory: points over which each view's range is kept.
        refractory: points after a flag that score 0.
        min_history: points before the detector judges.
        period_search: points used to find the season when none is given.
        longest_period: longest season looked for.
    """

    name = "novelty"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        margins: dict[str, float] | None = None,
        memory: int = 6000,
        refractory: int = 35,
        min_history: int = 100,
        period_search: int = 600,
        longest_period: int = 300,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        chosen = dict(DEFAULT_MARGINS if margins is None else margins)
        unknown = sorted(set(chosen) - set(VIEWS))
        if not chosen or unknown:
            raise InvalidInput(
                f"Invalid margins {margins!r}: views are {', '.join(VIEWS)}.",
                hint="Give at least one view a margin (a share of its range, e.g. 0.02).",
            )
        self.margins = {
            view: check_float(f"margin of {view}", chosen[view], low=1e-9, high=1e9)
            for view in VIEWS
            if view in chosen
        }
        self.memory = check_int("memory", memory, minimum=10)
        self.refractory = check_int("refractory", refractory, minimum=0)
        self.min_history = check_int("min_history", min_history, minimum=2)
        self.period_search = check_int("period_search", period_search, minimum=16)
        self.longest_period = check_int("longest_period", longest_period, minimum=2)
        self._ranges = {view: _Range(self.memory) for view in self.margins}
        self._recent = {n: _Trailing(n) for n in (6, 24, 48, 288)}
        self._seen = 0
        self._start: list[float] = []
        self._period = self.season
        self._searched = self.season is not None
        self._lagged: deque[float] = deque(maxlen=self.season or 1)
        self._quiet = 0

    def _own_params(self) -> dict[str, Any]:
        return {
            "margins": dict(self.margins),
            "memory": self.memory,
            "refractory": self.refractory,
            "min_history": self.min_history,
            "period_search": self.period_search,
            "longest_period": self.longest_period,
        }

    @property
    def period(self) -> int | None:
        """The season in use (given, or found in the first points), once known."""
        return self._period

    def _views(self, x: float) -> dict[str, float]:
        """Every watched view at this point (with ``x`` already in the trailing windows)."""
        r = self._recent
        views: dict[str, float] = {"value": x}
        if "mean24" in self.margins:
            views["mean24"] = r[24].mean()
        if "median6" in self.margins:
            views["median6"] = r[6].median()
        if "mean6_vs_48" in self.margins:
            views["mean6_vs_48"] = r[6].mean() - r[48].mean()
        if "mean24_vs_288" in self.margins:
            views["mean24_vs_288"] = r[24].mean() - r[288].mean()
        if "seasonal_diff" in self.margins and self._period and len(self._lagged) == self._period:
            views["seasonal_diff"] = x - self._lagged[0]
        return views

    def _step(self, x: float) -> Row:
        self._position += 1
        expected = self._recent[24].mean() if self._seen else math.nan
        if not math.isfinite(x):
            if self._seen < self.min_history:
                return (0.0, False, 0, math.nan, math.nan, math.nan, "none")
            lower, upper = self._band(expected)
            return (0.0, False, 0, expected, lower, upper, "none")
        ready = self._seen >= self.min_history
        lower, upper = self._band(expected) if ready else (math.nan, math.nan)
        for window in self._recent.values():
            window.push(x)
        surprise, direction = 0.0, 0
        for view, value in self._views(x).items():
            if not math.isfinite(value):
                continue
            span = self._ranges[view]
            if len(span) >= self.min_history:
                high, low = span.high, span.low
                width = max(high - low, 1e-9 * max(1.0, abs(high), abs(low)))
                excess = max(value - high, low - value, 0.0) / width / self.margins[view]
                if excess > surprise:
                    surprise, direction = excess, 1 if value > high else -1
            span.push(value)
        self._learn_period(x)
        self._seen += 1
        if not ready:
            return (0.0, False, 0, math.nan, math.nan, math.nan, "none")
        if self._quiet > 0:
            self._quiet -= 1
            return (0.0, False, 0, expected, lower, upper, "none")
        score = 1.0 - 10.0 ** (-_DECADES * min(surprise, 400.0))
        flagged = self._threshold.flags(score)
        severity: Severity = "none"
        if flagged:
            severity = severity_of(score, self._threshold.tail, math.nan)
            self._quiet = self.refractory
        return (score, flagged, direction if surprise > 0 else 0, expected, lower, upper, severity)

    def _band(self, expected: float) -> tuple[float, float]:
        """The value view's range widened by its margin at the current threshold."""
        span = self._ranges["value"]
        if not len(span) or "value" not in self.margins:
            return expected, expected
        units = -math.log10(self._threshold.tail) / _DECADES
        width = span.high - span.low
        reach = units * self.margins["value"] * width
        return span.low - reach, span.high + reach

    def _learn_period(self, x: float) -> None:
        if not self._searched and "seasonal_diff" in self.margins:
            self._start.append(x)
            if len(self._start) == self.period_search:
                found = find_period(np.array(self._start), longest=self.longest_period)
                if found:
                    # The search's own points give the first period of lags.
                    self._lagged = deque(self._start[-found:], maxlen=found)
                self._period, self._searched, self._start = found, True, []
            return
        if self._period:
            self._lagged.append(x)
