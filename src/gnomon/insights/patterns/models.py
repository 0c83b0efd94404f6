"""What the pattern finders read: one series with its facts, and the knobs of a feed run.

Why a series carries its own facts (metric, segment, share): the feed mixes many metrics and
segments, and scoring, de-duplication and personalisation all need to know where a pattern
came from; a plain array would lose that. Times and values are checked and normalised here,
once, so every finder can trust them: bucket starts as ``datetime64[us]`` (naive UTC), values
as float64 with NaN for empty buckets.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, get_args

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.findings import InsightKind, MetricFacts, Moment

__all__ = ["Correction", "PatternOptions", "SeriesInput", "to_datetime64"]

Correction = Literal["bh", "bonferroni", "none"]
"""How p-values are corrected for the number of tests in one feed run.

``bh`` (Benjamini-Hochberg) bounds the expected share of false insights in the feed at
``alpha``; ``bonferroni`` bounds the chance of any false insight at ``alpha`` (stricter);
``none`` tests each pattern alone.
"""

_DAY = np.timedelta64(1, "D")
_SEASON_BY_STEP: tuple[tuple[np.timedelta64, np.timedelta64, int], ...] = (
    (np.timedelta64(1, "m"), np.timedelta64(1, "m"), 60),
    (np.timedelta64(1, "h"), np.timedelta64(1, "h"), 24),
    (_DAY, _DAY, 7),
    (np.timedelta64(28, "D"), np.timedelta64(31, "D"), 12),
    (np.timedelta64(89, "D"), np.timedelta64(92, "D"), 4),
)
"""Bucket sizes with a usual season: minutes in an hour, hours in a day, days in a week …"""


def to_datetime64(moment: Moment | np.datetime64) -> np.datetime64:
    """A moment as naive UTC ``datetime64[us]`` (aware datetimes are converted to UTC)."""
    if isinstance(moment, np.datetime64):
        converted: np.datetime64 = moment.astype("datetime64[us]")
        return converted
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(moment, "us")


def _times(times: np.ndarray | Sequence[Moment]) -> tuple[np.ndarray, bool]:
    """Bucket starts as ``datetime64[us]``, and whether they are best shown as dates."""
    if isinstance(times, np.ndarray) and np.issubdtype(times.dtype, np.datetime64):
        as_us = times.astype("datetime64[us]")
        midnight = bool(np.all(as_us == as_us.astype("datetime64[D]")))
        coarse = as_us.size < 2 or bool(np.all(np.diff(as_us) >= _DAY))
        return as_us, midnight and coarse
    moments = list(times)
    as_dates = all(not isinstance(m, datetime) and isinstance(m, date) for m in moments)
    converted = np.array([to_datetime64(m) for m in moments], dtype="datetime64[us]")
    return converted, as_dates


def _season_of_step(step: np.timedelta64) -> int:
    for low, high, season in _SEASON_BY_STEP:
        if low <= step <= high:
            return season
    return 0


@dataclass(frozen=True, slots=True, eq=False)
class SeriesInput:
    """One metric series, overall or for one segment, with the facts the feed needs.

    Attributes:
        metric: the metric's facts (name, direction, importance, owner …).
        times: bucket starts, ascending and regular (numpy ``datetime64`` or dates/datetimes;
            aware datetimes are read as UTC). Normalised to ``datetime64[us]``.
        values: the metric per bucket, NaN for empty buckets. Normalised to float64.
        segment: dimension → value of the segment (empty for the metric's total).
        share_of_total: the segment's share of the metric's total (1.0 for the total), when
            the metric is additive; it scales the business impact of the series' insights.
        season: the seasonal period in buckets; ``None`` infers it from the bucket size
            (7 for days, 24 for hours, 12 for months, 4 for quarters, 60 for minutes), and
            0 or 1 means no season.
        as_dates: whether insights report dates rather than datetimes (derived: true when
            every bucket starts at midnight and buckets are a day or longer).
        step: the typical bucket size (derived: the median gap between bucket starts).
    """

    metric: MetricFacts
    times: np.ndarray | Sequence[Moment]
    values: np.ndarray | Sequence[float]
    segment: Mapping[str, Any] = field(default_factory=dict)
    share_of_total: float | None = None
    season: int | None = None
    as_dates: bool = field(init=False, default=False)
    step: np.timedelta64 = field(init=False, default=_DAY)

    def __post_init__(self) -> None:
        times, as_dates = _times(self.times)
        values = np.asarray(self.values, dtype=np.float64).reshape(-1)
        if times.shape != values.shape:
            raise InvalidInput(
                f"Series {self.label}: {times.size} times but {values.size} values.",
                hint="Give one value per bucket (NaN for an empty bucket).",
            )
        gaps = np.diff(times)
        if gaps.size and bool(np.any(gaps <= np.timedelta64(0, "us"))):
            raise InvalidInput(
                f"Series {self.label}: bucket starts are not strictly ascending.",
                hint="Sort the series by time and merge duplicate buckets.",
            )
        step = np.median(gaps.astype(np.int64)).astype(np.int64) if gaps.size else 86_400_000_000
        step64 = np.timedelta64(int(step), "us")
        season = self.season
        if season is None:
            season = _season_of_step(step64)
        if isinstance(season, bool) or season < 0:
            raise InvalidInput(
                f"Series {self.label}: invalid season {season!r}.",
                hint="Give the seasonal period in buckets (7 for days in a week), or 0 for none.",
            )
        share = self.share_of_total
        if share is not None and not 0.0 <= share <= 1.0:
            raise InvalidInput(
                f"Series {self.label}: share_of_total {share!r} is not in [0, 1].",
                hint="Give the segment's share of the metric's total, or None.",
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "season", season if season > 1 else 0)
        object.__setattr__(self, "as_dates", as_dates)
        object.__setattr__(self, "step", step64)

    @property
    def label(self) -> str:
        """``metric`` or ``metric[country=DE]``, for messages and logs."""
        if not self.segment:
            return self.metric.name
        inner = ", ".join(f"{k}={v}" for k, v in self.segment.items())
        return f"{self.metric.name}[{inner}]"

    @property
    def time_array(self) -> np.ndarray:
        """The bucket starts as ``datetime64[us]`` (typed view of :attr:`times`)."""
        return np.asarray(self.times)

    @property
    def value_array(self) -> np.ndarray:
        """The values as float64 (typed view of :attr:`values`)."""
        return np.asarray(self.values, dtype=np.float64)

    @property
    def period(self) -> int:
        """The resolved seasonal period: 0 when the series has none."""
        return int(self.season or 0)

    def moment(self, index: int) -> Moment:
        """The start of bucket ``index`` as a date or naive UTC datetime."""
        moment: datetime = self.time_array[index].astype(datetime)
        return moment.date() if self.as_dates else moment


def _check_int(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(
            f"Invalid {name} {value!r}: expected an integer of at least {minimum}.",
            hint=f"Set PatternOptions.{name} to a whole number of buckets ≥ {minimum}.",
            parameter=name,
        )


def _check_positive(name: str, value: float) -> None:
    if isinstance(value, bool) or not value > 0:
        raise InvalidInput(
            f"Invalid {name} {value!r}: expected a positive number.",
            hint=f"Set PatternOptions.{name} above 0.",
            parameter=name,
        )


@dataclass(frozen=True, slots=True)
class PatternOptions:
    """The knobs of one feed run; windows count buckets of each series' own grain.

    Attributes:
        alpha: the significance level, after the multiple-testing correction.
        correction: how p-values are corrected across all tests of the run (see
            :data:`Correction`).
        kinds: the pattern kinds to look for (``None``: all of them).
        min_points: series with fewer non-empty buckets are skipped.
        trend_window: the recent buckets a trend is looked for in.
        spike_points: how many of the last buckets are tested for a spike or drop.
        cycles: how many past seasons (past points without a season) give a spike's
            expected value (their median).
        spike_history: how many buckets before the tested ones give the residual spread.
        change_window: the recent buckets change points are looked for in (they are the
            costliest test).
        min_segment: the fewest buckets on each side of a level shift.
        season_cycles: the recent seasons whose profile is compared with the seasons before.
        correlation_window: the recent buckets of a correlation, compared with as many
            (at most three times as many) before them.
        min_correlation: the strength (absolute Spearman r) the stronger side of a correlation
            change must reach to be worth an insight.
        half_life: buckets after which a pattern's recency weight halves.
        magnitude_half: the magnitude (0.1 = 10 %) that earns half of the magnitude weight.
        merge_gap: buckets between two events of one metric still read as one event.
    """

    alpha: float = 0.05
    correction: Correction = "bh"
    kinds: frozenset[InsightKind] | None = None
    min_points: int = 28
    trend_window: int = 56
    spike_points: int = 3
    cycles: int = 8
    spike_history: int = 56
    change_window: int = 120
    min_segment: int = 7
    season_cycles: int = 6
    correlation_window: int = 56
    min_correlation: float = 0.5
    half_life: float = 7.0
    magnitude_half: float = 0.1
    merge_gap: int = 1

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise InvalidInput(
                f"Invalid alpha {self.alpha!r}: expected a number strictly between 0 and 1.",
                hint="Use a significance level such as 0.05.",
                parameter="alpha",
            )
        if self.correction not in ("bh", "bonferroni", "none"):
            raise InvalidInput(
                f"Invalid correction {self.correction!r}.",
                hint="Use one of: bh, bonferroni, none.",
                parameter="correction",
            )
        for name, minimum in (
            ("min_points", 8),
            ("trend_window", 8),
            ("spike_points", 1),
            ("cycles", 2),
            ("spike_history", 8),
            ("change_window", 16),
            ("min_segment", 3),
            ("season_cycles", 3),
            ("correlation_window", 10),
            ("merge_gap", 0),
        ):
            _check_int(name, getattr(self, name), minimum)
        known = get_args(InsightKind)
        unknown = sorted(set(self.kinds or ()) - set(known))
        if unknown:
            raise InvalidInput(
                f"Unknown insight kinds: {', '.join(unknown)}.",
                hint=f"Use any of: {', '.join(known)}.",
                parameter="kinds",
            )
        for name in ("half_life", "magnitude_half"):
            _check_positive(name, getattr(self, name))
        if not 0.0 <= self.min_correlation < 1.0:
            raise InvalidInput(
                f"Invalid min_correlation {self.min_correlation!r}: expected a number in [0, 1).",
                hint="Use an absolute rank correlation such as 0.5.",
                parameter="min_correlation",
            )

    def wants(self, kind: str) -> bool:
        """Whether this run looks for patterns of ``kind``."""
        return self.kinds is None or kind in self.kinds
