"""Turn source files into one stream of bronze rows, memory bounded.

Bronze keeps everything a source delivered, including rows the reader could not parse: those land
with ``_parse_error`` and ``_raw`` set, so a load can be resumed (or replayed) from bronze alone,
without the original files, and nothing a source sent is ever lost.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from gnomon.ingest.files import BadRow, FileSourceSpec, read_file
from gnomon.lake import BATCH_COLUMN, INGESTED_AT_COLUMN, SOURCE_COLUMN, TENANT_COLUMN

__all__ = [
    "PARSE_ERROR_COLUMN",
    "RAW_COLUMN",
    "RECORD_COLUMN",
    "ROW_COLUMN",
    "LandingStats",
    "bronze_stream",
    "file_schema",
]

ROW_COLUMN = "_row"
"""A global ordinal of the row within its batch (file order, then record order): breaks ties."""
RECORD_COLUMN = "_record"
"""The 1-based record number inside its source file, for messages people can act on."""
PARSE_ERROR_COLUMN = "_parse_error"
RAW_COLUMN = "_raw"

_METADATA = (
    (TENANT_COLUMN, pa.string()),
    (INGESTED_AT_COLUMN, pa.timestamp("us", tz="UTC")),
    (BATCH_COLUMN, pa.string()),
    (SOURCE_COLUMN, pa.string()),
    (ROW_COLUMN, pa.int64()),
    (RECORD_COLUMN, pa.int64()),
    (PARSE_ERROR_COLUMN, pa.string()),
    (RAW_COLUMN, pa.string()),
)


@dataclass(slots=True)
class LandingStats:
    """Counters filled while the stream is consumed."""

    rows: int = 0
    bad_rows: int = 0
    bytes_read: int = 0
    encoding_issues: int = 0
    """Values whose bytes were invalid in the declared encoding (kept, with U+FFFD)."""


def file_schema(path: Path, spec: FileSourceSpec, *, batch_rows: int) -> pa.Schema | None:
    """The Arrow schema a file's batches will have (None for an empty file), read cheaply."""
    with read_file(path, spec, batch_rows=batch_rows, block_size=1 << 20) as reader:
        schema: pa.Schema | None = reader.schema
        return schema


def _union_schema(schemas: Sequence[pa.Schema | None]) -> pa.Schema:
    """Columns in first-seen order; a column typed differently in two files becomes a string."""
    fields: dict[str, pa.DataType] = {}
    for schema in schemas:
        if schema is None:
            continue
        for item in schema:
            known = fields.get(item.name)
            if known is None:
                fields[item.name] = item.type
            elif known != item.type:
                fields[item.name] = pa.string()
    return pa.schema(list(fields.items()))


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> list[pa.Array]:
    columns: list[pa.Array] = []
    for item in schema:
        index = batch.schema.get_field_index(item.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, type=item.type))
            continue
        column = batch.column(index)
        columns.append(column if column.type == item.type else column.cast(item.type))
    return columns


def _bad_rows_batch(
    bad: Sequence[BadRow], *, source_schema: pa.Schema, first_row: int
) -> list[pa.Array]:
    count = len(bad)
    columns = [pa.nulls(count, type=item.type) for item in source_schema]
    columns.append(_ordinals(first_row, count))
    columns.append(pa.array([b.row for b in bad], type=pa.int64()))
    columns.append(pa.array([_describe(b) for b in bad], type=pa.string()))
    columns.append(pa.array([b.raw for b in bad], type=pa.string()))
    return columns


def _describe(bad: BadRow) -> str:
    where = f"line {bad.line}" if bad.line is not None else f"record {bad.row}"
    column = f", column {bad.column}" if bad.column else ""
    return f"{where}{column}: {bad.error}"


def bronze_stream(
    paths: Sequence[Path],
    spec: FileSourceSpec,
    *,
    project_dir: Path,
    tenant: str,
    batch_id: str,
    ingested_at: datetime,
    batch_rows: int,
    block_size: int,
    stats: LandingStats,
    on_bytes: Callable[[int], None] | None = None,
) -> pa.RecordBatchReader:
    """A reader of every row of ``paths`` with bronze metadata columns, bad rows last per file."""
    source_schema = _union_schema([file_schema(p, spec, batch_rows=batch_rows) for p in paths])
    schema = pa.schema([*source_schema, *(pa.field(n, t) for n, t in _METADATA)])

    def batches() -> Iterator[pa.RecordBatch]:
        ordinal = 1
        bytes_before = 0
        for path in paths:
            label = _label(path, project_dir)
            with read_file(
                path,
                spec,
                batch_rows=batch_rows,
                block_size=block_size,
                on_progress=_offset(on_bytes, bytes_before),
            ) as reader:
                for item in reader:
                    n = item.batch.num_rows
                    if n == 0:
                        continue
                    meta = _metadata(
                        n, tenant=tenant, batch_id=batch_id, at=ingested_at, source=label
                    )
                    row_ids = _ordinals(ordinal, n)
                    records = _ordinals(item.first_row, n)
                    yield pa.RecordBatch.from_arrays(
                        [
                            *_conform(item.batch, source_schema),
                            *meta,
                            row_ids,
                            records,
                            pa.nulls(n, pa.string()),
                            pa.nulls(n, pa.string()),
                        ],
                        schema=schema,
                    )
                    ordinal += n
                    stats.rows += n
                stats.encoding_issues += len(reader.encoding_issues)
                if reader.bad_rows:
                    bad = reader.bad_rows
                    n = len(bad)
                    meta = _metadata(
                        n, tenant=tenant, batch_id=batch_id, at=ingested_at, source=label
                    )
                    tail = _bad_rows_batch(bad, source_schema=source_schema, first_row=ordinal)
                    yield pa.RecordBatch.from_arrays(
                        [*tail[: len(source_schema)], *meta, *tail[len(source_schema) :]],
                        schema=schema,
                    )
                    ordinal += n
                    stats.bad_rows += n
            bytes_before += path.stat().st_size
            stats.bytes_read = bytes_before

    return pa.RecordBatchReader.from_batches(schema, batches())


def _offset(on_bytes: Callable[[int], None] | None, base: int) -> Callable[[int], None] | None:
    """Progress in one file, reported as progress over all files."""
    if on_bytes is None:
        return None
    report = on_bytes

    def forward(done: int) -> None:
        report(base + done)

    return forward


def _metadata(n: int, *, tenant: str, batch_id: str, at: datetime, source: str) -> list[pa.Array]:
    return [
        pa.repeat(pa.scalar(tenant, type=pa.string()), n),
        pa.repeat(pa.scalar(at, type=pa.timestamp("us", tz="UTC")), n),
        pa.repeat(pa.scalar(batch_id, type=pa.string()), n),
        pa.repeat(pa.scalar(source, type=pa.string()), n),
    ]


def _ordinals(start: int, n: int) -> pa.Array:
    return pa.array(np.arange(start, start + n, dtype=np.int64))


def _label(path: Path, project_dir: Path) -> str:
    try:
        return str(path.resolve().relative_to(project_dir.resolve()))
    except ValueError:
        return str(path)
