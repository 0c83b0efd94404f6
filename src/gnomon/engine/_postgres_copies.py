"""Copies of lake table versions inside PostgreSQL, and the table that records them.

Policy: a table version is copied once and read many times. A copy is named after a hash of the
version's identity, so every process computes the same name, and the bookkeeping table
``<schema>._copies`` lists the copies that are complete. A copy is created, loaded and recorded
in one transaction under an advisory lock on its name: a second process asking for the same
version waits and then reuses it, and a crash half-way leaves nothing behind. Dropping a copy
removes its table and its record together, and skips a copy some query is reading right now.
"""

import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.dataset as pads

from gnomon.engine._postgres_types import column_type, csv_bytes
from gnomon.engine.protocols import TableSource
from gnomon.errors import ConfigError
from gnomon.optional import require

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql
    from psycopg.rows import TupleRow
else:
    psycopg = require("psycopg", extra="postgres")
    sql = psycopg.sql

__all__ = [
    "BOOKKEEPING_TABLE",
    "CopyInfo",
    "copy_name",
    "drop_copy",
    "ensure_copy",
    "ensure_schema",
    "list_copies",
    "load_temporary",
]

log = logging.getLogger(__name__)

BOOKKEEPING_TABLE = "_copies"
_HASH_CHARS = 16


@dataclass(frozen=True, slots=True)
class CopyInfo:
    """One copy of a lake table version, as the bookkeeping table records it.

    Attributes:
        name: the copy's table name inside the engine's schema.
        uri: the lake table's root location.
        version: the Delta version copied.
        files: how many Parquet files the version had.
        rows: how many rows were copied.
        label: the ``layer.name`` the copy was first made for (for people reading the schema).
        created_at: when the copy was completed, UTC.
    """

    name: str
    uri: str
    version: int
    files: int
    rows: int
    label: str
    created_at: datetime


def copy_name(source: TableSource) -> str:
    """``t_<hash>`` of (uri, version, files): the same name in every process.

    The file list is part of the identity because a caller may pass one version restricted to
    some of its files (a reader of what one commit added); for a whole version it follows from
    (uri, version) anyway.
    """
    identity = "\n".join([source.uri.rstrip("/"), str(source.version), *sorted(source.files)])
    return "t_" + hashlib.sha256(identity.encode()).hexdigest()[:_HASH_CHARS]


def _lock_key(*parts: str) -> int:
    digest = hashlib.sha256("\n".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _bookkeeping(schema: str) -> "sql.Composed":
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(BOOKKEEPING_TABLE))


def _qualified(schema: str, name: str) -> "sql.Composed":
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(name))


def ensure_schema(conn: "psycopg.Connection[TupleRow]", schema: str) -> None:
    """Create the schema and its bookkeeping table unless they exist (safe from many processes)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key("schema", schema)])
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                "name text PRIMARY KEY, uri text NOT NULL, version bigint NOT NULL, "
                "files integer NOT NULL, rows bigint NOT NULL, label text NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT now())"
            ).format(_bookkeeping(schema))
        )


def ensure_copy(
    conn: "psycopg.Connection[TupleRow]",
    schema: str,
    source: TableSource,
    *,
    label: str,
    batch_rows: int,
) -> bool:
    """Make sure the copy of ``source`` exists; ``True`` when this call created it.

    Raises:
        ConfigError: a file is not on a local file system.
        psycopg.Error: PostgreSQL refused something; the caller translates it.
        OSError: a Parquet file cannot be read (a vacuum may have removed it).
    """
    name = copy_name(source)
    files = [_local_path(path) for path in source.files]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_key("copy", schema, name)])
        found = conn.execute(
            sql.SQL("SELECT 1 FROM {} WHERE name = %s").format(_bookkeeping(schema)), [name]
        ).fetchone()
        if found is not None:
            return False
        table = _qualified(schema, name)
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, _columns(source.schema)))
        rows = _load(conn, table, source, files, batch_rows=batch_rows) if files else 0
        for column in source.partition_columns:
            # Rows arrive grouped by partition (one folder per value), so a BRIN index is tiny
            # and lets a tenant-scoped read skip the other tenants' blocks.
            conn.execute(
                sql.SQL("CREATE INDEX ON {} USING brin ({})").format(table, sql.Identifier(column))
            )
        conn.execute(sql.SQL("ANALYZE {}").format(table))
        conn.execute(
            sql.SQL(
                "INSERT INTO {} (name, uri, version, files, rows, label) "
                "VALUES (%s, %s, %s, %s, %s, %s)"
            ).format(_bookkeeping(schema)),
            [name, source.uri, source.version, len(files), rows, label],
        )
    log.info(
        "copied %s at version %d (%d rows, %d files) into %s.%s",
        label,
        source.version,
        rows,
        len(files),
        schema,
        name,
    )
    return True


def _load(
    conn: "psycopg.Connection[TupleRow]",
    table: "sql.Composed",
    source: TableSource,
    files: list[str],
    *,
    batch_rows: int,
) -> int:
    return _copy_in(conn, table, source.schema, _batches(source, files, batch_rows=batch_rows))


def _columns(schema: pa.Schema) -> "sql.Composed":
    return sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(field.name), sql.SQL(column_type(field.type)))
        for field in schema
    )


def _copy_in(
    conn: "psycopg.Connection[TupleRow]",
    table: "sql.Composed",
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
) -> int:
    """Stream ``batches`` into ``table`` with one ``COPY``, a batch of CSV at a time."""
    names = sql.SQL(", ").join(sql.Identifier(name) for name in schema.names)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(table, names)
    rows = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        for batch in batches:
            if batch.num_rows:
                copy.write(csv_bytes(batch))
                rows += batch.num_rows
    return rows


def load_temporary(
    conn: "psycopg.Connection[TupleRow]", name: str, data: pa.Table, *, batch_rows: int
) -> None:
    """Create ``pg_temp.<name>`` holding ``data``, dropped when the current transaction ends."""
    table = _qualified("pg_temp", name)
    conn.execute(
        sql.SQL("CREATE TEMPORARY TABLE {} ({}) ON COMMIT DROP").format(
            table, _columns(data.schema)
        )
    )
    _copy_in(conn, table, data.schema, data.to_batches(max_chunksize=batch_rows))


def _batches(source: TableSource, files: list[str], *, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """The version's rows in the snapshot's column order, partition values from the paths.

    Files written before a column was added read it as NULL (the dataset's schema is the
    snapshot's). Read-ahead is kept to one batch and one file, so memory stays bounded.
    """
    partitioning = None
    if source.partition_columns:
        fields = [source.schema.field(column) for column in source.partition_columns]
        partitioning = pads.partitioning(pa.schema(fields), flavor="hive")
    dataset = pads.dataset(
        files,
        schema=source.schema,
        format="parquet",
        partitioning=partitioning,
        partition_base_dir=_local_path(source.uri),
    )
    names = source.schema.names
    yield from dataset.to_batches(
        columns=names, batch_size=batch_rows, batch_readahead=1, fragment_readahead=1
    )


def list_copies(conn: "psycopg.Connection[TupleRow]", schema: str) -> list[CopyInfo]:
    """Every recorded copy, oldest first."""
    rows = conn.execute(
        sql.SQL(
            "SELECT name, uri, version, files, rows, label, created_at FROM {} "
            "ORDER BY created_at, name"
        ).format(_bookkeeping(schema))
    ).fetchall()
    return [
        CopyInfo(
            name=row[0],
            uri=row[1],
            version=row[2],
            files=row[3],
            rows=row[4],
            label=row[5],
            created_at=row[6],
        )
        for row in rows
    ]


def drop_copy(conn: "psycopg.Connection[TupleRow]", schema: str, name: str) -> bool:
    """Drop one copy and its record; ``False`` when a query is reading it now (kept for later).

    Raises:
        psycopg.Error: anything but the lock being taken; the caller translates it.
    """
    table = _qualified(schema, name)
    try:
        with conn.transaction():
            exists = conn.execute(
                "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s", [schema, name]
            ).fetchone()
            if exists is not None:
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(table))
                conn.execute(sql.SQL("DROP TABLE {}").format(table))
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE name = %s").format(_bookkeeping(schema)), [name]
            )
    except psycopg.errors.LockNotAvailable:
        log.info("kept %s.%s: a query is reading it", schema, name)
        return False
    return True


def _local_path(location: str) -> str:
    """An absolute local path for a path or ``file://`` URI.

    Raises:
        ConfigError: the location is on an object store.
    """
    if location.startswith("file://"):
        location = unquote(urlparse(location).path)
    elif "://" in location:
        raise ConfigError(
            f"The PostgreSQL engine copies local lake files only: {location} is remote.",
            hint="Keep the lake on a local or mounted file system for this engine.",
            location=location,
        )
    return os.path.normpath(Path(location).absolute())
