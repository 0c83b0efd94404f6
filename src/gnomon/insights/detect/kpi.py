"""``kpi``: the detector for business KPIs: what a person would call news in a daily metric.

Business series are positive, multiplicative and heavy-tailed: a small segment's revenue swings
with a few expensive orders, its order count is Poisson, and holidays come once a year. A
Gaussian band around a forecast flags such series every few days. This detector therefore:

* works on ``log(x + c)`` for series that were not negative while it warmed up (``c`` a tenth of
  their typical value, so a zero is a large but finite drop), where changes are ratios;
* forecasts the next point with a level and a seasonal index per phase, updated by clipped
  one-step errors (an anomaly does not teach it to expect more of them);
* judges an error by the series' own recent errors, not by a normal tail: the tail beyond the
  80th percentile of the last ``window`` errors is modelled as exponential, each side on its
  own (a log-scale exponential tail is a Pareto tail of the values, and on lighter-tailed
  data a conservative one), and never judged rarer than its rank among those errors: a jump
  the series made in the last ``window`` points is something it does, not news;
* remembers a year (when the grain has one): a deviation that matches an anomalous deviation
  of the same sign a year earlier, give or take a week, is judged by the part that exceeds it,
  so Black Friday is news once, not every year;
* watches the level too, for declines too slow for a one-step forecast that adapts to them:
  the median of the last ``short`` deseasonalised points against the lowest such level of the
  past year before the last ``4 short`` points (a level never seen before), and, once a year
  of data exists, the median year-over-year ratio of the last ``short`` points against what it
  was ``short`` to four times ``short`` points before (a trend that broke away from last
  year's). Only declines: a level above every earlier one is what a growing business looks
  like;
* flags nothing smaller than ``min_change`` (relative), and one event once: after a flag the
  detector stays quiet for ``refractory`` points, and for as long after that as the points
  keep looking anomalous, so a drop that lasts a week is one anomaly, not a burst.

The band (``lower``, ``upper``) is the one-step view's: a point the level views flag may lie
inside it.

Scores are ``1 - p`` like every detector's, ``p`` being the smallest of the views' tail
probabilities times the number of views that can judge the point yet (a Bonferroni bound), so
sensitivities keep their meaning: medium flags where p <= 1e-3. The exponential tails make
that bound conservative on lighter-tailed series, which is what keeps a scan of hundreds of
series from flagging a few hundred points of noise. Points in a quiet stretch score 0.
"""

import math
from collections import deque
from typing import TYPE_CHECKING, Any

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import WARMING, Row, Streaming, check_float, check_int
from gnomon.insights.detect._calibrate import severity_of
from gnomon.insights.detect._window import SortedWindow
from gnomon.insights.spread import MAD_TO_SIGMA

if TYPE_CHECKING:
    from gnomon.insights.detect.models import Severity

__all__ = ["TRANSFORMS", "KpiDetector"]

TRANSFORMS = ("auto", "log", "none")
"""``auto``: log unless the warm-up holds a negative value."""

_BODY = 0.2
"""The tail model starts at the 80th percentile (and the 20th below)."""
_LN2 = math.log(2.0)
_MEDIAN_SE = 1.2533141373155003
"""sqrt(pi / 2): the standard error of a median of n normal points is this times sigma/sqrt(n)."""
_MIN_RESIDUALS = 42
"""One-step errors needed before the tail model judges anything (six weeks of days)."""
_YEAR_SLACK = 7
"""How far (in points) the same event may move from one year to the next (a weekday shift)."""
_MEMORABLE = 1e-3
"""An error this improbable is remembered for a year: if it recurs, it is not news again."""
_CLIP = 3.0
"""Errors beyond this many sigmas move the level and the seasonal index as if this large."""
_RECURS = 0.5
"""A deviation a year ago recurs when it is at least this share of today's (same sign)."""
_LEVEL_GAP = 4
"""The level view compares with levels at least this many ``short`` windows old, so a decline
that began weeks ago is measured from before it began, not from its own last fortnight."""


class KpiDetector(Streaming):
    """``kpi``: log-scale seasonal forecast, heavy-tail calibration, yearly memory, level views.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points (7 for daily data), or ``None``.
        threshold: an explicit score threshold (overrides the sensitivity).
        transform: ``auto`` (log unless the warm-up holds a negative value), ``log`` or ``none``.
        alpha: how fast the level follows one-step errors.
        gamma: how fast a phase's seasonal index follows them.
        window: recent one-step errors the tail model is fitted to.
        min_change: smallest relative change that is flagged (0.1: ten percent).
        refractory: points after a flag during which nothing is flagged (longer while the
            points keep looking anomalous).
        short: points in the level views' medians (0 turns the level views off).
        year: points in a year, for the yearly memory and the year-over-year view (default 364
            for a weekly season, else none; 0 turns them off).
        min_history: points used to start the level and seasonal indices.
    """

    name = "kpi"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        transform: str = "auto",
        alpha: float = 0.15,
        gamma: float = 0.1,
        window: int = 120,
        min_change: float = 0.1,
        refractory: int = 7,
        short: int = 14,
        year: int | None = None,
        min_history: int | None = None,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        if transform not in TRANSFORMS:
            raise InvalidInput(
                f"Invalid transform {transform!r}. Use one of: {', '.join(TRANSFORMS)}.",
                valid=list(TRANSFORMS),
            )
        self.transform = transform
        self.alpha = check_float("alpha", alpha, low=1e-4, high=1.0)
        self.gamma = check_float("gamma", gamma, low=0.0, high=1.0)
        self.window = check_int("window", window, minimum=_MIN_RESIDUALS)
        self.min_change = check_float("min_change", min_change, low=0.0, high=10.0)
        self.refractory = check_int("refractory", refractory, minimum=0)
        self.short = check_int("short", short, minimum=0)
        if self.short == 1:
            raise InvalidInput(
                "Invalid short 1: a level is the median of at least 2 points.",
                hint="Use 0 to turn the level views off, or 2 or more.",
                parameter="short",
            )
        default_year = 364 if self.season == 7 else 0
        self.year = check_int("year", default_year if year is None else year, minimum=0)
        if 0 < self.year <= 2 * _YEAR_SLACK:
            raise InvalidInput(
                f"Invalid year {self.year}: expected 0 (off) or more than {2 * _YEAR_SLACK}.",
                parameter="year",
            )
        least = max(2 * (self.season or 1), 14)
        self.min_history = check_int(
            "min_history", least if min_history is None else min_history, minimum=least
        )
        self._phases = self.season or 1
        self._start: list[tuple[int, float]] = []
        self._log: bool | None = None if transform == "auto" else transform == "log"
        self._offset = 0.0
        self._level = 0.0
        self._seasonal = [0.0] * self._phases
        self._ready = False
        self._errors = SortedWindow(self.window)
        self._quiet = 0
        # The yearly memory, by position: the last year (and a week) of values and of the
        # errors worth remembering.
        keep = self.year + _YEAR_SLACK + 1 if self.year else 1
        self._past_y: deque[float] = deque(maxlen=keep)
        self._past_news: deque[float] = deque(maxlen=keep)
        # The level views.
        self._deseasoned: deque[float] = deque(maxlen=max(self.short, 1))
        self._levels: deque[tuple[int, float]] = deque()
        self._lows: deque[tuple[int, float]] = deque()
        self._first_level = -1
        self._yoy: deque[float] = deque(maxlen=max(self.short, 1))
        self._yoy_levels: deque[float] = deque(maxlen=4 * self.short + 1)

    def _own_params(self) -> dict[str, Any]:
        return {
            "transform": self.transform,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "window": self.window,
            "min_change": self.min_change,
            "refractory": self.refractory,
            "short": self.short,
            "year": self.year,
            "min_history": self.min_history,
        }

    # ------------------------------------------------------------------ the step

    def _step(self, x: float) -> Row:
        position = self._position
        self._position += 1
        if not self._ready:
            if math.isfinite(x):
                self._start.append((position, x))
                if len(self._start) >= self.min_history:
                    self._begin()
            return WARMING
        finite = math.isfinite(x)
        y = self._y(x) if finite else math.nan
        phase = position % self._phases
        forecast = self._level + self._seasonal[phase]
        if len(self._errors) < _MIN_RESIDUALS:
            if finite:
                self._learn(y - forecast, phase, limit=math.inf)
                self._errors.push(y - forecast)
            self._remember(y, 0.0, phase)
            return WARMING
        tails = _Tails.of(self._errors)
        reach = math.log(_BODY * 2.0 / self._threshold.tail)
        expected = self._x(forecast + tails.median)
        lower = self._x(forecast + tails.q20 - tails.down * reach)
        upper = self._x(forecast + tails.q80 + tails.up * reach)
        if not finite:
            self._remember(math.nan, 0.0, phase)
            return (0.0, False, 0, expected, lower, upper, "none")
        error = y - forecast
        # One-step view: the error beyond what recurred a year ago, against the tail model.
        news = error - self._yearly(error)
        p_step = self._surprise(news, tails)
        p_level, level_shift = self._level_view(y - self._seasonal[phase], tails.sigma)
        p_yoy, yoy_shift = self._yoy_view(y, tails.sigma)
        ps = (p_step, p_level, p_yoy)
        shifts = (news - tails.median, level_shift, yoy_shift)
        best, p, views = 0, 1.0, 0
        for view, p_view in enumerate(ps):
            if p_view is None:
                continue  # the view cannot judge yet: it does not count against the others
            views += 1
            if p_view < p and self._large(shifts[view]):
                best, p = view, p_view
        score = 1.0 - min(1.0, views * p)
        anomalous = self._threshold.flags(score)
        self._learn(error, phase, limit=_CLIP * tails.sigma)
        self._errors.push(error)
        self._remember(y, error if _tail(error, tails) <= _MEMORABLE else 0.0, phase)
        if self._quiet > 0:
            # Still in the stretch after a flag: an event that goes on is the same event.
            self._quiet = self.refractory if anomalous else self._quiet - 1
            return (0.0, False, _sign(error - tails.median), expected, lower, upper, "none")
        if not anomalous:
            return (score, False, _sign(error - tails.median), expected, lower, upper, "none")
        self._quiet = self.refractory
        severity: Severity = severity_of(score, self._threshold.tail, math.nan)
        return (score, True, _sign(shifts[best]), expected, lower, upper, severity)

    def _surprise(self, error: float, tails: "_Tails") -> float:
        """The tail model's probability, but never below the error's rank among recent ones.

        An error that is not the most extreme of the window is something the series does.
        """
        p = _tail(error, tails)
        if p < 1.0:
            errors = self._errors
            rank = errors.rank_above(error) if error > tails.median else errors.rank_below(error)
            p = max(p, 2.0 * rank / (len(errors) + 1))
        return p

    def _large(self, shift: float) -> bool:
        """Whether a shift (log scale when logged) is at least ``min_change`` relative."""
        if not math.isfinite(shift) or shift == 0.0:
            return False
        if self._log:
            return abs(math.expm1(shift)) >= self.min_change
        return abs(shift) >= self.min_change * max(abs(self._x(self._level)), 1e-12)

    # ------------------------------------------------------------------ transform

    def _y(self, x: float) -> float:
        if not self._log:
            return x
        return math.log(max(x, 0.0) + self._offset)

    def _x(self, y: float) -> float:
        if not self._log:
            return y
        return math.exp(min(y, 700.0)) - self._offset

    # ------------------------------------------------------------------ learning

    def _begin(self) -> None:
        """Start the level and the seasonal indices from the warm-up's points."""
        values = sorted(v for _, v in self._start)
        if self._log is None:
            self._log = values[0] >= 0.0
        if self._log:
            typical = values[len(values) // 2]
            mean = sum(values) / len(values)
            self._offset = 0.1 * typical if typical > 0 else max(mean, 1.0)
        ys = [(p, self._y(v)) for p, v in self._start]
        centre = _median([y for _, y in ys])
        by_phase: list[list[float]] = [[] for _ in range(self._phases)]
        for p, y in ys:
            by_phase[p % self._phases].append(y - centre)
        self._seasonal = [_median(d) if d else 0.0 for d in by_phase]
        recent = ys[-self._phases :] if self.season else ys[-7:]
        self._level = _median([y - self._seasonal[p % self._phases] for p, y in recent])
        # The memory runs by position from the first point, gaps included.
        known = dict(ys)
        for p in range(self._start[-1][0] + 1):
            self._remember(known.get(p, math.nan), 0.0, p % self._phases)
        self._ready = True
        self._start = []

    def _learn(self, error: float, phase: int, *, limit: float) -> None:
        clipped = max(-limit, min(limit, error))
        self._level += self.alpha * clipped
        if self.season:
            self._seasonal[phase] += self.gamma * (1.0 - self.alpha) * clipped

    def _remember(self, y: float, news: float, phase: int) -> None:
        """Keep what the yearly memory and the level view need of this point."""
        if self.year:
            self._past_y.append(y)
            self._past_news.append(news)
        if self.short and math.isfinite(y):
            self._deseasoned.append(y - self._seasonal[phase])

    def _yearly(self, error: float) -> float:
        """The part of ``error`` that recurs from a year ago (within a week), else 0."""
        past = self._past_news
        if not self.year or len(past) < self.year + _YEAR_SLACK + 1:
            return 0.0
        best = 0.0
        # past[k] is the point year + slack + 1 - k points ago.
        for k in range(1, 2 * _YEAR_SLACK + 2):
            news = past[k]
            if news * error > 0 and abs(news) > abs(best):
                best = news
        # Only an event of about the same size recurs; a larger one is news by its excess.
        if abs(best) < _RECURS * abs(error):
            return 0.0
        return math.copysign(min(abs(best), abs(error)), error)

    # ------------------------------------------------------------------ level views

    def _level_view(self, deseasoned: float, sigma: float) -> tuple[float | None, float]:
        """A level (median of the last ``short`` points) below every level of the past year.

        The probability is ``None`` while the view cannot judge (too few levels yet).
        """
        if not self.short:
            return None, 0.0
        window = [*self._deseasoned, deseasoned][-self.short :]
        if len(window) < self.short:
            return None, 0.0
        window.sort()
        level = 0.5 * (window[(self.short - 1) // 2] + window[self.short // 2])
        index = self._position
        lows = self._lows
        while lows and lows[0][0] < index - (self.year or 365):
            lows.popleft()
        result: tuple[float | None, float] = (None, 0.0)
        if lows and index - self._first_level >= _LEVEL_GAP * self.short:
            result = (1.0, 0.0)
            se = _MEDIAN_SE * sigma * math.sqrt(2.0 / self.short)
            below = lows[0][1] - level
            if below > 0:
                result = (_two_sided(below / se), -below)
        # Recent levels overlap this one or share its decline: only older ones are compared with.
        self._levels.append((index, level))
        while len(self._levels) > _LEVEL_GAP * self.short:
            old_index, old = self._levels.popleft()
            while lows and lows[-1][1] >= old:
                lows.pop()
            lows.append((old_index, old))
        if self._first_level < 0:
            self._first_level = index
        return result

    def _yoy_view(self, y: float, sigma: float) -> tuple[float | None, float]:
        """The median year-over-year log ratio now against ``short`` to ``4 short`` points ago.

        The probability is ``None`` until a year and ``4 short`` points have been seen.
        """
        past = self._past_y
        if not self.year or not self.short or len(past) < self.year + _YEAR_SLACK + 1:
            return None, 0.0
        ago = past[_YEAR_SLACK + 1]  # a year ago to the point
        if math.isfinite(ago):
            self._yoy.append(y - ago)
        if len(self._yoy) < self.short:
            return None, 0.0
        ratio = _median(list(self._yoy))
        history = self._yoy_levels
        history.append(ratio)
        if len(history) < 4 * self.short + 1:
            return None, 0.0
        before = _median([history[i] for i in range(3 * self.short + 1)])
        shift = min(ratio - before, 0.0)
        se = _MEDIAN_SE * sigma * math.sqrt(2.0 / self.short + 2.0 / (3 * self.short))
        return _two_sided(shift / se), shift


class _Tails:
    """The tail model of recent errors.

    Their median, 20th and 80th percentiles, the exponential scales below the one and above the
    other, and a robust sigma (from the MAD).
    """

    __slots__ = ("down", "median", "q20", "q80", "sigma", "up")

    def __init__(
        self, median: float, q20: float, q80: float, down: float, up: float, sigma: float
    ) -> None:
        self.median, self.q20, self.q80 = median, q20, q80
        self.down, self.up, self.sigma = down, up, sigma

    @classmethod
    def of(cls, errors: SortedWindow) -> "_Tails":
        median = errors.median()
        q10, q20 = errors.quantile(0.1), errors.quantile(_BODY)
        q80, q90 = errors.quantile(1 - _BODY), errors.quantile(0.9)
        sigma = max(MAD_TO_SIGMA * errors.mad(median), 1e-9)
        floor = 0.25 * sigma
        return cls(
            median,
            q20,
            q80,
            max((q20 - q10) / _LN2, floor),
            max((q90 - q80) / _LN2, floor),
            sigma,
        )


def _tail(error: float, tails: _Tails) -> float:
    """Two-sided tail probability of an error under the exponential tails beyond the body."""
    if error > tails.q80:
        return min(1.0, 2.0 * _BODY * math.exp(-(error - tails.q80) / tails.up))
    if error < tails.q20:
        return min(1.0, 2.0 * _BODY * math.exp(-(tails.q20 - error) / tails.down))
    return 1.0


def _two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2.0))


def _sign(value: float) -> int:
    return 1 if value > 0 else -1 if value < 0 else 0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])
