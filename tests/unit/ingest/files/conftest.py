"""Builders of source specs and of files in every format and compression, under tmp_path."""

import bz2
import gzip
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import zstandard

from gnomon.ingest.files import FileSourceSpec, ReadBatch

Rows = list[dict[str, str | None]]

SUFFIXES = {"none": "", "gzip": ".gz", "bz2": ".bz2", "zstd": ".zst"}
EXTENSIONS = {
    "csv": ".csv",
    "tsv": ".tsv",
    "json": ".json",
    "ndjson": ".ndjson",
    "parquet": ".parquet",
    "xlsx": ".xlsx",
    "avro": ".avro",
}


def make_spec(**fields: Any) -> FileSourceSpec:
    """A valid spec with the given fields (options as a dict)."""
    fields.setdefault("name", "orders")
    fields.setdefault("path", "data/*")
    return FileSourceSpec.model_validate(fields)


def compress(data: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(data)
    if compression == "bz2":
        return bz2.compress(data)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def encode_rows(rows: Rows, fmt: str, columns: Sequence[str]) -> bytes:
    """``rows`` (text or null values) written in format ``fmt``, uncompressed."""
    table = pa.table({name: pa.array([r[name] for r in rows], pa.string()) for name in columns})
    buffer = io.BytesIO()
    if fmt in ("csv", "tsv"):
        options = pacsv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
        pacsv.write_csv(table, buffer, write_options=options)
    elif fmt == "json":
        buffer.write(json.dumps(rows, ensure_ascii=False).encode())
    elif fmt == "ndjson":
        buffer.write(b"".join(json.dumps(r).encode() + b"\n" for r in rows))
    elif fmt == "parquet":
        pq.write_table(table, buffer)
    elif fmt == "xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(list(columns))
        for row in rows:
            sheet.append([row[name] for name in columns])
        workbook.save(buffer)
    elif fmt == "avro":
        schema = {
            "type": "record",
            "name": "Row",
            "fields": [{"name": n, "type": ["null", "string"]} for n in columns],
        }
        fastavro.writer(buffer, schema, rows)
    else:
        raise AssertionError(fmt)
    return buffer.getvalue()


def rows_of(batches: Sequence[ReadBatch]) -> list[dict[str, Any]]:
    """Every row of the batches, in order."""
    return [row for read in batches for row in read.batch.to_pylist()]


def numbered(batches: Sequence[ReadBatch]) -> dict[int, dict[str, Any]]:
    """Record number → row, using each batch's first_row."""
    found: dict[int, dict[str, Any]] = {}
    for read in batches:
        for offset, row in enumerate(read.batch.to_pylist()):
            found[read.first_row + offset] = row
    return found


class Kit:
    """Helpers for one test: files go under ``root`` (the test's tmp_path)."""

    suffixes = SUFFIXES
    extensions = EXTENSIONS

    def __init__(self, root: Path) -> None:
        self.root = root

    spec = staticmethod(make_spec)
    compress = staticmethod(compress)
    encode = staticmethod(encode_rows)
    rows_of = staticmethod(rows_of)
    numbered = staticmethod(numbered)

    def write(self, name: str, data: bytes) -> Path:
        """Write bytes to root/data/<name> and return the path."""
        path = self.root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    return Kit(tmp_path)
