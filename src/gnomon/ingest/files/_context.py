"""What a format reader is given, and the batching every format shares.

A format reader yields :class:`ReadBatch` segments of consecutive records, of any size; the file
reader merges and cuts them into batches of at most ``batch_rows`` rows. It records bad rows and
the column names on the :class:`ReadContext` as it goes.
"""

import io
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa

from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files._streams import (
    CountingReader,
    Transcoder,
    open_decompressed,
    open_text,
    spool,
)
from gnomon.ingest.files.models import BadRow, ReadBatch
from gnomon.ingest.files.spec import FileSourceSpec


def _nothing_read() -> int:
    return 0


@dataclass(slots=True)
class ReadContext:
    """The file being read, the reading limits, and what the reading found so far."""

    path: Path
    spec: FileSourceSpec
    format: str
    compression: str
    size: int
    batch_rows: int
    block_size: int
    bad_rows: list[BadRow] = field(default_factory=list)
    columns: list[str] | None = None
    schema: pa.Schema | None = None
    transcoder: Transcoder | None = None
    position: Callable[[], int] = _nothing_read

    def follow(self, counter: CountingReader) -> None:
        """Report progress as the compressed bytes ``counter`` has consumed."""

        def consumed() -> int:
            return counter.consumed

        self.position = consumed

    def open_bytes(self, stack: ExitStack) -> IO[bytes]:
        """The decompressed bytes, read front to back; progress follows them."""
        source, counter = open_decompressed(self.path, compression=self.compression, stack=stack)
        self.follow(counter)
        return source

    def open_text(self, stack: ExitStack, *, final_newline: bool) -> io.BufferedReader:
        """The decompressed text as UTF-8 (see ``Transcoder``); progress follows it."""
        source, counter, transcoder = open_text(
            self.path,
            compression=self.compression,
            encoding=self.spec.options.encoding,
            final_newline=final_newline,
            stack=stack,
        )
        self.follow(counter)
        self.transcoder = transcoder
        return source

    def open_seekable(self, stack: ExitStack) -> IO[bytes]:
        """A seekable file of the decompressed bytes: the file itself, or a temporary copy."""
        if self.compression == "none":
            return stack.enter_context(self.path.open("rb"))
        return spool(self.open_bytes(stack), stack=stack)

    def columns_known(self) -> ReadBatch:
        """An empty segment that a format yields as soon as its columns are known.

        It lets the file reader answer ``schema`` after reading only the header (or footer).
        """
        schema = self.schema
        if schema is None:
            schema = pa.schema([(name, pa.string()) for name in self.columns or []])
        # pa.nulls, not pa.array([]): the latter imports pandas (a third of a second) to
        # check whether the list is a pandas object.
        empty = pa.RecordBatch.from_arrays(
            [pa.nulls(0, type=field.type) for field in schema], schema=schema
        )
        return ReadBatch(batch=empty, first_row=1)

    def unreadable(self, what: str, *, hint: str) -> UnreadableFile:
        """The error for a file that cannot be read at all; ``what`` says why."""
        return UnreadableFile(
            f"Cannot read {self.path.name} as {self.format}: {what}.",
            hint=hint,
            file=str(self.path),
            format=self.format,
        )

    def check_columns(self, names: Sequence[str], *, where: str) -> list[str]:
        """``names`` as a list, or an error naming the empty and duplicated ones.

        Why refuse instead of renaming: a renamed column would silently fail to match the
        contract, or match the wrong one; the header is better fixed at the source.
        """
        empty = [str(position) for position, name in enumerate(names, start=1) if not name.strip()]
        duplicated = sorted(name for name, count in Counter(names).items() if count > 1 and name)
        problems = []
        if empty:
            problems.append(f"column(s) {', '.join(empty)} have no name")
        if duplicated:
            problems.append(f"duplicated name(s) {', '.join(map(repr, duplicated))}")
        if problems:
            hint = "Give every column a unique, non-empty name where the file is written"
            if where.startswith("header"):
                hint += ", or set 'options.header: false' to name them column_1, column_2, …"
            raise UnreadableFile(
                f"Cannot read {self.path.name}: the {where} has {' and '.join(problems)}.",
                hint=hint + ".",
                file=str(self.path),
                empty=empty,
                duplicated=duplicated,
            )
        self.columns = list(names)
        return self.columns


def generated_names(count: int) -> list[str]:
    """Column names for a file without a header: ``column_1`` … ``column_<count>``."""
    return [f"column_{position}" for position in range(1, count + 1)]


class Rebatcher:
    """Merges consecutive segments and cuts them into batches of at most ``batch_rows`` rows.

    A segment that does not continue the previous one (a bad row lies between) starts a new
    batch, so that row ``i`` of every batch is record ``first_row + i``.
    """

    def __init__(self, batch_rows: int) -> None:
        self._batch_rows = batch_rows
        self._parts: list[pa.RecordBatch] = []
        self._first = 0
        self._rows = 0

    def add(self, segment: ReadBatch) -> Iterator[ReadBatch]:
        """Take a segment; yield the batches it completes. An empty segment changes nothing."""
        if not segment.batch.num_rows:
            return
        if self._rows and segment.first_row != self._first + self._rows:
            yield from self.flush()
        batch = segment.batch
        start = segment.first_row
        offset = 0
        total: int = batch.num_rows
        while offset < total:
            if not self._rows:
                self._first = start + offset
            take = min(self._batch_rows - self._rows, total - offset)
            self._parts.append(batch.slice(offset, take))
            self._rows += take
            offset += take
            if self._rows == self._batch_rows:
                yield from self.flush()

    def flush(self) -> Iterator[ReadBatch]:
        """Yield what is held as one batch."""
        if not self._rows:
            return
        parts, first = self._parts, self._first
        self._parts, self._rows = [], 0
        merged = parts[0] if len(parts) == 1 else pa.concat_batches(parts)
        yield ReadBatch(batch=merged, first_row=first)


class RowBuffer:
    """Collects rows built in Python into segments of consecutive records.

    ``build`` turns the collected rows into a record batch; a row that does not follow the
    previous record, or a full buffer, ends the segment.
    """

    def __init__(
        self, build: Callable[[list[list[object]]], pa.RecordBatch], *, batch_rows: int
    ) -> None:
        self._build = build
        self._batch_rows = batch_rows
        self._rows: list[list[object]] = []
        self._first = 0

    def add(self, record: int, values: list[object]) -> Iterator[ReadBatch]:
        """Take the row of record number ``record``; yield a segment when one is complete."""
        if self._rows and record != self._first + len(self._rows):
            yield from self.flush()
        if not self._rows:
            self._first = record
        self._rows.append(values)
        if len(self._rows) >= self._batch_rows:
            yield from self.flush()

    def flush(self) -> Iterator[ReadBatch]:
        """Yield the rows held as one segment."""
        if self._rows:
            rows, self._rows = self._rows, []
            yield ReadBatch(batch=self._build(rows), first_row=self._first)


def string_batch(columns: Sequence[str], rows: list[list[object]]) -> pa.RecordBatch:
    """An all-string batch from rows of ``str | None`` values, one per column."""
    arrays = [
        pa.array([row[index] for row in rows], type=pa.string()) for index in range(len(columns))
    ]
    return pa.RecordBatch.from_arrays(arrays, names=list(columns))
