import doctest
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.ingest.files import FileSourceSpec, infer, infer_schema


def _csv(kit, columns):
    names = list(columns)
    length = max(len(values) for values in columns.values())
    lines = [",".join(names)]
    for index in range(length):
        values = [columns[name][index] if index < len(columns[name]) else "" for name in names]
        lines.append(",".join(values))
    return kit.write("a.csv", ("\n".join(lines) + "\n").encode())


def test_text_columns(kit):
    path = _csv(
        kit,
        {
            "int": ["1", "-20", "+3", "", "0"],
            "float": ["1", "2.5", "-.5", "1e3", "7."],
            "bool": ["true", "False", "TRUE", "", "false"],
            "day": ["2024-01-31", "2024-02-29", "", "1999-12-31", "2000-01-01"],
            "ts": ["2024-01-31T08:00:00Z", "2024-01-31 08:00", "2024-01-31", "", ""],
            "tsz": ["2024-01-31T08:00:00.123456+01:00", "2024-01-31T08:00:00-0500", "", "", ""],
            "json": ['"{""a"": 1}"', '"[1, 2]"', "", "", ""],
            "zeros": ["007", "12", "", "", ""],
            "mixed": ["1", "true", "", "", ""],
            "bad_day": ["2024-02-30", "", "", "", ""],
            "yes": ["yes", "no", "", "", ""],
            "nan": ["nan", "1.5", "", "", ""],
            "spaces": [" 1", "2", "", "", ""],
            "empty": ["", "", "", "", ""],
            "huge": ["9223372036854775808", "", "", "", ""],
        },
    )
    assert infer_schema(path, kit.spec()) == {
        "int": "integer",
        "float": "float",
        "bool": "boolean",
        "day": "date",
        "ts": "timestamp",
        "tsz": "timestamp",
        "json": "json",
        "zeros": "string",
        "mixed": "string",
        "bad_day": "string",
        "yes": "string",
        "nan": "string",
        "spaces": "string",
        "empty": "string",
        "huge": "float",
    }


def test_overrides_win_and_are_added(kit):
    path = _csv(kit, {"id": ["1", "2"], "amount": ["1.5", "2"]})
    spec = kit.spec(schema={"id": "string", "amount": "decimal(10, 2)", "later": "date"})
    assert infer_schema(path, spec) == {"id": "string", "amount": "decimal(10,2)", "later": "date"}


def test_only_the_sample_is_judged(kit):
    path = _csv(kit, {"n": [str(i) for i in range(20)] + ["not a number"]})
    assert infer_schema(path, kit.spec(), sample_rows=20) == {"n": "integer"}
    assert infer_schema(path, kit.spec()) == {"n": "string"}


def test_bad_rows_do_not_disturb_the_sample(kit):
    path = kit.write("a.csv", b"id,v\n1,2\n2,3,4\n3,4\n")
    assert infer_schema(path, kit.spec()) == {"id": "integer", "v": "integer"}


def test_header_only_and_empty_files(kit):
    assert infer_schema(kit.write("h.csv", b"a,b\n"), kit.spec()) == {"a": "string", "b": "string"}
    spec = kit.spec(schema={"x": "integer"})
    assert infer_schema(kit.write("e.csv", b""), spec) == {"x": "integer"}


def test_json_values(kit):
    path = kit.write("a.ndjson", b'{"n": 1, "f": 1.5, "b": true, "o": {"x": 1}, "s": "t"}\n')
    assert infer_schema(path, kit.spec()) == {
        "n": "integer",
        "f": "float",
        "b": "boolean",
        "o": "json",
        "s": "string",
        "_extra": "string",
    }


def test_typed_formats_map_their_arrow_types(kit):
    table = pa.table(
        {
            "i": pa.array([1], pa.int16()),
            "u": pa.array([1], pa.uint64()),
            "f": pa.array([1.0], pa.float32()),
            "d": pa.array([Decimal("1.5")], pa.decimal128(12, 3)),
            "b": pa.array([True]),
            "day": pa.array([date(2024, 1, 1)]),
            "ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)]),
            "s": pa.array(["123"]),
            "l": pa.array([[1]]),
            "st": pa.array([{"a": 1}]),
            "bin": pa.array([b"x"]),
            "dict": pa.array(["a"]).dictionary_encode(),
        }
    )
    path = kit.root / "a.parquet"
    pq.write_table(table, path)
    assert infer_schema(path, kit.spec()) == {
        "i": "integer",
        "u": "integer",
        "f": "float",
        "d": "decimal(12,3)",
        "b": "boolean",
        "day": "date",
        "ts": "timestamp",
        "s": "string",
        "l": "json",
        "st": "json",
        "bin": "string",
        "dict": "string",
    }


def test_sample_rows_must_be_positive(kit):
    with pytest.raises(InvalidInput):
        infer_schema(kit.write("a.csv", b"a\n1\n"), kit.spec(), sample_rows=0)


def test_docstring_examples():
    assert doctest.testmod(infer, raise_on_error=True).attempted > 0


@settings(max_examples=60, deadline=None)
@given(
    ints=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=20),
    floats=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20),
)
def test_written_numbers_are_recognised(ints, floats):
    length = max(len(ints), len(floats))
    lines = ["i,f"] + [
        f"{ints[k] if k < len(ints) else ''},{floats[k] if k < len(floats) else ''}"
        for k in range(length)
    ]
    spec = FileSourceSpec(name="fuzz", path="*.csv")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        inferred = infer_schema(path, spec)
    assert inferred["i"] == "integer"
    assert inferred["f"] == "float"
