"""How many orders each segment expects on each day, before incidents and noise.

The expected count is a product of independent factors, so each pattern a detector should learn
is present and separable: segment size (country weight x channel mix x category mix), a trend
that differs by channel (the app grows, stores shrink), a weekly profile per channel (stores peak
on Saturday and are mostly closed on Sunday, web dips on Saturday, the app peaks at the weekend), a
yearly curve (January lull, summer dip, November/December peak) scaled per category, and holidays
(Black Friday and Cyber Monday spikes, Christmas Day and New Year's Day drops). Calendar effects
are applied per UTC day; hour-of-day profiles are applied in local time within that day.
"""

from calendar import isleap
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from gnomon.examples.retail.assortment import Tables

__all__ = ["Calendar", "baseline_intensity", "build_calendar", "segment_share"]

_ANNUAL_GROWTH: Final = (0.12, 0.32, -0.04, 0.20)
"""Year-over-year growth per channel (web, app, store, marketplace): about +15 % overall."""

_WEEKLY: Final = (
    (1.08, 1.04, 1.02, 1.00, 0.96, 0.88, 1.02),
    (0.94, 0.93, 0.95, 0.97, 1.04, 1.10, 1.07),
    (0.92, 0.94, 0.97, 1.00, 1.12, 1.38, 0.67),
    (1.02, 1.00, 0.99, 0.99, 1.00, 1.01, 0.99),
)
"""Monday-to-Sunday factors per channel, normalised to a mean of one when used."""

_MONTHLY: Final = (0.90, 0.86, 0.95, 0.97, 0.98, 0.93, 0.84, 0.86, 0.97, 1.03, 1.22, 1.38)
"""The yearly curve at mid-month, interpolated between months."""

_HOLIDAYS: Final[dict[str, tuple[float, float, float, float]]] = {
    "black_week": (1.2, 1.2, 1.1, 1.25),
    "black_friday": (2.6, 2.4, 1.9, 2.8),
    "black_weekend": (1.4, 1.4, 1.3, 1.5),
    "cyber_monday": (2.3, 2.1, 1.0, 2.4),
    "christmas_eve": (0.7, 0.75, 0.6, 0.7),
    "christmas_day": (0.35, 0.4, 0.02, 0.35),
    "boxing_day": (1.1, 1.1, 0.5, 1.15),
    "new_years_eve": (0.75, 0.8, 0.6, 0.75),
    "new_years_day": (0.55, 0.6, 0.05, 0.55),
}
"""Per-channel multipliers of the holidays, applied to every country alike."""

_PROMOTION_HOLIDAYS: Final = frozenset({"black_friday", "black_weekend", "cyber_monday"})


@dataclass(frozen=True, slots=True)
class Calendar:
    """The days of a data set and what kind of day each one is.

    Attributes:
        start: first day.
        days: number of days.
        weekday: Monday = 0 … Sunday = 6, per day.
        year_fraction: position in the calendar year, 0 … 1, per day.
        holiday: the holiday multiplier per day and channel (1 on ordinary days).
        promotion: whether a day is a promotion day (Black Friday through Cyber Monday).
    """

    start: date
    days: int
    weekday: npt.NDArray[np.int64]
    year_fraction: npt.NDArray[np.float64]
    holiday: npt.NDArray[np.float64]
    promotion: npt.NDArray[np.bool_]

    @property
    def end(self) -> date:
        """The day after the last day (exclusive end)."""
        return self.start + timedelta(days=self.days)

    def day(self, index: int) -> date:
        """The date of day number ``index``."""
        return self.start + timedelta(days=index)

    @property
    def special(self) -> npt.NDArray[np.bool_]:
        """Days whose volume a holiday changes; incidents of a few days avoid them."""
        result: npt.NDArray[np.bool_] = np.any(self.holiday != 1.0, axis=1)
        return result


def _holidays_of(year: int) -> dict[date, str]:
    november_first = date(year, 11, 1)
    thanksgiving = november_first + timedelta(days=(3 - november_first.weekday()) % 7 + 21)
    black_friday = thanksgiving + timedelta(days=1)
    named = {
        black_friday: "black_friday",
        black_friday + timedelta(days=1): "black_weekend",
        black_friday + timedelta(days=2): "black_weekend",
        black_friday + timedelta(days=3): "cyber_monday",
        date(year, 12, 24): "christmas_eve",
        date(year, 12, 25): "christmas_day",
        date(year, 12, 26): "boxing_day",
        date(year, 12, 31): "new_years_eve",
        date(year, 1, 1): "new_years_day",
    }
    for offset in range(4, 0, -1):
        named[black_friday - timedelta(days=offset)] = "black_week"
    return named


def build_calendar(start: date, days: int) -> Calendar:
    """Describe each of ``days`` days from ``start``."""
    dates = [start + timedelta(days=index) for index in range(days)]
    named: dict[date, str] = {}
    for year in range(start.year, dates[-1].year + 1):
        named.update(_holidays_of(year))
    holiday = np.ones((days, len(_ANNUAL_GROWTH)))
    promotion = np.zeros(days, dtype=np.bool_)
    for index, day in enumerate(dates):
        name = named.get(day)
        if name is not None:
            holiday[index] = _HOLIDAYS[name]
            promotion[index] = name in _PROMOTION_HOLIDAYS
    year_fraction = np.array(
        [(day.timetuple().tm_yday - 1) / (366 if isleap(day.year) else 365) for day in dates]
    )
    return Calendar(
        start=start,
        days=days,
        weekday=np.array([day.weekday() for day in dates], dtype=np.int64),
        year_fraction=year_fraction,
        holiday=holiday,
        promotion=promotion,
    )


def segment_share(tables: Tables) -> npt.NDArray[np.float64]:
    """Each segment's share of all orders on an ordinary day; the shares sum to one.

    The shape is (countries, channels, categories).
    """
    size = (
        tables.country_weight[:, None, None]
        * tables.channel_mix[tables.country_region][:, :, None]
        * tables.category_mix[None, :, :]
    )
    share: npt.NDArray[np.float64] = size / size.sum()
    return share


def baseline_intensity(calendar: Calendar, tables: Tables) -> npt.NDArray[np.float64]:
    """Relative expected orders per day and segment, shape ``(days, segments)``.

    Only ratios matter: the generator scales the whole array to the requested number of rows.
    """
    size = segment_share(tables)
    years = np.arange(calendar.days, dtype=np.float64) / 365.25
    trend = (1.0 + np.array(_ANNUAL_GROWTH))[None, :] ** years[:, None]
    weekly_table = np.array(_WEEKLY)
    weekly_table = weekly_table / weekly_table.mean(axis=1, keepdims=True)
    weekly = weekly_table.T[calendar.weekday]
    knots = (np.arange(12) + 0.5) / 12
    curve = np.interp(calendar.year_fraction, knots, np.array(_MONTHLY), period=1.0)
    yearly = 1.0 + tables.category_seasonality[None, :] * (curve[:, None] - 1.0)
    per_channel = trend * weekly * calendar.holiday
    intensity = size[None, :, :, :] * per_channel[:, None, :, None] * yearly[:, None, None, :]
    result: npt.NDArray[np.float64] = intensity.reshape(calendar.days, -1)
    return result
