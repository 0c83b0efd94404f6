"""The FileReader's own contract: look-ahead, single use, closing, limits, progress."""

import gzip

import pyarrow as pa
import pytest

from gnomon.errors import InternalError, InvalidInput, NotFound
from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files import read_file


@pytest.mark.parametrize(
    ("name", "data", "columns"),
    [
        ("a.csv", b"id,name\n" + b"1,a\n" * 5000, ["id", "name"]),
        ("a.csv.gz", gzip.compress(b"id,name\n" + b"1,a\n" * 5000), ["id", "name"]),
        ("a.ndjson", b'{"id": 1}\n' * 5000, ["id", "_extra"]),
        ("a.tsv", b"", None),
    ],
)
def test_columns_before_iterating_then_every_row(kit, name, data, columns):
    path = kit.write(name, data)
    with read_file(path, kit.spec(), batch_rows=1000, block_size=4096) as reader:
        assert reader.columns == columns
        if columns is None:
            assert reader.schema is None
        else:
            assert reader.schema == pa.schema([(c, pa.string()) for c in columns])
        batches = list(reader)
    expected = 0 if columns is None else 5000
    assert sum(b.batch.num_rows for b in batches) == expected
    assert [b.first_row for b in batches] == list(range(1, expected + 1, 1000))


def test_schema_before_iterating_for_typed_formats(kit):
    path = kit.write("a.parquet", kit.encode([{"id": "1"}], "parquet", ["id"]))
    with read_file(path, kit.spec()) as reader:
        assert reader.schema == pa.schema([("id", pa.string())])


def test_schema_of_a_broken_file_raises(kit):
    path = kit.write("a.csv", b"id,id\n1,2\n")
    with read_file(path, kit.spec()) as reader, pytest.raises(UnreadableFile):
        _ = reader.schema


def test_a_reader_is_iterated_once(kit):
    path = kit.write("a.csv", b"id\n1\n")
    with read_file(path, kit.spec()) as reader:
        list(reader)
        with pytest.raises(InternalError):
            iter(reader)


def test_closing_stops_the_iteration(kit):
    path = kit.write("a.csv", b"id\n" + b"1\n" * 10_000)
    reader = read_file(path, kit.spec(), batch_rows=100)
    batches = iter(reader)
    first = next(batches)
    assert first.first_row == 1
    reader.close()
    assert list(batches) == []
    reader.close()


def test_attributes(kit):
    data = gzip.compress(b"id\n1\n")
    path = kit.write("a.csv.gz", data)
    reader = read_file(path, kit.spec())
    assert (reader.path, reader.format, reader.compression) == (path, "csv", "gzip")
    assert (reader.size, reader.bytes_read) == (len(data), 0)
    assert reader.bad_rows == reader.encoding_issues == []
    reader.close()


def test_progress_of_an_empty_file(kit):
    seen: list[int] = []
    with read_file(kit.write("a.csv", b""), kit.spec(), on_progress=seen.append) as reader:
        list(reader)
    assert seen == [0]


@pytest.mark.parametrize(
    ("fmt", "compression"),
    [("xlsx", "none"), ("xlsx", "gzip"), ("avro", "bz2"), ("parquet", "zstd"), ("json", "none")],
)
def test_progress_ends_at_the_size_for_every_format(kit, fmt, compression):
    rows = [{"id": str(i)} for i in range(3000)]
    data = kit.compress(kit.encode(rows, fmt, ["id"]), compression)
    path = kit.write(f"a{kit.extensions[fmt]}{kit.suffixes[compression]}", data)
    seen: list[int] = []
    with read_file(path, kit.spec(), batch_rows=500, on_progress=seen.append) as reader:
        list(reader)
    assert seen == sorted(seen)
    assert seen[-1] == len(data)
    assert len(seen) == 7


def test_limits_are_checked(kit):
    path = kit.write("a.csv", b"id\n1\n")
    with pytest.raises(InvalidInput, match="batch_rows"):
        read_file(path, kit.spec(), batch_rows=0)
    with pytest.raises(InvalidInput, match="block_size"):
        read_file(path, kit.spec(), block_size=10)


def test_missing_file(kit):
    with pytest.raises(NotFound):
        read_file(kit.root / "nope.csv", kit.spec())


def test_unknown_format_is_refused_when_opening(kit):
    with pytest.raises(InvalidInput, match="Unknown file format"):
        read_file(kit.write("a.dat", b"x"), kit.spec())


def test_damaged_bz2_is_unreadable(kit):
    path = kit.write("a.csv.bz2", b"BZh91AY&SY" + b"\x00" * 100)
    with (
        pytest.raises(UnreadableFile, match="bz2 data is damaged"),
        read_file(path, kit.spec()) as reader,
    ):
        list(reader)
