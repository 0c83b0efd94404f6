"""The regular patterns of the data: seasonality, holidays, time of day, baskets and customers."""

from collections import Counter
from datetime import date

import numpy as np
import pytest

from gnomon.examples.retail import GenerationResult


def _day(result: GenerationResult, value: date) -> int:
    return (value - result.start).days


def _daily(result: GenerationResult, orders, segment=None) -> np.ndarray:
    mask = orders.mask(segment) if segment else np.ones(orders.table.num_rows, dtype=bool)
    return orders.daily(mask, (result.end - result.start).days)


def _month_total(result: GenerationResult, daily: np.ndarray, year: int, month: int) -> int:
    first = date(year, month, 1)
    stop = date(year + month // 12, month % 12 + 1, 1)
    return int(daily[_day(result, first) : _day(result, stop)].sum())


@pytest.mark.parametrize("year", [2024, 2025])
def test_december_outsells_july(shared: GenerationResult, shared_orders, year: int) -> None:
    daily = _daily(shared, shared_orders)

    assert _month_total(shared, daily, year, 12) > 1.3 * _month_total(shared, daily, year, 7)
    assert _month_total(shared, daily, year, 11) > _month_total(shared, daily, year, 9)


def test_toys_are_more_seasonal_than_groceries(shared: GenerationResult, shared_orders) -> None:
    toys = _daily(shared, shared_orders, {"category": "toys"})
    grocery = _daily(shared, shared_orders, {"category": "grocery"})

    def peak(daily: np.ndarray) -> float:
        return _month_total(shared, daily, 2024, 12) / _month_total(shared, daily, 2024, 7)

    assert peak(toys) > peak(grocery) + 0.4


def _weekday_totals(result: GenerationResult, daily: np.ndarray) -> np.ndarray:
    first_weekday = result.start.weekday()
    weekday = (np.arange(len(daily)) + first_weekday) % 7
    return np.bincount(weekday, weights=daily, minlength=7)


def test_weekly_profile_differs_by_channel(shared: GenerationResult, shared_orders) -> None:
    store = _weekday_totals(shared, _daily(shared, shared_orders, {"channel": "store"}))
    web = _weekday_totals(shared, _daily(shared, shared_orders, {"channel": "web"}))
    app = _weekday_totals(shared, _daily(shared, shared_orders, {"channel": "app"}))
    monday, tuesday, saturday, sunday = 0, 1, 5, 6

    assert store[saturday] > 1.6 * store[sunday]
    assert store[saturday] == store.max()
    assert web[monday] > 1.1 * web[saturday]
    assert app[saturday] > 1.1 * app[tuesday]


def test_holidays_move_volume(shared: GenerationResult, shared_orders) -> None:
    daily = _daily(shared, shared_orders)
    christmas = _day(shared, date(2024, 12, 25))
    week_before = daily[christmas - 9 : christmas - 2].mean()
    black_friday = _day(shared, date(2024, 11, 29))
    cyber_monday = _day(shared, date(2024, 12, 2))
    new_year = _day(shared, date(2025, 1, 1))

    assert daily[christmas] < 0.5 * week_before
    assert daily[black_friday] > 1.8 * daily[black_friday - 7]
    assert daily[cyber_monday] > 1.5 * daily[cyber_monday - 7]
    assert daily[new_year] < 0.7 * daily[new_year + 7]


def test_promotion_days_carry_more_discounts(shared: GenerationResult, shared_orders) -> None:
    discounted = np.array(shared_orders.column("discount")) != "0.00"
    black_friday = _day(shared, date(2025, 11, 28))
    promotion = (shared_orders.day >= black_friday) & (shared_orders.day < black_friday + 4)

    assert discounted[promotion].mean() > 2 * discounted[~promotion].mean()
    assert discounted[~promotion].mean() < 0.3


def test_channels_grow_at_their_own_pace(shared: GenerationResult, shared_orders) -> None:
    def growth(channel: str) -> float:
        daily = _daily(shared, shared_orders, {"channel": channel})
        first = sum(_month_total(shared, daily, 2024, month) for month in (2, 3, 4))
        second = sum(_month_total(shared, daily, 2025, month) for month in (2, 3, 4))
        return second / first

    assert growth("app") > growth("web") > growth("store")
    assert growth("app") > 1.25 * growth("store")


def test_orders_follow_local_hours(shared_orders) -> None:
    channel = shared_orders.column("channel")
    hour = shared_orders.local_hour
    store_hours = Counter(hour[channel == "store"].tolist())
    web_hours = np.bincount(hour[channel == "web"], minlength=24)

    assert set(store_hours) <= set(range(8, 22))
    assert store_hours[12] > 3 * store_hours[8]
    assert web_hours[19:23].sum() > 5 * web_hours[2:6].sum()


def test_returns_are_most_common_in_fashion(shared_orders) -> None:
    category = shared_orders.column("category")
    returned = shared_orders.column("status") == "returned"
    rates = {name: returned[category == name].mean() for name in set(category.tolist())}

    assert max(rates, key=rates.__getitem__) == "fashion"
    assert rates["fashion"] > 2 * rates["electronics"]
    assert rates["grocery"] < 0.02


def test_recent_orders_are_still_open(shared: GenerationResult, shared_orders) -> None:
    status = shared_orders.column("status")
    last_day = (shared.end - shared.start).days - 1
    recent = shared_orders.day == last_day
    older = shared_orders.day < last_day - 30

    assert (status[recent] == "placed").mean() > 0.6
    assert (status[older] == "placed").mean() < 0.03
    assert (status[older] == "shipped").mean() > 0.8


def test_baskets_are_mostly_small_and_undiscounted(shared_orders) -> None:
    quantity = Counter(shared_orders.column("quantity").tolist())
    total = sum(quantity.values())
    discount = shared_orders.column("discount")

    assert (quantity["1"] + quantity["2"]) / total > 0.7
    assert quantity["1"] > quantity["2"] > quantity["3"]
    assert {str(n) for n in range(1, 11)} <= set(quantity)
    assert (discount == "0.00").mean() > 0.7


def test_customers_come_back_without_one_dominating(shared_orders) -> None:
    per_customer = Counter(shared_orders.column("customer_id").tolist())
    orders = np.array(list(per_customer.values()))

    assert (orders >= 2).mean() > 0.5
    assert orders.max() < 0.002 * orders.sum()
    top_tenth = np.sort(orders)[::-1][: len(orders) // 10].sum()
    assert 0.3 < top_tenth / orders.sum() < 0.7


def test_prices_stay_close_to_the_list_price(shared: GenerationResult, shared_orders) -> None:
    from gnomon.examples.retail.assortment import CATEGORIES

    incident_day = next(
        _day(shared, i.start) for i in shared.incidents if i.kind == "pricing_error"
    )
    ordinary = (shared_orders.day < incident_day - 1) | (shared_orders.day > incident_day + 3)
    product = shared_orders.column("product")
    for category in CATEGORIES:
        for item in category.products[:3]:
            prices = shared_orders.unit_price[ordinary & (product == item.name)]
            ratio = np.median(prices) / (item.base_price_cents / 100)
            assert 0.9 < ratio < 1.1, item.name
