"""Calendar and holiday features of timestamps, for the models that learn from features.

Which calendar positions matter depends on the grain: hour of day and day of week for hourly
series, day of week and month for daily ones, week of year for weekly, month or quarter for the
longer grains. A holiday feature counts the country's public holidays inside each period (0 or
1 for hours and days, up to a few for weeks and months), so a holiday week differs from a plain
one in the same way at every grain.
"""

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.forecast._libraries import holidays
from gnomon.insights.forecast.grains import Grain

__all__ = ["calendar_features", "check_country", "holiday_counts"]

_WEEK = np.timedelta64(7, "D")


def calendar_features(times: np.ndarray, grain: Grain) -> dict[str, np.ndarray]:
    """Calendar positions of ``times`` (datetime64[us]) that matter at ``grain``, as float64.

    >>> t = np.array(["2024-01-01T05", "2024-01-06T23"], dtype="datetime64[us]")
    >>> {k: v.tolist() for k, v in calendar_features(t, "hour").items()}
    {'hour': [5.0, 23.0], 'weekday': [0.0, 5.0]}
    """
    days = times.astype("datetime64[D]")
    months = times.astype("datetime64[M]").astype(np.int64)
    weekday = ((days.astype(np.int64) + 3) % 7).astype(np.float64)  # 1970-01-01 was a Thursday
    if grain == "hour":
        hour = (times - days.astype("datetime64[us]")) // np.timedelta64(1, "h")
        return {"hour": hour.astype(np.float64), "weekday": weekday}
    if grain == "day":
        day_of_month = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(
            np.int64
        ) + 1
        return {
            "weekday": weekday,
            "month": (months % 12 + 1).astype(np.float64),
            "day_of_month": day_of_month.astype(np.float64),
        }
    if grain == "week":
        day_of_year = days - days.astype("datetime64[Y]").astype("datetime64[D]")
        return {"week": (day_of_year // _WEEK + 1).astype(np.float64)}
    if grain == "month":
        return {"month": (months % 12 + 1).astype(np.float64)}
    if grain == "quarter":
        return {"quarter": (months % 12 // 3 + 1).astype(np.float64)}
    return {}


def check_country(country: str | None) -> str | None:
    """``country`` as an upper-case ISO code with a holiday calendar, or :class:`InvalidInput`."""
    if country is None:
        return None
    code = str(country).upper()
    supported = holidays().list_supported_countries()
    if code not in supported:
        raise InvalidInput(
            f"Invalid country {country!r}: no public holiday calendar for it.",
            hint="Pass an ISO 3166-1 alpha-2 code such as US, GB, DE or FR, or None.",
            valid=sorted(supported),
        )
    return code


def holiday_counts(times: np.ndarray, grain: Grain, country: str) -> np.ndarray:
    """The number of ``country``'s public holidays in the period starting at each of ``times``.

    Periods are the hour's or day's date, the 7 days from a week's timestamp, and the calendar
    month, quarter or year that contains a timestamp of those grains.
    """
    days = times.astype("datetime64[D]")
    if grain in ("hour", "day"):
        start, end = days, days + np.timedelta64(1, "D")
    elif grain == "week":
        start, end = days, days + _WEEK
    else:
        step = {"month": 1, "quarter": 3, "year": 12}[grain]
        month = times.astype("datetime64[M]")
        if grain == "quarter":
            month = month - (month.astype(np.int64) % 3).astype("timedelta64[M]")
        elif grain == "year":
            month = times.astype("datetime64[Y]").astype("datetime64[M]")
        start = month.astype("datetime64[D]")
        end = (month + np.timedelta64(step, "M")).astype("datetime64[D]")
    years = range(int(str(start.min())[:4]), int(str(end.max())[:4]) + 1)
    calendar = holidays().country_holidays(country, years=years)
    dates = np.array(sorted(calendar.keys()), dtype="datetime64[D]")
    return (np.searchsorted(dates, end) - np.searchsorted(dates, start)).astype(np.float64)
