"""Time buckets: how a query's range and grain become SQL and a complete spine of buckets.

Stored times are UTC; people think in their own calendar. A bucket (a day, an ISO week, a
fiscal quarter) is therefore cut in the calendar's time zone, and is labelled by its start as a
local wall-clock timestamp without zone. The same bucket boundaries are computed twice, in SQL
(to group rows) and in Python (to build the spine, the list of every bucket in the range, so
empty buckets still appear). Both follow the same rules: ISO weeks start on Monday; fiscal years
start on the first day of the calendar's ``fiscal_year_start_month`` and are labelled by that
day; quarters are three-month blocks from the (fiscal) year start.

The spine also carries, per bucket, the start of the bucket one period earlier and one year
earlier, and of the enclosing week/month/quarter/year: comparisons and period-to-date totals are
then plain joins and partitions, identical on every engine.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlglot import exp

from gnomon.semantic.definitions import CalendarSpec

__all__ = [
    "MAX_BUCKETS",
    "TimeRange",
    "bucket_expression",
    "bucket_start",
    "next_bucket",
    "shift_back",
    "spine_table",
]

MAX_BUCKETS = 200_000
"""A spine longer than this is refused: the range is too long for the grain."""

_SQL_UNITS = {
    "minute": "MINUTE",
    "hour": "HOUR",
    "day": "DAY",
    "week": "WEEK",
    "month": "MONTH",
    "quarter": "QUARTER",
    "year": "YEAR",
}
PERIOD_COLUMNS = ("week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year")


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A query's time range, as local wall-clock bounds and as UTC instants.

    ``end`` is exclusive. A date given as the end means the whole of that day is included.
    """

    start: datetime
    end: datetime
    zone: str

    @classmethod
    def of(cls, start: date | datetime, end: date | datetime, *, zone: str) -> "TimeRange":
        """The range from ``start`` to ``end`` (a date end includes that whole day)."""
        local_start = _as_local(start)
        local_end = _as_local(end)
        if not isinstance(end, datetime):
            local_end += timedelta(days=1)
        if local_end <= local_start:
            raise ValueError(
                f"the range is empty: end {end.isoformat()} is not after start {start.isoformat()}"
            )
        return cls(local_start, local_end, zone)

    def utc(self, moment: datetime) -> datetime:
        """A local wall-clock moment as a UTC instant."""
        return moment.replace(tzinfo=ZoneInfo(self.zone)).astimezone(ZoneInfo("UTC"))


def _as_local(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime.combine(value, time())


def bucket_start(moment: datetime, grain: str, calendar: CalendarSpec) -> datetime:
    """The start of the bucket of ``grain`` holding the local wall-clock ``moment``."""
    if grain == "minute":
        return moment.replace(second=0, microsecond=0)
    if grain == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    if grain == "year":
        return day.replace(day=1, month=1)
    offset = calendar.fiscal_year_start_month - 1
    shifted = _add_months(day.replace(day=1), -offset)
    if grain == "fiscal_quarter":
        start = shifted.replace(month=(shifted.month - 1) // 3 * 3 + 1)
    elif grain == "fiscal_year":
        start = shifted.replace(month=1)
    else:
        raise ValueError(f"unknown grain {grain!r}")
    return _add_months(start, offset)


def next_bucket(start: datetime, grain: str) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    return _step(start, grain, 1)


def shift_back(start: datetime, grain: str, *, year: bool) -> datetime:
    """The start of the comparable earlier bucket: one period back, or one year back.

    A year back is the same date a year earlier for days and coarser grains (29 February maps to
    28 February), and 52 weeks earlier for weeks, so a week is compared with the week of the same
    ISO number and the same weekdays.
    """
    if not year:
        return _step(start, grain, -1)
    if grain == "week":
        return start - timedelta(weeks=52)
    if grain in ("minute", "hour", "day"):
        try:
            return start.replace(year=start.year - 1)
        except ValueError:
            return start.replace(year=start.year - 1, day=28)
    return _add_months(start, -12)


def _step(start: datetime, grain: str, count: int) -> datetime:
    if grain == "minute":
        return start + timedelta(minutes=count)
    if grain == "hour":
        return start + timedelta(hours=count)
    if grain == "day":
        return start + timedelta(days=count)
    if grain == "week":
        return start + timedelta(weeks=count)
    months = {"month": 1, "quarter": 3, "year": 12, "fiscal_quarter": 3, "fiscal_year": 12}
    return _add_months(start, months[grain] * count)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def spine_table(
    time_range: TimeRange,
    grain: str,
    calendar: CalendarSpec,
    *,
    lead_buckets: int = 0,
    lead_to: datetime | None = None,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """Every bucket touching the range, plus ``lead_buckets`` before it (or back to ``lead_to``).

    Columns: ``time`` (bucket start), ``in_range`` (whether the bucket touches the requested range,
    not only the lead), ``prev_time``, ``year_ago_time``, and one column per coarser period
    (``period_month`` …) with the start of the period holding the bucket. ``columns`` keeps only
    those named (``time`` always, first): each one costs a pass over the buckets in Python, and
    most queries read only ``time``.

    Raises:
        ValueError: more than :data:`MAX_BUCKETS` buckets, or a column that is not one of these.
    """
    first = bucket_start(time_range.start, grain, calendar)
    for _ in range(lead_buckets):
        first = _step(first, grain, -1)
    if lead_to is not None:
        first = min(first, bucket_start(lead_to, grain, calendar))
    range_first = bucket_start(time_range.start, grain, calendar)
    starts: list[datetime] = []
    current = first
    while current < time_range.end:
        starts.append(current)
        if len(starts) > MAX_BUCKETS:
            raise ValueError(
                f"the range holds more than {MAX_BUCKETS:,} {grain} buckets: "
                "narrow the range or choose a coarser grain"
            )
        current = _step(current, grain, 1)
    makers: dict[str, Callable[[datetime], object]] = {
        "in_range": lambda s: s >= range_first,
        "prev_time": lambda s: shift_back(s, grain, year=False),
        "year_ago_time": lambda s: shift_back(s, grain, year=True),
    }
    for period in PERIOD_COLUMNS:
        makers[f"period_{period}"] = partial(bucket_start, grain=period, calendar=calendar)
    wanted = list(makers) if columns is None else [c for c in columns if c != "time"]
    unknown = [c for c in wanted if c not in makers]
    if unknown:
        raise ValueError(
            f"the spine has no column {unknown[0]!r}: choose from time, {', '.join(makers)}"
        )
    arrays: dict[str, pa.Array] = {"time": pa.array(starts, pa.timestamp("us"))}
    for name in wanted:
        kind = pa.bool_() if name == "in_range" else pa.timestamp("us")
        arrays[name] = pa.array([makers[name](s) for s in starts], kind)
    return pa.table(arrays)


def bucket_expression(
    column: exp.Expr,
    grain: str,
    calendar: CalendarSpec,
    *,
    is_date: bool,
    is_naive: bool = False,
) -> exp.Expr:
    """SQL (as a DuckDB-dialect tree that renders for every engine) for a row's bucket start.

    A date is already local. A timestamp with a zone is an instant, shown in the calendar's zone.
    A timestamp without zone (``is_naive``, e.g. a gold table's ``date_trunc`` of a UTC time)
    holds UTC wall-clock time, as every stored time does: it is first read as UTC, since
    ``AT TIME ZONE`` would otherwise take it for local time and shift it the wrong way.
    """
    if is_date:
        local: exp.Expr = exp.cast(column, exp.DataType(this=exp.DataType.Type.TIMESTAMP))
    else:
        instant = column
        if is_naive:
            instant = exp.AtTimeZone(this=column, zone=exp.Literal.string("UTC"))
        local = exp.cast(
            exp.AtTimeZone(this=instant, zone=exp.Literal.string(calendar.time_zone)),
            exp.DataType(this=exp.DataType.Type.TIMESTAMP),
        )
    if grain in _SQL_UNITS:
        return _trunc(local, _SQL_UNITS[grain])
    offset = calendar.fiscal_year_start_month - 1
    unit = "QUARTER" if grain == "fiscal_quarter" else "YEAR"
    if offset == 0:
        return _trunc(local, unit)
    shifted = exp.Sub(this=local, expression=_months(offset))
    return exp.Add(this=_trunc(shifted, unit), expression=_months(offset))


def _trunc(value: exp.Expr, unit: str) -> exp.Expr:
    return exp.TimestampTrunc(this=value, unit=exp.Literal.string(unit))


def _months(count: int) -> exp.Interval:
    return exp.Interval(this=exp.Literal.string(str(count)), unit=exp.Var(this="MONTH"))
