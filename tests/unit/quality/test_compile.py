"""The compiled checks, run for real in DuckDB over small Arrow tables."""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from gnomon.quality import (
    ContractSpec,
    DriftReport,
    RowRule,
    SchemaDriftError,
    compile_contract,
)


def contract(columns: dict[str, Any], **extra: Any) -> ContractSpec:
    return ContractSpec.model_validate(
        {"dataset": "orders", "version": 1, "columns": columns, **extra}
    )


def rows_of(values: list[Any], name: str = "v") -> dict[str, list[Any]]:
    return {name: values, "_row": list(range(1, len(values) + 1))}


def quarantined_by_row(duck: Any, plan: Any) -> dict[int, dict[str, Any]]:
    return {r["_row"]: r for r in duck.rows(plan.quarantined(duck.source))}


# ---------------------------------------------------------------- type rules


@pytest.mark.parametrize(
    ("type_name", "good", "bad"),
    [
        ("integer", [" 12 ", "-3", "+4", "0"], ["1.5", "1e3", "abc", "99999999999999999999"]),
        ("float", ["1.5", " 2 ", "-1e3", ".5", "7."], ["abc", "1,5", "nan", "1.2.3"]),
        ("decimal(5,2)", ["1.239", "123.45", "-0.5"], ["x", "1e2", "12345.6"]),
        ("boolean", ["TRUE", "f", " Yes ", "n", "1", "0"], ["maybe", "2", "on"]),
        ("date", ["2024-02-29", " 2025-01-01 "], ["2024-02-30", "01/02/2024", "2024-1-1"]),
        (
            "timestamp",
            ["2024-01-01T10:00:00Z", "2024-01-01 10:00", "2024-01-01"],
            ["2024-13-01T00:00:00", "yesterday", "2024-01-01T10"],
        ),
        ("json", ['{"a": 1}', "[1, 2]", "3"], ["{bad", "{'a': 1}"]),
    ],
)
def test_type_rule_catches_exactly_the_unreadable_values(
    duck: Any, type_name: str, good: list[str], bad: list[str]
) -> None:
    duck.load(rows_of([*good, *bad]))
    plan = duck.plan(contract({"v": {"type": type_name}}))

    failed = quarantined_by_row(duck, plan)

    bad_rows = set(range(len(good) + 1, len(good) + len(bad) + 1))
    assert set(failed) == bad_rows
    for row, value in zip(sorted(bad_rows), bad, strict=True):
        assert failed[row]["_rule"] == "v.type"
        assert failed[row]["v"] == value
        assert f"'{value}' is not a valid" in failed[row]["_reason"]
    valid = duck.rows(plan.valid(duck.source))
    assert [r["_row"] for r in valid] == list(range(1, len(good) + 1))
    assert all(r["v"] is not None for r in valid)


def test_blank_values_in_typed_columns_are_missing_not_unreadable(duck: Any) -> None:
    duck.load(rows_of(["", "   ", None, "7"]))
    plan = duck.plan(contract({"v": {"type": "integer"}}))

    valid = duck.rows(plan.valid(duck.source))

    assert [r["v"] for r in valid] == [None, None, None, 7]
    assert duck.rows(plan.quarantined(duck.source)) == []


def test_string_columns_keep_values_as_read(duck: Any) -> None:
    duck.load(rows_of(["  padded  ", "", "x"]))
    plan = duck.plan(contract({"v": {"type": "string"}}))

    assert [r["v"] for r in duck.rows(plan.valid(duck.source))] == ["  padded  ", "", "x"]
    assert [r.name for r in plan.row_rules] == []


# ---------------------------------------------------------------- value rules


def test_required_fails_on_null_and_blank(duck: Any) -> None:
    duck.load(rows_of(["a", None, "  ", "b"]))
    plan = duck.plan(contract({"v": {"type": "string", "required": True}}))

    failed = quarantined_by_row(duck, plan)

    assert set(failed) == {2, 3}
    assert {r["_rules"] for r in failed.values()} == {"v.required"}
    assert failed[2]["_reason"] == "v.required: no value"


def test_primary_key_columns_are_required(duck: Any) -> None:
    duck.load(rows_of(["a", None]))
    plan = duck.plan(contract({"v": {"type": "string"}}, primary_key=["v"]))

    assert [r["_rule"] for r in duck.rows(plan.quarantined(duck.source))] == ["v.required"]


@pytest.mark.parametrize(
    ("spec", "values", "failing"),
    [
        (
            {"type": "integer", "min": 1, "max": 10},
            ["0", "1", "10", "11", " 5 "],
            {1: "min", 4: "max"},
        ),
        ({"type": "float", "min": -1.5}, ["-1.5", "-1.6", "1e9"], {2: "min"}),
        (
            {"type": "decimal(6,2)", "max": 9.99},
            ["9.99", "9.994", "9.995", "10"],
            {3: "max", 4: "max"},
        ),
        ({"type": "date", "min": "2024-01-01"}, ["2023-12-31", "2024-01-01"], {1: "min"}),
        (
            {"type": "timestamp", "max": "2024-01-01T00:00:00+00:00"},
            ["2024-01-01T01:00:00+02:00", "2024-01-01T00:00:01Z"],
            {2: "max"},
        ),
    ],
)
def test_min_and_max_catch_values_outside_the_bounds(
    duck: Any, spec: dict[str, Any], values: list[str], failing: dict[int, str]
) -> None:
    duck.load(rows_of(values))
    plan = duck.plan(contract({"v": spec}))

    failed = quarantined_by_row(duck, plan)

    assert {row: r["_rules"] for row, r in failed.items()} == {
        row: f"v.{kind}" for row, kind in failing.items()
    }
    for row, kind in failing.items():
        word = "below the minimum" if kind == "min" else "above the maximum"
        assert word in failed[row]["_reason"]


def test_bound_reason_names_the_offending_value_and_the_bound(duck: Any) -> None:
    duck.load(rows_of(["0"]))
    plan = duck.plan(contract({"v": {"type": "integer", "min": 1}}))

    [row] = duck.rows(plan.quarantined(duck.source))

    assert row["_reason"] == "v.min: '0' is below the minimum 1"


def test_allowed_catches_values_outside_the_list(duck: Any) -> None:
    duck.load(
        {"status": ["placed", "lost", None, "shipped", "PLACED"], "n": ["1", "2", "3", "4", "5"]}
    )
    spec = contract(
        {
            "status": {"type": "string", "allowed": ["placed", "shipped"]},
            "n": {"type": "integer", "allowed": [1, 3, 4, 5]},
        }
    )
    plan = duck.plan(spec)

    failed = {r["n"]: r for r in duck.rows(plan.quarantined(duck.source))}

    assert {n: r["_rules"] for n, r in failed.items()} == {
        "2": "status.allowed,n.allowed",
        "5": "status.allowed",
    }
    assert "'lost' is not one of placed, shipped" in failed["2"]["_reason"]


def test_regex_searches_the_text_and_anchors_work(duck: Any) -> None:
    duck.load(rows_of(["a@b.c", "no-at", "x@y", "@"]))
    plan = duck.plan(contract({"v": {"type": "string", "regex": r"^[^@\s]+@[^@\s]+$"}}))

    failed = quarantined_by_row(duck, plan)

    assert set(failed) == {2, 4}
    assert failed[2]["_reason"] == r"v.regex: 'no-at' does not match ^[^@\s]+@[^@\s]+$"


def test_references_check_against_the_silver_table(duck: Any) -> None:
    duck.silver("stores", pa.table({"store_id": pa.array([1, 2, 2], pa.int64())}))
    duck.load(rows_of(["1", "2", "3", None, "x"]))
    plan = duck.plan(
        contract(
            {"v": {"type": "integer", "references": {"dataset": "stores", "column": "store_id"}}}
        )
    )

    failed = quarantined_by_row(duck, plan)
    valid = duck.rows(plan.valid(duck.source))

    assert {row: r["_rules"] for row, r in failed.items()} == {3: "v.references", 5: "v.type"}
    assert failed[3]["_reason"] == "v.references: '3' is not in stores.store_id"
    assert [r["_row"] for r in valid] == [1, 2, 4]
    assert plan.references() == [("silver", "stores")]


def test_references_are_listed_once_per_table() -> None:
    spec = contract(
        {
            "a": {"type": "integer", "references": {"dataset": "stores", "column": "id"}},
            "b": {"type": "integer", "references": {"dataset": "stores", "column": "other"}},
            "c": {"type": "string", "references": {"dataset": "brands", "column": "code"}},
        }
    )
    plan = compile_contract(
        spec, raw_columns={"a": pa.string(), "b": pa.string(), "c": pa.string()}
    )

    assert plan.references() == [("silver", "brands"), ("silver", "stores")]


def test_warn_rules_keep_rows_and_are_counted(duck: Any) -> None:
    duck.load(rows_of(["a@b", "bad", "worse", "c@d"]))
    plan = duck.plan(contract({"v": {"type": "string", "regex": "@", "severity": "warn"}}))

    checked = duck.rows(plan.checked(duck.source))
    valid = duck.rows(plan.valid(duck.source))

    assert [r["_warned"] for r in checked] == ["", "v.regex", "v.regex", ""]
    assert [r["_failed"] for r in checked] == ["", "", "", ""]
    assert "v.regex: 'bad' does not match @" in checked[1]["_reason"]
    assert len(valid) == 4
    assert duck.rows(plan.quarantined(duck.source)) == []
    assert duck.rows(plan.warnings(duck.source)) == [{"rule": "v.regex", "rows": 2}]


def test_warnings_has_a_row_per_warn_rule_even_when_none_fire(duck: Any) -> None:
    duck.load({"a": ["1"], "b": ["x"]})
    plan = duck.plan(
        contract(
            {
                "a": {"type": "integer", "min": 5, "severity": "warn"},
                "b": {"type": "string", "allowed": ["x"], "severity": "warn"},
            }
        )
    )

    assert duck.rows(plan.warnings(duck.source)) == [
        {"rule": "a.min", "rows": 1},
        {"rule": "b.allowed", "rows": 0},
    ]


def test_warnings_is_empty_without_warn_rules(duck: Any) -> None:
    duck.load(rows_of(["1"]))
    plan = duck.plan(contract({"v": {"type": "integer"}}))

    table = duck.arrow(plan.warnings(duck.source))

    assert table.num_rows == 0
    assert table.column_names == ["rule", "rows"]


def test_severity_never_softens_type_and_required(duck: Any) -> None:
    duck.load(rows_of(["x", None, "0"]))
    plan = duck.plan(
        contract({"v": {"type": "integer", "required": True, "min": 1, "severity": "warn"}})
    )

    failed = quarantined_by_row(duck, plan)

    assert {row: r["_rules"] for row, r in failed.items()} == {1: "v.type", 2: "v.required"}
    assert [r.severity for r in plan.row_rules] == ["block", "block", "warn"]


def test_first_failed_rule_follows_rule_order(duck: Any) -> None:
    duck.load({"a": ["0", "5"], "b": ["nope", "nope"]})
    plan = duck.plan(
        contract(
            {
                "a": {"type": "integer", "min": 1},
                "b": {"type": "string", "allowed": ["yes"]},
            }
        )
    )

    rows = duck.rows(plan.quarantined(duck.source))

    assert [(r["_rule"], r["_rules"]) for r in rows] == [
        ("a.min", "a.min,b.allowed"),
        ("b.allowed", "b.allowed"),
    ]
    assert rows[0]["_reason"] == (
        "a.min: '0' is below the minimum 1; b.allowed: 'nope' is not one of yes"
    )


def test_row_rules_describe_every_rule_in_order() -> None:
    spec = contract(
        {
            "q": {"type": "integer", "required": True, "min": 1, "max": 9, "severity": "warn"},
            "s": {"type": "string", "allowed": ["a"], "regex": "a"},
        }
    )
    plan = compile_contract(spec, raw_columns={"q": pa.string(), "s": pa.string()})

    assert plan.row_rules == (
        RowRule("q.type", "q", "type", "block"),
        RowRule("q.required", "q", "required", "block"),
        RowRule("q.min", "q", "min", "warn"),
        RowRule("q.max", "q", "max", "warn"),
        RowRule("s.allowed", "s", "allowed", "block"),
        RowRule("s.regex", "s", "regex", "block"),
    )


# ---------------------------------------------------------------- typed output


def test_valid_rows_have_the_contract_types(duck: Any) -> None:
    duck.load(
        {
            "i": ["1"],
            "f": ["1.5"],
            "d": ["3.14159"],
            "b": ["yes"],
            "dt": ["2024-05-06"],
            "ts": ["2024-05-06T07:08:09+02:00"],
            "j": ['{"k": [1]}'],
            "s": ["text"],
        }
    )
    spec = contract(
        {
            "i": {"type": "integer"},
            "f": {"type": "float"},
            "d": {"type": "decimal(10,3)"},
            "b": {"type": "boolean"},
            "dt": {"type": "date"},
            "ts": {"type": "timestamp"},
            "j": {"type": "json"},
            "s": {"type": "string"},
        }
    )
    plan = duck.plan(spec)

    table = duck.arrow(plan.valid(duck.source))

    assert table.schema == pa.schema(
        [(name, column.column_type.to_arrow()) for name, column in spec.columns.items()]
    )
    assert table.to_pylist() == [
        {
            "i": 1,
            "f": 1.5,
            "d": Decimal("3.142"),
            "b": True,
            "dt": date(2024, 5, 6),
            "ts": datetime(2024, 5, 6, 5, 8, 9, tzinfo=UTC),
            "j": '{"k": [1]}',
            "s": "text",
        }
    ]


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ({}, "2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ({}, "2024-01-01T10:00:00+02:00", datetime(2024, 1, 1, 8, tzinfo=UTC)),
        ({}, "2024-01-01 10:00:00-0330", datetime(2024, 1, 1, 13, 30, tzinfo=UTC)),
        ({}, "2024-01-01T10:00:00.250+01", datetime(2024, 1, 1, 9, 0, 0, 250_000, tzinfo=UTC)),
        ({}, "2024-01-01 10:00:00", datetime(2024, 1, 1, 10, tzinfo=UTC)),
        ({}, "2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ({"timezone": "Europe/Paris"}, "2024-01-15 10:00:00", datetime(2024, 1, 15, 9, tzinfo=UTC)),
        ({"timezone": "Europe/Paris"}, "2024-07-15T10:00:00", datetime(2024, 7, 15, 8, tzinfo=UTC)),
        (
            {"timezone": "Europe/Paris"},
            "2024-07-15T10:00:00Z",
            datetime(2024, 7, 15, 10, tzinfo=UTC),
        ),
        (
            {"format": "%d/%m/%Y %H:%M"},
            "31/12/2024 23:59",
            datetime(2024, 12, 31, 23, 59, tzinfo=UTC),
        ),
        (
            {"format": "%d/%m/%Y %H:%M", "timezone": "America/New_York"},
            "31/12/2024 23:59",
            datetime(2025, 1, 1, 4, 59, tzinfo=UTC),
        ),
        (
            {"format": "%Y-%m-%d %H:%M:%S %z"},
            "2024-03-01 12:00:00 +0530",
            datetime(2024, 3, 1, 6, 30, tzinfo=UTC),
        ),
    ],
)
def test_timestamps_become_utc_instants(
    duck: Any, column: dict[str, str], value: str, expected: datetime
) -> None:
    duck.load(rows_of([value]))
    plan = duck.plan(contract({"v": {"type": "timestamp", **column}}))

    table = duck.arrow(plan.valid(duck.source))

    assert table.schema.field("v").type == pa.timestamp("us", tz="UTC")
    assert table.column("v").to_pylist() == [expected]


def test_timestamp_format_rejects_other_shapes(duck: Any) -> None:
    duck.load(rows_of(["31/12/2024 23:59", "2024-12-31T23:59:00"]))
    plan = duck.plan(contract({"v": {"type": "timestamp", "format": "%d/%m/%Y %H:%M"}}))

    [failed] = duck.rows(plan.quarantined(duck.source))

    assert failed["_row"] == 2
    assert "is not a valid timestamp in format %d/%m/%Y %H:%M" in failed["_reason"]


def test_dates_with_a_format(duck: Any) -> None:
    duck.load(rows_of(["05.06.2024", "2024-06-05"]))
    plan = duck.plan(contract({"v": {"type": "date", "format": "%d.%m.%Y"}}))

    assert [r["v"] for r in duck.rows(plan.valid(duck.source))] == [date(2024, 6, 5)]
    assert [r["_row"] for r in duck.rows(plan.quarantined(duck.source))] == [2]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("t", True),
        ("Yes", True),
        ("y", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("F", False),
        ("no", False),
        ("N", False),
        ("0", False),
        (" yes ", True),
    ],
)
def test_boolean_spellings(duck: Any, text: str, value: bool) -> None:
    duck.load(rows_of([text]))
    plan = duck.plan(contract({"v": {"type": "boolean"}}))

    assert [r["v"] for r in duck.rows(plan.valid(duck.source))] == [value]


def test_already_typed_sources_are_converted_or_rejected(duck: Any) -> None:
    duck.load(
        pa.table(
            {
                "i": pa.array([1, 2], pa.int32()),
                "f_as_int": pa.array([3.0, 3.5], pa.float64()),
                "flag": pa.array([1, 0], pa.int8()),
                "wall": pa.array(
                    [datetime(2024, 1, 1, 12), datetime(2024, 7, 1, 12)], pa.timestamp("us")
                ),
                "day": pa.array([date(2024, 1, 1), date(2024, 1, 2)], pa.date32()),
                "instant": pa.array(
                    [datetime(2024, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("ms", tz="UTC")
                ),
                "b": pa.array([True, False]),
                "_row": pa.array([1, 2], pa.int64()),
            }
        )
    )
    spec = contract(
        {
            "i": {"type": "decimal(4,1)"},
            "f_as_int": {"type": "integer"},
            "flag": {"type": "boolean"},
            "wall": {"type": "timestamp", "timezone": "Europe/Berlin"},
            "day": {"type": "timestamp"},
            "instant": {"type": "date"},
            "b": {"type": "date"},
        }
    )
    plan = duck.plan(spec)

    checked = duck.rows(plan.checked(duck.source))

    assert [r["i"] for r in checked] == [Decimal("1.0"), Decimal("2.0")]
    assert [r["f_as_int"] for r in checked] == [3, None]
    assert [r["flag"] for r in checked] == [True, False]
    assert [r["wall"] for r in checked] == [
        datetime(2024, 1, 1, 11, tzinfo=UTC),
        datetime(2024, 7, 1, 10, tzinfo=UTC),
    ]
    assert [r["day"] for r in checked] == [
        datetime(2024, 1, 1, tzinfo=UTC),
        datetime(2024, 1, 2, tzinfo=UTC),
    ]
    assert [r["instant"] for r in checked] == [date(2024, 1, 1)] * 2
    assert [r["_failed"] for r in checked] == ["b.type", "f_as_int.type,b.type"]
    assert "f_as_int.type: '3.5' is not a valid integer" in checked[1]["_reason"]


def test_source_names_map_file_columns_to_contract_columns(duck: Any) -> None:
    duck.load({"Customer ID": ["c1"], "qty": ["2"]})
    spec = contract(
        {
            "customer_id": {"type": "string", "source": "Customer ID"},
            "quantity": {"type": "integer", "source": "qty"},
        }
    )
    plan = duck.plan(spec)

    assert duck.rows(plan.valid(duck.source)) == [{"customer_id": "c1", "quantity": 2}]
    [quarantine_columns] = [duck.arrow(plan.quarantined(duck.source)).column_names]
    assert quarantine_columns == ["Customer ID", "qty", "_rule", "_rules", "_reason"]


# ---------------------------------------------------------------- deduplication


def test_dedupe_keeps_the_latest_by_ordering_then_by_row(duck: Any) -> None:
    duck.load(
        {
            "id": ["a", "a", "a", "b", "b", "c", "c"],
            "at": [
                "2024-01-02",
                "2024-01-03",
                "2024-01-01",
                "2024-01-05",
                "2024-01-05",
                None,
                "2024-01-01",
            ],
            "v": ["1", "2", "3", "4", "5", "6", "7"],
            "_row": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    plan = duck.plan(
        contract(
            {"id": {"type": "string"}, "at": {"type": "date"}, "v": {"type": "integer"}},
            primary_key=["id"],
            ordering="at",
        )
    )

    valid = sorted(duck.rows(plan.valid(duck.source)), key=lambda r: r["id"])

    assert [(r["id"], r["v"]) for r in valid] == [("a", 2), ("b", 5), ("c", 7)]


def test_dedupe_without_ordering_keeps_the_last_record_of_the_file(duck: Any) -> None:
    duck.load({"id": ["a", "a", "b"], "v": ["1", "2", "3"], "_row": [1, 2, 3]})
    plan = duck.plan(
        contract({"id": {"type": "string"}, "v": {"type": "integer"}}, primary_key=["id"])
    )

    valid = sorted(duck.rows(plan.valid(duck.source)), key=lambda r: r["id"])

    assert [(r["id"], r["v"]) for r in valid] == [("a", 2), ("b", 3)]


def test_dedupe_ignores_rows_that_failed(duck: Any) -> None:
    duck.load({"id": ["a", "a"], "v": ["1", "x"], "_row": [1, 2]})
    plan = duck.plan(
        contract({"id": {"type": "string"}, "v": {"type": "integer"}}, primary_key=["id"])
    )

    assert [r["v"] for r in duck.rows(plan.valid(duck.source))] == [1]


def test_dedupe_is_per_tenant_and_composite_key(duck: Any) -> None:
    duck.load(
        {
            "k1": ["a", "a", "a", "a"],
            "k2": ["1", "1", "2", "1"],
            "v": ["10", "20", "30", "40"],
            "_tenant_id": ["t1", "t1", "t1", "t2"],
            "_row": [1, 2, 3, 4],
        }
    )
    plan = duck.plan(
        contract(
            {"k1": {"type": "string"}, "k2": {"type": "integer"}, "v": {"type": "integer"}},
            primary_key=["k1", "k2"],
        )
    )

    valid = duck.rows(plan.valid(duck.source))

    assert sorted((r["_tenant_id"], r["k2"], r["v"]) for r in valid) == [
        ("t1", 1, 20),
        ("t1", 2, 30),
        ("t2", 1, 40),
    ]


def test_no_primary_key_means_no_dedupe(duck: Any) -> None:
    duck.load({"v": ["1", "1", "1"], "_row": [1, 2, 3]})
    plan = duck.plan(contract({"v": {"type": "integer"}}))

    assert len(duck.rows(plan.valid(duck.source))) == 3


# ---------------------------------------------------------------- columns passed through


def test_metadata_and_new_columns_pass_through_under_evolve(duck: Any) -> None:
    duck.load(
        {
            "v": ["1"],
            "coupon": ["SAVE"],
            "_tenant_id": ["t"],
            "_batch_id": ["b1"],
            "_reason": ["stale"],
        }
    )
    plan = duck.plan(contract({"v": {"type": "integer"}}))

    valid = duck.arrow(plan.valid(duck.source))
    checked = duck.arrow(plan.checked(duck.source))

    assert valid.column_names == ["v", "coupon", "_tenant_id", "_batch_id"]
    assert valid.to_pylist() == [{"v": 1, "coupon": "SAVE", "_tenant_id": "t", "_batch_id": "b1"}]
    assert checked.column_names[-3:] == ["_failed", "_warned", "_reason"]
    assert plan.drift == DriftReport(new=("coupon",))


def test_quarantine_keeps_the_raw_values_and_metadata(duck: Any) -> None:
    duck.load({"v": [" 1.5 "], "other": ["o"], "_row": [7]})
    plan = duck.plan(contract({"v": {"type": "integer"}}))

    assert duck.rows(plan.quarantined(duck.source)) == [
        {
            "v": " 1.5 ",
            "other": "o",
            "_row": 7,
            "_rule": "v.type",
            "_rules": "v.type",
            "_reason": "v.type: ' 1.5 ' is not a valid integer",
        }
    ]


def test_source_may_be_any_subquery(duck: Any) -> None:
    duck.load({"v": ["1", "2", "x"], "_batch_id": ["b1", "b2", "b1"]})
    plan = duck.plan(contract({"v": {"type": "integer"}}))
    batch = (
        exp.select("*")
        .from_("raw")
        .where(exp.column("_batch_id").eq(exp.Literal.string("b1")))
        .subquery("batch")
    )

    assert [r["v"] for r in duck.rows(plan.valid(batch))] == [1]
    assert [r["v"] for r in duck.rows(plan.quarantined(batch))] == ["x"]
    assert [r["v"] for r in duck.rows(plan.valid(batch.this))] == [1]


# ---------------------------------------------------------------- schema drift


def test_evolve_loads_missing_columns_as_null(duck: Any) -> None:
    duck.load({"a": ["1", "2"], "_row": [1, 2]})
    plan = duck.plan(
        contract(
            {
                "a": {"type": "integer"},
                "b": {"type": "date"},
                "c": {"type": "string", "required": True},
            }
        )
    )

    checked = duck.rows(plan.checked(duck.source))

    assert [(r["a"], r["b"], r["c"]) for r in checked] == [(1, None, None), (2, None, None)]
    assert {r["_reason"] for r in checked} == {"c.required: the file has no such column"}
    assert duck.rows(plan.valid(duck.source)) == []
    assert plan.drift == DriftReport(missing=("b", "c"))


def test_quarantine_policy_sends_every_row_of_a_drifted_batch_to_quarantine(duck: Any) -> None:
    duck.load({"a": ["1", "2"], "extra": ["x", "y"], "_row": [1, 2]})
    plan = duck.plan(contract({"a": {"type": "integer"}}, schema_drift="quarantine"))

    rows = duck.rows(plan.quarantined(duck.source))

    assert [r["_rule"] for r in rows] == ["schema_drift", "schema_drift"]
    assert rows[0]["_reason"] == "schema_drift: new columns: extra"
    assert rows[0]["extra"] == "x"
    assert duck.rows(plan.valid(duck.source)) == []
    assert plan.row_rules[0] == RowRule("schema_drift", None, "schema_drift", "block")


def test_quarantine_policy_uses_the_reported_drift(duck: Any) -> None:
    duck.load({"a": ["1"]})
    drift = DriftReport(retyped=(("a", "integer", "string"),))
    plan = duck.plan(contract({"a": {"type": "integer"}}, schema_drift="quarantine"), drift=drift)

    [row] = duck.rows(plan.quarantined(duck.source))

    assert row["_reason"] == "schema_drift: retyped columns: a (integer → string)"


def test_quarantine_policy_without_drift_checks_rows_normally(duck: Any) -> None:
    duck.load({"a": ["1"], "_row": [1]})
    plan = duck.plan(contract({"a": {"type": "integer"}}, schema_drift="quarantine"))

    assert [r.name for r in plan.row_rules] == ["a.type"]
    assert duck.rows(plan.valid(duck.source)) == [{"a": 1, "_row": 1}]


def test_new_columns_are_not_carried_under_quarantine_or_fail(duck: Any) -> None:
    duck.load({"a": ["1"], "_row": [1]})
    plan = duck.plan(contract({"a": {"type": "integer"}}, schema_drift="fail"))

    assert duck.arrow(plan.valid(duck.source)).column_names == ["a", "_row"]


def test_fail_policy_refuses_to_compile_a_drifted_batch() -> None:
    spec = contract({"a": {"type": "integer"}, "b": {"type": "string"}}, schema_drift="fail")

    with pytest.raises(SchemaDriftError) as caught:
        compile_contract(spec, raw_columns={"a": pa.string(), "extra": pa.string()})

    assert "new columns: extra; missing columns: b" in caught.value.message
    assert caught.value.drift == {"new": ["extra"], "missing": ["b"], "retyped": []}
    assert caught.value.hint is not None and "evolve, quarantine, fail" in caught.value.hint


def test_fail_policy_refuses_reported_retyping() -> None:
    spec = contract({"a": {"type": "integer"}}, schema_drift="fail")
    drift = DriftReport(retyped=(("a", "integer", "float"),))

    with pytest.raises(SchemaDriftError, match="retyped columns: a"):
        compile_contract(spec, raw_columns={"a": pa.string()}, drift=drift)


def test_metadata_columns_are_never_drift() -> None:
    spec = contract({"a": {"type": "integer"}}, schema_drift="fail")

    plan = compile_contract(
        spec, raw_columns={"a": pa.string(), "_tenant_id": pa.string(), "_row": pa.int64()}
    )

    assert plan.drift.empty


# ---------------------------------------------------------------- other dialects


FULL_CONTRACT = {
    "dataset": "orders",
    "version": 3,
    "primary_key": ["order_id"],
    "ordering": "updated_at",
    "columns": {
        "order_id": {"type": "string", "required": True},
        "order_time": {
            "type": "timestamp",
            "format": "%Y-%m-%d %H:%M:%S",
            "timezone": "Europe/Paris",
        },
        "updated_at": {"type": "timestamp"},
        "quantity": {"type": "integer", "min": 1, "max": 1000},
        "unit_price": {"type": "decimal(12,2)", "min": 0},
        "status": {"type": "string", "allowed": ["placed", "shipped"]},
        "email": {"type": "string", "regex": "^[^@]+@[^@]+$", "severity": "warn"},
        "customer_id": {"type": "string", "source": "Customer ID"},
        "sku": {"type": "string", "unique": True},
        "store_id": {"type": "integer", "references": {"dataset": "stores", "column": "store_id"}},
        "active": {"type": "boolean"},
        "day": {"type": "date", "min": "2020-01-01"},
        "payload": {"type": "json"},
    },
    "checks": {
        "row_count": {"min": 1},
        "freshness": {"column": "order_time", "max_age": "3d"},
    },
}


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark"])
def test_every_query_renders_for_each_dialect(dialect: str) -> None:
    spec = ContractSpec.model_validate(FULL_CONTRACT)
    raw = {spec.raw_name(n): pa.string() for n in spec.columns} | {
        "extra": pa.string(),
        "_tenant_id": pa.string(),
        "_row": pa.int64(),
    }
    plan = compile_contract(spec, raw_columns=raw)
    source = exp.to_table("bronze.orders")
    candidate = plan.valid(source).subquery("candidate")
    current = exp.to_table("silver.orders")
    trees = [
        plan.checked(source),
        plan.valid(source),
        plan.quarantined(source),
        plan.warnings(source),
        *(check.query(candidate, current) for check in plan.dataset_checks),
        *(check.query(candidate, None) for check in plan.dataset_checks),
    ]

    for tree in trees:
        sql = tree.sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
        assert sqlglot.parse_one(sql, read=dialect) is not None
    tables = {(t.db, t.name) for t in plan.checked(source).find_all(exp.Table)}
    assert tables == {("bronze", "orders"), ("silver", "stores")}


def test_postgres_and_spark_get_guarded_casts() -> None:
    spec = ContractSpec.model_validate(FULL_CONTRACT)
    plan = compile_contract(spec, raw_columns={spec.raw_name(n): pa.string() for n in spec.columns})

    postgres = plan.checked(exp.to_table("raw")).sql(dialect="postgres")
    spark = plan.checked(exp.to_table("raw")).sql(dialect="spark")

    assert "TRY_CAST" not in postgres
    assert "~ '^[+-]?[0-9]+$'" in postgres
    assert "TRY_CAST" in spark and "RLIKE" in spark
    assert "TO_UTC_TIMESTAMP" in spark


def test_query_methods_return_fresh_trees() -> None:
    spec = ContractSpec.model_validate(FULL_CONTRACT)
    plan = compile_contract(spec, raw_columns={spec.raw_name(n): pa.string() for n in spec.columns})
    source = exp.to_table("raw")

    first = plan.checked(source)
    first.set("where", exp.false())

    assert plan.checked(source).sql() != first.sql()
    assert plan.checked(source).sql() == plan.checked(source).sql()
