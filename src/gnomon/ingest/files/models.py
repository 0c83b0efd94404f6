"""What reading a file hands out: batches of raw rows and records of rows that went wrong."""

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["RAW_TEXT_LIMIT", "BadRow", "ReadBatch"]

RAW_TEXT_LIMIT = 2048
"""Bytes of a bad row's raw text that are kept (UTF-8); enough to see the problem, bounded."""


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """Consecutive records of one file, in source-native form.

    Attributes:
        batch: the rows. Text formats give all-``pa.string()`` columns exactly as written;
            Parquet and Avro keep their own Arrow types.
        first_row: the 1-based record number (header excluded) of the first row. Rows of a
            batch are consecutive records, so row ``i`` is record ``first_row + i``: a batch
            ends where a bad row was taken out.
    """

    batch: pa.RecordBatch
    first_row: int


@dataclass(frozen=True, slots=True)
class BadRow:
    """A record that could not be read as it is, or a value that had to be changed to be read.

    Attributes:
        row: the 1-based record number (header excluded), counting bad records too, or ``None``
            when it cannot be known.
        line: the 1-based physical line (NDJSON) or sheet row (xlsx), when known.
        raw: the record's text, or the value's text for an encoding finding, cut to
            :data:`RAW_TEXT_LIMIT` bytes.
        error: what was wrong, in words.
        column: the column of the value concerned, or ``None`` when the whole record is bad.
    """

    row: int | None
    line: int | None
    raw: str
    error: str
    column: str | None = None


def truncate_raw(text: str) -> str:
    """``text`` cut to at most :data:`RAW_TEXT_LIMIT` UTF-8 bytes, never inside a character."""
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= RAW_TEXT_LIMIT:
        return text
    return encoded[:RAW_TEXT_LIMIT].decode("utf-8", errors="ignore")
