"""Time buckets in Python (the spine) and in SQL (grouping rows) agree, for every grain."""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.semantic import GRAINS, CalendarSpec
from gnomon.semantic.time import (
    MAX_BUCKETS,
    TimeRange,
    bucket_expression,
    bucket_start,
    next_bucket,
    shift_back,
    spine_table,
)

UTC_CAL = CalendarSpec()


def fiscal(month: int) -> CalendarSpec:
    return CalendarSpec(fiscal_year_start_month=month)


# ------------------------------------------------------------------ bucket_start


@pytest.mark.parametrize(
    ("grain", "expected"),
    [
        ("minute", datetime(2025, 5, 14, 13, 47)),
        ("hour", datetime(2025, 5, 14, 13)),
        ("day", datetime(2025, 5, 14)),
        ("week", datetime(2025, 5, 12)),  # a Wednesday: its ISO week starts on Monday the 12th
        ("month", datetime(2025, 5, 1)),
        ("quarter", datetime(2025, 4, 1)),
        ("year", datetime(2025, 1, 1)),
        ("fiscal_quarter", datetime(2025, 4, 1)),
        ("fiscal_year", datetime(2025, 1, 1)),
    ],
)
def test_bucket_start_of_every_grain(grain: str, expected: datetime) -> None:
    assert bucket_start(datetime(2025, 5, 14, 13, 47, 31, 999), grain, UTC_CAL) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2021, 1, 1, 8), datetime(2020, 12, 28)),  # ISO week 53 of 2020
        (datetime(2021, 1, 3, 23, 59), datetime(2020, 12, 28)),  # its Sunday
        (datetime(2021, 1, 4), datetime(2021, 1, 4)),  # week 1 of 2021 starts that Monday
        (datetime(2024, 12, 31), datetime(2024, 12, 30)),  # week 1 of 2025 starts in 2024
        (datetime(2025, 12, 28, 12), datetime(2025, 12, 22)),
        (datetime(2025, 12, 29), datetime(2025, 12, 29)),
    ],
)
def test_iso_weeks_across_year_ends(moment: datetime, expected: datetime) -> None:
    assert bucket_start(moment, "week", UTC_CAL) == expected
    assert bucket_start(moment, "week", UTC_CAL).weekday() == 0


@pytest.mark.parametrize(
    ("start_month", "moment", "quarter", "year"),
    [
        (1, datetime(2025, 5, 20), datetime(2025, 4, 1), datetime(2025, 1, 1)),
        (2, datetime(2025, 1, 31), datetime(2024, 11, 1), datetime(2024, 2, 1)),
        (2, datetime(2025, 2, 1), datetime(2025, 2, 1), datetime(2025, 2, 1)),
        (2, datetime(2025, 4, 30), datetime(2025, 2, 1), datetime(2025, 2, 1)),
        (2, datetime(2025, 12, 31), datetime(2025, 11, 1), datetime(2025, 2, 1)),
        (4, datetime(2025, 3, 31, 23), datetime(2025, 1, 1), datetime(2024, 4, 1)),
        (4, datetime(2025, 4, 1), datetime(2025, 4, 1), datetime(2025, 4, 1)),
        (4, datetime(2025, 9, 15), datetime(2025, 7, 1), datetime(2025, 4, 1)),
        (10, datetime(2025, 9, 30), datetime(2025, 7, 1), datetime(2024, 10, 1)),
        (10, datetime(2025, 10, 1), datetime(2025, 10, 1), datetime(2025, 10, 1)),
        (10, datetime(2026, 2, 14), datetime(2026, 1, 1), datetime(2025, 10, 1)),
    ],
)
def test_fiscal_quarters_and_years(
    start_month: int, moment: datetime, quarter: datetime, year: datetime
) -> None:
    calendar = fiscal(start_month)
    assert bucket_start(moment, "fiscal_quarter", calendar) == quarter
    assert bucket_start(moment, "fiscal_year", calendar) == year
    # Calendar quarters and years ignore the fiscal start.
    assert bucket_start(moment, "year", calendar) == datetime(moment.year, 1, 1)


def test_next_bucket_steps_one_period() -> None:
    assert next_bucket(datetime(2025, 1, 31), "day") == datetime(2025, 2, 1)
    assert next_bucket(datetime(2024, 12, 30), "week") == datetime(2025, 1, 6)
    assert next_bucket(datetime(2025, 11, 1), "fiscal_quarter") == datetime(2026, 2, 1)
    assert next_bucket(datetime(2025, 4, 1), "fiscal_year") == datetime(2026, 4, 1)
    assert next_bucket(datetime(2025, 1, 1, 23, 59), "minute") == datetime(2025, 1, 2)


# ------------------------------------------------------------------ shift_back


def test_shift_back_one_period() -> None:
    assert shift_back(datetime(2025, 3, 1), "day", year=False) == datetime(2025, 2, 28)
    assert shift_back(datetime(2025, 1, 6), "week", year=False) == datetime(2024, 12, 30)
    assert shift_back(datetime(2025, 1, 1), "month", year=False) == datetime(2024, 12, 1)
    assert shift_back(datetime(2025, 1, 1), "quarter", year=False) == datetime(2024, 10, 1)
    assert shift_back(datetime(2025, 2, 1), "fiscal_quarter", year=False) == datetime(2024, 11, 1)
    assert shift_back(datetime(2025, 1, 1), "hour", year=False) == datetime(2024, 12, 31, 23)


def test_shift_back_a_year() -> None:
    assert shift_back(datetime(2024, 2, 29), "day", year=True) == datetime(2023, 2, 28)
    assert shift_back(datetime(2024, 2, 29, 13), "hour", year=True) == datetime(2023, 2, 28, 13)
    assert shift_back(datetime(2025, 3, 1), "day", year=True) == datetime(2024, 3, 1)
    assert shift_back(datetime(2024, 2, 1), "month", year=True) == datetime(2023, 2, 1)
    assert shift_back(datetime(2025, 4, 1), "fiscal_year", year=True) == datetime(2024, 4, 1)
    # Weeks go back 52 weeks: the same weekday, and (mostly) the same ISO week number.
    back = shift_back(datetime(2025, 6, 2), "week", year=True)
    assert back == datetime(2024, 6, 3)
    assert back.weekday() == 0
    assert back.isocalendar().week == datetime(2025, 6, 2).isocalendar().week


# ------------------------------------------------------------------ TimeRange


def test_a_date_end_includes_that_whole_day() -> None:
    rng = TimeRange.of(date(2025, 1, 1), date(2025, 1, 31), zone="UTC")
    assert rng.start == datetime(2025, 1, 1)
    assert rng.end == datetime(2025, 2, 1)
    single = TimeRange.of(date(2025, 1, 1), date(2025, 1, 1), zone="UTC")
    assert single.end - single.start == timedelta(days=1)


def test_a_datetime_end_is_exclusive() -> None:
    rng = TimeRange.of(datetime(2025, 1, 1, 6), datetime(2025, 1, 1, 18), zone="UTC")
    assert (rng.start, rng.end) == (datetime(2025, 1, 1, 6), datetime(2025, 1, 1, 18))


def test_aware_bounds_are_read_as_local_wall_clock() -> None:
    rng = TimeRange.of(
        datetime(2025, 1, 1, 6, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC), zone="UTC"
    )
    assert rng.start.tzinfo is None
    assert rng.start == datetime(2025, 1, 1, 6)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2025, 2, 1), date(2025, 1, 31)),
        (datetime(2025, 1, 1, 12), datetime(2025, 1, 1, 12)),
        (datetime(2025, 1, 2), datetime(2025, 1, 1, 23)),
    ],
)
def test_an_empty_range_is_refused(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError, match="the range is empty"):
        TimeRange.of(start, end, zone="UTC")


def test_utc_bounds_across_a_dst_change() -> None:
    # Berlin moves from UTC+1 to UTC+2 on 30 March 2025.
    rng = TimeRange.of(date(2025, 3, 29), date(2025, 3, 30), zone="Europe/Berlin")
    assert rng.utc(rng.start) == datetime(2025, 3, 28, 23, tzinfo=ZoneInfo("UTC"))
    assert rng.utc(rng.end) == datetime(2025, 3, 30, 22, tzinfo=ZoneInfo("UTC"))
    assert rng.utc(rng.end) - rng.utc(rng.start) == timedelta(hours=47)
    autumn = TimeRange.of(date(2025, 10, 26), date(2025, 10, 26), zone="America/New_York")
    assert autumn.utc(autumn.start) == datetime(2025, 10, 26, 4, tzinfo=ZoneInfo("UTC"))


# ------------------------------------------------------------------ spine


def test_spine_covers_every_bucket_touching_the_range() -> None:
    rng = TimeRange.of(date(2025, 1, 15), date(2025, 3, 3), zone="UTC")
    spine = spine_table(rng, "month", UTC_CAL).to_pydict()
    assert spine["time"] == [datetime(2025, 1, 1), datetime(2025, 2, 1), datetime(2025, 3, 1)]
    assert spine["in_range"] == [True, True, True]
    assert spine["prev_time"] == [datetime(2024, 12, 1), datetime(2025, 1, 1), datetime(2025, 2, 1)]
    assert spine["year_ago_time"][0] == datetime(2024, 1, 1)
    assert spine["period_quarter"] == [datetime(2025, 1, 1)] * 3
    assert spine["period_year"] == [datetime(2025, 1, 1)] * 3
    assert spine["period_fiscal_year"] == [datetime(2025, 1, 1)] * 3


def test_spine_lead_buckets_are_not_in_range() -> None:
    rng = TimeRange.of(date(2025, 1, 1), date(2025, 1, 3), zone="UTC")
    spine = spine_table(rng, "day", UTC_CAL, lead_buckets=2).to_pydict()
    assert spine["time"] == [datetime(2024, 12, 30) + timedelta(days=i) for i in range(5)]
    assert spine["in_range"] == [False, False, True, True, True]
    to = spine_table(rng, "day", UTC_CAL, lead_to=datetime(2024, 12, 31, 5)).to_pydict()
    assert to["time"][0] == datetime(2024, 12, 31)
    assert to["in_range"] == [False, True, True, True]


def test_spine_fiscal_periods() -> None:
    rng = TimeRange.of(date(2025, 3, 1), date(2025, 4, 30), zone="UTC")
    spine = spine_table(rng, "month", fiscal(4)).to_pydict()
    assert spine["period_fiscal_year"] == [datetime(2024, 4, 1), datetime(2025, 4, 1)]
    assert spine["period_fiscal_quarter"] == [datetime(2025, 1, 1), datetime(2025, 4, 1)]


def test_spine_builds_only_the_columns_asked_for() -> None:
    rng = TimeRange.of(date(2025, 1, 15), date(2025, 3, 3), zone="UTC")
    full = spine_table(rng, "month", fiscal(4))
    lean = spine_table(rng, "month", fiscal(4), columns=["time"])
    assert lean.column_names == ["time"]
    assert lean.column("time") == full.column("time")
    some = spine_table(rng, "month", fiscal(4), columns=["period_fiscal_year", "in_range"])
    assert some.column_names == ["time", "period_fiscal_year", "in_range"]
    assert some.column("period_fiscal_year") == full.column("period_fiscal_year")
    with pytest.raises(ValueError, match="the spine has no column 'period_day'"):
        spine_table(rng, "month", fiscal(4), columns=["period_day"])


def test_spine_longer_than_max_buckets_is_refused() -> None:
    start = datetime(2025, 1, 1)
    ok = TimeRange(start, start + timedelta(hours=1000), "UTC")
    assert spine_table(ok, "hour", UTC_CAL).num_rows == 1000
    too_long = TimeRange(start, start + timedelta(minutes=MAX_BUCKETS + 1), "UTC")
    with pytest.raises(ValueError, match="narrow the range or choose a coarser grain"):
        spine_table(too_long, "minute", UTC_CAL)


# ------------------------------------------------------------------ SQL = Python


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(":memory:")
    connection.execute("SET TimeZone = 'UTC'")
    yield connection
    connection.close()


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]
instants = st.datetimes(
    min_value=datetime(1999, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))


def _sql_bucket(
    con: duckdb.DuckDBPyConnection, expr: exp.Expr, value: object, kind: str
) -> datetime:
    sql = f"SELECT {expr.sql(dialect='duckdb')} FROM (SELECT CAST(? AS {kind}) AS t)"
    row = con.execute(sql, [value]).fetchone()
    assert row is not None
    result = row[0]
    assert isinstance(result, datetime)
    return result


@settings(max_examples=300)
@given(
    instant=instants,
    zone=st.sampled_from(ZONES),
    grain=st.sampled_from(GRAINS),
    start_month=st.sampled_from([1, 2, 4, 10, 12]),
)
def test_sql_buckets_equal_python_buckets(
    con: duckdb.DuckDBPyConnection, instant: datetime, zone: str, grain: str, start_month: int
) -> None:
    calendar = CalendarSpec(time_zone=zone, fiscal_year_start_month=start_month)
    local = instant.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    expected = bucket_start(local, grain, calendar)
    expr = bucket_expression(exp.column("t"), grain, calendar, is_date=False)
    text = instant.strftime("%Y-%m-%d %H:%M:%S+00")
    assert _sql_bucket(con, expr, text, "TIMESTAMPTZ") == expected


@settings(max_examples=100)
@given(
    day=st.dates(min_value=date(1999, 1, 1), max_value=date(2031, 12, 31)),
    grain=st.sampled_from([g for g in GRAINS if g not in ("minute", "hour")]),
    start_month=st.sampled_from([1, 2, 4, 10]),
)
def test_sql_buckets_of_dates_equal_python_buckets(
    con: duckdb.DuckDBPyConnection, day: date, grain: str, start_month: int
) -> None:
    calendar = CalendarSpec(time_zone="Asia/Kolkata", fiscal_year_start_month=start_month)
    expected = bucket_start(datetime(day.year, day.month, day.day), grain, calendar)
    expr = bucket_expression(exp.column("t"), grain, calendar, is_date=True)
    assert _sql_bucket(con, expr, day.isoformat(), "DATE") == expected
