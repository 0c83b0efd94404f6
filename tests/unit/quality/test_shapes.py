"""Text shapes: the proof over Arrow text, and plans that rely on it giving unchanged results.

The shapes are written here again as regular expressions, from their documented definitions, and
the vectorised proof must agree with them on random text. A plan compiled with shapes skips the
guards; run over text that has those shapes, it must type, judge and explain every row exactly as
the plan without shapes does.
"""

import re
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.quality import (
    ColumnSpec,
    ContractSpec,
    TextShape,
    TextShapes,
    compile_contract,
    guard_shapes,
    has_shape,
)
from gnomon.quality.shapes import skips_guard

SOURCE = exp.to_table("raw")

# The shapes and the guard patterns as documented, written independently of the implementation.
SHAPES = {
    TextShape.INTEGER: r"[+-]?[0-9]+",
    TextShape.DECIMAL: r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)",
    TextShape.DATE: r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    TextShape.WALL_CLOCK: r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}",
}
GUARDS = {
    "integer": r"[+-]?[0-9]+",
    "decimal(8,2)": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)",
    "float": r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?",
    "date": r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    "timestamp": r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?",
}


def fits(shape: TextShape, values: list[str | None]) -> bool:
    return all(re.fullmatch(SHAPES[shape], v) for v in values if v is not None)


def contract(columns: dict[str, Any]) -> ContractSpec:
    return ContractSpec.model_validate({"dataset": "orders", "version": 1, "columns": columns})


# ---------------------------------------------------------------- the proof


@pytest.mark.parametrize(
    ("shape", "good", "bad"),
    [
        (TextShape.INTEGER, ["0", "-3", "+4", "0012"], ["", " 1", "1 ", "1.0", "+", "1-", "٣"]),
        (
            TextShape.DECIMAL,
            ["1", "-0.5", "+.5", "7.", "1098.41"],
            [".", "-.", "1.2.3", "1e3", "1,5", " 1.5", "+-1", "1.5 ", "1/2", "1.-2"],
        ),
        (TextShape.DATE, ["2024-02-30", "0000-00-00"], ["2024-1-01", "2024-01-01 ", "2024/01/01"]),
        (
            TextShape.WALL_CLOCK,
            ["2024-01-01 10:00:00", "2024-01-01T23:59:60"],
            [
                "2024-01-01",
                "2024-01-01 10:00",
                "2024-01-01t10:00:00",
                "2024-01-01A10:00:00",
                "2024-01-01 10:00:00Z",
            ],
        ),
    ],
)
def test_every_value_must_have_the_shape(shape: TextShape, good: list[str], bad: list[str]) -> None:
    assert has_shape(pa.array([*good, None]), shape)
    for value in bad:
        assert not has_shape(pa.array([*good, value]), shape), value


def test_no_present_value_proves_every_shape_but_other_types_none() -> None:
    assert has_shape(pa.array([], pa.string()), TextShape.DATE)
    assert has_shape(pa.array([None, None], pa.string()), TextShape.INTEGER)
    assert not has_shape(pa.array([1, 2]), TextShape.INTEGER)
    assert not has_shape(pa.array(["1", "2"], pa.string_view()), TextShape.INTEGER)


_ALPHABET = "0123456789+-.: T"


@given(
    st.lists(st.one_of(st.none(), st.text(_ALPHABET, max_size=20)), max_size=12),
    st.sampled_from(list(TextShape)),
    st.integers(0, 3),
    st.booleans(),
)
def test_the_proof_agrees_with_the_documented_shape(
    values: list[str | None], shape: TextShape, skip: int, large: bool
) -> None:
    array = pa.array(["x" * skip, *values], pa.large_string() if large else pa.string())
    assert has_shape(array.slice(1), shape) == fits(shape, values)


def fixed_width(shape: TextShape) -> st.SearchStrategy[str]:
    return st.from_regex(rf"\A{SHAPES[shape]}\Z").filter(str.isascii)


@given(st.lists(fixed_width(TextShape.WALL_CLOCK), min_size=1, max_size=8))
def test_fixed_width_values_are_proven(values: list[str]) -> None:
    assert has_shape(pa.array(values), TextShape.WALL_CLOCK)


@pytest.mark.parametrize("type_name", list(GUARDS))
@given(data=st.data())
def test_a_shape_that_skips_a_guard_only_holds_text_the_guard_accepts(
    type_name: str, data: st.DataObject
) -> None:
    spec = ColumnSpec(type=type_name)
    for shape in TextShape:
        if skips_guard(shape, spec):
            value = data.draw(st.from_regex(rf"\A{SHAPES[shape]}\Z").filter(str.isascii))
            assert re.fullmatch(GUARDS[type_name], value), (shape, value)


def test_columns_with_a_format_or_read_as_text_keep_their_guard() -> None:
    spec = contract(
        {
            "n": {"type": "integer", "source": "N in file"},
            "d": {"type": "date", "format": "%d/%m/%Y"},
            "s": {"type": "string"},
            "b": {"type": "boolean"},
            "t": {"type": "timestamp"},
            "x": {"type": "decimal(8,2)"},
        }
    )
    assert guard_shapes(spec) == {
        "N in file": TextShape.INTEGER,
        "t": TextShape.WALL_CLOCK,
        "x": TextShape.DECIMAL,
    }
    assert not skips_guard(TextShape.DATE, spec.columns["d"])
    assert not skips_guard(TextShape.INTEGER, spec.columns["s"])
    assert not skips_guard(None, spec.columns["n"])


# ---------------------------------------------------------------- over a stream


def reader(*batches: dict[str, list[Any]]) -> pa.RecordBatchReader:
    arrow = [pa.RecordBatch.from_pydict(b) for b in batches]
    return pa.RecordBatchReader.from_batches(arrow[0].schema, iter(arrow))


def test_a_column_is_proven_only_when_every_batch_holds_its_shape() -> None:
    shapes = TextShapes({"n": TextShape.INTEGER, "t": TextShape.DATE, "gone": TextShape.DATE})
    stream = shapes.track(
        reader(
            {"n": ["1", None], "t": ["2024-01-01", "2024-01-02"]},
            {"n": ["2", "3"], "t": ["2024-01-03", "2024-01-04 00:00:00"]},
        )
    )
    assert stream.read_next_batch().num_rows == 2
    assert shapes.proven == {}  # the rest of the stream is not judged yet
    stream.read_all()
    assert shapes.proven == {"n": TextShape.INTEGER}


# ---------------------------------------------------------------- plans relying on shapes

_TYPES: dict[str, dict[str, Any]] = {
    "i": {"type": "integer", "min": 0, "required": True},
    "d": {"type": "decimal(6,2)", "max": 100},
    "f": {"type": "float"},
    "day": {"type": "date", "min": "2024-01-01"},
    "at": {"type": "timestamp"},
    "local": {"type": "timestamp", "timezone": "Europe/Paris"},
}
_SHAPE_OF = {
    "i": TextShape.INTEGER,
    "d": TextShape.DECIMAL,
    "f": TextShape.DECIMAL,
    "day": TextShape.DATE,
    "at": TextShape.WALL_CLOCK,
    "local": TextShape.DATE,
}


def shaped(shape: TextShape) -> st.SearchStrategy[str | None]:
    text = st.from_regex(rf"\A{SHAPES[shape]}\Z").filter(str.isascii)
    if shape in (TextShape.DATE, TextShape.WALL_CLOCK):
        # Mostly real dates and times, some that do not exist (the 30th of February).
        year = st.integers(1999, 2026).map(str)
        two = st.integers(0, 32).map(lambda n: f"{n:02d}")
        day = st.builds(lambda y, m, d: f"{y}-{m}-{d}", year, two, two)
        if shape is TextShape.WALL_CLOCK:
            day = st.builds(lambda d, h, m, s: f"{d} {h}:{m}:{s}", day, two, two, two)
        text = st.one_of(day, text)
    return st.one_of(st.none(), text)


def checked(con: duckdb.DuckDBPyConnection, spec: ContractSpec, **shapes: TextShape) -> Any:
    raw = con.sql("SELECT * FROM raw").to_arrow_table()
    plan = compile_contract(spec, raw_columns={f.name: f.type for f in raw.schema}, shapes=shapes)
    query = exp.select(exp.Star()).from_(plan.checked(SOURCE).subquery("c")).order_by("_row")
    return con.sql(query.sql(dialect="duckdb")).to_arrow_table()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_plan_with_shapes_types_and_judges_every_row_as_without(data: st.DataObject) -> None:
    rows = data.draw(st.integers(1, 30))
    table: dict[str, list[Any]] = {
        name: data.draw(st.lists(shaped(_SHAPE_OF[name]), min_size=rows, max_size=rows))
        for name in _TYPES
    }
    table["_row"] = list(range(1, rows + 1))
    spec = contract(_TYPES)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.register("raw", pa.table(table, schema=_schema()))
        assert checked(con, spec, **_SHAPE_OF).equals(checked(con, spec))
    finally:
        con.close()


def _schema() -> pa.Schema:
    return pa.schema([*((name, pa.string()) for name in _TYPES), ("_row", pa.int64())])


def test_shaped_columns_are_cast_without_guard_or_trim() -> None:
    spec = contract(_TYPES)
    columns = {f.name: f.type for f in _schema()}
    guarded = compile_contract(spec, raw_columns=columns).valid(SOURCE).sql(dialect="duckdb")
    direct = compile_contract(spec, raw_columns=columns, shapes=_SHAPE_OF).valid(SOURCE)
    sql = direct.sql(dialect="duckdb")
    assert "REGEXP" in guarded
    assert "TRIM" in guarded
    assert "REGEXP" not in sql
    assert "GLOB" not in sql
    assert "TRIM" not in sql


def test_a_shape_the_type_does_not_accept_changes_nothing() -> None:
    spec = contract({"n": {"type": "integer"}, "d": {"type": "date", "format": "%Y-%m-%d"}})
    columns = {"n": pa.string(), "d": pa.string()}
    plain = compile_contract(spec, raw_columns=columns).valid(SOURCE)
    wrong = {"n": TextShape.DECIMAL, "d": TextShape.DATE}
    assert compile_contract(spec, raw_columns=columns, shapes=wrong).valid(SOURCE) == plain
