"""The compiler, run on DuckDB over a small lake, against answers computed in plain Python."""

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.semantic import (
    MetricQuery,
    MetricQueryError,
    SemanticLayer,
    UnknownMetric,
    build_layer,
    compile_query,
    parse_definitions,
)
from tests.unit.semantic.shop import (
    DAILY,
    EMPTY_DAYS,
    MEASURES,
    METRICS_YAML,
    ORDERS,
    OTHER,
    TENANT,
    VISITS,
    Row,
    Shop,
    day_of,
    days,
    divide,
    in_range,
    local,
    month_of,
    series,
    tenant_rows,
    week_of,
)


def make_layer(shop: Shop, *, calendar: str = "") -> SemanticLayer:
    text = METRICS_YAML + calendar
    items = parse_definitions(yaml.safe_load(text), source="metrics/test.yaml", text=text)
    return build_layer(items, tables=shop.schemas)


@pytest.fixture(scope="module")
def layer(shop: Shop) -> SemanticLayer:
    return make_layer(shop)


@pytest.fixture(scope="module")
def berlin(shop: Shop) -> SemanticLayer:
    return make_layer(shop, calendar="calendar: {time_zone: Europe/Berlin}\n")


def q(metrics: list[str], **kwargs: Any) -> MetricQuery:
    return MetricQuery.build(metrics, **kwargs)


def column(rows: list[Row], name: str) -> list[Any]:
    return [r[name] for r in rows]


def approx(values: Any) -> Any:
    """pytest.approx that also takes NULLs (as None) inside lists and dicts."""
    if isinstance(values, list):
        return [approx(v) for v in values]
    if isinstance(values, dict):
        return {k: approx(v) for k, v in values.items()}
    if values is None or isinstance(values, datetime | str):
        return values
    return pytest.approx(values, rel=1e-9, abs=1e-9)


ACME = tenant_rows(ORDERS)
YEAR_2024 = (datetime(2024, 1, 1), datetime(2025, 1, 1))


# ------------------------------------------------------------------ every aggregation


AGGREGATIONS = [
    "revenue",
    "orders",
    "all_rows",
    "returned",
    "customers",
    "avg_amount",
    "min_amount",
    "max_amount",
    "median_amount",
    "p90_amount",
    "units",
    "web_revenue",
]


def test_every_aggregation_over_a_range(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(layer, q(AGGREGATIONS, start=date(2024, 1, 1), end=date(2024, 12, 31)))
    assert len(rows) == 1
    chosen = in_range(ACME, *YEAR_2024)
    expected = {name: MEASURES[name](chosen) for name in AGGREGATIONS}
    assert rows[0] == approx(expected)
    assert isinstance(rows[0]["orders"], int)
    assert isinstance(rows[0]["revenue"], float)


def test_every_aggregation_without_range_reads_all_rows(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(layer, q(AGGREGATIONS))
    assert rows == [approx({name: MEASURES[name](ACME) for name in AGGREGATIONS})]


def test_every_aggregation_by_month(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer, q(AGGREGATIONS, grain="month", start=date(2024, 1, 1), end=date(2024, 12, 31))
    )
    months = [datetime(2024, m, 1) for m in range(1, 13)]
    assert column(rows, "time") == months
    for name in AGGREGATIONS:
        assert column(rows, name) == approx(list(series(name, months, month_of).values())), name


def test_complete_spine_fills_empty_days(shop: Shop, layer: SemanticLayer) -> None:
    metrics = ["revenue", "orders", "customers", "avg_amount", "max_amount", "median_amount"]
    rows = shop.run(layer, q(metrics, grain="day", start=date(2024, 6, 1), end=date(2024, 6, 30)))
    buckets = days(date(2024, 6, 1), date(2024, 6, 30))
    assert column(rows, "time") == buckets
    empty = [r for r in rows if EMPTY_DAYS[0] <= r["time"].date() <= EMPTY_DAYS[1]]
    assert len(empty) == 11
    for row in empty:
        assert (row["revenue"], row["orders"], row["customers"]) == (0, 0, 0)
        assert (row["avg_amount"], row["max_amount"], row["median_amount"]) == (None, None, None)
    for name in metrics:
        assert column(rows, name) == approx(list(series(name, buckets, day_of).values()))


def test_fill_can_be_declared(shop: Shop) -> None:
    text = METRICS_YAML.replace(
        "  revenue: {measure: orders.revenue}",
        "  revenue: {measure: orders.revenue, fill: 'null'}\n"
        "  avg0: {measure: orders.avg_amount, fill: zero}",
    )
    layer = build_layer(
        parse_definitions(yaml.safe_load(text), source="m.yaml"), tables=shop.schemas
    )
    rows = shop.run(
        layer, q(["revenue", "avg0"], grain="day", start=EMPTY_DAYS[0], end=EMPTY_DAYS[0])
    )
    assert rows == [{"time": datetime(2024, 6, 10), "revenue": None, "avg0": 0}]


# ------------------------------------------------------------------ ratios and formulas


@pytest.mark.parametrize(
    ("grain", "bucket_of", "buckets"),
    [
        ("day", day_of, days(date(2024, 3, 1), date(2024, 3, 31))),
        ("month", month_of, [datetime(2024, m, 1) for m in range(1, 13)]),
    ],
)
def test_ratio_is_computed_from_its_parts_at_every_grain(
    shop: Shop, layer: SemanticLayer, grain: str, bucket_of: Any, buckets: list[datetime]
) -> None:
    end = buckets[-1].date() if grain == "day" else date(2024, 12, 31)
    rows = shop.run(layer, q(["aov", "return_rate"], grain=grain, start=buckets[0].date(), end=end))
    revenue = series("revenue", buckets, bucket_of)
    orders = series("orders", buckets, bucket_of)
    returned = series("returned", buckets, bucket_of)
    assert column(rows, "aov") == approx([divide(revenue[b], orders[b]) for b in buckets])
    assert column(rows, "return_rate") == approx([divide(returned[b], orders[b]) for b in buckets])


def test_monthly_ratio_is_not_an_average_of_daily_ratios(shop: Shop, layer: SemanticLayer) -> None:
    march = (date(2024, 3, 1), date(2024, 3, 31))
    monthly = shop.run(layer, q(["aov"], grain="month", start=march[0], end=march[1]))
    daily = shop.run(layer, q(["aov"], grain="day", start=march[0], end=march[1]))
    chosen = in_range(ACME, datetime(2024, 3, 1), datetime(2024, 4, 1))
    assert monthly[0]["aov"] == approx(MEASURES["revenue"](chosen) / MEASURES["orders"](chosen))
    values = [r["aov"] for r in daily if r["aov"] is not None]
    assert monthly[0]["aov"] != approx(sum(values) / len(values))


def test_derived_division_by_zero_is_null(shop: Shop, layer: SemanticLayer) -> None:
    buckets = days(date(2024, 3, 1), date(2024, 3, 31))
    rows = shop.run(
        layer,
        q(
            ["revenue_per_return", "margin"],
            grain="day",
            start=date(2024, 3, 1),
            end=date(2024, 3, 31),
        ),
    )
    revenue = series("revenue", buckets, day_of)
    returned = series("returned", buckets, day_of)
    units = series("units", buckets, day_of)
    expected = [divide(revenue[b], returned[b]) for b in buckets]
    assert None in expected  # days without returns exist
    assert any(v is not None for v in expected)
    assert column(rows, "revenue_per_return") == approx(expected)
    assert column(rows, "margin") == approx([revenue[b] * 0.5 - units[b] for b in buckets])


# ------------------------------------------------------------------ cumulative


def test_trailing_window_reads_days_before_the_range(shop: Shop, layer: SemanticLayer) -> None:
    start, end = date(2024, 6, 5), date(2024, 6, 25)
    rows = shop.run(
        layer, q(["revenue", "revenue_7d", "aov_7d", "max_7d"], grain="day", start=start, end=end)
    )
    all_days = days(start - timedelta(days=6), end)
    revenue = series("revenue", all_days, day_of)
    orders = series("orders", all_days, day_of)
    top = series("max_amount", all_days, day_of)
    shown = days(start, end)
    assert column(rows, "time") == shown

    def window(b: datetime) -> list[datetime]:
        return [b - timedelta(days=i) for i in range(7)]

    assert column(rows, "revenue_7d") == approx([sum(revenue[d] for d in window(b)) for b in shown])
    assert column(rows, "aov_7d") == approx(
        [
            divide(sum(revenue[d] for d in window(b)), sum(orders[d] for d in window(b)))
            for b in shown
        ]
    )
    assert column(rows, "max_7d") == approx(
        [max((top[d] for d in window(b) if top[d] is not None), default=None) for b in shown]
    )
    # Inside the empty stretch the trailing window still carries the days before it.
    assert rows[5]["revenue"] == 0
    assert rows[5]["revenue_7d"] > 0


def test_window_in_months_and_weeks(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer, q(["revenue_3m"], grain="month", start=date(2024, 3, 1), end=date(2024, 8, 31))
    )
    months = [datetime(2024, m, 1) for m in range(1, 9)]
    revenue = series("revenue", months, month_of)
    assert column(rows, "revenue_3m") == approx(
        [revenue[months[i]] + revenue[months[i - 1]] + revenue[months[i - 2]] for i in range(2, 8)]
    )
    weekly = shop.run(
        layer,
        q(["revenue", "revenue_7d"], grain="week", start=date(2024, 3, 4), end=date(2024, 3, 31)),
    )
    assert column(weekly, "revenue_7d") == column(weekly, "revenue")


def test_running_total_starts_at_the_range(shop: Shop, layer: SemanticLayer) -> None:
    start, end = date(2024, 2, 1), date(2024, 2, 29)
    rows = shop.run(layer, q(["revenue", "revenue_running"], grain="day", start=start, end=end))
    running, total = [], 0.0
    for row in rows:
        total += row["revenue"]
        running.append(total)
    assert column(rows, "revenue_running") == approx(running)
    assert rows[-1]["revenue_running"] == approx(
        MEASURES["revenue"](in_range(ACME, datetime(2024, 2, 1), datetime(2024, 3, 1)))
    )


def test_month_to_date_restarts_each_month_and_reads_back_to_its_start(
    shop: Shop, layer: SemanticLayer
) -> None:
    start, end = date(2024, 3, 10), date(2024, 4, 5)
    rows = shop.run(layer, q(["revenue_mtd"], grain="day", start=start, end=end))
    shown = days(start, end)
    assert column(rows, "time") == shown
    expected = [
        MEASURES["revenue"](in_range(ACME, month_of(b), b + timedelta(days=1))) for b in shown
    ]
    assert column(rows, "revenue_mtd") == approx(expected)


def test_cumulative_window_must_be_a_multiple_of_the_grain(
    shop: Shop, layer: SemanticLayer
) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(
            layer,
            q(["revenue_7d"], grain="month", start=date(2024, 1, 1), end=date(2024, 3, 31)),
            dialect="duckdb",
        )
    assert "'revenue_7d' sums over 7 days, which is not a whole number of month buckets" in str(
        caught.value
    )
    assert "--grain day" in str(caught.value.hint)
    with pytest.raises(MetricQueryError, match="not a whole number of day buckets"):
        compile_query(
            layer,
            q(["revenue_3m"], grain="day", start=date(2024, 1, 1), end=date(2024, 3, 31)),
            dialect="duckdb",
        )


def test_cumulative_without_grain_is_refused(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["revenue", "revenue_7d"]), dialect="duckdb")
    assert caught.value.message == "'revenue_7d' is a cumulative metric: it needs a grain."
    assert caught.value.hint == "Add a grain, e.g. --grain day."
    with pytest.raises(MetricQueryError, match="period_over_period metric: it needs a grain"):
        compile_query(
            layer,
            q(["revenue_yoy"], start=date(2024, 1, 1), end=date(2024, 2, 1)),
            dialect="duckdb",
        )


# ------------------------------------------------------------------ period over period


def test_previous_period_value_delta_percent(shop: Shop, layer: SemanticLayer) -> None:
    metrics = ["revenue", "revenue_prev", "revenue_delta", "revenue_pct", "aov_pct"]
    rows = shop.run(layer, q(metrics, grain="month", start=date(2024, 2, 1), end=date(2024, 7, 31)))
    months = [datetime(2024, m, 1) for m in range(1, 8)]
    revenue = series("revenue", months, month_of)
    orders = series("orders", months, month_of)
    aov = {m: divide(revenue[m], orders[m]) for m in months}
    assert column(rows, "time") == months[1:]
    pairs = list(zip(months[1:], months[:-1], strict=True))
    assert column(rows, "revenue_prev") == approx([revenue[p] for _, p in pairs])
    assert column(rows, "revenue_delta") == approx([revenue[m] - revenue[p] for m, p in pairs])
    assert column(rows, "revenue_pct") == approx(
        [divide(revenue[m] - revenue[p], revenue[p]) for m, p in pairs]
    )
    assert column(rows, "aov_pct") == approx(
        [divide(aov[m] - aov[p], aov[p]) for m, p in pairs]  # type: ignore[operator]
    )


def test_same_period_last_year(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer,
        q(
            ["revenue", "revenue_ly", "revenue_yoy"],
            grain="month",
            start=date(2025, 1, 1),
            end=date(2025, 3, 31),
        ),
    )
    months = [datetime(2024, m, 1) for m in (1, 2, 3)] + [datetime(2025, m, 1) for m in (1, 2, 3)]
    revenue = series("revenue", months, month_of)
    assert column(rows, "time") == months[3:]
    assert column(rows, "revenue_ly") == approx([revenue[m] for m in months[:3]])
    assert column(rows, "revenue_yoy") == approx(
        [
            divide(revenue[n] - revenue[o], revenue[o])
            for o, n in zip(months[:3], months[3:], strict=True)
        ]
    )


def test_same_day_last_year_and_empty_comparisons(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer,
        q(
            ["revenue_ly", "revenue_pct"],
            grain="day",
            start=date(2025, 6, 8),
            end=date(2025, 6, 22),
        ),
    )
    shown = days(date(2025, 6, 8), date(2025, 6, 22))
    year_ago = {b: b.replace(year=2024) for b in shown}
    revenue = series("revenue", list(year_ago.values()), day_of)
    assert column(rows, "revenue_ly") == approx([revenue[year_ago[b]] for b in shown])
    # The data ends before June 2025: revenue then is 0, so the change against 0 is NULL.
    assert all(r["revenue_pct"] is None for r in rows)


# ------------------------------------------------------------------ dimensions and filters


def _by(rows: list[Row], keys: tuple[str, ...], metric: str) -> dict[tuple[Any, ...], Any]:
    return {tuple(r[k] for k in keys): r[metric] for r in rows}


def test_dimensions_with_null_values_and_expressions(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(layer, q(["revenue", "orders"], by=["region", "size"]))
    expected: dict[tuple[Any, ...], list[Row]] = {}
    for row in ACME:
        size = "bulk" if row["quantity"] >= 4 else "single"
        expected.setdefault((row["region"], size), []).append(row)
    assert _by(rows, ("region", "size"), "revenue") == approx(
        {key: MEASURES["revenue"](group) for key, group in expected.items()}
    )
    assert _by(rows, ("region", "size"), "orders") == {
        key: MEASURES["orders"](group) for key, group in expected.items()
    }
    assert (None, "bulk") in _by(rows, ("region", "size"), "orders")
    # Default order: dimensions ascending, NULL first.
    assert [r["region"] for r in rows][:2] == [None, None]


def test_dimensions_by_day_show_every_combination_on_every_day(
    shop: Shop, layer: SemanticLayer
) -> None:
    start, end = date(2024, 6, 6), date(2024, 6, 12)
    rows = shop.run(layer, q(["orders"], by=["channel"], grain="day", start=start, end=end))
    seen = {r["channel"] for r in in_range(ACME, datetime(2024, 6, 6), datetime(2024, 6, 13))}
    assert seen == {"web", "store", "app"}
    assert len(rows) == 7 * 3
    assert {(r["time"], r["channel"]) for r in rows} == {
        (d, c) for d in days(start, end) for c in seen
    }
    for row in rows:
        group = [
            r for r in ACME if day_of(local(r)) == row["time"] and r["channel"] == row["channel"]
        ]
        assert row["orders"] == MEASURES["orders"](group)


def test_where_filters_on_dimensions(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer,
        q(["revenue", "customers"], by=["channel"], where="region = 'EMEA' AND size = 'bulk'"),
    )
    chosen = [r for r in ACME if r["region"] == "EMEA" and r["quantity"] >= 4]
    assert _by(rows, ("channel",), "revenue") == approx(
        {(c,): MEASURES["revenue"]([r for r in chosen if r["channel"] == c]) for c in ("store",)}
    )
    assert len({r["channel"] for r in chosen}) == 1
    nulls = shop.run(layer, q(["orders"], where="region IS NULL"))
    assert nulls[0]["orders"] == MEASURES["orders"]([r for r in ACME if r["region"] is None])


def test_where_refuses_columns_that_are_not_dimensions(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["revenue"], where="amount > 10"), dialect="duckdb")
    assert caught.value.message == (
        "The filter refers to 'amount', which is not a dimension of the metrics."
    )
    assert "region" in str(caught.value.hint)


@pytest.mark.parametrize(
    "where",
    [
        "region IN (SELECT region FROM silver.orders)",
        "EXISTS (SELECT 1)",
        "region = 'x'; DROP TABLE y",
        "region = (SELECT max(region) FROM silver.customers)",
    ],
)
def test_where_refuses_subqueries_and_statements(layer: SemanticLayer, where: str) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["revenue"], where=where), dialect="duckdb")
    assert "filter" in str(caught.value)
    assert caught.value.hint is not None


def test_metric_filter_and_measure_filter(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(layer, q(["revenue", "web_revenue"], by=["channel"]))
    by_channel = {r["channel"]: r for r in rows}
    assert by_channel["web"]["web_revenue"] == approx(by_channel["web"]["revenue"])
    assert by_channel["store"]["web_revenue"] == 0
    assert by_channel["app"]["web_revenue"] == 0


def test_order_and_limit(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(layer, q(["revenue", "orders"], by=["region"], order=["-revenue"], limit=2))
    everything = shop.run(layer, q(["revenue", "orders"], by=["region"]))
    top = sorted(everything, key=lambda r: -r["revenue"])[:2]
    assert rows == top
    ascending = shop.run(layer, q(["orders"], by=["region"], order=["orders"]))
    assert column(ascending, "orders") == sorted(column(ascending, "orders"))
    with pytest.raises(MetricQueryError, match="Cannot order by 'amount'"):
        compile_query(layer, q(["revenue"], order=["amount"]), dialect="duckdb")


# ------------------------------------------------------------------ time


def test_time_zone_moves_a_late_row_to_the_next_day(
    shop: Shop, layer: SemanticLayer, berlin: SemanticLayer
) -> None:
    period = {"grain": "day", "start": date(2025, 1, 15), "end": date(2025, 1, 16)}
    in_utc = shop.run(layer, q(["max_amount", "orders"], **period))
    in_berlin = shop.run(berlin, q(["max_amount", "orders"], **period))
    assert column(in_utc, "max_amount")[0] == 1000.0
    assert column(in_berlin, "max_amount")[1] == 1000.0
    assert column(in_berlin, "max_amount")[0] != 1000.0
    for rows, zone in ((in_utc, "UTC"), (in_berlin, "Europe/Berlin")):
        for row in rows:
            group = [r for r in ACME if day_of(local(r, zone)) == row["time"]]
            assert row["orders"] == MEASURES["orders"](group)


def test_time_zone_range_bounds_are_local(shop: Shop, berlin: SemanticLayer) -> None:
    rows = shop.run(berlin, q(["orders"], start=date(2025, 1, 16), end=date(2025, 1, 16)))
    chosen = in_range(ACME, datetime(2025, 1, 16), datetime(2025, 1, 17), "Europe/Berlin")
    assert rows == [{"orders": MEASURES["orders"](chosen)}]
    assert any(r["amount"] == 1000.0 for r in chosen)


def test_naive_timestamps_are_read_as_utc(shop: Shop, berlin: SemanticLayer) -> None:
    rows = shop.run(berlin, q(["n"], grain="day", start=date(2025, 1, 15), end=date(2025, 1, 16)))
    assert rows == [
        {"time": datetime(2025, 1, 15), "n": 0},
        {"time": datetime(2025, 1, 16), "n": 11},
    ]


def test_date_time_column(shop: Shop, berlin: SemanticLayer) -> None:
    rows = shop.run(
        berlin,
        q(["budget"], by=["region"], grain="month", start=date(2024, 12, 1), end=date(2025, 2, 28)),
    )
    expected: dict[tuple[Any, ...], float] = {}
    for row in DAILY:
        if row["_tenant_id"] == TENANT:
            key = (datetime(row["day"].year, row["day"].month, 1), row["region"])
            expected[key] = expected.get(key, 0.0) + row["budget"]
    assert _by(rows, ("time", "region"), "budget") == approx(expected)
    day = shop.run(berlin, q(["budget"], start=date(2024, 12, 5), end=date(2024, 12, 5)))
    assert day == [{"budget": 104.0}]


def test_two_models_in_one_query(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer,
        q(
            ["orders", "visits", "visits_per_order"],
            by=["region"],
            grain="week",
            start=date(2024, 3, 4),
            end=date(2024, 3, 31),
        ),
    )
    weeks = [datetime(2024, 3, 4) + timedelta(weeks=i) for i in range(4)]
    assert sorted({r["time"] for r in rows}) == weeks
    for row in rows:
        orders = MEASURES["orders"](
            [r for r in ACME if week_of(local(r)) == row["time"] and r["region"] == row["region"]]
        )
        visits = sum(
            1
            for v in VISITS
            if v["_tenant_id"] == TENANT
            and week_of(local(v, column="visit_time")) == row["time"]
            and v["region"] == row["region"]
        )
        assert (row["orders"], row["visits"]) == (orders, visits)
        assert row["visits_per_order"] == approx(divide(visits, orders))
    # APAC has orders but no visits; both sides appear.
    assert {r["region"] for r in rows} == {"EMEA", "AMER", "APAC", None}


def test_two_models_need_common_dimensions(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["orders", "visits"], by=["channel"]), dialect="duckdb")
    assert caught.value.message == "'channel' is not a dimension of 'orders' and 'visits'."
    assert caught.value.hint == "Use one of: region."


def test_other_tenants_rows_are_never_counted(shop: Shop, layer: SemanticLayer) -> None:
    query = q(
        ["revenue", "orders", "visits"],
        by=["region"],
        grain="month",
        start=date(2024, 1, 1),
        end=date(2024, 3, 31),
    )
    mine = shop.run(layer, query)
    theirs = shop.run(layer, query, tenant=OTHER)
    months = [datetime(2024, m, 1) for m in (1, 2, 3)]
    assert sum(column(mine, "revenue")) == approx(sum(series("revenue", months, month_of).values()))
    others = tenant_rows(ORDERS, OTHER)
    assert sum(column(theirs, "revenue")) == approx(
        sum(series("revenue", months, month_of, rows=others).values())
    )
    assert max(column(mine, "revenue")) < 10_000 < max(column(theirs, "revenue"))
    nobody = shop.run(layer, q(["revenue", "orders"]), tenant="nobody")
    assert nobody == [{"revenue": 0, "orders": 0}]


# ------------------------------------------------------------------ query mistakes


def test_grain_without_range(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["revenue"], grain="day"), dialect="duckdb")
    assert caught.value.message == "A query with a grain needs a time range."
    assert "--start and --end" in str(caught.value.hint)


def test_half_a_range_and_an_empty_range(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError, match="Give both a start and an end, or neither"):
        compile_query(layer, q(["revenue"], start=date(2024, 1, 1)), dialect="duckdb")
    with pytest.raises(MetricQueryError, match="The range is empty") as caught:
        compile_query(
            layer, q(["revenue"], start=date(2024, 2, 1), end=date(2024, 1, 1)), dialect="duckdb"
        )
    assert caught.value.hint == "Swap or widen the range."


def test_unknown_dimension_and_metric(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError) as caught:
        compile_query(layer, q(["revenue"], by=["country"]), dialect="duckdb")
    assert caught.value.message == "'country' is not a dimension of 'revenue'."
    assert caught.value.hint == "Use one of: channel, region, size."
    with pytest.raises(UnknownMetric, match="No metric is called 'revenu'"):
        compile_query(layer, q(["revenu"]), dialect="duckdb")


def test_too_many_buckets(layer: SemanticLayer) -> None:
    with pytest.raises(MetricQueryError, match="narrow the range or choose a coarser grain"):
        compile_query(
            layer,
            q(["revenue"], grain="minute", start=date(2000, 1, 1), end=date(2024, 1, 1)),
            dialect="duckdb",
        )


def test_model_without_time_cannot_be_bucketed(shop: Shop) -> None:
    text = METRICS_YAML.replace("    time: {column: visit_time}\n", "")
    layer = build_layer(
        parse_definitions(yaml.safe_load(text), source="m.yaml"), tables=shop.schemas
    )
    with pytest.raises(MetricQueryError, match="Semantic model 'visits' has no time column"):
        compile_query(
            layer,
            q(["visits"], grain="day", start=date(2024, 1, 1), end=date(2024, 1, 2)),
            dialect="duckdb",
        )
    assert shop.run(layer, q(["visits"])) == [
        {"visits": sum(1 for v in VISITS if v["_tenant_id"] == TENANT)}
    ]


def test_query_build_checks(layer: SemanticLayer) -> None:
    with pytest.raises(ValueError, match="name at least one metric"):
        MetricQuery.build([])
    with pytest.raises(ValueError, match="'fortnight' is not a grain"):
        MetricQuery.build(["revenue"], grain="fortnight")
    with pytest.raises(ValueError, match="must not be negative"):
        MetricQuery.build(["revenue"], limit=-1)
    with pytest.raises(ValueError, match="metric 'revenue' is named twice"):
        MetricQuery.build(["revenue", "revenue"])
    query = MetricQuery.build(["revenue"], order=["-revenue", " region ", ""], where="")
    assert [(o.column, o.descending) for o in query.order] == [("revenue", True), ("region", False)]
    assert query.where is None


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_every_metric_compiles_for_every_dialect(layer: SemanticLayer, dialect: str) -> None:
    names = [m for m in layer.metrics if m not in ("n", "budget")]
    for grain, skip in (("month", ("revenue_7d", "aov_7d", "max_7d")), ("day", ("revenue_3m",))):
        asked = [m for m in names if m not in skip]
        compiled = compile_query(
            layer,
            q(asked, grain=grain, start=date(2024, 1, 1), end=date(2024, 12, 31)),
            dialect=dialect,
        )
        sql = compiled.tree.sql(dialect=dialect)
        assert "gnomon_time_spine" in sql
        assert compiled.tables == ("silver.orders", "silver.visits")
        assert compiled.columns == ["time", *asked]


# ------------------------------------------------------------------ properties


@pytest.mark.parametrize(
    ("grain", "start", "end"),
    [
        ("month", date(2024, 3, 10), date(2024, 5, 20)),
        ("week", date(2024, 3, 6), date(2024, 3, 27)),
        ("quarter", date(2024, 2, 15), date(2024, 8, 1)),
    ],
)
def test_buckets_of_a_range_not_on_boundaries_hold_only_rows_in_the_range(
    shop: Shop, layer: SemanticLayer, grain: str, start: date, end: date
) -> None:
    rows = shop.run(layer, q(["revenue", "orders"], grain=grain, start=start, end=end))
    total = shop.run(layer, q(["revenue", "orders"], start=start, end=end))[0]
    assert sum(column(rows, "orders")) == total["orders"]
    assert sum(column(rows, "revenue")) == approx(total["revenue"])


ADDITIVE = ["revenue", "orders", "units", "returned", "web_revenue", "all_rows"]


@settings(max_examples=40)
@given(
    metrics=st.lists(st.sampled_from(ADDITIVE), min_size=1, max_size=3, unique=True),
    extra=st.lists(st.sampled_from(["aov", "avg_amount", "customers"]), max_size=2, unique=True),
    by=st.lists(st.sampled_from(["region", "channel", "size"]), max_size=2, unique=True),
    grain=st.sampled_from(["hour", "day", "week", "month", "quarter", "year", "fiscal_quarter"]),
    start=st.dates(min_value=date(2023, 12, 1), max_value=date(2025, 4, 30)),
    length=st.integers(min_value=0, max_value=70),
    where=st.sampled_from([None, "channel = 'web'", "region IS NULL OR region <> 'AMER'"]),
)
def test_buckets_add_up_to_the_total(
    shop: Shop,
    layer: SemanticLayer,
    metrics: list[str],
    extra: list[str],
    by: list[str],
    grain: str,
    start: date,
    length: int,
    where: str | None,
) -> None:
    end = start + timedelta(days=length if grain != "hour" else min(length, 3))
    asked = metrics + extra
    bucketed = shop.run(layer, q(asked, by=by, grain=grain, start=start, end=end, where=where))
    total = shop.run(layer, q(asked, by=by, start=start, end=end, where=where))
    for name in metrics:
        assert sum(column(bucketed, name)) == approx(sum(column(total, name)))
        # The total agrees with plain Python too.
        chosen = in_range(
            ACME,
            datetime(start.year, start.month, start.day),
            datetime(end.year, end.month, end.day) + timedelta(days=1),
        )
        if where == "channel = 'web'":
            chosen = [r for r in chosen if r["channel"] == "web"]
        elif where is not None:
            chosen = [r for r in chosen if r["region"] != "AMER"]
        assert sum(column(total, name)) == approx(MEASURES[name](chosen))


def test_a_range_inside_a_bucket_with_lead_buckets(shop: Shop, layer: SemanticLayer) -> None:
    rows = shop.run(
        layer,
        q(
            ["revenue", "revenue_3m", "revenue_prev"],
            grain="month",
            start=date(2024, 3, 10),
            end=date(2024, 4, 30),
        ),
    )
    jan, feb = (
        MEASURES["revenue"](in_range(ACME, datetime(2024, m, 1), datetime(2024, m + 1, 1)))
        for m in (1, 2)
    )
    march = MEASURES["revenue"](in_range(ACME, datetime(2024, 3, 10), datetime(2024, 4, 1)))
    april = MEASURES["revenue"](in_range(ACME, datetime(2024, 4, 1), datetime(2024, 5, 1)))
    assert rows == approx(
        [
            {
                "time": datetime(2024, 3, 1),
                "revenue": march,
                "revenue_3m": jan + feb + march,
                "revenue_prev": feb,
            },
            {
                "time": datetime(2024, 4, 1),
                "revenue": april,
                "revenue_3m": feb + march + april,
                "revenue_prev": march,
            },
        ]
    )
