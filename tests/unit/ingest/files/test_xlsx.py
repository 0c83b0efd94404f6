import io
import zipfile
from datetime import date, datetime, time

import openpyxl
import pytest

from gnomon.errors import InvalidInput
from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files import read_file


def _workbook(*sheets):
    """Bytes of a workbook; each sheet is (title, rows)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _read(path, spec, **kwargs):
    with read_file(path, spec, **kwargs) as reader:
        batches = list(reader)
    return reader, batches


TWO_SHEETS = _workbook(
    ("Summary", [["total"], [3]]),
    ("Orders", [["id", "name"], [1, "a"], [2, "b"]]),
)


def test_first_sheet_by_default(kit):
    _, batches = _read(kit.write("a.xlsx", TWO_SHEETS), kit.spec())
    assert kit.rows_of(batches) == [{"total": "3"}]


@pytest.mark.parametrize("sheet", ["Orders", 1])
def test_chosen_sheet(kit, sheet):
    spec = kit.spec(options={"sheet": sheet})
    reader, batches = _read(kit.write("a.xlsx", TWO_SHEETS), spec)
    assert reader.columns == ["id", "name"]
    assert kit.rows_of(batches) == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]


@pytest.mark.parametrize("sheet", ["Nope", 5])
def test_unknown_sheet_lists_the_sheets(kit, sheet):
    spec = kit.spec(options={"sheet": sheet})
    with pytest.raises(InvalidInput) as caught:
        _read(kit.write("a.xlsx", TWO_SHEETS), spec)
    assert "'Summary', 'Orders'" in (caught.value.hint or "")
    assert caught.value.details["sheets"] == ["Summary", "Orders"]


def test_cell_values_become_text(kit):
    rows = [
        ["int", "float", "bool", "datetime", "date", "time", "text", "empty"],
        [42, 1.25, True, datetime(2024, 1, 31, 8, 30), date(2024, 2, 1), time(9, 5), "x", None],
        [-7, 1e20, False, datetime(2024, 1, 31), date(2024, 2, 2), time(0, 0, 1), "", None],
    ]
    _, batches = _read(kit.write("a.xlsx", _workbook(("S", rows))), kit.spec())
    assert kit.rows_of(batches) == [
        {
            "int": "42",
            "float": "1.25",
            "bool": "true",
            "datetime": "2024-01-31T08:30:00",
            "date": "2024-02-01",
            "time": "09:05:00",
            "text": "x",
            "empty": None,
        },
        {
            "int": "-7",
            "float": "1e+20",
            "bool": "false",
            "datetime": "2024-01-31T00:00:00",
            "date": "2024-02-02",
            "time": "00:00:01",
            "text": None,
            "empty": None,
        },
    ]


def test_empty_rows_are_skipped_and_wide_rows_are_bad(kit):
    rows = [["id", "name", None], [1, "a"], [], [2, "b", None, None], [3, "c", "extra"], [4, "d"]]
    reader, batches = _read(kit.write("a.xlsx", _workbook(("S", rows))), kit.spec())
    assert reader.columns == ["id", "name"]
    assert kit.numbered(batches) == {
        1: {"id": "1", "name": "a"},
        2: {"id": "2", "name": "b"},
        4: {"id": "4", "name": "d"},
    }
    assert [(b.row, b.line, b.raw) for b in reader.bad_rows] == [(3, 5, '["3", "c", "extra"]')]
    assert reader.bad_rows[0].error == "the row has 3 cells, the header 2"


def test_skip_rows_and_no_header(kit):
    rows = [["Report"], [None], [1, "a"], [2, "b"]]
    spec = kit.spec(options={"skip_rows": 2, "header": False})
    reader, batches = _read(kit.write("a.xlsx", _workbook(("S", rows))), spec)
    assert reader.columns == ["column_1", "column_2"]
    assert kit.rows_of(batches) == [
        {"column_1": "1", "column_2": "a"},
        {"column_1": "2", "column_2": "b"},
    ]


def test_header_problems_are_refused(kit):
    rows = [["id", None, "id"], [1, 2, 3]]
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.xlsx", _workbook(("S", rows))), kit.spec())
    assert "column(s) 2 have no name" in caught.value.message
    assert "duplicated name(s) 'id'" in caught.value.message


def test_header_only_and_empty_sheet(kit):
    reader, batches = _read(kit.write("a.xlsx", _workbook(("S", [["id", "x"]]))), kit.spec())
    assert (batches, reader.columns) == ([], ["id", "x"])
    reader, batches = _read(kit.write("b.xlsx", _workbook(("S", []))), kit.spec())
    assert (batches, reader.columns) == ([], None)


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04broken"])
def test_zero_byte_or_corrupt_workbook_is_unreadable(kit, data):
    with pytest.raises(UnreadableFile) as caught:
        _read(kit.write("a.xlsx", data), kit.spec())
    assert "a.xlsx" in caught.value.message
    assert "not a valid xlsx workbook" in caught.value.message


def test_zip_that_is_not_a_workbook_is_unreadable(kit):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(UnreadableFile):
        _read(kit.write("a.xlsx", buffer.getvalue()), kit.spec())
