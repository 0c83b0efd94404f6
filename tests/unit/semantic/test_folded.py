"""The folded shape and shared filters in the scan: leaner SQL, the same answers.

A query of one model whose metrics read no earlier buckets compiles to one GROUP BY and a join
to the spine; filters all its metrics share move into the scan's WHERE when no group can be
lost by it. These tests pin the cases where that could change an answer: buckets with no rows,
buckets whose rows all fail the shared filter, counts filled with NULL, groups kept by
dimensions, and ordering by a filled value.
"""

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import pytest
import yaml

from gnomon.semantic import (
    MetricQuery,
    SemanticLayer,
    build_layer,
    compile_query,
    parse_definitions,
)
from tests.unit.semantic.shop import (
    EMPTY_DAYS,
    MEASURES,
    METRICS_YAML,
    ORDERS,
    Row,
    Shop,
    day_of,
    days,
    divide,
    local,
    series,
    tenant_rows,
)

ACME = tenant_rows(ORDERS)
ONLY_CANCELLED = datetime(2024, 1, 9)
"""Acme's only orders that day are cancelled: every metric with the status filter sees none."""


@pytest.fixture(scope="module")
def layer(shop: Shop) -> SemanticLayer:
    text = METRICS_YAML.replace(
        "      customers: {agg: count_distinct, expr: customer_id}",
        "      customers: {agg: count_distinct, expr: customer_id}\n"
        "      kept_customers:\n"
        "        {agg: count_distinct, expr: customer_id, filter: \"status <> 'cancelled'\"}",
    ).replace(
        "  orders: {measure: orders.orders}",
        "  orders: {measure: orders.orders}\n"
        "  orders_or_null: {measure: orders.orders, fill: 'null'}\n"
        "  customers_kept: {measure: orders.kept_customers}",
    )
    items = parse_definitions(yaml.safe_load(text), source="metrics/test.yaml", text=text)
    return build_layer(items, tables=shop.schemas)


def q(metrics: list[str], **kwargs: Any) -> MetricQuery:
    return MetricQuery.build(metrics, **kwargs)


def _day_rows(day: datetime) -> list[Row]:
    return [r for r in ACME if day_of(local(r)) == day]


def test_the_data_has_a_day_of_only_cancelled_orders() -> None:
    rows = _day_rows(ONLY_CANCELLED)
    assert rows
    assert {r["status"] for r in rows} == {"cancelled"}


def test_a_day_whose_rows_all_fail_the_shared_filter_keeps_its_bucket(
    shop: Shop, layer: SemanticLayer
) -> None:
    start, end = date(2024, 1, 1), date(2024, 1, 31)
    buckets = days(start, end)
    rows = shop.run(
        layer, q(["revenue", "orders", "web_revenue", "aov"], grain="day", start=start, end=end)
    )
    assert [r["time"] for r in rows] == buckets
    revenue = series("revenue", buckets, day_of)
    orders = series("orders", buckets, day_of)
    web = series("web_revenue", buckets, day_of)
    assert [r["revenue"] for r in rows] == pytest.approx([revenue[b] for b in buckets])
    assert [r["orders"] for r in rows] == [orders[b] for b in buckets]
    assert [r["web_revenue"] for r in rows] == pytest.approx([web[b] for b in buckets])
    expected_aov = [divide(revenue[b], orders[b]) for b in buckets]
    assert [r["aov"] for r in rows] == [
        pytest.approx(v) if v is not None else None for v in expected_aov
    ]
    cancelled = next(r for r in rows if r["time"] == ONLY_CANCELLED)
    assert cancelled == {
        "time": ONLY_CANCELLED,
        "revenue": 0,
        "orders": 0,
        "web_revenue": 0,
        "aov": None,
    }


def test_a_count_filled_with_null_tells_an_empty_day_from_a_day_of_cancelled_orders(
    shop: Shop, layer: SemanticLayer
) -> None:
    # Both metrics filter on status, but a count of no kept rows is 0 while a day without rows
    # is NULL here: the filter must stay in the aggregate, not move into the scan.
    start, end = ONLY_CANCELLED.date(), EMPTY_DAYS[0]
    rows = shop.run(layer, q(["revenue", "orders_or_null"], grain="day", start=start, end=end))
    by_day = {r["time"]: r for r in rows}
    assert by_day[ONLY_CANCELLED]["orders_or_null"] == 0
    assert by_day[ONLY_CANCELLED]["revenue"] == 0
    empty = datetime(EMPTY_DAYS[0].year, EMPTY_DAYS[0].month, EMPTY_DAYS[0].day)
    assert by_day[empty]["orders_or_null"] is None
    assert by_day[empty]["revenue"] == 0
    kept = series("orders", list(by_day), day_of)
    for day, row in by_day.items():
        expected = kept[day] if _day_rows(day) else None
        assert row["orders_or_null"] == expected, day


def test_a_shared_filter_over_a_distinct_count_and_a_sum(shop: Shop, layer: SemanticLayer) -> None:
    start, end = date(2024, 1, 1), date(2024, 1, 31)
    rows = shop.run(layer, q(["customers_kept", "revenue"], grain="day", start=start, end=end))
    for row in rows:
        kept = [r for r in _day_rows(row["time"]) if r["status"] != "cancelled"]
        assert row["customers_kept"] == len({r["customer_id"] for r in kept})
    assert next(r for r in rows if r["time"] == ONLY_CANCELLED)["customers_kept"] == 0


def test_without_a_grain_or_dimensions_one_row_even_when_no_row_passes(
    shop: Shop, layer: SemanticLayer
) -> None:
    day = ONLY_CANCELLED.date()
    rows = shop.run(layer, q(["revenue", "orders", "aov", "orders_or_null"], start=day, end=day))
    assert rows == [{"revenue": 0, "orders": 0, "aov": None, "orders_or_null": 0}]


def test_a_group_whose_rows_all_fail_a_metric_filter_is_kept_and_ordered_by_its_fill(
    shop: Shop, layer: SemanticLayer
) -> None:
    day = date(2024, 1, 1)
    groups: dict[str | None, list[Row]] = defaultdict(list)
    for row in _day_rows(datetime(2024, 1, 1)):
        groups[row["region"]].append(row)
    zero = [region for region, rows in groups.items() if MEASURES["orders"](rows) == 0]
    assert zero  # a region with only cancelled orders that day
    rows = shop.run(
        layer, q(["revenue", "orders"], by=["region"], start=day, end=day, order=["revenue"])
    )
    expected = sorted(
        (
            {
                "region": region,
                "revenue": MEASURES["revenue"](members),
                "orders": MEASURES["orders"](members),
            }
            for region, members in groups.items()
        ),
        key=lambda r: (r["revenue"], r["region"] is not None, r["region"] or ""),
    )
    assert rows == [{**r, "revenue": pytest.approx(r["revenue"])} for r in expected]
    # The filled 0 sorts as 0 (first), not as a NULL (last).
    assert rows[0]["region"] in zero
    assert rows[0]["revenue"] == 0


def test_dimensions_and_a_grain_fill_every_combination_with_a_shared_filter(
    shop: Shop, layer: SemanticLayer
) -> None:
    start, end = date(2024, 1, 1), date(2024, 1, 10)
    rows = shop.run(
        layer, q(["revenue", "orders"], by=["region"], grain="day", start=start, end=end)
    )
    regions = {r["region"] for r in ACME if start <= local(r).date() <= end}
    assert {(r["time"], r["region"]) for r in rows} == {
        (d, region) for d in days(start, end) for region in regions
    }
    for row in rows:
        members = [r for r in _day_rows(row["time"]) if r["region"] == row["region"]]
        assert row["orders"] == MEASURES["orders"](members)
        assert row["revenue"] == pytest.approx(MEASURES["revenue"](members))


def test_the_folded_shape_reads_only_the_spines_time(layer: SemanticLayer) -> None:
    start, end = date(2024, 1, 1), date(2024, 1, 31)
    folded = compile_query(
        layer,
        q(["aov", "margin"], by=["region"], grain="day", start=start, end=end),
        dialect="duckdb",
    )
    assert folded.relations["gnomon_time_spine"].column_names == ["time"]
    assert [cte.alias for cte in folded.tree.ctes] == ["m0"]
    windowed = compile_query(
        layer,
        q(["revenue_7d", "revenue_mtd", "revenue_ly"], grain="day", start=start, end=end),
        dialect="duckdb",
    )
    assert windowed.relations["gnomon_time_spine"].column_names == [
        "time",
        "in_range",
        "period_month",
        "year_ago_time",
    ]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_measure_filters_are_aggregate_filters_in_every_dialect(
    layer: SemanticLayer, dialect: str
) -> None:
    compiled = compile_query(layer, q(["revenue", "returned"], by=["region"]), dialect=dialect)
    sql = compiled.tree.sql(dialect=dialect)
    assert "FILTER(WHERE" in sql
    assert "CASE" not in sql
