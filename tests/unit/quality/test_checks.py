"""Dataset checks: queries run in DuckDB, verdicts judged against a fixed now."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from sqlglot import exp

from gnomon.clock import FixedClock
from gnomon.errors import InvalidInput
from gnomon.quality import (
    CheckResult,
    ContractSpec,
    DatasetCheck,
    FreshnessCheck,
    RowCountCheck,
    UniqueCheck,
    compile_contract,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


CURRENT = exp.to_table("silver.orders")


def run(duck: Any, check: DatasetCheck, *, current: bool = False) -> CheckResult:
    [row] = duck.rows(check.query(duck.source, CURRENT if current else None))
    return check.evaluate(row, now=FixedClock(NOW).now())


@pytest.fixture
def batch(duck: Any) -> Any:
    """Loads the batch's valid rows as ``raw`` and, optionally, the current silver table."""

    def load(rows: dict[str, Any], current: dict[str, Any] | None = None) -> Any:
        duck.load(rows)
        if current is not None:
            duck.silver("orders", pa.table(current))
        return duck

    return load


@pytest.mark.parametrize(
    ("rows", "low", "high", "passed"),
    [
        (0, 1, None, False),
        (1, 1, None, True),
        (3, None, 3, True),
        (4, None, 3, False),
        (2, 2, 2, True),
    ],
)
def test_row_count(batch: Any, rows: int, low: int | None, high: int | None, passed: bool) -> None:
    duck = batch({"id": [str(i) for i in range(rows)]})
    check = RowCountCheck(low, high)

    result = run(duck, check)

    assert result.passed is passed
    assert result.observed == rows
    assert result.blocking is not passed
    assert f"{rows} valid rows" in result.message


def test_row_count_expectation_wording() -> None:
    assert (
        RowCountCheck(1, 5).evaluate({"row_count": 0}, now=NOW).expected == "between 1 and 5 rows"
    )
    assert RowCountCheck(1, None).evaluate({"row_count": 0}, now=NOW).expected == "at least 1 rows"
    assert RowCountCheck(None, 5).evaluate({}, now=NOW).expected == "at most 5 rows"


def test_warn_severity_never_blocks() -> None:
    result = RowCountCheck(10, None, severity="warn").evaluate({"row_count": 1}, now=NOW)

    assert not result.passed
    assert not result.blocking


def test_freshness_passes_within_max_age(batch: Any) -> None:
    duck = batch({"at": pa.array([NOW - timedelta(hours=30), NOW - timedelta(days=9)])})
    check = FreshnessCheck("at", timedelta(days=2), "2d")

    result = run(duck, check)

    assert result.passed
    assert result.observed == NOW - timedelta(hours=30)
    assert result.message == (
        "freshness: newest at is 1d 6h old (2025-03-09T06:00:00+00:00), expected at most 2d."
    )


def test_freshness_fails_when_stale(batch: Any) -> None:
    duck = batch({"at": pa.array([NOW - timedelta(days=4)])})

    result = run(duck, FreshnessCheck("at", timedelta(days=3), "3d", severity="warn"))

    assert not result.passed
    assert result.severity == "warn"
    assert "4d 0h old" in result.message


def test_freshness_counts_the_current_table(batch: Any) -> None:
    duck = batch(
        {"at": pa.array([NOW - timedelta(days=10)])},
        current={"at": pa.array([NOW - timedelta(minutes=5)])},
    )
    check = FreshnessCheck("at", timedelta(hours=1), "1h")

    assert not run(duck, check).passed
    assert run(duck, check, current=True).passed


def test_freshness_of_a_date_counts_from_the_end_of_the_day(batch: Any) -> None:
    duck = batch({"day": pa.array([date(2025, 3, 9)])})

    assert run(duck, FreshnessCheck("day", timedelta(hours=13), "13h")).passed
    assert not run(duck, FreshnessCheck("day", timedelta(hours=11), "11h")).passed


def test_freshness_fails_without_any_value(batch: Any) -> None:
    duck = batch({"at": pa.array([None], pa.timestamp("us", tz="UTC"))})

    result = run(duck, FreshnessCheck("at", timedelta(days=1), "1d"))

    assert not result.passed
    assert result.observed is None
    assert "has no values" in result.message


def test_freshness_treats_naive_values_as_utc() -> None:
    check = FreshnessCheck("at", timedelta(hours=1), "1h")

    assert check.evaluate({"latest": datetime(2025, 3, 10, 11, 30)}, now=NOW).passed
    assert not check.evaluate({"latest": "2025-03-10T10:30:00"}, now=NOW).passed


def test_freshness_refuses_values_that_are_not_times() -> None:
    with pytest.raises(InvalidInput, match="not a date or a timestamp"):
        FreshnessCheck("at", timedelta(hours=1), "1h").evaluate({"latest": 12}, now=NOW)


def test_unique_finds_duplicates_within_the_batch(batch: Any) -> None:
    duck = batch({"sku": ["a", "b", "a", "c", "a", "b", None, None]})

    result = run(duck, UniqueCheck("sku"))

    assert not result.passed
    assert result.rule == "sku.unique"
    assert result.observed == 2
    assert result.failed_rows == 5
    assert "for example 'a'" in result.message


def test_unique_passes_and_ignores_nulls(batch: Any) -> None:
    duck = batch({"sku": ["a", "b", None, None]})

    result = run(duck, UniqueCheck("sku"))

    assert result.passed
    assert result.failed_rows == 0


def test_unique_compares_with_current_rows_the_batch_does_not_replace(batch: Any) -> None:
    duck = batch(
        {"id": ["1", "2"], "sku": ["a", "b"]},
        current={"id": ["1", "3"], "sku": ["a", "b"]},
    )

    keyed = run(duck, UniqueCheck("sku", key=("id",)), current=True)
    unkeyed = run(duck, UniqueCheck("sku"), current=True)

    assert not keyed.passed
    assert keyed.failed_rows == 2
    assert "for example 'b'" in keyed.message
    assert unkeyed.failed_rows == 4


def test_unique_on_first_load_has_no_current(batch: Any) -> None:
    duck = batch({"id": ["1"], "sku": ["a"]})

    assert run(duck, UniqueCheck("sku", key=("id",))).passed


def test_plan_builds_the_contract_checks() -> None:
    spec = ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "primary_key": ["id"],
            "columns": {
                "id": {"type": "string"},
                "sku": {"type": "string", "unique": True, "severity": "warn"},
                "at": {"type": "timestamp"},
            },
            "checks": {
                "row_count": {"min": 1, "max": 10},
                "freshness": {"column": "at", "max_age": "90m", "severity": "warn"},
            },
        }
    )

    plan = compile_contract(spec, raw_columns={"id": pa.string(), "sku": pa.string()})

    assert plan.dataset_checks == (
        RowCountCheck(1, 10, "block"),
        FreshnessCheck("at", timedelta(minutes=90), "90m", "warn"),
        UniqueCheck("sku", ("id",), "warn"),
    )
    assert [c.name for c in plan.dataset_checks] == ["row_count", "freshness", "sku.unique"]


def test_checks_run_on_the_valid_candidate(duck: Any) -> None:
    duck.load({"id": ["1", "1", "2", "x"], "sku": ["a", "a", "b", "b"], "_row": [1, 2, 3, 4]})
    spec = ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "primary_key": ["id"],
            "columns": {"id": {"type": "integer"}, "sku": {"type": "string", "unique": True}},
            "checks": {"row_count": {"min": 3}},
        }
    )
    plan = duck.plan(spec)
    candidate = plan.valid(duck.source).subquery("candidate")

    results = [
        c.evaluate(duck.rows(c.query(candidate, None))[0], now=NOW) for c in plan.dataset_checks
    ]

    assert [(r.rule, r.passed, r.observed) for r in results] == [
        ("row_count", False, 2),
        ("sku.unique", True, 0),
    ]


def test_result_to_dict_is_plain_data() -> None:
    result = FreshnessCheck("at", timedelta(hours=1), "1h").evaluate(
        {"latest": datetime(2025, 3, 10, 11, tzinfo=UTC)}, now=NOW
    )

    assert result.to_dict() == {
        "rule": "freshness",
        "severity": "block",
        "passed": True,
        "observed": "2025-03-10T11:00:00+00:00",
        "expected": "newest at at most 1h old",
        "message": result.message,
        "failed_rows": None,
    }
