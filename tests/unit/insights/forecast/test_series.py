from typing import Any

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.forecast import Series
from gnomon.insights.forecast.grains import check_regular, future_times


def days(n: int, start: str = "2024-01-01") -> np.ndarray:
    return np.datetime64(start, "us") + np.arange(n) * np.timedelta64(1, "D")


def test_series_coerces_and_defaults_seasonality_from_the_grain() -> None:
    s = Series(days(10).astype("datetime64[D]"), np.array(range(10)), "day")
    assert s.times.dtype == np.dtype("datetime64[us]")
    assert s.values.dtype == np.float64
    assert s.seasonality == (7,)
    hours = np.datetime64("2024-01-01T00", "us") + np.arange(48) * np.timedelta64(1, "h")
    assert Series(hours, np.ones(48), "hour").seasonality == (24, 168)


def test_weekly_series_get_the_yearly_season_only_with_two_years() -> None:
    weeks = np.datetime64("2020-01-06", "us") + np.arange(120) * np.timedelta64(7, "D")
    assert Series(weeks[:60], np.ones(60), "week").seasonality == ()
    assert Series(weeks, np.ones(120), "week").seasonality == (52,)


def test_explicit_seasonality_is_sorted_and_checked() -> None:
    assert Series(days(30), np.ones(30), "day", seasonality=(30, 7, 7)).seasonality == (7, 30)
    assert Series(days(30), np.ones(30), "day", seasonality=()).seasonality == ()
    with pytest.raises(InvalidInput, match="at least 2"):
        Series(days(30), np.ones(30), "day", seasonality=(1,))


@pytest.mark.parametrize(
    ("times", "values", "freq", "message"),
    [
        (days(10), np.ones(10), "fortnight", "grain"),
        (days(10), np.ones(9), "day", "10 times but 9 values"),
        (days(3), np.ones(3), "day", "too short"),
        (days(6), [1.0, np.nan, np.nan, np.nan, 2.0, 3.0], "day", "too short"),
        (np.delete(days(10), 4), np.ones(9), "day", "not regular"),
        (days(10)[::-1], np.ones(10), "day", "ascending"),
        (np.r_[days(5), days(5)[4:]], np.ones(6), "day", "2024-01-05T00:00:00.000000 repeats"),
        (np.sort(np.r_[days(5), days(5)[2:3]]), np.ones(6), "day", "repeats"),
        (days(6)[[0, 1, 3, 2, 4, 5]], np.ones(6), "day", "goes back"),
        (
            np.array(
                ["2024-01-01", "2024-03-01", "2024-02-01", "2024-04-01"], dtype="datetime64[us]"
            ),
            np.ones(4),
            "month",
            "ascending",
        ),
        (days(6), np.full(6, np.nan), "day", "too short, 0 known"),
        (days(10), [1.0, 2.0, np.inf, *[1.0] * 7], "day", "infinite"),
        (["2024-01-01", "NaT", "2024-01-03", "2024-01-04"], np.ones(4), "day", "NaT"),
        (["yesterday"] * 4, np.ones(4), "day", "not timestamps"),
        (days(10), ["a"] * 10, "day", "not numbers"),
    ],
)
def test_bad_series_are_refused_with_the_reason(
    times: Any, values: Any, freq: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Series(times, values, freq)


def test_missing_values_are_allowed_as_nan() -> None:
    s = Series(days(8), np.array([1.0, np.nan, 3.0, 4.0, np.nan, 6.0, 7.0, 8.0]), "day")
    assert np.isnan(s.values).sum() == 2


def test_future_times_continue_month_ends_and_month_days() -> None:
    ends = np.array(["2023-11-30", "2023-12-31", "2024-01-31"], dtype="datetime64[us]")
    assert [str(t)[:10] for t in future_times(ends, "month", 3)] == [
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
    ]
    starts = np.arange("2023-10", "2024-01", dtype="datetime64[M]").astype("datetime64[us]")
    assert str(future_times(starts, "month", 1)[0])[:10] == "2024-01-01"
    fifteenth = starts + np.timedelta64(14, "D")
    assert str(future_times(fifteenth, "month", 2)[1])[:10] == "2024-02-15"


def test_future_times_continue_quarters_years_weeks_and_hours() -> None:
    quarters = np.array(["2023-03-31", "2023-06-30", "2023-09-30"], dtype="datetime64[us]")
    assert str(future_times(quarters, "quarter", 2)[1])[:10] == "2024-03-31"
    years = np.array(["2021-01-01", "2022-01-01", "2023-01-01"], dtype="datetime64[us]")
    assert str(future_times(years, "year", 1)[0])[:10] == "2024-01-01"
    weeks = np.datetime64("2024-01-01", "us") + np.arange(3) * np.timedelta64(7, "D")
    assert [str(t)[:10] for t in future_times(weeks, "week", 2)] == ["2024-01-22", "2024-01-29"]
    hours = np.datetime64("2024-01-01T22", "us") + np.arange(2) * np.timedelta64(1, "h")
    assert str(future_times(hours, "hour", 1)[0]) == "2024-01-02T00:00:00.000000"


def test_calendar_grains_refuse_skipped_or_shifted_periods() -> None:
    skipped = np.array(["2024-01-31", "2024-02-29", "2024-04-30"], dtype="datetime64[us]")
    with pytest.raises(InvalidInput, match="not regular"):
        check_regular(skipped, "month")
    shifted = np.array(["2024-01-01", "2024-02-01", "2024-03-02"], dtype="datetime64[us]")
    with pytest.raises(InvalidInput, match="2024-02-01"):
        check_regular(shifted, "month")
