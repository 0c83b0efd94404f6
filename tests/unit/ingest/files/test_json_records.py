import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.ingest.errors import FileTooLarge, UnreadableFile
from gnomon.ingest.files import FileSourceSpec, read_file
from gnomon.ingest.files.formats.json_records import JSON_DOCUMENT_LIMIT


def _read(path, spec, **kwargs):
    with read_file(path, spec, **kwargs) as reader:
        batches = list(reader)
    return reader, batches


def test_values_are_text_as_written(kit):
    line = (
        b'{"int": 10, "float": 1.50, "exp": 1E+3, "t": true, "f": false, "n": null, '
        b'"s": "x\\"y", "u": "\\u00e9", "obj": {"b": [1, 2.0, "z"], "a": null}, "arr": []}\n'
    )
    _, batches = _read(kit.write("a.ndjson", line), kit.spec())
    assert kit.rows_of(batches) == [
        {
            "int": "10",
            "float": "1.50",
            "exp": "1E+3",
            "t": "true",
            "f": "false",
            "n": None,
            "s": 'x"y',
            "u": "é",
            "obj": '{"b":[1,2.0,"z"],"a":null}',
            "arr": "[]",
            "_extra": None,
        }
    ]


def test_bad_lines_are_bad_rows_with_their_line(kit):
    data = b'{"id": 1}\n\n{"id": 2\n   \n[1, 2]\n"text"\n{"id": 5}\r\n7\n'
    reader, batches = _read(kit.write("a.ndjson", data), kit.spec())
    assert kit.numbered(batches) == {1: {"id": "1", "_extra": None}, 5: {"id": "5", "_extra": None}}
    assert [(b.row, b.line, b.raw) for b in reader.bad_rows] == [
        (2, 3, '{"id": 2'),
        (3, 5, "[1,2]"),
        (4, 6, '"text"'),
        (6, 8, "7"),
    ]
    assert reader.bad_rows[0].error.startswith("invalid JSON:")
    assert reader.bad_rows[1].error == "the record is an array, not a JSON object"
    assert reader.bad_rows[2].error == "the record is a string, not a JSON object"
    assert reader.bad_rows[3].error == "the record is a number, not a JSON object"


def test_columns_come_from_the_first_batch_and_later_keys_go_to_extra(kit):
    records = [
        {"id": 1, "a": "x"},
        {"id": 2, "b": "y", "a": None},
        {"id": 3},
        {"id": 4, "late": {"k": 1}, "b": "z"},
        {"id": 5, "later": 2.50},
    ]
    data = "".join(json.dumps(r) + "\n" for r in records).replace("2.5", "2.50").encode()
    reader, batches = _read(kit.write("a.ndjson", data), kit.spec(), batch_rows=3)
    assert reader.columns == ["id", "a", "b", "_extra"]
    assert [b.first_row for b in batches] == [1, 4]
    assert kit.rows_of(batches) == [
        {"id": "1", "a": "x", "b": None, "_extra": None},
        {"id": "2", "a": None, "b": "y", "_extra": None},
        {"id": "3", "a": None, "b": None, "_extra": None},
        {"id": "4", "a": None, "b": "z", "_extra": '{"late":{"k":1}}'},
        {"id": "5", "a": None, "b": None, "_extra": '{"later":2.50}'},
    ]


def test_extra_column_name_avoids_a_key_of_the_data(kit):
    data = b'{"_extra": "mine", "__extra": 1}\n'
    reader, batches = _read(kit.write("a.ndjson", data), kit.spec())
    assert reader.columns == ["_extra", "__extra", "___extra"]
    assert kit.rows_of(batches) == [{"_extra": "mine", "__extra": "1", "___extra": None}]


def test_document_array(kit):
    data = b'[{"id": 1, "v": 0.10}, 5, {"id": 3}]'
    reader, batches = _read(kit.write("a.json", data), kit.spec())
    assert kit.numbered(batches) == {
        1: {"id": "1", "v": "0.10", "_extra": None},
        3: {"id": "3", "v": None, "_extra": None},
    }
    assert [(b.row, b.line, b.raw) for b in reader.bad_rows] == [(2, None, "5")]


def test_document_with_json_path(kit):
    data = b'{"meta": {"n": 2}, "data": {"items": [{"id": 1}, {"id": 2}]}}'
    spec = kit.spec(options={"json_path": "data.items"})
    _, batches = _read(kit.write("a.json", data), spec)
    assert kit.rows_of(batches) == [{"id": "1", "_extra": None}, {"id": "2", "_extra": None}]


def test_json_path_through_an_array_index(kit):
    data = b'{"pages": [{"rows": [{"id": 1}]}, {"rows": [{"id": 2}]}]}'
    spec = kit.spec(options={"json_path": "pages.1.rows"})
    _, batches = _read(kit.write("a.json", data), spec)
    assert kit.rows_of(batches) == [{"id": "2", "_extra": None}]


def test_json_path_that_does_not_match_names_what_is_there(kit):
    data = b'{"data": {"rows": []}, "meta": {}}'
    spec = kit.spec(options={"json_path": "data.items"})
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.json", data), spec)
    assert "data has no 'items' (keys 'rows')" in caught.value.message


def test_json_path_to_something_else_than_an_array(kit):
    spec = kit.spec(options={"json_path": "data"})
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.json", b'{"data": "x"}'), spec)
    assert "leads to a string" in caught.value.message


def test_document_object_without_json_path_suggests_its_arrays(kit):
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.json", b'{"count": 2, "items": [], "more": []}'), kit.spec())
    assert "not an array of records" in caught.value.message
    assert "one of: items, more" in (caught.value.hint or "")


def test_invalid_document_is_unreadable_with_its_position(kit):
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.json", b'[{"id": 1},\n {"id": }]'), kit.spec())
    assert "line 2, column" in caught.value.message
    assert "ndjson" in (caught.value.hint or "")


@pytest.mark.parametrize(("name", "data"), [("a.json", b""), ("a.ndjson", b""), ("b.json", b" \n")])
def test_empty_files_give_nothing(kit, name, data):
    reader, batches = _read(kit.write(name, data), kit.spec())
    assert batches == []
    assert reader.columns is None
    assert reader.bad_rows == []


def test_empty_array_gives_nothing(kit):
    reader, batches = _read(kit.write("a.json", b"[]"), kit.spec())
    assert batches == []
    assert reader.bad_rows == []


def test_document_above_the_limit_is_refused_before_reading(kit):
    path = kit.root / "data" / "huge.json"
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        handle.truncate(JSON_DOCUMENT_LIMIT + 1)
    with pytest.raises(FileTooLarge) as caught:
        _read(path, kit.spec())
    assert "NDJSON" in (caught.value.hint or "")
    assert caught.value.details["limit"] == JSON_DOCUMENT_LIMIT


def test_byte_order_mark_is_ignored(kit):
    _, batches = _read(kit.write("a.json", b'\xef\xbb\xbf[{"id": 1}]'), kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "_extra": None}]
    _, batches = _read(kit.write("a.ndjson", b'\xef\xbb\xbf{"id": 1}\n'), kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "_extra": None}]


def test_declared_encoding(kit):
    data = '{"name": "Zoë"}\n'.encode("utf-16")
    spec = kit.spec(options={"encoding": "utf-16"})
    reader, batches = _read(kit.write("a.ndjson", data), spec)
    assert kit.rows_of(batches) == [{"name": "Zoë", "_extra": None}]
    assert reader.encoding_issues == []


def test_invalid_bytes_in_values_are_replaced_and_reported(kit):
    data = b'{"id": 1, "name": "caf\xe9", "tags": ["\xff"]}\n{"id": 2, "name": "ok"}\n'
    reader, batches = _read(kit.write("a.ndjson", data), kit.spec())
    assert kit.rows_of(batches)[0] == {
        "id": "1",
        "name": "caf\ufffd",
        "tags": '["\ufffd"]',
        "_extra": None,
    }
    assert [(i.row, i.column) for i in reader.encoding_issues] == [(1, "name"), (1, "tags")]
    assert reader.bad_rows == []


@settings(max_examples=100, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(
            st.text(min_size=1, max_size=6),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=4), inner, max_size=3)
                ),
                max_leaves=5,
            ),
            max_size=4,
        ),
        min_size=1,
        max_size=10,
    )
)
def test_any_records_round_trip_as_json_text(records):
    data = "".join(json.dumps(record) + "\n" for record in records).encode()
    spec = FileSourceSpec(name="fuzz", path="*.ndjson")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.ndjson"
        path.write_bytes(data)
        with read_file(path, spec) as reader:
            rows = [row for read in reader for row in read.batch.to_pylist()]
            assert reader.bad_rows == []
    assert len(rows) == len(records)
    for record, row in zip(records, rows, strict=True):
        for key, value in record.items():
            text = row[key]
            if value is None:
                assert text is None
            elif isinstance(value, str):
                assert text == value
            else:
                assert json.loads(text) == value
