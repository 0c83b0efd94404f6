"""Contract column types: parsing, Arrow and SQL mappings, widening, value coercion."""

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.quality import TYPE_NAMES, ColumnType, ColumnTypeError, is_widening, parse_type
from gnomon.quality.types import coerce_value

SIMPLE = ["string", "integer", "float", "boolean", "date", "timestamp", "json"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string", ColumnType("string")),
        ("INTEGER", ColumnType("integer")),
        (" float ", ColumnType("float")),
        ("decimal(12,2)", ColumnType("decimal", 12, 2)),
        ("Decimal( 38 , 0 )", ColumnType("decimal", 38, 0)),
        ("decimal(1,1)", ColumnType("decimal", 1, 1)),
        ("timestamp", ColumnType("timestamp")),
    ],
)
def test_parse_type(text: str, expected: ColumnType) -> None:
    assert parse_type(text) == expected


@given(
    name=st.sampled_from(SIMPLE),
    upper=st.lists(st.booleans(), min_size=20, max_size=20),
    pad=st.sampled_from(["", " ", "  ", "\t"]),
)
def test_parse_type_ignores_case_and_padding(name: str, upper: list[bool], pad: str) -> None:
    spelled = "".join(c.upper() if u else c for c, u in zip(name, upper, strict=False))

    assert str(parse_type(f"{pad}{spelled}{pad}")) == name


@given(precision=st.integers(1, 38), data=st.data())
def test_decimal_round_trips_through_text(precision: int, data: st.DataObject) -> None:
    scale = data.draw(st.integers(0, precision))

    parsed = parse_type(f"decimal({precision},{scale})")

    assert parse_type(str(parsed)) == parsed
    assert parsed.to_arrow() == pa.decimal128(precision, scale)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("int", "Use one of: string, integer, float, decimal(p,s)"),
        ("varchar", "Use one of"),
        ("decimal", "Give decimal a precision and a scale"),
        ("decimal(0,0)", "precision from 1 to 38"),
        ("decimal(39,2)", "precision from 1 to 38"),
        ("decimal(5,6)", "scale no larger"),
        ("decimal(5)", "Use one of"),
    ],
)
def test_unknown_types_list_the_valid_ones(text: str, words: str) -> None:
    with pytest.raises(ColumnTypeError) as caught:
        parse_type(text)

    assert isinstance(caught.value, InvalidInput)
    assert caught.value.hint is not None and words in caught.value.hint


def test_type_names_are_the_documented_vocabulary() -> None:
    assert TYPE_NAMES == (
        "string",
        "integer",
        "float",
        "decimal(p,s)",
        "boolean",
        "date",
        "timestamp",
        "json",
    )


@pytest.mark.parametrize(
    ("text", "arrow"),
    [
        ("string", pa.string()),
        ("integer", pa.int64()),
        ("float", pa.float64()),
        ("decimal(12,2)", pa.decimal128(12, 2)),
        ("boolean", pa.bool_()),
        ("date", pa.date32()),
        ("timestamp", pa.timestamp("us", tz="UTC")),
        ("json", pa.string()),
    ],
)
def test_arrow_types(text: str, arrow: pa.DataType) -> None:
    assert parse_type(text).to_arrow() == arrow


@pytest.mark.parametrize(
    ("text", "duckdb", "postgres", "spark"),
    [
        ("string", "TEXT", "TEXT", "STRING"),
        ("integer", "BIGINT", "BIGINT", "BIGINT"),
        ("float", "DOUBLE", "DOUBLE PRECISION", "DOUBLE"),
        ("decimal(12,2)", "DECIMAL(12, 2)", "DECIMAL(12, 2)", "DECIMAL(12, 2)"),
        ("boolean", "BOOLEAN", "BOOLEAN", "BOOLEAN"),
        ("date", "DATE", "DATE", "DATE"),
        ("timestamp", "TIMESTAMPTZ", "TIMESTAMPTZ", "TIMESTAMP"),
        ("json", "TEXT", "TEXT", "STRING"),
    ],
)
def test_sql_types_per_dialect(text: str, duckdb: str, postgres: str, spark: str) -> None:
    column_type = parse_type(text)

    assert column_type.sql_type("duckdb") == duckdb
    assert column_type.sql_type("postgres") == postgres
    assert column_type.sql_type("spark") == spark


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("integer", "integer", True),
        ("integer", "float", True),
        ("integer", "decimal(19,0)", True),
        ("integer", "decimal(20,2)", False),
        ("decimal(10,2)", "decimal(12,2)", True),
        ("decimal(10,2)", "decimal(11,3)", True),
        ("decimal(10,2)", "decimal(10,3)", False),
        ("decimal(10,2)", "decimal(12,1)", False),
        ("decimal(10,2)", "float", False),
        ("float", "integer", False),
        ("float", "decimal(38,10)", False),
        ("date", "timestamp", True),
        ("timestamp", "date", False),
        ("integer", "string", False),
        ("json", "string", False),
        ("boolean", "integer", False),
    ],
)
def test_widening(old: str, new: str, widening: bool) -> None:
    assert is_widening(parse_type(old), parse_type(new)) is widening


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("integer", "12", 12),
        ("integer", 3.0, 3),
        ("float", "1e3", 1000.0),
        ("decimal(5,2)", 0.1, Decimal("0.1")),
        ("boolean", "Yes", True),
        ("boolean", 0, False),
        ("date", "2024-02-29", date(2024, 2, 29)),
        ("date", date(2024, 1, 1), date(2024, 1, 1)),
        ("timestamp", "2024-01-01T12:00:00+01:00", datetime(2024, 1, 1, 11, tzinfo=UTC)),
        ("timestamp", "2024-01-01", datetime(2024, 1, 1, tzinfo=UTC)),
        ("string", True, "true"),
        ("string", 5, "5"),
    ],
)
def test_coerce_value(text: str, value: object, expected: object) -> None:
    assert coerce_value(parse_type(text), value) == expected


def test_naive_timestamps_are_read_in_the_given_zone() -> None:
    value = coerce_value(
        parse_type("timestamp"), "2024-07-01 12:00", timezone=ZoneInfo("Europe/Paris")
    )

    assert value == datetime(2024, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("integer", True),
        ("integer", 1.5),
        ("integer", "one"),
        ("float", "inf"),
        ("float", "x"),
        ("decimal(3,2)", "12.5"),
        ("decimal(5,2)", "NaN"),
        ("boolean", "maybe"),
        ("date", "2024-02-30"),
        ("date", datetime(2024, 1, 1)),
        ("timestamp", "soon"),
        ("json", "{}"),
        ("string", [1]),
    ],
)
def test_coerce_value_rejects_values_of_other_types(text: str, value: object) -> None:
    with pytest.raises(ValueError):
        coerce_value(parse_type(text), value)


def test_only_decimal_takes_a_size() -> None:
    with pytest.raises(ColumnTypeError):
        ColumnType("integer", 10, 2)
    with pytest.raises(ColumnTypeError):
        ColumnType("decimal")
