"""Reading one file as batches of raw rows, in bounded memory, without failing on a bad row.

Raw means source-native: text formats give every column as text exactly as written, and typing
happens later, row by row, so that one bad value cannot fail a whole file. Parquet and Avro keep
their own types.

Encoding policy (text formats): bytes that are not valid in the declared encoding never stop the
read and are never dropped silently. Each such byte sequence becomes U+FFFD in the value, the row
stays in its batch, and :attr:`FileReader.encoding_issues` gets one :class:`BadRow` per value
changed, with its row, column and the value as read. When the file also holds U+FFFD characters
of its own, those cannot be told apart from replacements and are reported too: the reader
reports too much rather than too little.
"""

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from gnomon.errors import InternalError, InvalidInput, NotFound
from gnomon.ingest.errors import UnreadableFile
from gnomon.ingest.files._context import ReadContext, Rebatcher
from gnomon.ingest.files._streams import REPLACEMENT
from gnomon.ingest.files.detect import detect_format
from gnomon.ingest.files.formats import format_reader
from gnomon.ingest.files.models import BadRow, ReadBatch, truncate_raw

if TYPE_CHECKING:
    from gnomon.ingest.files.spec import FileSourceSpec

__all__ = ["DEFAULT_BATCH_ROWS", "DEFAULT_BLOCK_SIZE", "FileReader", "read_file"]

DEFAULT_BATCH_ROWS = 250_000
DEFAULT_BLOCK_SIZE = 4 * 1024 * 1024
_MIN_BLOCK_SIZE = 1024
_TEXT_FORMATS = frozenset({"csv", "tsv", "json", "ndjson"})


class FileReader:
    """An iterator of :class:`ReadBatch` over one file; also a context manager that closes it.

    Iterate once. While iterating, ``bad_rows`` collects the records that could not be read at
    all (they are in no batch) and ``encoding_issues`` the values whose invalid bytes were
    replaced (their rows are in the batches). ``columns`` and ``schema`` may be asked before
    iterating: they read only as far as needed, and what they read is not read twice.
    ``bytes_read`` counts the file's bytes (compressed, as on disk) consumed so far and equals
    ``size`` at the end.

    Attributes:
        path: the file.
        format: the format it is read as (never ``auto``).
        compression: the compression it is read with (never ``auto``).
        size: its size on disk, in bytes.
        bad_rows: records that could not be parsed, in file order.
        encoding_issues: values changed because of invalid bytes (text formats).
        bytes_read: bytes consumed so far; only grows.
    """

    def __init__(
        self,
        path: Path,
        spec: "FileSourceSpec",
        *,
        batch_rows: int,
        block_size: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise NotFound(
                f"File not found: {path}.", hint="Check the path; was it moved?", file=str(path)
            ) from exc
        self.path = path
        self.format, self.compression = detect_format(path, spec)
        self.size = size
        self.bad_rows: list[BadRow] = []
        self.encoding_issues: list[BadRow] = []
        self.bytes_read = 0
        self._on_progress = on_progress
        self._context = ReadContext(
            path=path,
            spec=spec,
            format=self.format,
            compression=self.compression,
            size=size,
            batch_rows=batch_rows,
            block_size=block_size,
            bad_rows=self.bad_rows,
        )
        self._stack = ExitStack()
        self._segments: Generator[ReadBatch, None, None] | None = None
        self._held: list[ReadBatch] = []
        self._batches: Generator[ReadBatch, None, None] | None = None

    @property
    def columns(self) -> list[str] | None:
        """The file's column names in file order; ``None`` for a file with nothing in it.

        Asked before iterating, it reads just far enough to know them: the header (CSV, TSV,
        xlsx), the footer or header (Parquet, Avro) or the first batch (JSON, NDJSON). JSON
        formats end with the ``_extra`` column (see ``formats/json_records.py``); a file without
        a header has ``column_1``, ``column_2``, ….

        Raises:
            UnreadableFile: the file cannot be read far enough to know its columns.
        """
        self._look_ahead()
        return self._context.columns

    @property
    def schema(self) -> pa.Schema | None:
        """The Arrow schema of the batches; ``None`` for a file with nothing in it.

        Parquet and Avro give their own schema; text formats give every column as string. Read
        as :attr:`columns` is.
        """
        self._look_ahead()
        if self._context.schema is not None:
            return self._context.schema
        if self._context.columns is None:
            return None
        return pa.schema([(name, pa.string()) for name in self._context.columns])

    def __iter__(self) -> Iterator[ReadBatch]:
        """The batches, each of at most ``batch_rows`` consecutive records.

        Raises:
            UnreadableFile: the file cannot be read at all (batches before the damage have
                been yielded).
            InternalError: the reader was iterated a second time.
        """
        if self._batches is not None:
            raise InternalError(
                f"A FileReader of {self.path.name} was iterated twice.",
                hint="Call read_file again to read the file again.",
            )
        self._batches = self._read()
        return self._batches

    def _source(self) -> Generator[ReadBatch, None, None]:
        if self._segments is None:
            self._segments = format_reader(self.format)(self._context, self._stack)
        return self._segments

    def _look_ahead(self) -> None:
        """Read segments until the columns are known, holding them for the iteration."""
        if self._batches is not None or self._context.columns is not None:
            return
        source = self._source()
        while self._context.columns is None:
            segment = next(source, None)
            if segment is None:
                return
            self._held.append(segment)

    def _read(self) -> Generator[ReadBatch, None, None]:
        rebatcher = Rebatcher(self._context.batch_rows)
        with self._stack:
            source = self._source()
            held, self._held = self._held, []
            try:
                for segment in chain(held, source):
                    for batch in rebatcher.add(segment):
                        yield self._checked(batch)
            except UnreadableFile:
                for batch in rebatcher.flush():
                    yield self._checked(batch)
                raise
            for batch in rebatcher.flush():
                yield self._checked(batch)
        self._report(final=True)

    def _checked(self, batch: ReadBatch) -> ReadBatch:
        transcoder = self._context.transcoder
        if self.format in _TEXT_FORMATS and transcoder is not None and transcoder.replaced:
            self._find_replacements(batch, certain=not transcoder.genuine)
        self._report(final=False)
        return batch

    def _find_replacements(self, batch: ReadBatch, *, certain: bool) -> None:
        encoding = self._context.spec.options.encoding
        error = (
            f"bytes not valid in encoding {encoding!r} were replaced by U+FFFD"
            if certain
            else f"holds U+FFFD: bytes not valid in encoding {encoding!r} were replaced by it "
            "here, or the file contains the character itself"
        )
        for name, column in zip(batch.batch.schema.names, batch.batch.columns, strict=True):
            if not pa.types.is_string(column.type):
                continue
            hits = pc.indices_nonzero(pc.fill_null(pc.match_substring(column, REPLACEMENT), False))
            for index in hits.to_pylist():
                self.encoding_issues.append(
                    BadRow(
                        row=batch.first_row + index,
                        line=None,
                        raw=truncate_raw(column[index].as_py()),
                        error=error,
                        column=name,
                    )
                )

    def _report(self, *, final: bool) -> None:
        position = self.size if final else min(self._context.position(), self.size)
        self.bytes_read = max(self.bytes_read, position)
        if self._on_progress is not None:
            self._on_progress(self.bytes_read)

    def close(self) -> None:
        """Stop reading and close the file; safe to call more than once."""
        if self._batches is not None:
            self._batches.close()
        if self._segments is not None:
            self._segments.close()
        self._stack.close()

    def __enter__(self) -> "FileReader":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_file(
    path: Path,
    spec: "FileSourceSpec",
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    block_size: int = DEFAULT_BLOCK_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> FileReader:
    """Open ``path`` for reading as ``spec`` describes; nothing is read until iteration.

    Args:
        path: the file (one of :func:`expand_paths`' results).
        spec: the source, for format, compression and options.
        batch_rows: most rows per batch; with ``block_size`` it bounds the memory a read needs.
        block_size: bytes of text parsed at a time (CSV/TSV); one record must fit in it.
        on_progress: called with ``bytes_read`` after each batch and once at the end with the
            file's size.

    Raises:
        NotFound: the file does not exist.
        InvalidInput: a limit is out of range, or the format cannot be told (the message
            lists the formats).
    """
    if batch_rows < 1:
        raise InvalidInput(
            f"batch_rows must be at least 1, not {batch_rows}.",
            hint="Pass a positive number of rows.",
        )
    if block_size < _MIN_BLOCK_SIZE:
        raise InvalidInput(
            f"block_size must be at least {_MIN_BLOCK_SIZE} bytes, not {block_size}.",
            hint=f"Pass {DEFAULT_BLOCK_SIZE} unless records are larger than that.",
        )
    return FileReader(
        path, spec, batch_rows=batch_rows, block_size=block_size, on_progress=on_progress
    )
