"""Conditions over Arrow batches: SQL's semantics, coercions, time zones, and per-rule errors."""

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from gnomon.triggers import ConditionSet, RuleTypeError, compile_condition, parse_condition


def _fires(text: str, table: pa.Table, *, timezone: str = "UTC") -> list[bool]:
    conditions = {"rule": parse_condition(text, timezone=timezone)}
    compiled = ConditionSet.compile(conditions, table.schema)
    assert not compiled.errors, compiled.errors
    fired: list[bool] = compiled.evaluate(table)["rule"].to_pylist()
    return fired


ORDERS = pa.table(
    {
        "amount": pa.array([50, 150, None, 200, 0], type=pa.int64()),
        "price": pa.array([1.5, None, 2.0, 0.0, 3.25]),
        "country": ["DE", "DE", "AT", None, "fr"],
        "channel": ["web", "app", "web_shop", "store", "Web"],
        "vip": [True, False, None, True, False],
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amount > 100", [False, True, False, True, False]),
        ("NOT amount > 100", [True, False, False, False, True]),  # NOT NULL is NULL: no fire
        ("amount > 100 OR vip", [True, True, False, True, False]),
        ("amount > 100 AND vip IS NULL", [False, False, False, False, False]),
        ("country IN ('DE', 'AT')", [True, True, True, False, False]),
        ("country NOT IN ('DE', NULL)", [False, False, False, False, False]),  # NULL in list
        ("country IN ('AT', NULL)", [False, False, True, False, False]),
        ("amount BETWEEN 50 AND 150", [True, True, False, False, False]),
        ("channel LIKE 'web%'", [True, False, True, False, False]),
        ("channel LIKE 'web_shop'", [False, False, True, False, False]),
        ("channel ILIKE 'WEB'", [True, False, False, False, True]),
        ("channel NOT LIKE '%b%'", [False, True, False, True, False]),
        ("channel NOT ILIKE 'web'", [False, True, True, True, False]),
        ("country IS NULL", [False, False, False, True, False]),
        ("vip IS NOT TRUE", [False, True, True, False, True]),
        ("amount / price > 30", [True, False, False, False, False]),  # x / 0 is NULL
        ("amount * 2 + 1 = 301", [False, True, False, False, False]),
        ("-amount < -100", [False, True, False, True, False]),
        ("amount + price > 150", [False, False, False, True, False]),  # int meets float
        ("upper(country) = 'FR'", [False, False, False, False, True]),
        ("lower(channel) || '!' = 'web!'", [True, False, False, False, True]),
        ("coalesce(amount, 0) = 0", [False, False, True, False, True]),
        ("greatest(amount, 100) = 100", [True, False, True, False, True]),  # NULLs skipped
        ("nullif(country, 'DE') IS NULL", [True, True, False, True, False]),
        ("round(price) = 2 AND price < 2", [True, False, False, False, False]),  # 1.5 rounds up
        ("starts_with(channel, 'web')", [True, False, True, False, False]),
        ("CASE WHEN amount > 100 THEN 'big' ELSE 'small' END = 'small'",
         [True, False, True, False, True]),  # a NULL test goes to ELSE
        ("CASE country WHEN 'DE' THEN 1 WHEN 'AT' THEN 2.5 END > 2", [False, False, True, False,
                                                                       False]),
        ("IF(vip, amount, 0) > 100", [False, False, False, True, False]),
        ("missing_field = 1 OR amount = 0", [False, False, False, False, True]),
        ("NULL", [False] * 5),
    ],
)  # fmt: skip
def test_sql_semantics_over_a_batch(text: str, expected: list[bool]) -> None:
    assert _fires(text, ORDERS) == expected


def _times(*moments: str) -> pa.Table:
    values = [datetime.fromisoformat(m).replace(tzinfo=UTC) for m in moments]
    return pa.table({"t": pa.array(values, type=pa.timestamp("us", tz="UTC"))})


def test_calendar_functions_read_the_clock_of_the_rules_time_zone() -> None:
    # Sunday 22:30 UTC is Monday 00:30 in Berlin (summer time began that morning).
    table = _times("2025-03-30 22:30:00", "2025-03-30 00:30:00", "2025-12-31 23:59:00")
    assert _fires("day_of_week(t) = 7", table) == [True, True, False]
    assert _fires("day_of_week(t) = 1", table, timezone="Europe/Berlin") == [True, False, False]
    assert _fires("day_of_week(t, 'Europe/Berlin') = 1", table) == [True, False, False]
    assert _fires("hour_of_day(t, 'Europe/Berlin') = 0", table) == [True, False, True]
    assert _fires("hour_of_day(t) >= 18 OR hour_of_day(t) < 8", table) == [True, True, True]
    # New Year's Eve 23:59 UTC is already New Year in Berlin.
    assert _fires("local_date(t) = '2026-01-01'", table, timezone="Europe/Berlin") == [
        False,
        False,
        True,
    ]
    assert _fires("month_of_year(t) = 12 AND day_of_month(t) = 31", table) == [False, False, True]


def test_time_literals_are_read_in_the_rules_zone() -> None:
    table = _times("2025-06-01 09:30:00", "2025-06-01 10:30:00")
    # 11:00 in Berlin (summer) is 09:00 UTC: both times are after it.
    assert _fires("t > '2025-06-01 11:00'", table, timezone="Europe/Berlin") == [True, True]
    assert _fires("t > '2025-06-01 11:00'", table) == [False, False]
    assert _fires("t > '2025-06-01T10:00:00+00:00'", table, timezone="Europe/Berlin") == [
        False,
        True,
    ]
    assert _fires(
        "t BETWEEN TIMESTAMP '2025-06-01 11:00' AND '2025-06-01 12:00'",
        table,
        timezone="Europe/Berlin",
    ) == [True, False]
    assert _fires("local_date(t) BETWEEN '2025-05-31' AND DATE '2025-06-01'", table) == [
        True,
        True,
    ]
    # A date meets a time at its midnight in the rule's zone.
    assert _fires("t >= DATE '2025-06-01'", table, timezone="Asia/Tokyo") == [True, True]


def test_nested_fields_and_naive_times() -> None:
    table = pa.table(
        {
            "data": pa.array(
                [{"amount": 5, "tags": "a"}, {"amount": 50, "tags": None}],
                type=pa.struct([("amount", pa.int64()), ("tags", pa.string())]),
            ),
            "at": pa.array([datetime(2025, 1, 6, 7), datetime(2025, 1, 6, 9)], pa.timestamp("s")),
        }
    )
    assert _fires("data.amount > 10", table) == [False, True]
    assert _fires("data.tags IS NULL", table) == [False, True]
    assert _fires("data.nothing IS NULL AND data.amount.deeper IS NULL", table) == [True, True]
    # A time without a zone in the data is UTC.
    assert _fires("hour_of_day(at, 'Europe/Berlin') = 8", table) == [True, False]
    assert _fires("at < '2025-01-06 08:00'", table) == [True, False]


def test_a_type_error_stays_with_its_rule() -> None:
    conditions = {
        "good": parse_condition("amount > 100"),
        "text_vs_number": parse_condition("country > 5"),
        "like_a_number": parse_condition("amount LIKE '1%'"),
        "calendar_of_text": parse_condition("hour_of_day(country) = 1"),
        "mixed_case": parse_condition("CASE WHEN vip THEN 'yes' ELSE 1 END = 1"),
        "mixed_coalesce": parse_condition("coalesce(vip, amount) = 1"),
    }
    compiled = ConditionSet.compile(conditions, ORDERS.schema)
    assert set(compiled.errors) == set(conditions) - {"good"}
    assert "Cannot compare text with a number" in compiled.errors["text_vs_number"].message
    assert "LIKE needs text" in compiled.errors["like_a_number"].message
    assert "hour_of_day() needs a time" in compiled.errors["calendar_of_text"].message
    assert "mixes" in compiled.errors["mixed_coalesce"].message
    assert "The branches of CASE/IF give" in compiled.errors["mixed_case"].message
    assert all(isinstance(e, RuleTypeError) for e in compiled.errors.values())
    assert compiled.evaluate(ORDERS)["good"].to_pylist() == [False, True, False, True, False]


def test_a_value_is_not_a_condition_at_compile_time() -> None:
    with pytest.raises(RuleTypeError, match="yields a number"):
        compile_condition(parse_condition("amount"), ORDERS.schema)
    with pytest.raises(RuleTypeError, match="yields text"):
        compile_condition(parse_condition("IF(vip, country, 'x')"), ORDERS.schema)


def test_many_rules_over_batches_of_any_size() -> None:
    conditions = {f"over_{k}": parse_condition(f"amount > {k}") for k in range(0, 300, 10)}
    compiled = ConditionSet.compile(conditions, ORDERS.schema)
    result = compiled.evaluate(ORDERS)
    assert result["over_100"].to_pylist() == [False, True, False, True, False]
    assert result["over_0"].to_pylist() == [True, True, False, True, False]
    empty = ORDERS.slice(0, 0)
    assert all(len(v) == 0 for v in compiled.evaluate(empty).values())
    batch = ORDERS.to_batches()[0]
    assert compiled.evaluate(batch)["over_10"].to_pylist() == [True, True, False, True, False]
    with pytest.raises(ValueError, match="schema"):
        compiled.evaluate(ORDERS.drop_columns(["vip"]))
