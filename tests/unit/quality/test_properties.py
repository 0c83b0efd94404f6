"""Properties of the compiled checks against a pure-Python reading of the same rules.

For random small tables of numeric text and random bounds, DuckDB running the compiled SQL must
quarantine exactly the rows the Python reference rejects, for the same rules, and the valid and
quarantined rows must partition the input.
"""

import re
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.quality import ContractSpec, compile_contract

SOURCE = exp.to_table("raw")

# The documented shapes (docs/contracts.md), written independently of the implementation.
INTEGER_TEXT = r"^[+-]?[0-9]+$"
FLOAT_TEXT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"


def numeric_text() -> st.SearchStrategy[str | None]:
    number = st.integers(-12, 12)
    return st.one_of(
        number.map(str),
        number.map(lambda n: f"  {n} "),
        number.map(lambda n: f"+{abs(n)}"),
        number.map(lambda n: f"{n:04d}"),
        number.map(lambda n: f"{n}.5"),
        number.map(lambda n: f"{n}e1"),
        st.sampled_from(["", "   ", "x", "1,5", "--1", ".", "5-"]),
        st.none(),
    )


@st.composite
def bounds(draw: st.DrawFn) -> tuple[int | None, int | None]:
    low = draw(st.one_of(st.none(), st.integers(-10, 10)))
    high = draw(st.one_of(st.none(), st.integers(-10, 10)))
    if low is not None and high is not None and low > high:
        low, high = high, low
    return low, high


def expected_rules(
    column: str, value: str | None, low: int | None, high: int | None, *, required: bool, kind: str
) -> list[str]:
    """The rules a value fails, read the way the contract documents them."""
    if value is None or not value.strip():
        return [f"{column}.required"] if required else []
    text = value.strip()
    pattern = INTEGER_TEXT if kind == "integer" else FLOAT_TEXT
    if not re.search(pattern, text):
        return [f"{column}.type"]
    number = int(text) if kind == "integer" else float(text)
    failed = []
    if low is not None and number < low:
        failed.append(f"{column}.min")
    if high is not None and number > high:
        failed.append(f"{column}.max")
    return failed


def run(tree: exp.Expr, table: pa.Table) -> list[dict[str, Any]]:
    con = duckdb.connect()
    try:
        con.register("raw", table)
        rows: list[dict[str, Any]] = (
            con.sql(tree.sql(dialect="duckdb")).to_arrow_table().to_pylist()
        )
        return rows
    finally:
        con.close()


@settings(max_examples=40, deadline=None)
@given(
    a_values=st.lists(numeric_text(), min_size=1, max_size=12),
    data=st.data(),
    a_bounds=bounds(),
    b_bounds=bounds(),
    a_required=st.booleans(),
    b_required=st.booleans(),
)
def test_quarantine_matches_a_python_reading_of_the_rules(
    a_values: list[str | None],
    data: st.DataObject,
    a_bounds: tuple[int | None, int | None],
    b_bounds: tuple[int | None, int | None],
    a_required: bool,
    b_required: bool,
) -> None:
    b_values = data.draw(st.lists(numeric_text(), min_size=len(a_values), max_size=len(a_values)))
    columns: dict[str, Any] = {}
    for name, kind, (low, high), required in (
        ("a", "integer", a_bounds, a_required),
        ("b", "float", b_bounds, b_required),
    ):
        columns[name] = {"type": kind, "required": required}
        columns[name] |= {k: v for k, v in (("min", low), ("max", high)) if v is not None}
    spec = ContractSpec.model_validate({"dataset": "numbers", "version": 1, "columns": columns})
    rows = list(range(1, len(a_values) + 1))
    table = pa.table(
        {"a": pa.array(a_values, pa.string()), "b": pa.array(b_values, pa.string()), "_row": rows}
    )
    plan = compile_contract(spec, raw_columns={f.name: f.type for f in table.schema})

    expected = {}
    for row, a, b in zip(rows, a_values, b_values, strict=True):
        failed = [
            *expected_rules("a", a, *a_bounds, required=a_required, kind="integer"),
            *expected_rules("b", b, *b_bounds, required=b_required, kind="float"),
        ]
        if failed:
            expected[row] = failed
    quarantined = run(plan.quarantined(SOURCE), table)
    valid = run(plan.valid(SOURCE), table)

    assert {r["_row"]: r["_rules"].split(",") for r in quarantined} == expected
    assert all(r["_rule"] == expected[r["_row"]][0] for r in quarantined)
    assert all(r["a"] == a_values[r["_row"] - 1] for r in quarantined)
    valid_rows = [r["_row"] for r in valid]
    assert sorted(valid_rows + list(expected)) == rows
    for r in valid:
        raw = a_values[r["_row"] - 1]
        assert r["a"] == (int(raw) if raw is not None and raw.strip() else None)


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3"]),
            st.one_of(st.none(), st.integers(0, 5).map(str)),
            st.sampled_from(["1", "2", "bad"]),
        ),
        min_size=1,
        max_size=15,
    )
)
def test_dedupe_keeps_the_latest_valid_row_per_key(
    records: list[tuple[str, str | None, str]],
) -> None:
    spec = ContractSpec.model_validate(
        {
            "dataset": "events",
            "version": 1,
            "primary_key": ["key"],
            "ordering": "seq",
            "columns": {
                "key": {"type": "string"},
                "seq": {"type": "integer"},
                "v": {"type": "integer"},
            },
        }
    )
    table = pa.table(
        {
            "key": [r[0] for r in records],
            "seq": pa.array([r[1] for r in records], pa.string()),
            "v": [r[2] for r in records],
            "_row": list(range(1, len(records) + 1)),
        }
    )
    plan = compile_contract(spec, raw_columns={f.name: f.type for f in table.schema})

    latest: dict[str, tuple[tuple[bool, int, int], int]] = {}
    for row, (key, seq, v) in enumerate(records, start=1):
        if v == "bad":
            continue
        rank = (seq is not None, int(seq) if seq is not None else 0, row)
        if key not in latest or rank > latest[key][0]:
            latest[key] = (rank, row)
    valid = run(plan.valid(SOURCE), table)

    assert sorted((r["key"], r["_row"]) for r in valid) == sorted(
        (key, row) for key, (_, row) in latest.items()
    )
