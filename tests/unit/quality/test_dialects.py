"""Plans compiled for each dialect: the same results, every piece computed once.

The DuckDB plan takes shortcuts the portable one cannot (an epoch count instead of a time-zone
conversion, duplicates ranked apart from unique keys); run on DuckDB, both must return exactly the
same rows. Their ``valid``, ``quarantined`` and ``warnings`` must also agree with what ``checked``
says about each row, read back in Python.
"""

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from gnomon.errors import InvalidInput
from gnomon.quality import DIALECTS, CheckPlan, ContractSpec, compile_contract
from gnomon.quality._casts import LOCAL_TIMESTAMP_TEXT, WALL_CLOCK_GLOB

SOURCE = exp.to_table("raw")

CONTRACT = ContractSpec.model_validate(
    {
        "dataset": "orders",
        "version": 1,
        "primary_key": ["k"],
        "ordering": "at",
        "columns": {
            "k": {"type": "string"},
            "at": {"type": "timestamp"},
            "local": {"type": "timestamp", "timezone": "Europe/Berlin"},
            "n": {"type": "integer", "required": True, "min": 1, "max": 10},
            "p": {"type": "decimal(6,2)", "max": 99.99, "severity": "warn"},
            "flag": {"type": "boolean"},
            "day": {"type": "date", "min": "2000-01-01"},
            "s": {"type": "string", "allowed": ["x", "y"], "regex": "^x", "severity": "warn"},
        },
    }
)
TEXT_COLUMNS = ["k", "at", "local", "n", "p", "flag", "day", "s"]
AT = ContractSpec.model_validate(
    {"dataset": "orders", "version": 1, "columns": {"at": {"type": "timestamp"}}}
)
METHODS = ("checked", "valid", "quarantined", "warnings")


def shaped_timestamp() -> st.SearchStrategy[str]:
    moment = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
    shapes = st.sampled_from(
        [
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d",
            "%Y-%m-%d %H:%M:%S.%f",
            "%Y-%m-%dT%H:%M:%SZ",
            "%Y-%m-%dT%H:%M:%S+02:00",
            "%Y-%m-%d %H:%M-0530",
            "%Y-%m-%d %H:%M:%S+05",
        ]
    )
    return st.builds(lambda m, f: m.strftime(f), moment, shapes)


def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Nine draws in ten from ``good``, so that many rows pass and keys repeat among them."""
    return st.integers(0, 9).flatmap(lambda i: good if i else odd)


def timestamp_text() -> st.SearchStrategy[str | None]:
    odd = st.one_of(
        shaped_timestamp().map(lambda t: f"  {t} "),
        st.sampled_from(
            [
                "2024-03-31 02:30:00",
                "2024-10-27 02:30:00",
                "2024-13-01 00:00:00",
                "2024-02-30",
                "2024-01-01T10",
                "-024-01-01 10:00:00",
                "2024-1-1 10:00:00",
                "2024-01-01 10:00:00 UTC",
                "infinity",
                "yesterday",
                "",
                "   ",
            ]
        ),
        st.none(),
    )
    return mostly(shaped_timestamp(), odd)


def number_text() -> st.SearchStrategy[str | None]:
    odd = st.one_of(
        st.integers(-20, 20).map(str),
        st.decimals(-200, 200, places=3, allow_nan=False).map(str),
        st.integers(-20, 20).map(lambda n: f" {n}  "),
        st.sampled_from(["1e3", "0x10", "1_000", "nan", "inf", ".5", "7.", "+4", "x", "", " "]),
        st.none(),
    )
    return mostly(st.integers(1, 10).map(str), odd)


def one_of(good: list[str], odd: list[str | None]) -> st.SearchStrategy[str | None]:
    return mostly(st.sampled_from(good), st.sampled_from(odd))


@st.composite
def raw_tables(draw: st.DrawFn) -> pa.Table:
    size = draw(st.integers(1, 30))
    column = {
        "k": one_of(["a", "b", "c"], [" a", " ", "", None]),
        "at": timestamp_text(),
        "local": timestamp_text(),
        "n": number_text(),
        "p": number_text(),
        "flag": one_of(["true", " Yes ", "0", "F"], ["maybe", "", None]),
        "day": one_of(["2024-02-29", " 2001-01-01 "], ["1999-12-31", "x", None]),
        "s": one_of(["x", "y", "xy"], ["z", "", None]),
        "_tenant_id": st.sampled_from(["t1", "t2", None]),
    }
    values = {
        name: draw(st.lists(strategy, min_size=size, max_size=size))
        for name, strategy in column.items()
    }
    rows = draw(st.lists(st.integers(0, 10_000), min_size=size, max_size=size, unique=True))
    return pa.table(
        {
            **{n: pa.array(v, pa.string()) for n, v in values.items()},
            "_row": pa.array(rows, pa.int64()),
        }
    )


def plan_for(table: pa.Table, dialect: Any, spec: ContractSpec = CONTRACT) -> CheckPlan:
    return compile_contract(
        spec, raw_columns={f.name: f.type for f in table.schema}, dialect=dialect
    )


def run(table: pa.Table, tree: exp.Expr) -> pa.Table:
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("raw", table)
        result: pa.Table = con.sql(tree.sql(dialect="duckdb")).to_arrow_table()
        return result
    finally:
        con.close()


def rows(table: pa.Table) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = table.to_pylist()
    return listed


def unordered(table: pa.Table) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in rows(table))


@settings(max_examples=25)
@given(raw_tables())
def test_duckdb_and_portable_plans_give_the_same_results(table: pa.Table) -> None:
    fast, portable = plan_for(table, "duckdb"), plan_for(table, "postgres")

    for method in METHODS:
        expected = run(table, getattr(portable, method)(SOURCE))
        found = run(table, getattr(fast, method)(SOURCE))

        assert found.schema == expected.schema, method
        assert unordered(found) == unordered(expected), method


def newest_first(row: dict[str, Any]) -> tuple[bool, float, int]:
    """The contract's order: the latest ``at`` wins (NULL lowest), then the highest ``_row``."""
    at = row["at"]
    return at is not None, 0.0 if at is None else at.timestamp(), row["_row"]


@settings(max_examples=15)
@given(raw_tables(), st.sampled_from(DIALECTS))
def test_valid_quarantined_and_warnings_agree_with_checked(table: pa.Table, dialect: Any) -> None:
    plan = plan_for(table, dialect)
    checked = rows(run(table, plan.checked(SOURCE)))

    latest: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in (r for r in checked if r["_failed"] == ""):
        key = (row["_tenant_id"], row["k"])
        held = latest.get(key)
        if held is None or newest_first(row) > newest_first(held):
            latest[key] = row
    valid = rows(run(table, plan.valid(SOURCE)))
    quarantined = rows(run(table, plan.quarantined(SOURCE)))
    warnings = {r["rule"]: r["rows"] for r in rows(run(table, plan.warnings(SOURCE)))}

    verdicts = {"_failed", "_warned", "_reason"}
    expected_valid = [{k: v for k, v in r.items() if k not in verdicts} for r in latest.values()]
    assert sorted(valid, key=lambda r: r["_row"]) == sorted(expected_valid, key=lambda r: r["_row"])
    assert {r["_row"]: r["_rules"] for r in quarantined} == {
        r["_row"]: r["_failed"] for r in checked if r["_failed"]
    }
    assert all(r["_rule"] == r["_rules"].split(",")[0] for r in quarantined)
    tripped = Counter(rule for r in checked if r["_warned"] for rule in r["_warned"].split(","))
    assert warnings == {
        rule.name: tripped[rule.name] for rule in plan.row_rules if not rule.blocking
    }


@settings(max_examples=25)
@given(raw_tables(), st.sampled_from(DIALECTS))
def test_repeated_keys_are_the_keys_of_several_rows_and_spare_the_dedupe(
    table: pa.Table, dialect: Any
) -> None:
    plan = plan_for(table, dialect)
    checked = rows(run(table, plan.checked(SOURCE)))
    counts = Counter((r["_tenant_id"], r["k"]) for r in checked)

    repeated = rows(run(table, plan.repeated_keys(SOURCE)))

    assert sorted(repeated, key=repr) == sorted(
        ({"_tenant_id": t, "k": k} for (t, k), n in counts.items() if n > 1), key=repr
    )
    passed = unordered(run(table, plan.valid(SOURCE, unique_keys=True)))
    verdicts = {"_failed", "_warned", "_reason"}
    assert passed == sorted(
        repr(sorted((k, v) for k, v in r.items() if k not in verdicts))
        for r in checked
        if r["_failed"] == ""
    ), "told the keys are unique, valid keeps every row that passed"
    if not repeated:
        assert passed == unordered(run(table, plan.valid(SOURCE)))


def test_repeated_keys_is_empty_without_a_primary_key() -> None:
    table = pa.table({"k": ["a", "a"], "_row": pa.array([1, 2], pa.int64())})
    spec = ContractSpec.model_validate(
        {"dataset": "orders", "version": 1, "columns": {"k": {"type": "string"}}}
    )
    for dialect in DIALECTS:
        plan = plan_for(table, dialect, spec)
        assert run(table, plan.repeated_keys(SOURCE)).num_rows == 0
        assert run(table, plan.valid(SOURCE, unique_keys=True)).num_rows == 2


def test_ranking_keeps_the_latest_row_of_each_repeated_key() -> None:
    table = pa.table(
        {
            "k": ["a", "a", "b", "a", "c", "c", "b"],
            "at": ["2024-01-02", "2024-01-03", "2024-01-01", None, "2024-01-01", "2024-01-01", "x"],
            "n": ["1", "2", "3", "4", "5", "6", "7"],
            "_tenant_id": ["t", "t", "t", "t", None, None, "t"],
            "_row": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
        }
    )
    spec = ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "primary_key": ["k"],
            "ordering": "at",
            "columns": {"k": {"type": "string"}, "at": {"type": "date"}, "n": {"type": "integer"}},
        }
    )

    for dialect in DIALECTS:
        valid = rows(run(table, plan_for(table, dialect, spec).valid(SOURCE)))

        assert sorted((r["k"], r["n"]) for r in valid) == [("a", 2), ("b", 3), ("c", 6)], dialect


def test_compile_refuses_an_unknown_dialect() -> None:
    table = pa.table({"k": ["a"]})

    with pytest.raises(InvalidInput) as caught:
        plan_for(table, "oracle")

    assert "'oracle'" in caught.value.message
    assert caught.value.hint is not None and "duckdb, postgres, spark" in caught.value.hint


def test_plans_remember_their_dialect_and_default_to_duckdb() -> None:
    table = pa.table({"k": ["a"]})

    assert compile_contract(CONTRACT, raw_columns={"k": pa.string()}).dialect == "duckdb"
    assert plan_for(table, "spark").dialect == "spark"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_plans_render_and_parse_in_their_own_dialect(dialect: Any) -> None:
    table = pa.table({name: pa.array([], pa.string()) for name in [*TEXT_COLUMNS, "_tenant_id"]})
    plan = plan_for(table, dialect)

    for method in METHODS:
        sql = getattr(plan, method)(SOURCE).sql(dialect=dialect, unsupported_level=ErrorLevel.RAISE)
        assert sqlglot.parse_one(sql, read=dialect) is not None


def test_only_the_duckdb_plan_counts_epoch_microseconds() -> None:
    table = pa.table({name: pa.array([], pa.string()) for name in TEXT_COLUMNS})

    duck = plan_for(table, "duckdb").checked(SOURCE).sql(dialect="duckdb")
    postgres = plan_for(table, "postgres").checked(SOURCE).sql(dialect="postgres")

    assert duck.count("MAKE_TIMESTAMPTZ(EPOCH_US(") == 1  # "at"; "local" needs its zone
    assert "EPOCH_US" not in postgres
    assert "TRY_CAST" not in postgres


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("method", METHODS)
def test_each_typed_value_and_rule_is_computed_once(dialect: Any, method: str) -> None:
    spec = ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "primary_key": ["id"],
            "columns": {
                "id": {"type": "string", "regex": "^O[0-9]+$"},
                "q": {"type": "integer", "required": True, "min": 1, "max": 9, "severity": "warn"},
                "at": {"type": "timestamp", "required": True, "min": "2020-01-01T00:00:00Z"},
            },
        }
    )
    table = pa.table({name: pa.array([], pa.string()) for name in ["id", "q", "at"]})

    sql = getattr(plan_for(table, dialect, spec), method)(SOURCE).sql(dialect="duckdb")

    if method == "warnings":
        assert sql.count("'^[+-]?[0-9]+$'") == 1
        return
    for piece in ("'^[+-]?[0-9]+$'", "'^O[0-9]+$'", 'TRIM("__rows"."q")'):
        assert sql.count(piece) == 1, piece
    assert sql.count("TRIM(") == 3  # q and at when padded, and id's blank test
    assert sql.count("'^[0-9]{4}-[0-9]{2}-[0-9]{2}") == 2  # at: a wall clock, with an offset


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="0123456789-T :.xZ+\u0660\t", min_size=17, max_size=21)
    | shaped_timestamp()
)
def test_the_wall_clock_glob_only_matches_what_the_wall_clock_pattern_matches(text: str) -> None:
    [(globbed, matched)] = duckdb.execute(
        "SELECT ? GLOB ?, regexp_matches(?, ?)",
        [text, WALL_CLOCK_GLOB, text, LOCAL_TIMESTAMP_TEXT],
    ).fetchall()
    assert matched or not globbed
    assert "GLOB" in plan_for(pa.table({"at": pa.array([], pa.string())}), "duckdb", AT).checked(
        SOURCE
    ).sql(dialect="duckdb")


def test_internal_names_step_aside_for_raw_columns_that_look_alike() -> None:
    table = pa.table(
        {
            "k": ["a", "b"],
            "n": ["1", "x"],
            "__gt0": ["kept", "too"],
            "__grank": ["r1", "r2"],
            "_row": pa.array([1, 2], pa.int64()),
        }
    )
    spec = ContractSpec.model_validate(
        {
            "dataset": "orders",
            "version": 1,
            "primary_key": ["k"],
            "columns": {"k": {"type": "string"}, "n": {"type": "integer"}},
        }
    )

    for dialect in DIALECTS:
        plan = plan_for(table, dialect, spec)
        valid = rows(run(table, plan.valid(SOURCE)))
        checked = rows(run(table, plan.checked(SOURCE)))

        assert valid == [{"k": "a", "n": 1, "__gt0": "kept", "__grank": "r1", "_row": 1}]
        assert [r["_failed"] for r in checked] == ["", "n.type"]


def test_wall_clock_shortcut_matches_the_time_zone_conversion_far_from_today() -> None:
    values = [
        "0001-01-01 00:00:00",
        "1582-10-10 12:00",
        "1969-12-31 23:59:59.9999995",
        "9999-12-31",
    ]
    table = pa.table({"at": values})
    spec = ContractSpec.model_validate(
        {"dataset": "orders", "version": 1, "columns": {"at": {"type": "timestamp"}}}
    )
    as_micros = pa.timestamp("us", tz="UTC")

    found = {}
    for dialect in ("duckdb", "postgres"):
        plan = plan_for(table, dialect, spec)
        typed = run(table, plan.checked(SOURCE)).column("at")
        assert typed.type == as_micros
        found[dialect] = typed.cast(pa.int64()).to_pylist()

    assert found["duckdb"] == found["postgres"]
    assert found["duckdb"][-1] == int(
        (datetime(9999, 12, 31) - datetime(1970, 1, 1)) / timedelta(microseconds=1)
    )
