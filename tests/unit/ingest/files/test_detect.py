import bz2
import gzip

import pytest
import zstandard

from gnomon.errors import InvalidInput
from gnomon.ingest.files import detect_format


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", ("csv", "none")),
        ("a.CSV", ("csv", "none")),
        ("a.tsv", ("tsv", "none")),
        ("a.tab", ("tsv", "none")),
        ("a.json", ("json", "none")),
        ("a.ndjson", ("ndjson", "none")),
        ("a.jsonl", ("ndjson", "none")),
        ("a.parquet", ("parquet", "none")),
        ("a.pq", ("parquet", "none")),
        ("a.xlsx", ("xlsx", "none")),
        ("a.avro", ("avro", "none")),
        ("a.csv.gz", ("csv", "gzip")),
        ("a.ndjson.gzip", ("ndjson", "gzip")),
        ("a.json.bz2", ("json", "bz2")),
        ("a.tsv.zst", ("tsv", "zstd")),
        ("a.parquet.zstd", ("parquet", "zstd")),
    ],
)
def test_by_extension(kit, name, expected):
    path = kit.write(name, b"x")
    assert detect_format(path, kit.spec()) == expected


@pytest.mark.parametrize(
    ("compress", "expected"),
    [
        (gzip.compress, "gzip"),
        (bz2.compress, "bz2"),
        (zstandard.ZstdCompressor().compress, "zstd"),
        (bytes, "none"),
    ],
)
def test_compression_by_magic_bytes(kit, compress, expected):
    path = kit.write("orders.csv", compress(b"id\n1\n"))
    assert detect_format(path, kit.spec()) == ("csv", expected)


def test_text_that_starts_like_bz2_is_not_compressed(kit):
    path = kit.write("codes.csv", b"BZh9,other\n1,2\n")
    assert detect_format(path, kit.spec()) == ("csv", "none")


def test_format_by_magic_bytes_when_the_name_says_nothing(kit):
    parquet = kit.write("export.bin", kit.encode([{"a": "1"}], "parquet", ["a"]))
    avro = kit.write("export.dat.gz", gzip.compress(kit.encode([{"a": "1"}], "avro", ["a"])))
    assert detect_format(parquet, kit.spec()) == ("parquet", "none")
    assert detect_format(avro, kit.spec()) == ("avro", "gzip")


def test_settings_win(kit):
    path = kit.write("orders.txt.gz", b"plain")
    assert detect_format(path, kit.spec(format="tsv", compression="none")) == ("tsv", "none")


def test_unknown_format_lists_the_formats(kit):
    path = kit.write("orders.txt", b"id\n1\n")
    with pytest.raises(InvalidInput) as caught:
        detect_format(path, kit.spec())
    error = caught.value
    assert "orders.txt" in error.message
    assert "csv, tsv, json, ndjson, parquet, xlsx, avro" in (error.hint or "")
    assert error.details["formats"] == ["csv", "tsv", "json", "ndjson", "parquet", "xlsx", "avro"]
