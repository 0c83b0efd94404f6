"""Grains: how a series' timestamps step, and which seasonal periods each grain implies.

Hours, days and weeks are fixed durations. Months, quarters and years are calendar steps: a
series keeps its anchor, so month ends continue as month ends (31 Jan, 28 Feb, 31 Mar …) and
the 15th of each month continues on the 15th. Daylight saving does not exist here: timestamps
are naive (or UTC) instants, as the semantic layer hands them over.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from gnomon.errors import InvalidInput

__all__ = ["GRAINS", "Grain", "default_seasonality", "future_times", "usable_periods"]

Grain = Literal["hour", "day", "week", "month", "quarter", "year"]

GRAINS: tuple[Grain, ...] = ("hour", "day", "week", "month", "quarter", "year")

_FIXED = {
    "hour": np.timedelta64(1, "h").astype("timedelta64[us]"),
    "day": np.timedelta64(1, "D").astype("timedelta64[us]"),
    "week": np.timedelta64(7, "D").astype("timedelta64[us]"),
}
_MONTHS = {"month": 1, "quarter": 3, "year": 12}

WEEKS_FOR_YEARLY_SEASON = 104
"""A weekly series gets the 52-week season only with two full years: with less, a yearly
pattern cannot be told from noise and models that use it overfit."""


def default_seasonality(grain: Grain, length: int) -> tuple[int, ...]:
    """The seasonal periods (in points) a grain implies for a series of ``length`` points.

    >>> default_seasonality("hour", 500), default_seasonality("week", 60)
    ((24, 168), ())
    """
    if grain == "hour":
        return (24, 168)
    if grain == "day":
        return (7,)
    if grain == "week":
        return (52,) if length >= WEEKS_FOR_YEARLY_SEASON else ()
    if grain == "month":
        return (12,)
    if grain == "quarter":
        return (4,)
    return ()


def usable_periods(periods: tuple[int, ...], length: int) -> tuple[int, ...]:
    """The periods a fit on ``length`` points can estimate: at least two full cycles each.

    >>> usable_periods((24, 168), 300)
    (24,)
    """
    return tuple(p for p in periods if length >= 2 * p)


def check_grain(grain: object) -> Grain:
    """``grain`` itself when it is one of :data:`GRAINS`, else :class:`InvalidInput`."""
    if grain not in GRAINS:
        raise InvalidInput(
            f"Invalid grain {grain!r}: not a known time grain.",
            hint=f"Use one of: {', '.join(GRAINS)}.",
            valid=list(GRAINS),
        )
    return grain


@dataclass(frozen=True, slots=True)
class _CalendarAnchor:
    """Where in its month a calendar-stepped series sits: a fixed day, or the month's end."""

    month_end: bool
    day_offset: np.timedelta64  # from the first of the month (time of day included)


def check_regular(times: np.ndarray, grain: Grain) -> None:
    """Raise :class:`InvalidInput` unless ``times`` step by exactly one ``grain`` each.

    ``times`` must be datetime64[us] with at least two values. A repeated or backward
    timestamp is named as such: it is the commonest mistake (rows not sorted, or two rows for
    one period), and "not regular" would hide it.
    """
    steps = np.diff(times)
    backward = np.flatnonzero(steps <= np.timedelta64(0, "us"))
    if backward.size:
        index = int(backward[0])
        what = "repeats" if steps[index] == np.timedelta64(0, "us") else "goes back from"
        raise InvalidInput(
            f"Invalid series: times must be ascending without repeats: {times[index + 1]} "
            f"{what} {times[index]} (position {index + 1}).",
            hint="Sort the rows by time and keep one row per period (aggregate duplicates).",
            index=index + 1,
        )
    if grain in _FIXED:
        bad = np.flatnonzero(steps != _FIXED[grain])
        if bad.size:
            _irregular(times, int(bad[0]), grain)
        return
    anchor = _anchor(times, grain)
    months = times.astype("datetime64[M]").astype(np.int64)
    expected = _calendar_times(int(months[0]), len(times), _MONTHS[grain], anchor)
    bad = np.flatnonzero(expected != times)
    if bad.size:
        _irregular(times, max(int(bad[0]) - 1, 0), grain)


def future_times(times: np.ndarray, grain: Grain, horizon: int) -> np.ndarray:
    """The ``horizon`` timestamps after the last of ``times``, continuing its grain and anchor.

    >>> t = np.array(["2024-01-31", "2024-02-29"], dtype="datetime64[us]")
    >>> [str(d)[:10] for d in future_times(t, "month", 2)]
    ['2024-03-31', '2024-04-30']
    """
    last = times[-1]
    if grain in _FIXED:
        fixed: np.ndarray = last + _FIXED[grain] * np.arange(1, horizon + 1)
        return fixed
    anchor = _anchor(times, grain)
    step = _MONTHS[grain]
    month = int(last.astype("datetime64[M]").astype(np.int64)) + step
    return _calendar_times(month, horizon, step, anchor)


def _anchor(times: np.ndarray, grain: Grain) -> _CalendarAnchor:
    month_start = times.astype("datetime64[M]").astype("datetime64[us]")
    offsets = times - month_start
    next_day = times.astype("datetime64[D]") + np.timedelta64(1, "D")
    at_month_end = next_day.astype("datetime64[M]") != times.astype("datetime64[M]")
    time_of_day = times - times.astype("datetime64[D]").astype("datetime64[us]")
    same_offset = bool((offsets == offsets[0]).all())
    same_clock = bool((time_of_day == time_of_day[0]).all())
    if bool(at_month_end.all()) and same_clock and not same_offset:
        # 31 Jan, 28 Feb, 31 Mar: the end of each month.
        return _CalendarAnchor(month_end=True, day_offset=time_of_day[0])
    if not same_offset:
        first = int(np.flatnonzero(offsets != offsets[0])[0])
        _irregular(times, first - 1, grain)
    return _CalendarAnchor(month_end=False, day_offset=offsets[0])


def _calendar_times(first_month: int, count: int, step: int, anchor: _CalendarAnchor) -> np.ndarray:
    months = (first_month + step * np.arange(count)).astype("datetime64[M]")
    if anchor.month_end:
        ends = (months + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
        at_end: np.ndarray = ends.astype("datetime64[us]") + anchor.day_offset
        return at_end
    starts = months.astype("datetime64[us]")
    month_length = (months + np.timedelta64(1, "M")).astype("datetime64[us]") - starts
    # A day the month lacks (the 30th in February) falls back to the month's last day.
    last_day = month_length - np.timedelta64(1, "D").astype("timedelta64[us]")
    day_part = anchor.day_offset.astype("timedelta64[D]").astype("timedelta64[us]")
    clock = anchor.day_offset - day_part
    result: np.ndarray = starts + np.minimum(day_part, last_day) + clock
    return result


def _irregular(times: np.ndarray, index: int, grain: Grain) -> None:
    after = str(times[index + 1]) if index + 1 < len(times) else "the end"
    raise InvalidInput(
        f"Invalid series: times are not regular at grain {grain!r}: "
        f"{times[index]} is followed by {after}.",
        hint="Pass one timestamp per period, in ascending order, with NaN values for missing "
        "periods (not missing rows), or choose the grain the times step by.",
        index=index,
    )
