"""Writing a stream as the Parquet files of a Delta table, for one commit to add afterwards.

Why not delta-rs's own writer for large appends: it buffers much of its input (a 575 MB CSV
landed at 1.8 GB of memory whatever the target file size), and it reads its input and encodes
Parquet on one thread. Here the input is read ahead on a second thread while the Parquet encoder
works (both release the GIL), every row group is written as soon as its batch arrives, and files
roll over at a row limit, so memory is bounded by a few batches.

The files follow delta-rs's layout: ``<column>=<value>/part-<n>-<uuid>-c000.snappy.parquet``
under the table root, the partition column left out of the file and the value escaped as
delta-rs escapes it (every byte other than ASCII letters, digits, ``_``, ``.`` and ``-`` as
``%XX``). Files nothing commits are invisible to readers and removed by vacuum, which is what
keeps a crash before the commit harmless.
"""

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction

__all__ = [
    "PartitionedFiles",
    "WrittenFile",
    "delta_schema",
    "dictionary_columns",
    "partition_folder",
    "plain_type",
    "prefetched",
]

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_END = object()
_POLL_SECONDS = 0.1


def partition_folder(column: str, value: str) -> str:
    """``column=value`` with the value escaped byte by byte, as delta-rs names the folder."""
    escaped = "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in value.encode("utf-8"))
    return f"{column}={escaped}"


_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "+00:00", "Z", "Etc/Universal", "Universal", "Zulu"})


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as Delta reads it back: UTC timestamps labelled ``UTC``, whatever the alias.

    DuckDB labels its UTC timestamps ``Etc/UTC``; the values are the same instants, and
    relabelling them costs nothing, so they are written as the table declares them.
    """
    fields = [
        field.with_type(pa.timestamp(field.type.unit, tz="UTC"))
        if pa.types.is_timestamp(field.type) and field.type.tz in _UTC_NAMES
        else field
        for field in schema
    ]
    return pa.schema(fields, metadata=schema.metadata)


def plain_type(data_type: pa.DataType) -> bool:
    """Whether Delta stores the type as Arrow writes it, with no table feature or conversion.

    Other types (unsigned or nanosecond values, naive timestamps, nested and dictionary
    columns …) need delta-rs to convert them or to turn on a table feature, so their writes
    stay with delta-rs.
    """
    if pa.types.is_timestamp(data_type):
        return bool(data_type.unit == "us" and data_type.tz in _UTC_NAMES)
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_boolean(data_type)
        or pa.types.is_signed_integer(data_type)
        or (pa.types.is_floating(data_type) and not pa.types.is_float16(data_type))
        or pa.types.is_decimal128(data_type)
        or pa.types.is_date32(data_type)
        or pa.types.is_binary(data_type)
    )


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One finished data file: where it is (relative to the table), what it holds."""

    path: str
    size: int
    partition: tuple[str, str]
    rows: int
    null_counts: dict[str, int]

    def action(self, *, modified_ms: int) -> AddAction:
        """The Delta add action for the file, with its row and null counts as statistics.

        Min and max values are left out: readers then never skip the file on a value
        predicate, which is always correct, whereas a wrongly rendered bound would drop rows.
        """
        stats = json.dumps({"numRecords": self.rows, "nullCount": self.null_counts})
        return AddAction(
            path=self.path,
            size=self.size,
            partition_values={self.partition[0]: self.partition[1]},
            modification_time=modified_ms,
            data_change=True,
            stats=stats,
        )


class _OpenFile:
    def __init__(
        self,
        root: Path,
        relative: str,
        schema: pa.Schema,
        dictionary: bool | list[str],
        statistics: bool | list[str],
    ) -> None:
        self.relative = relative
        self.path = root / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self.counted_nulls: dict[str, int] = {}
        """Nulls of the columns written without statistics, counted from the batches."""
        self.writer = pq.ParquetWriter(
            str(self.path),
            schema,
            compression="snappy",
            write_statistics=statistics,
            use_dictionary=dictionary,
        )


_SAMPLE_ROWS = 4096
"""Below this many rows a first batch says little about a column; every column keeps the
dictionary then, as Parquet writers do by default."""
_DICTIONARY_SHARE = 4
"""A column is dictionary-encoded when at most one in this many of its sampled values differ."""
_SAMPLE_LIMIT = 32_768
"""At most this many rows of the first batch are judged: counting distinct values of every
column of a large batch costs more than a tenth of landing it."""


def dictionary_columns(batch: pa.RecordBatch) -> bool | list[str]:
    """The columns worth dictionary-encoding, judged on a first batch.

    Why not every column, as by default: for a column of mostly distinct values (ids,
    timestamps as text) the encoder hashes values into a dictionary until it grows too large,
    then starts over in plain encoding, in every row group. That costs about a third of the
    time to write such data and makes the files larger, not smaller. Columns whose values
    repeat (categories, codes, constant metadata) keep the dictionary.
    """
    if batch.num_rows < _SAMPLE_ROWS:
        return True
    batch = batch.slice(0, _SAMPLE_LIMIT)
    chosen = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        if pa.types.is_nested(column.type) or pa.types.is_dictionary(column.type):
            chosen.append(name)
            continue
        present = len(column) - column.null_count
        if present == 0:
            chosen.append(name)
            continue
        try:
            distinct = pc.count_distinct(column, mode="only_valid").as_py()
        except pa.ArrowNotImplementedError:
            chosen.append(name)
            continue
        if distinct * _DICTIONARY_SHARE <= present:
            chosen.append(name)
    return chosen


class PartitionedFiles:
    """Writes batches into Parquet files partitioned by one string column.

    Args:
        root: the table's folder.
        schema: the batches' schema, partition column included.
        partition_column: the column whose value picks the folder (``_tenant_id``).
        file_rows: rows after which a file is closed and the next one started.
        row_group_rows: most rows per row group; a batch is never held back to fill one.
        text_statistics: which text columns get Parquet statistics (minimum, maximum): all
            (``True``), none (``False``) or the columns named. Computing them is about a fifth
            of the cost of encoding text, and they only help a reader skip row groups on a
            value filter, which pays only where the values run in order (keys, say); the null
            counts of the files' Delta statistics are counted from the batches instead.
    """

    def __init__(
        self,
        root: Path,
        schema: pa.Schema,
        *,
        partition_column: str,
        file_rows: int,
        row_group_rows: int,
        text_statistics: bool | Collection[str] = True,
    ) -> None:
        self._root = root
        self._schema = delta_schema(schema)
        self._column = partition_column
        self._index = schema.get_field_index(partition_column)
        self._file_schema = self._schema.remove(self._index)
        measured = (
            set(self._file_schema.names) if text_statistics is True else set(text_statistics or ())
        )
        self._unmeasured = [
            f.name for f in self._file_schema if _is_text(f.type) and f.name not in measured
        ]
        self._statistics: bool | list[str] = (
            [n for n in self._file_schema.names if n not in self._unmeasured]
            if self._unmeasured
            else True
        )
        self._file_rows = file_rows
        self._row_group_rows = row_group_rows
        self._prefix = uuid.uuid4()
        self._sequence = 0
        self._open: dict[str, _OpenFile] = {}
        self._done: list[WrittenFile] = []
        self._started: list[Path] = []
        self._dictionary: bool | list[str] | None = None

    def write(self, batch: pa.RecordBatch) -> None:
        """Add a batch's rows to the file of each partition value it holds."""
        if not batch.num_rows:
            return
        if batch.schema != self._schema:
            batch = batch.cast(self._schema)
        if self._dictionary is None:
            self._dictionary = dictionary_columns(batch.remove_column(self._index))
        values = batch.column(self._index)
        distinct = pc.unique(values).to_pylist()
        if len(distinct) == 1:
            self._write_part(str(distinct[0]), batch.remove_column(self._index))
            return
        for value in distinct:
            part = batch.filter(pc.equal(values, pa.scalar(value, values.type)))
            self._write_part(str(value), part.remove_column(self._index))

    def close(self) -> list[WrittenFile]:
        """Finish every open file; the files written, in the order they were started."""
        for value in list(self._open):
            self._finish(value)
        return sorted(self._done, key=lambda f: f.path)

    def abort(self) -> None:
        """Close and delete every file started: nothing references them."""
        for handle in self._open.values():
            handle.writer.close()
        self._open.clear()
        for path in self._started:
            path.unlink(missing_ok=True)

    def _write_part(self, value: str, batch: pa.RecordBatch) -> None:
        offset = 0
        while offset < batch.num_rows:
            handle = self._open.get(value) or self._start(value)
            take = min(batch.num_rows - offset, self._file_rows - handle.rows)
            part = batch.slice(offset, take)
            handle.writer.write_batch(part, row_group_size=self._row_group_rows)
            for name in self._unmeasured:
                nulls = part.column(name).null_count
                handle.counted_nulls[name] = handle.counted_nulls.get(name, 0) + nulls
            handle.rows += take
            offset += take
            if handle.rows >= self._file_rows:
                self._finish(value)

    def _start(self, value: str) -> _OpenFile:
        name = f"part-{self._sequence:05d}-{self._prefix}-c000.snappy.parquet"
        self._sequence += 1
        handle = _OpenFile(
            self._root,
            f"{partition_folder(self._column, value)}/{name}",
            self._file_schema,
            True if self._dictionary is None else self._dictionary,
            self._statistics,
        )
        self._started.append(handle.path)
        self._open[value] = handle
        return handle

    def _finish(self, value: str) -> None:
        handle = self._open.pop(value)
        handle.writer.close()
        metadata = pq.read_metadata(str(handle.path))
        nulls = dict.fromkeys(self._file_schema.names, 0)
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            for index in range(row_group.num_columns):
                column = row_group.column(index)
                stats = column.statistics
                name = column.path_in_schema
                if stats is not None and stats.has_null_count and name in nulls:
                    nulls[name] += stats.null_count
        for name, count in handle.counted_nulls.items():
            nulls[name] += count
        self._done.append(
            WrittenFile(
                path=handle.relative,
                size=handle.path.stat().st_size,
                partition=(self._column, value),
                rows=handle.rows,
                null_counts=nulls,
            )
        )


def _is_text(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_string(data_type) or pa.types.is_large_string(data_type))


def modified_now() -> int:
    """Milliseconds since the epoch, as Delta records a file's modification time."""
    return int(time.time() * 1000)


def prefetched(reader: pa.RecordBatchReader, *, depth: int = 2) -> Iterator[pa.RecordBatch]:
    """The reader's batches, read ahead by up to ``depth`` on a thread of their own.

    Reading (CSV parsing, a DuckDB query) and writing (Parquet encoding) both release the GIL,
    so on two cores they overlap. An error raised while reading is raised here, as it was
    raised; stopping early (an error while writing) stops the thread after its current batch.
    """
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def produce() -> None:
        try:
            for batch in reader:
                if not offer(batch):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            offer(exc)
            return
        finally:
            reader.close()
        offer(_END)

    thread = threading.Thread(target=produce, name="gnomon-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        _drain(handoff)
        thread.join()


def _drain(handoff: "queue.Queue[Any]") -> None:
    while True:
        try:
            handoff.get_nowait()
        except queue.Empty:
            return


def write_stream(
    reader: pa.RecordBatchReader,
    files: PartitionedFiles,
    *,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
) -> list[WrittenFile]:
    """Write every batch of ``reader``; on any error the files are deleted and it re-raises."""
    try:
        for batch in prefetched(reader):
            if on_batch is not None:
                on_batch(batch)
            files.write(batch)
        return files.close()
    except BaseException:
        files.abort()
        raise
