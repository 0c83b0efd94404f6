"""Every format in every compression gives back the rows that were written."""

import pyarrow as pa
import pytest

from gnomon.ingest.files import read_file

FORMATS = ["csv", "tsv", "json", "ndjson", "parquet", "xlsx", "avro"]
COMPRESSIONS = ["none", "gzip", "bz2", "zstd"]
COLUMNS = ["id", "name", "note"]
ROWS = [
    {"id": "1", "name": "Ada", "note": "comma, inside"},
    {"id": "2", "name": "Zoë ünïcode ✓ 漢字", "note": 'quote " inside'},
    {"id": "3", "name": None, "note": "line\nbreak"},
    {"id": "4", "name": "tab\there", "note": "semi;colon"},
]


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(kit, fmt, compression):
    data = kit.compress(kit.encode(ROWS, fmt, COLUMNS), compression)
    path = kit.write(f"orders{kit.extensions[fmt]}{kit.suffixes[compression]}", data)
    with read_file(path, kit.spec()) as reader:
        batches = list(reader)
        assert (reader.format, reader.compression) == (fmt, compression)
        assert reader.bad_rows == []
        assert reader.encoding_issues == []
        assert reader.bytes_read == reader.size == len(data)
        columns = reader.columns
    expected_columns = [*COLUMNS, "_extra"] if fmt in ("json", "ndjson") else COLUMNS
    assert columns == expected_columns
    assert [b.first_row for b in batches] == [1]
    assert all(f.type == pa.string() for f in batches[0].batch.schema)
    rows = [{k: v for k, v in row.items() if k != "_extra"} for row in kit.rows_of(batches)]
    assert rows == ROWS
    if fmt in ("json", "ndjson"):
        assert batches[0].batch.column("_extra").null_count == len(ROWS)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_batches_are_bounded_and_numbered(kit, fmt, compression):
    rows = [{"id": str(i), "name": f"n{i}", "note": None} for i in range(1, 1001)]
    data = kit.compress(kit.encode(rows, fmt, COLUMNS), compression)
    path = kit.write(f"orders{kit.extensions[fmt]}{kit.suffixes[compression]}", data)
    with read_file(path, kit.spec(), batch_rows=300) as reader:
        batches = list(reader)
    assert [b.batch.num_rows for b in batches] == [300, 300, 300, 100]
    assert [b.first_row for b in batches] == [1, 301, 601, 901]
    assert all(row["id"] == str(n) for n, row in kit.numbered(batches).items())
