import gzip
import io
import random
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files import RAW_TEXT_LIMIT, FileSourceSpec, read_file


def _read(path, spec, **kwargs):
    with read_file(path, spec, **kwargs) as reader:
        batches = list(reader)
    return reader, batches


def test_ragged_rows_are_bad_rows_and_the_rest_is_kept(kit):
    path = kit.write(
        "a.csv",
        b"id,name\n1,a\n2,b\n3,c,extra\n4,d\n5,e\n6,f\n7\n8,h\n9,i\n10,j\n",
    )
    reader, batches = _read(path, kit.spec())
    assert [(b.first_row, b.batch.num_rows) for b in batches] == [(1, 2), (4, 3), (8, 3)]
    assert all(row["id"] == str(n) for n, row in kit.numbered(batches).items())
    assert [(bad.row, bad.raw, bad.column) for bad in reader.bad_rows] == [
        (3, "3,c,extra", None),
        (7, "7", None),
    ]
    assert reader.bad_rows[0].error == "expected 2 fields, found 3"
    assert reader.bad_rows[1].error == "expected 2 fields, found 1"
    assert reader.bad_rows[0].line is None


def test_record_numbers_stay_exact_across_blocks_and_multiline_values(kit):
    lines = [b"id,text"]
    bad_records = set()
    for record in range(1, 3001):
        if record % 97 == 0:
            lines.append(f"{record},too,many".encode())
            bad_records.add(record)
        elif record % 13 == 0:
            lines.append(f'{record},"two\nlines"'.encode())
        else:
            lines.append(f"{record},plain".encode())
    path = kit.write("big.csv", b"\n".join(lines) + b"\n")
    reader, batches = _read(path, kit.spec(), batch_rows=250, block_size=1024)
    rows = kit.numbered(batches)
    assert set(rows) == set(range(1, 3001)) - bad_records
    assert all(row["id"] == str(n) for n, row in rows.items())
    assert rows[13]["text"] == "two\nlines"
    assert [bad.row for bad in reader.bad_rows] == sorted(bad_records)
    assert all(b.batch.num_rows <= 250 for b in batches)


def test_header_only_gives_columns_and_no_rows(kit):
    for data in (b"id,name\n", b"id,name"):
        path = kit.write("h.csv", data)
        reader, batches = _read(path, kit.spec())
        assert batches == []
        assert reader.columns == ["id", "name"]
        assert reader.schema == pa.schema([("id", pa.string()), ("name", pa.string())])


@pytest.mark.parametrize("data", [b"", b"\n\n\r\n", gzip.compress(b"")])
def test_empty_file_gives_nothing_and_no_error(kit, data):
    path = kit.write("e.csv.gz" if data.startswith(b"\x1f") else "e.csv", data)
    seen = []
    reader, batches = _read(path, kit.spec(), on_progress=seen.append)
    assert batches == []
    assert reader.columns is None
    assert reader.bad_rows == []
    assert seen[-1] == reader.size == reader.bytes_read


def test_last_line_without_line_break(kit):
    path = kit.write("a.csv", b"id,name\n1,a\n2,b")
    _, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}]


def test_crlf_line_breaks(kit):
    path = kit.write("a.csv", b'id,name\r\n1,a\r\n2,"x\r\ny"\r\n')
    _, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "name": "a"}, {"id": "2", "name": "x\r\ny"}]


def test_duplicate_header_names_are_refused(kit):
    path = kit.write("a.csv", b"id,name,id\n1,a,2\n")
    with pytest.raises(UnreadableFile) as caught:
        _read(path, kit.spec())
    assert "duplicated name(s) 'id'" in caught.value.message
    assert "header: false" in (caught.value.hint or "")


def test_empty_header_names_are_refused(kit):
    path = kit.write("a.csv", b"id,,name,\n1,2,3,4\n")
    with pytest.raises(UnreadableFile) as caught:
        _read(path, kit.spec())
    assert "column(s) 2, 4 have no name" in caught.value.message
    assert caught.value.details["empty"] == ["2", "4"]


def test_without_header_columns_are_numbered(kit):
    path = kit.write("a.csv", b"1,a\n2,b\n3\n")
    reader, batches = _read(path, kit.spec(options={"header": False}))
    assert reader.columns == ["column_1", "column_2"]
    assert kit.rows_of(batches) == [
        {"column_1": "1", "column_2": "a"},
        {"column_1": "2", "column_2": "b"},
    ]
    assert [bad.row for bad in reader.bad_rows] == [3]


def test_skip_rows_before_the_header(kit):
    path = kit.write("a.csv", b"exported by tool\nversion 2\nid,name\n1,a\n2,b,c\n3,c\n")
    reader, batches = _read(path, kit.spec(options={"skip_rows": 2}))
    assert reader.columns == ["id", "name"]
    assert kit.numbered(batches) == {1: {"id": "1", "name": "a"}, 3: {"id": "3", "name": "c"}}
    assert [bad.row for bad in reader.bad_rows] == [2]


def test_skip_rows_without_header(kit):
    path = kit.write("a.csv", b"junk\n1,a\n2,b,c\n3,c\n")
    reader, batches = _read(path, kit.spec(options={"skip_rows": 1, "header": False}))
    assert kit.numbered(batches) == {
        1: {"column_1": "1", "column_2": "a"},
        3: {"column_1": "3", "column_2": "c"},
    }
    assert [bad.row for bad in reader.bad_rows] == [2]


def test_null_values_apply_to_unquoted_values_only(kit):
    path = kit.write("a.csv", b'a,b,c,d\nNULL,"NULL",,""\nNA,null,x,-\n')
    _, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [
        {"a": None, "b": "NULL", "c": None, "d": ""},
        {"a": None, "b": None, "c": "x", "d": "-"},
    ]
    _, batches = _read(path, kit.spec(options={"null_values": ["-"]}))
    assert kit.rows_of(batches)[1] == {"a": "NA", "b": "null", "c": "x", "d": None}
    assert kit.rows_of(batches)[0]["c"] == ""


def test_values_are_text_exactly_as_written(kit):
    path = kit.write("a.csv", b"n,d,b\n007, 1.50 ,TRUE\n1e3,2024-13-45,no\n")
    _, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [
        {"n": "007", "d": " 1.50 ", "b": "TRUE"},
        {"n": "1e3", "d": "2024-13-45", "b": "no"},
    ]


def test_tsv_and_other_delimiters(kit):
    tsv = kit.write("a.tsv", b"id\tname\n1\ta,b\n")
    _, batches = _read(tsv, kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "name": "a,b"}]
    semi = kit.write("b.csv", b"id;name\n1;a,b\n")
    _, batches = _read(semi, kit.spec(options={"delimiter": ";"}))
    assert kit.rows_of(batches) == [{"id": "1", "name": "a,b"}]


def test_quoting_can_be_turned_off(kit):
    path = kit.write("a.csv", b'id,name\n1,say "hi\n2,"x"\n')
    _, batches = _read(path, kit.spec(options={"quote": None}))
    assert kit.rows_of(batches) == [{"id": "1", "name": 'say "hi'}, {"id": "2", "name": '"x"'}]


def test_other_quote_character(kit):
    path = kit.write("a.csv", b"id,name\n1,'a,b'\n")
    _, batches = _read(path, kit.spec(options={"quote": "'"}))
    assert kit.rows_of(batches) == [{"id": "1", "name": "a,b"}]


def test_unclosed_quote_at_the_end_is_a_bad_row(kit):
    path = kit.write("a.csv", b'id,name\n1,a\n"2,b\n3,c\n')
    reader, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "name": "a"}]
    assert reader.bad_rows[0].row == 2
    assert reader.bad_rows[0].raw.startswith('"2,b')


def test_unclosed_quote_swallowing_the_file_stops_with_a_clear_error(kit):
    good = b"".join(f"{i},n{i}\n".encode() for i in range(1, 501))
    path = kit.write("a.csv", b"id,name\n" + good + b'"501,b\n' + b"3,c\n" * 3000)
    reader = read_file(path, kit.spec(), block_size=1024)
    received = []
    with pytest.raises(UnreadableFile) as caught, reader:
        received.extend(reader)
    rows = kit.numbered(received)
    assert 0 < len(rows) <= 500
    assert all(row["id"] == str(n) for n, row in rows.items())
    assert f"after record {max(rows)}" in caught.value.message
    assert "quote" in (caught.value.hint or "")


def test_byte_order_mark_is_not_part_of_the_first_name(kit):
    path = kit.write("a.csv", b"\xef\xbb\xbfid,name\n1,a\n")
    reader, _ = _read(path, kit.spec())
    assert reader.columns == ["id", "name"]


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", "id,name\n1,café\n2,Ærø\n"),
        ("cp1252", "id,name\n1,5 €\n2,„quote“\n"),
        ("utf-16", "id,name\n1,漢字\n2,Zoë\n"),
        ("shift_jis", "id,name\n1,日本語\n2,ｶﾀｶﾅ\n"),
    ],
)
def test_declared_encodings_are_read(kit, encoding, text):
    path = kit.write("a.csv", text.encode(encoding))
    reader, batches = _read(path, kit.spec(options={"encoding": encoding}))
    lines = text.strip().split("\n")
    assert kit.rows_of(batches) == [
        dict(zip(["id", "name"], line.split(","), strict=True)) for line in lines[1:]
    ]
    assert reader.encoding_issues == []


def test_invalid_bytes_are_replaced_kept_and_reported(kit):
    path = kit.write("a.csv", b"id,name,city\n1,ok,Paris\n2,caf\xe9,Lyon\n3,x,\xff\xfeOslo\n")
    reader, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [
        {"id": "1", "name": "ok", "city": "Paris"},
        {"id": "2", "name": "caf\ufffd", "city": "Lyon"},
        {"id": "3", "name": "x", "city": "\ufffd\ufffdOslo"},
    ]
    assert [(i.row, i.column, i.raw) for i in reader.encoding_issues] == [
        (2, "name", "caf\ufffd"),
        (3, "city", "\ufffd\ufffdOslo"),
    ]
    assert "replaced by U+FFFD" in reader.encoding_issues[0].error
    assert "'utf-8'" in reader.encoding_issues[0].error
    assert reader.bad_rows == []


def test_replacement_characters_of_the_file_itself_are_not_reported(kit):
    path = kit.write("a.csv", "id,name\n1,\ufffd\n".encode())
    reader, batches = _read(path, kit.spec())
    assert kit.rows_of(batches) == [{"id": "1", "name": "\ufffd"}]
    assert reader.encoding_issues == []


def test_when_both_kinds_occur_every_candidate_is_reported(kit):
    path = kit.write("a.csv", "id,name\n1,\ufffd\n2,".encode() + b"\xff\n")
    reader, _ = _read(path, kit.spec())
    assert [(i.row, i.column) for i in reader.encoding_issues] == [(1, "name"), (2, "name")]
    assert "or the file contains the character itself" in reader.encoding_issues[0].error


def test_invalid_bytes_in_a_ragged_row_do_not_stop_the_read(kit):
    path = kit.write("a.csv", b"id,name\n1,a\n2,\xff,\xfe\n3,c\n")
    reader, batches = _read(path, kit.spec())
    assert kit.numbered(batches) == {1: {"id": "1", "name": "a"}, 3: {"id": "3", "name": "c"}}
    assert reader.bad_rows[0].row == 2
    assert reader.bad_rows[0].raw == "2,\ufffd,\ufffd"


def test_invalid_bytes_in_the_header_are_refused(kit):
    path = kit.write("a.csv", b"id,n\xe4me\n1,a\n")
    with pytest.raises(UnreadableFile) as caught:
        _read(path, kit.spec())
    assert "not valid utf-8" in caught.value.message
    assert "options.encoding" in (caught.value.hint or "")


def test_raw_text_of_a_bad_row_is_cut_to_the_limit(kit):
    long_row = "2," + "é" * 5000 + ",extra"
    path = kit.write("a.csv", f"id,name\n1,a\n{long_row}\n".encode())
    reader, _ = _read(path, kit.spec())
    raw = reader.bad_rows[0].raw
    assert len(raw.encode()) <= RAW_TEXT_LIMIT
    assert long_row.startswith(raw)
    assert len(raw) > 1000


def test_progress_only_grows_and_reaches_the_size(kit):
    noise = random.Random(7)
    # Large enough that the reader's read-ahead cannot reach the end of the compressed file
    # before the first batch is handed over, however slow the consumer (a loaded machine).
    body = b"".join(f"{i},{noise.randbytes(8).hex()}\n".encode() for i in range(400_000))
    path = kit.write("a.csv.gz", gzip.compress(b"id,name\n" + body))
    seen: list[int] = []
    reader, batches = _read(
        path, kit.spec(), batch_rows=10_000, block_size=64 * 1024, on_progress=seen.append
    )
    assert len(batches) == 40
    assert len(seen) >= len(batches)
    assert seen == sorted(seen)
    assert seen[-1] == reader.size == path.stat().st_size
    assert seen[0] < reader.size


def test_damaged_compression_is_unreadable_after_the_good_part(kit):
    body = b"id,name\n" + b"".join(f"{i},n{i}\n".encode() for i in range(100_000))
    compressed = gzip.compress(body)
    path = kit.write("a.csv.gz", compressed[: len(compressed) // 2])
    reader = read_file(path, kit.spec(), batch_rows=1_000, block_size=16 * 1024)
    received = []
    with pytest.raises(UnreadableFile) as caught, reader:
        received.extend(reader)
    assert received
    assert "gzip data is damaged or incomplete" in caught.value.message
    assert all(row["id"] == str(n - 1) for n, row in kit.numbered(received).items())


_names = st.lists(
    st.text(min_size=1, max_size=8).filter(lambda name: name.strip()),
    min_size=1,
    max_size=4,
    unique=True,
)
_value = st.one_of(st.none(), st.text(max_size=20))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), names=_names)
def test_any_table_written_by_arrow_reads_back_unchanged(data, names):
    rows = data.draw(st.lists(st.fixed_dictionaries(dict.fromkeys(names, _value)), max_size=15))
    table = pa.table({name: pa.array([row[name] for row in rows], pa.string()) for name in names})
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    spec = FileSourceSpec(name="fuzz", path="*.csv")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.csv"
        path.write_bytes(buffer.getvalue())
        with read_file(path, spec) as reader:
            batches = list(reader)
            assert reader.columns == names
            assert reader.bad_rows == []
            assert reader.encoding_issues == []
    assert [row for read in batches for row in read.batch.to_pylist()] == rows
