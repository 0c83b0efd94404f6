"""Order rows from daily counts: every column drawn for a whole block of days at once.

Counts per (day, segment) come in; rows come out sorted by order time with their order numbers
assigned in that order, so order ids grow with time as they would in a shop's database. The
random draws of a block depend only on the seed and the block's first day.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gnomon.examples.retail import _format
from gnomon.examples.retail.assortment import Tables
from gnomon.examples.retail.demand import Calendar
from gnomon.examples.retail.models import STATUSES

__all__ = [
    "CANCELLED",
    "DAY_SECONDS",
    "PLACED",
    "RETURNED",
    "SHIPPED",
    "CustomerBase",
    "OrderBatch",
    "OrderContext",
    "TextTables",
    "format_columns",
    "format_lines",
    "synthesize",
]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

DAY_SECONDS: Final = 86_400
PLACED, SHIPPED, RETURNED, CANCELLED = (STATUSES.index(s) for s in STATUSES)

_PRICE_NOISE: Final = 0.03
_CANCEL_RATE: Final = 0.03
_STUCK_RATE: Final = 0.01
_STORE_RETURN_FACTOR: Final = 0.5
_CANCEL_DELAY: Final = (600, DAY_SECONDS)
_SHIP_DELAY: Final = (4 * 3600, 2 * DAY_SECONDS)
_RETURN_DELAY: Final = (3 * DAY_SECONDS, 30 * DAY_SECONDS)
_CUSTOMERS_PER_ORDER: Final = 1 / 6
_MAX_CUSTOMERS: Final = 9_999_999
_LOYALTY_EXPONENT: Final = 1.1
_LOYALTY_HEAD: Final = 1 / 50
_STORE: Final = 2


@dataclass(frozen=True, slots=True)
class CustomerBase:
    """Customers per country: each country owns a contiguous range of customer numbers.

    Within a country, the k-th customer buys with weight ``(k + head) ** -1.1``: a long tail of
    one-off buyers and a head of loyal repeat customers, without one customer dominating.
    """

    start: Ints
    size: Ints

    @classmethod
    def for_rows(cls, rows: int, country_weight: Floats) -> "CustomerBase":
        """Roughly one customer per six orders, split by country size."""
        total = int(min(_MAX_CUSTOMERS, max(len(country_weight) * 10, rows * _CUSTOMERS_PER_ORDER)))
        share = country_weight / country_weight.sum()
        size = np.maximum(1, np.floor(share * total)).astype(np.int64)
        start = np.concatenate(([0], np.cumsum(size)[:-1])).astype(np.int64)
        return cls(start=start, size=size)

    def draw(self, country: Ints, rng: np.random.Generator) -> Ints:
        """Customer numbers (0-based) for orders placed in ``country``."""
        size = self.size[country].astype(np.float64)
        head = np.maximum(1.0, size * _LOYALTY_HEAD)
        power = 1.0 - _LOYALTY_EXPONENT
        low = head**power
        high = (head + size) ** power
        point = (low - rng.random(len(country)) * (low - high)) ** (1.0 / power)
        rank = np.minimum(np.floor(point - head), size - 1).astype(np.int64)
        return self.start[country] + np.maximum(rank, 0)


@dataclass(frozen=True, slots=True)
class OrderContext:
    """Everything order synthesis needs besides the counts: the world, days and multipliers."""

    tables: Tables
    calendar: Calendar
    price_multiplier: Floats
    customers: CustomerBase


@dataclass(frozen=True, slots=True)
class OrderBatch:
    """A block of order rows as integer columns, sorted by order time.

    Times are seconds since the first day of data (UTC midnight); categorical columns hold
    positions in the tables; ``number`` is the global 1-based order number.
    """

    number: Ints
    time: Ints
    updated: Ints
    segment: Ints
    product: Ints
    customer: Ints
    quantity: Ints
    price_cents: Ints
    discount: Ints
    status: Ints

    def __len__(self) -> int:
        return len(self.number)

    def take(self, index: Ints) -> "OrderBatch":
        """The rows at ``index``, in that order."""
        return OrderBatch(
            number=self.number[index],
            time=self.time[index],
            updated=self.updated[index],
            segment=self.segment[index],
            product=self.product[index],
            customer=self.customer[index],
            quantity=self.quantity[index],
            price_cents=self.price_cents[index],
            discount=self.discount[index],
            status=self.status[index],
        )


def _grouped_choice(cdf: Floats, group: Ints, rng: np.random.Generator) -> Ints:
    """One draw per element from the distribution in row ``group`` of ``cdf``, vectorised.

    Row g's cumulative probabilities are shifted by g, so one sorted search serves every group.
    """
    width = cdf.shape[1]
    shifted = (cdf + np.arange(cdf.shape[0])[:, None]).ravel()
    keys = group + rng.random(len(group)) * 0.999_999
    position = np.searchsorted(shifted, keys, side="right") - group * width
    chosen: Ints = np.minimum(position, width - 1).astype(np.int64)
    return chosen


def _status(
    time: Ints, category: Ints, channel: Ints, context: OrderContext, rng: np.random.Generator
) -> tuple[Ints, Ints]:
    """Status at the end of the data window, and when it was last changed.

    Each order lives through events: shipped a few hours to two days after it was placed (or
    never, for a few stuck orders), or cancelled instead; some shipped orders come back weeks
    later. The status is that of the last event before the window ends, so recent orders are
    still ``placed`` and recent returns have not arrived yet, without any special case.
    """
    end = context.calendar.days * DAY_SECONDS
    n = len(time)
    cancelled = rng.random(n) < _CANCEL_RATE
    stuck = rng.random(n) < _STUCK_RATE
    return_rate = context.tables.category_return_rate[category]
    return_rate = np.where(channel == _STORE, return_rate * _STORE_RETURN_FACTOR, return_rate)
    returned = ~cancelled & ~stuck & (rng.random(n) < return_rate)
    cancel_at = time + rng.integers(*_CANCEL_DELAY, size=n)
    ship_at = time + rng.integers(*_SHIP_DELAY, size=n)
    return_at = ship_at + rng.integers(*_RETURN_DELAY, size=n)
    status = np.full(n, PLACED, dtype=np.int64)
    updated = time.copy()
    shipped = ~cancelled & ~stuck & (ship_at < end)
    status[shipped], updated[shipped] = SHIPPED, ship_at[shipped]
    came_back = returned & (return_at < end)
    status[came_back], updated[came_back] = RETURNED, return_at[came_back]
    cancelled &= cancel_at < end
    status[cancelled], updated[cancelled] = CANCELLED, cancel_at[cancelled]
    return status, updated


def synthesize(
    counts: Ints,
    *,
    first_day: int,
    first_number: int,
    context: OrderContext,
    rng: np.random.Generator,
) -> OrderBatch:
    """Rows for ``counts`` (shape ``(days, segments)``) starting at day ``first_day``."""
    tables = context.tables
    n_segments = counts.shape[1]
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts.ravel())
    day = first_day + cell // n_segments
    segment = cell % n_segments
    country, channel, _ = tables.split_segment(segment)
    hour = _grouped_choice(tables.hour_cdf, channel, rng)
    local = hour * 3600 + rng.integers(0, 3600, size=len(cell))
    second = (local - tables.country_offset_seconds[country]) % DAY_SECONDS
    order = np.lexsort((segment, second, day))
    day, segment, second = day[order], segment[order], second[order]
    country, channel, category = tables.split_segment(segment)
    time = day * DAY_SECONDS + second
    product = tables.product_index[category, _grouped_choice(tables.product_cdf, category, rng)]
    quantity = 1 + _grouped_choice(
        tables.quantity_cdf, tables.category_quantity_profile[category], rng
    )
    noise = np.exp(rng.normal(0.0, _PRICE_NOISE, size=len(cell)))
    price = (
        tables.product_price_cents[product]
        * tables.channel_price[channel]
        * noise
        * context.price_multiplier[day, category]
    )
    price_cents = np.maximum(1, np.rint(price)).astype(np.int64)
    promotion = context.calendar.promotion[day].astype(np.int64)
    discount = _grouped_choice(tables.discount_cdf, promotion, rng)
    customer = context.customers.draw(country, rng)
    status, updated = _status(time, category, channel, context, rng)
    return OrderBatch(
        number=first_number + np.arange(len(cell), dtype=np.int64),
        time=time,
        updated=updated,
        segment=segment,
        product=product,
        customer=customer,
        quantity=quantity,
        price_cents=price_cents,
        discount=discount,
        status=status,
    )


@dataclass(frozen=True, slots=True)
class TextTables:
    """Lookup tables shared by every block of one data set."""

    dates: pa.Array
    clock: pa.Array
    tables: Tables

    @classmethod
    def build(cls, tables: Tables, calendar: Calendar) -> "TextTables":
        """Tables for the calendar's days; the day after the end is not needed."""
        return cls(
            dates=_format.date_strings(calendar.start, calendar.days),
            clock=_format.clock_strings(),
            tables=tables,
        )


def _timestamps(seconds: Ints, text: TextTables) -> pa.Array:
    day = _format.integers(seconds // DAY_SECONDS)
    clock = _format.integers(seconds % DAY_SECONDS)
    return _format.join([text.dates.take(day), text.clock.take(clock)], " ")


def format_columns(batch: OrderBatch, text: TextTables) -> list[pa.Array]:
    """Each column of the batch as text, in file order (see ``COLUMNS``)."""
    tables = text.tables
    country, channel, category = tables.split_segment(batch.segment)
    discounts = [f"{level:.2f}" for level in tables.discount_levels]
    return [
        _format.fixed_digits(batch.number, width=9, prefix="O"),
        _timestamps(batch.time, text),
        _timestamps(batch.updated, text),
        _format.lookup(tables.region_names, tables.country_region[country]),
        _format.lookup(tables.country_codes, country),
        _format.lookup(tables.channel_names, channel),
        _format.lookup(tables.category_names, category),
        _format.lookup(tables.product_names, batch.product),
        _format.fixed_digits(batch.customer + 1, width=7, prefix="C"),
        _format.lookup([str(q) for q in range(11)], batch.quantity),
        _format.price_strings(batch.price_cents),
        _format.lookup(discounts, batch.discount),
        _format.lookup(STATUSES, batch.status),
    ]


def format_lines(batch: OrderBatch, columns: Sequence[pa.Array]) -> pa.Array:
    """CSV lines of ``format_columns(batch)``, each ending in a newline.

    No value contains a comma, quote or newline, so none is quoted.
    """
    status_eol = _format.lookup([status + "\n" for status in STATUSES], batch.status)
    return _format.join([*columns[:-1], status_eol], ",")
