"""PostgreSQL: the third engine, which answers over copies of lake table versions.

How lake tables are read (see docs/engine-postgres.md): PostgreSQL cannot read Parquet, so each
table version a query needs is copied into the engine's schema once (``COPY … FROM STDIN``,
batch by batch) and reused by every later query and every other process, until
:meth:`PostgresEngine.drop_copies` removes it. The tree's ``layer.name`` references are rewritten
to the copy's qualified name, so two versions of one table can be read side by side.

Defence in depth: every query runs in a READ ONLY transaction with a statement timeout and
``search_path`` set to ``pg_catalog``, and a tree may read only the lake tables it was given, its
own CTEs, the relations passed with it, table functions and materialised results, so even a query
that slipped past :func:`gnomon.engine.parse_read_only` can neither write a table nor read
another one. The transaction ends in ROLLBACK and a pooled connection is reset (``DISCARD ALL``)
before reuse, so what READ ONLY does not cover (large objects, session settings, advisory locks)
does not outlive the query either; only a materialisation and a stream over a materialised result
must commit, and for those the function allow-list of ``parse_read_only`` is the guard.

Materialised results are session-local temporary tables. They live on one dedicated connection,
and every query that reads one runs there; other queries take a connection from a small pool.
"""

import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from gnomon.engine._postgres_copies import (
    CopyInfo,
    copy_name,
    drop_copy,
    ensure_copy,
    ensure_schema,
    list_copies,
    load_temporary,
)
from gnomon.engine._postgres_errors import (
    connection_error,
    display_url,
    first_line,
    translate,
)
from gnomon.engine._postgres_types import ResultColumn, result_columns, result_schema, to_batch
from gnomon.engine._references import LAYERS, lake_key, table_references
from gnomon.engine.errors import QueryError, UnboundTable
from gnomon.engine.protocols import TableSource
from gnomon.errors import ConfigError, GnomonError, InternalError, InvalidInput
from gnomon.optional import require

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow
else:
    psycopg = require("psycopg", extra="postgres")

__all__ = ["CopyInfo", "PostgresEngine"]

log = logging.getLogger(__name__)

_DIALECT = "postgres"
_SCRATCH_SCHEMA = "pg_temp"
"""Where :meth:`PostgresEngine.materialize` puts its tables: the session's own temporary schema."""
_LAYER_SET = frozenset(LAYERS)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FETCH_ROWS = 10_000
_SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=postgres"
"""Timestamps are stored in UTC; a session zone would shift ``date_trunc`` and naive values."""


@dataclass(slots=True)
class _Bound:
    """A tree bound to this engine: its SQL and what must be in place before it runs."""

    sql: str
    copies: dict[str, TableSource]
    labels: dict[str, str]
    relations: list[tuple[str, pa.Table]] = field(default_factory=list)
    scratch: bool = False


class _Pool:
    """Idle connections kept for reuse; a call takes one for itself and gives it back."""

    def __init__(self, connect: Callable[[], "psycopg.Connection[TupleRow]"], keep: int) -> None:
        self._connect = connect
        self._keep = keep
        self._idle: list[psycopg.Connection[TupleRow]] = []
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> "psycopg.Connection[TupleRow]":
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        return conn if conn is not None else self._connect()

    def give(self, conn: "psycopg.Connection[TupleRow]") -> None:
        """Keep ``conn`` for the next call, reset to how it was opened, or close it."""
        idle = psycopg.pq.TransactionStatus.IDLE
        healthy = not conn.closed and conn.info.transaction_status == idle
        with self._lock:
            keep = healthy and not self._closed and len(self._idle) < self._keep
        if keep:
            try:
                # Settings, advisory locks, cursors and temporary tables a call left behind.
                conn.execute("DISCARD ALL")
            except psycopg.Error:
                keep = False
        if keep:
            with self._lock:
                if not self._closed:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class PostgresEngine:
    """Runs queries in PostgreSQL over copies of the lake table versions they read.

    Thread-safe: each call takes its own connection, except queries reading a materialised
    result, which share the one connection holding those tables (one at a time).

    Args:
        url: ``postgresql://user:password@host:5432/database`` (``postgresql+psycopg://`` and
            key=value connection strings work too).
        schema: where copies and their bookkeeping table live; lower-case letters, digits and
            ``_``. Every process using the same schema shares the copies.
        statement_timeout_s: longest a query may run, in seconds; ``None`` for no limit.
        connect_timeout_s: how long to wait for the server when connecting, in seconds.
        copy_batch_rows: rows read from Parquet and sent per ``COPY`` chunk; bounds memory.
        max_idle_connections: connections kept open between calls.

    Raises:
        ConfigError: a setting is invalid.
    """

    name = "postgres"
    dialect = _DIALECT

    def __init__(
        self,
        url: str,
        *,
        schema: str = "gnomon_engine",
        statement_timeout_s: float | None = 300.0,
        connect_timeout_s: float = 5.0,
        copy_batch_rows: int = 65_536,
        max_idle_connections: int = 4,
    ) -> None:
        _check_settings(
            schema=schema,
            statement_timeout_s=statement_timeout_s,
            connect_timeout_s=connect_timeout_s,
            copy_batch_rows=copy_batch_rows,
            max_idle_connections=max_idle_connections,
        )
        self._conninfo = _conninfo(url)
        self._where = display_url(self._conninfo)
        self._schema = schema
        self._timeout_ms = None if statement_timeout_s is None else int(statement_timeout_s * 1000)
        self._connect_timeout = max(1, round(connect_timeout_s))
        self._batch_rows = copy_batch_rows
        self._lock = threading.RLock()
        self._known: set[str] = set()
        self._schema_ready = False
        self._sequence = itertools.count(1)
        self._copies_created = 0
        self._closed = False
        self._pool = _Pool(self._connect, max_idle_connections)
        self._scratch: psycopg.Connection[TupleRow] | None = None
        self._scratch_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"PostgresEngine({self._where!r}, schema={self._schema!r})"

    @property
    def schema(self) -> str:
        """The schema holding the copies."""
        return self._schema

    @property
    def copies_created(self) -> int:
        """How many table versions this engine has copied so far (copies it did not reuse)."""
        return self._copies_created

    # ------------------------------------------------------------------ the Engine protocol

    def execute(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Run the query and return its rows, at most ``limit`` of them.

        Rows are fetched through a server-side cursor, so with a limit PostgreSQL stops once
        enough rows have been produced. Copies the query needs are made first (once per
        version); the read-only transaction is rolled back at the end.

        Raises:
            InvalidInput: ``limit`` is negative or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: PostgreSQL refused the query, or the tree reads a table it was not
                given.
            EngineUnavailable: PostgreSQL is unreachable, out of resources, or the statement
                timeout cancelled the query.
        """
        if limit is not None and limit < 0:
            raise InvalidInput(
                f"The row limit must not be negative: {limit}.",
                hint="Pass 0 or more, or None for every row.",
            )
        bound = self._bind(tree, tables, relations)
        with self._session(scratch=bound.scratch) as conn:
            cursor = self._open(conn, bound, hold=False)
            try:
                table = _fetch(cursor, limit)
                cursor.close()
                conn.execute("ROLLBACK")
            except psycopg.Error as exc:
                _rollback(conn, cursor)
                raise translate(exc, sql=bound.sql, where=self._where) from exc
            except BaseException:
                _rollback(conn, cursor)
                raise
        return table

    def stream(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        batch_rows: int = 100_000,
    ) -> pa.RecordBatchReader:
        """Run the query and hand back its rows in batches of at most ``batch_rows``.

        A server-side cursor produces the rows as they are read; the reader keeps its
        connection and read-only transaction until it is exhausted or closed. A query reading
        a materialised result uses a ``WITH HOLD`` cursor instead, which PostgreSQL fills
        completely (spilling to disk) before the first batch, so that the shared connection
        stays free between batches.

        Raises:
            InvalidInput: ``batch_rows`` is below 1 or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: PostgreSQL refused the query; errors while reading batches are
                translated the same way.
            EngineUnavailable: PostgreSQL is unreachable, out of resources, or timed out.
        """
        if batch_rows < 1:
            raise InvalidInput(
                f"batch_rows must be at least 1, not {batch_rows}.",
                hint="Use the default of 100,000 unless rows are very wide.",
            )
        bound = self._bind(tree, tables, relations)
        if bound.scratch:
            return self._stream_held(bound, batch_rows)
        conn = self._take()
        try:
            cursor = self._open(conn, bound, hold=False)
        except BaseException:
            self._pool.give(conn)
            raise
        columns = result_columns(cursor.description or [])
        batches = self._batches(
            cursor, columns, batch_rows, bound.sql, end=lambda: _end(cursor, conn)
        )
        return pa.RecordBatchReader.from_batches(
            result_schema(columns), _returning(batches, lambda: self._pool.give(conn))
        )

    @contextmanager
    def materialize(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        name: str = "result",
    ) -> Iterator[exp.Table]:
        """Run the query once into a temporary table, for several later queries to read.

        Yields the table's expression (``pg_temp."<name>#<n>"``) to use in later trees; the
        table is dropped when the block ends. The query itself runs read-only: the table is
        created empty first (``WITH NO DATA``), then filled by an ``INSERT`` inside a READ ONLY
        transaction, which PostgreSQL allows for temporary tables only. The caller scopes
        ``tree`` (tenant, policies) before it is materialised.

        Raises:
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: PostgreSQL refused the query.
            EngineUnavailable: PostgreSQL is unreachable, out of resources, or timed out.
        """
        bound = self._bind(tree, tables, None)
        table = exp.Table(
            this=exp.to_identifier(f"{name[:40]}#{next(self._sequence)}", quoted=True),
            db=exp.to_identifier(_SCRATCH_SCHEMA, quoted=True),
        )
        target = table.sql(dialect=_DIALECT)
        with self._session(scratch=True) as conn:
            self._fill(conn, bound, target)
        try:
            yield table
        finally:
            with self._scratch_lock:
                scratch = self._scratch
                if scratch is not None and not scratch.closed:
                    try:
                        scratch.execute(f"DROP TABLE IF EXISTS {target}".encode())
                    except psycopg.Error as exc:
                        log.warning("could not drop %s: %s", target, first_line(exc))

    def close(self) -> None:
        """Close the connections; queries still streaming keep theirs until done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pool.close()
        with self._scratch_lock:
            if self._scratch is not None:
                self._scratch.close()
                self._scratch = None

    def __enter__(self) -> "PostgresEngine":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ managing copies

    def ensure_copies(self, tables: Mapping[str, TableSource]) -> None:
        """Copy the given table versions now, so that the first query does not wait for it.

        Raises:
            EngineUnavailable: PostgreSQL is unreachable.
            QueryError: a value of the table cannot be stored in PostgreSQL.
        """
        self._ensure({copy_name(source): source for source in tables.values()}, dict(tables))

    def copies(self) -> list[CopyInfo]:
        """Every copy recorded in the schema (by any process), oldest first."""
        self._prepare_schema()
        with self._session(scratch=False) as conn:
            try:
                return list_copies(conn, self._schema)
            except psycopg.Error as exc:
                raise translate(exc, sql=None, where=self._where) from exc

    def drop_copies(
        self, *, keep: Iterable[TableSource] = (), other_tables: bool = False
    ) -> list[str]:
        """Drop superseded copies and return the names of those dropped.

        A copy is superseded when ``keep`` holds another version of its table (same ``uri``);
        with ``other_tables=True`` copies of tables not in ``keep`` go too, so
        ``drop_copies(other_tables=True)`` empties the schema. A copy some query is reading
        right now is skipped, to be dropped by a later call.

        Raises:
            EngineUnavailable: PostgreSQL is unreachable.
        """
        kept = list(keep)
        keep_names = {copy_name(source) for source in kept}
        keep_uris = {source.uri.rstrip("/") for source in kept}
        dropped: list[str] = []
        for copy in self.copies():
            if copy.name in keep_names:
                continue
            if not other_tables and copy.uri.rstrip("/") not in keep_uris:
                continue
            with self._session(scratch=False) as conn:
                try:
                    done = drop_copy(conn, self._schema, copy.name)
                except psycopg.Error as exc:
                    raise translate(exc, sql=None, where=self._where) from exc
            if done:
                dropped.append(copy.name)
                with self._lock:
                    self._known.discard(copy.name)
        return dropped

    # ------------------------------------------------------------------ binding

    def _bind(
        self,
        tree: exp.Expr,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None,
    ) -> _Bound:
        """Render the tree with each table reference pointing at what this engine holds."""
        self._check_open()
        if not isinstance(tree, exp.Query | exp.Values):
            raise QueryError(
                f"The engine runs single queries only, not {tree.key.upper()}.",
                hint="Pass one SELECT, WITH … SELECT, set operation or VALUES query.",
            )
        by_name = _relations(relations)
        given = {name.lower(): source for name, source in tables.items()}
        bound = tree.copy()
        copies: dict[str, TableSource] = {}
        labels: dict[str, str] = {}
        temporary: dict[str, str] = {}
        missing: set[str] = set()
        scratch = False
        for reference in table_references(bound):
            node = reference.node
            key = lake_key(node)
            if key is not None:
                label = f"{key[0]}.{key[1]}"
                source = given.get(label)
                if source is None:
                    missing.add(label)
                    continue
                name = copy_name(source)
                copies[name] = source
                labels[name] = label
                _point_at(node, self._schema, name)
            elif reference.names_cte or not isinstance(node.this, exp.Identifier):
                continue
            elif _is_scratch(node):
                scratch = True
            elif _unqualified(node) and node.name.lower() in by_name:
                rel = temporary.setdefault(node.name.lower(), f"r_{next(self._sequence)}")
                _point_at(node, _SCRATCH_SCHEMA, rel)
            else:
                raise QueryError(
                    f"The query reads a table the engine was not given: {node.sql()}.",
                    hint="Read lake tables as layer.name (passing their versions), CTEs, "
                    "relations passed with the query, or a materialised result.",
                    table=node.sql(),
                )
        if missing:
            raise UnboundTable(
                f"No table version was given for {', '.join(sorted(missing))}.",
                hint="Pass a snapshot for each lake table the query reads in tables= "
                f"(given: {', '.join(sorted(given)) or 'none'}).",
                tables=sorted(missing),
            )
        for column in bound.find_all(exp.Column):
            db = column.args.get("db")
            if isinstance(db, exp.Identifier) and db.name.lower() in _LAYER_SET:
                column.set("db", None)
                column.set("catalog", None)
        self._ensure(copies, labels)
        return _Bound(
            sql=bound.sql(dialect=_DIALECT, identify=True, comments=False),
            copies=copies,
            labels=labels,
            relations=[(temporary[name], by_name[name]) for name in temporary],
            scratch=scratch,
        )

    def _ensure(self, copies: Mapping[str, TableSource], labels: Mapping[str, Any]) -> None:
        with self._lock:
            needed = {name: source for name, source in copies.items() if name not in self._known}
        if not needed:
            return
        self._prepare_schema()
        with self._session(scratch=False) as conn:
            for name, source in sorted(needed.items()):
                label = str(labels.get(name, source.uri))
                try:
                    created = ensure_copy(
                        conn, self._schema, source, label=label, batch_rows=self._batch_rows
                    )
                except psycopg.Error as exc:
                    raise _copy_error(exc, label, source, where=self._where) from exc
                except OSError as exc:
                    raise InternalError(
                        f"Could not read {label} at version {source.version}: {first_line(exc)}",
                        hint="Check that the table's files still exist (a vacuum may have "
                        "removed them).",
                        uri=source.uri,
                        version=source.version,
                    ) from exc
                with self._lock:
                    self._known.add(name)
                    self._copies_created += int(created)

    def _prepare_schema(self) -> None:
        with self._lock:
            if self._schema_ready:
                return
        with self._session(scratch=False) as conn:
            try:
                ensure_schema(conn, self._schema)
            except psycopg.Error as exc:
                raise translate(exc, sql=None, where=self._where) from exc
        with self._lock:
            self._schema_ready = True

    # ------------------------------------------------------------------ running

    def _connect(self) -> "psycopg.Connection[TupleRow]":
        try:
            conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                application_name="gnomon-engine",
                client_encoding="UTF8",
                options=_SESSION_OPTIONS + " -c search_path=pg_catalog",
                prepare_threshold=None,
            )
        except psycopg.Error as exc:
            raise connection_error(exc, where=self._where) from exc
        text = psycopg.types.string.TextLoader
        for json_type in ("json", "jsonb"):
            conn.adapters.register_loader(json_type, text)
        return conn

    def _take(self) -> "psycopg.Connection[TupleRow]":
        self._check_open()
        return self._pool.take()

    @contextmanager
    def _session(self, *, scratch: bool) -> Iterator["psycopg.Connection[TupleRow]"]:
        """A connection for one call: the shared scratch one (locked) or one of the pool."""
        if scratch:
            with self._scratch_lock:
                self._check_open()
                if self._scratch is None or self._scratch.closed:
                    self._scratch = self._connect()
                try:
                    yield self._scratch
                finally:
                    _reset(self._scratch)
            return
        conn = self._take()
        try:
            yield conn
        finally:
            self._pool.give(conn)

    def _open(
        self, conn: "psycopg.Connection[TupleRow]", bound: _Bound, *, hold: bool
    ) -> "psycopg.ServerCursor[TupleRow]":
        """Begin the read-only transaction and declare the query's cursor in it.

        A copy dropped by another process since it was looked up is made again, once.
        """
        for attempt in (1, 2):
            cursor: psycopg.ServerCursor[TupleRow] | None = None
            try:
                self._begin(conn, bound)
                cursor = conn.cursor(name=f"gnomon_{next(self._sequence)}", withhold=hold)
                cursor.execute(bound.sql.encode())
                return cursor
            except psycopg.errors.UndefinedTable as exc:
                _rollback(conn, cursor)
                stale = self._stale_copies(conn, bound)
                if attempt == 2 or not stale:
                    raise translate(exc, sql=bound.sql, where=self._where) from exc
                with self._lock:
                    self._known.difference_update(stale)
                self._ensure({name: bound.copies[name] for name in stale}, bound.labels)
            except psycopg.Error as exc:
                _rollback(conn, cursor)
                raise translate(exc, sql=bound.sql, where=self._where) from exc
        raise InternalError("Unreachable: the query was neither run nor refused.")

    def _begin(self, conn: "psycopg.Connection[TupleRow]", bound: _Bound) -> None:
        conn.execute("BEGIN")
        for name, data in bound.relations:
            load_temporary(conn, name, data, batch_rows=self._batch_rows)
        if bound.copies:
            # Holding the copies from here on means no drop_copies can remove them mid-query.
            names = ", ".join(f'"{self._schema}"."{name}"' for name in sorted(bound.copies))
            conn.execute(f"LOCK TABLE {names} IN ACCESS SHARE MODE".encode())
        conn.execute("SET TRANSACTION READ ONLY")
        if self._timeout_ms is not None:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", [str(self._timeout_ms)]
            )

    def _stale_copies(self, conn: "psycopg.Connection[TupleRow]", bound: _Bound) -> list[str]:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename = ANY(%s)",
            [self._schema, list(bound.copies)],
        ).fetchall()
        present = {str(row[0]) for row in rows}
        return sorted(name for name in bound.copies if name not in present)

    def _fill(self, conn: "psycopg.Connection[TupleRow]", bound: _Bound, target: str) -> None:
        """Create ``target`` like the query's result, then fill it in a read-only transaction."""
        try:
            conn.execute(f"CREATE TEMPORARY TABLE {target} AS {bound.sql} WITH NO DATA".encode())
        except psycopg.Error as exc:
            raise translate(exc, sql=bound.sql, where=self._where) from exc
        try:
            self._begin(conn, bound)
            conn.execute(f"INSERT INTO {target} {bound.sql}".encode())
            conn.execute("COMMIT")
            conn.execute(f"ANALYZE {target}".encode())
        except psycopg.Error as exc:
            _rollback(conn)
            try:
                conn.execute(f"DROP TABLE IF EXISTS {target}".encode())
            except psycopg.Error:
                log.warning("could not drop %s after a failed fill", target)
            raise translate(exc, sql=bound.sql, where=self._where) from exc

    def _stream_held(self, bound: _Bound, batch_rows: int) -> pa.RecordBatchReader:
        with self._session(scratch=True) as conn:
            cursor = self._open(conn, bound, hold=True)
            try:
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                _rollback(conn, cursor)
                raise translate(exc, sql=bound.sql, where=self._where) from exc
        columns = result_columns(cursor.description or [])

        def close_cursor() -> None:
            with self._scratch_lock:
                if not cursor.closed and not cursor.connection.closed:
                    cursor.close()

        batches = self._batches(
            cursor, columns, batch_rows, bound.sql, end=close_cursor, lock=self._scratch_lock
        )
        return pa.RecordBatchReader.from_batches(result_schema(columns), batches)

    def _batches(
        self,
        cursor: "psycopg.ServerCursor[TupleRow]",
        columns: list[ResultColumn],
        batch_rows: int,
        sql: str,
        *,
        end: Callable[[], None],
        lock: AbstractContextManager[Any] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        finished = False
        try:
            while True:
                try:
                    if lock is None:
                        rows = cursor.fetchmany(batch_rows)
                    else:
                        with lock:
                            rows = cursor.fetchmany(batch_rows)
                except psycopg.Error as exc:
                    raise translate(exc, sql=sql, where=self._where) from exc
                if not rows:
                    finished = True
                    return
                yield to_batch(rows, columns)
        finally:
            if finished:
                end()
            else:
                _abandon(cursor, end)

    def _check_open(self) -> None:
        if self._closed:
            raise InternalError(
                "The PostgreSQL engine was used after close().",
                hint="Build a new engine; a closed one cannot be reopened.",
            )


# ---------------------------------------------------------------------- helpers


def _check_settings(
    *,
    schema: str,
    statement_timeout_s: float | None,
    connect_timeout_s: float,
    copy_batch_rows: int,
    max_idle_connections: int,
) -> None:
    if not _SCHEMA_NAME.fullmatch(schema) or schema.startswith("pg_"):
        raise ConfigError(
            f"Invalid schema for the PostgreSQL engine: {schema!r}.",
            hint="Use lower-case letters, digits and _ (at most 63, not starting with pg_), "
            "e.g. gnomon_engine.",
            setting="schema",
        )
    problems = {
        "statement_timeout_s": statement_timeout_s is not None and statement_timeout_s <= 0,
        "connect_timeout_s": connect_timeout_s <= 0,
        "copy_batch_rows": copy_batch_rows < 1,
        "max_idle_connections": max_idle_connections < 0,
    }
    values = {
        "statement_timeout_s": statement_timeout_s,
        "connect_timeout_s": connect_timeout_s,
        "copy_batch_rows": copy_batch_rows,
        "max_idle_connections": max_idle_connections,
    }
    for setting, wrong in problems.items():
        if wrong:
            raise ConfigError(
                f"Invalid PostgreSQL engine setting {setting}={values[setting]!r}: "
                "it must be positive.",
                hint=f"Correct {setting}, or leave it at its default.",
                setting=setting,
            )


def _conninfo(url: str) -> str:
    """The URL as libpq reads it: a SQLAlchemy-style ``postgresql+psycopg://`` loses its driver."""
    for prefix in ("postgresql+psycopg://", "postgres+psycopg://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


def _relations(relations: Mapping[str, pa.Table] | None) -> dict[str, pa.Table]:
    clashes = sorted(name for name in relations or {} if name.lower() in _LAYER_SET)
    if clashes:
        raise InvalidInput(
            f"Relations cannot be named like a layer: {', '.join(clashes)}.",
            hint=f"Pick names other than {', '.join(LAYERS)}.",
        )
    return {name.lower(): table for name, table in (relations or {}).items()}


def _point_at(node: exp.Table, schema: str, name: str) -> None:
    """Make ``node`` read ``schema.name``, keeping the name the query knew it by as its alias."""
    if node.args.get("alias") is None:
        node.set("alias", exp.TableAlias(this=node.this.copy()))
    node.set("this", exp.to_identifier(name, quoted=True))
    node.set("db", exp.to_identifier(schema, quoted=True))
    node.set("catalog", None)


def _unqualified(node: exp.Table) -> bool:
    return node.args.get("db") is None and node.args.get("catalog") is None


def _is_scratch(node: exp.Table) -> bool:
    db = node.args.get("db")
    return (
        node.args.get("catalog") is None
        and isinstance(db, exp.Identifier)
        and db.name.lower() == _SCRATCH_SCHEMA
    )


def _fetch(cursor: "psycopg.ServerCursor[TupleRow]", limit: int | None) -> pa.Table:
    columns = result_columns(cursor.description or [])
    batches: list[pa.RecordBatch] = []
    remaining = limit
    while remaining is None or remaining > 0:
        size = _FETCH_ROWS if remaining is None else min(_FETCH_ROWS, remaining)
        rows = cursor.fetchmany(size)
        if not rows:
            break
        batches.append(to_batch(rows, columns))
        if remaining is not None:
            remaining -= len(rows)
    return pa.Table.from_batches(batches, schema=result_schema(columns))


def _end(cursor: "psycopg.ServerCursor[TupleRow]", conn: "psycopg.Connection[TupleRow]") -> None:
    """Close a streamed query's cursor and transaction; the pool drops a connection left busy."""
    try:
        cursor.close()
        conn.execute("ROLLBACK")
    except psycopg.Error as exc:
        log.warning("could not end a streamed query: %s", first_line(exc))


def _abandon(cursor: "psycopg.ServerCursor[TupleRow]", end: Callable[[], None]) -> None:
    """A reader closed early or broken: close the cursor if the connection still lives."""
    try:
        if cursor.connection.closed:
            cursor.close()
        elif cursor.connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
            _rollback(cursor.connection, cursor)
        else:
            end()
    except psycopg.Error as exc:
        log.warning("could not close a streamed query: %s", first_line(exc))


def _returning(
    batches: Iterator[pa.RecordBatch], give_back: Callable[[], None]
) -> Iterator[pa.RecordBatch]:
    try:
        yield from batches
    finally:
        give_back()


def _reset(conn: "psycopg.Connection[TupleRow]") -> None:
    """Undo session settings and advisory locks a query took, keeping the temporary tables."""
    if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        conn.execute("RESET ALL")
        conn.execute("SELECT pg_advisory_unlock_all()")
    except psycopg.Error as exc:
        log.warning("could not reset the scratch connection: %s", first_line(exc))


def _rollback(
    conn: "psycopg.Connection[TupleRow]", cursor: "psycopg.ServerCursor[TupleRow] | None" = None
) -> None:
    """End a failed transaction; the query's cursor went with it, so only mark it closed."""
    try:
        if not conn.closed:
            conn.execute("ROLLBACK")
        if cursor is not None:
            cursor.close()
    except psycopg.Error as exc:
        log.warning("could not roll back: %s", first_line(exc))


def _copy_error(
    exc: "psycopg.Error", label: str, source: TableSource, *, where: str
) -> GnomonError:
    if (exc.sqlstate or "")[:2] == "22":
        return QueryError(
            f"Could not copy {label} at version {source.version} into PostgreSQL: "
            f"{first_line(exc)}",
            hint="PostgreSQL cannot hold some value of the table (text with NUL characters, "
            "dates beyond its range); query it on DuckDB or clean the column.",
            engine_message=str(exc).strip(),
            uri=source.uri,
            version=source.version,
        )
    return translate(exc, sql=None, where=where)
