"""One reader per file format, behind one signature; imported only when their format is read."""

from collections.abc import Callable, Generator
from contextlib import ExitStack

from gnomon.ingest.files._context import ReadContext
from gnomon.ingest.files.models import ReadBatch

__all__ = ["FormatReader", "format_reader"]

FormatReader = Callable[[ReadContext, ExitStack], Generator[ReadBatch, None, None]]
"""Yields segments of consecutive records; registers what it opens on the ``ExitStack``."""


def format_reader(name: str) -> FormatReader:
    """The reader of format ``name`` (one of the concrete formats; ``auto`` is resolved before)."""
    if name in ("csv", "tsv"):
        from gnomon.ingest.files.formats.delimited import read_delimited

        return read_delimited
    if name in ("json", "ndjson"):
        from gnomon.ingest.files.formats.json_records import read_json

        return read_json
    if name == "parquet":
        from gnomon.ingest.files.formats.parquet import read_parquet

        return read_parquet
    if name == "xlsx":
        from gnomon.ingest.files.formats.xlsx import read_xlsx

        return read_xlsx
    from gnomon.ingest.files.formats.avro import read_avro

    return read_avro
