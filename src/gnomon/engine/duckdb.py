"""DuckDB in-process: the default engine.

How lake tables are read (see docs/decisions/0003-reading-delta-in-duckdb.md): each table version
a query needs becomes a view in the DuckDB schema of its layer over ``read_parquet`` of exactly
that version's Parquet files, with Hive partition values typed from the table's schema (a tenant
called ``"123"`` stays a string). Views are cached by (uri, version, files), so a repeated query
creates nothing; the tree's ``layer.name`` references are rewritten to the cached view's name,
which is why two versions of one table can be read side by side by concurrent queries.

Defence in depth: the connection cannot read files outside ``allowed_roots`` (plus DuckDB's
spill directory), cannot install or load extensions, cannot scan Python variables, and its
configuration is locked, so even a query that slipped past :func:`parse_read_only` could not
change any of that.
"""

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa
from sqlglot import exp

from gnomon.engine._references import LAYERS, lake_key
from gnomon.engine._views import SourceKey, acquire_views, evict_views
from gnomon.engine.errors import EngineUnavailable, QueryError, UnboundTable
from gnomon.engine.protocols import TableSource
from gnomon.errors import ConfigError, GnomonError, InternalError, InvalidInput

__all__ = ["DuckDBEngine"]

log = logging.getLogger(__name__)

_DIALECT = "duckdb"
_SCHEMA_RELATION = "__gnomon_schema"
_READ_BATCH = 65_536
_LAYER_SET = frozenset(LAYERS)
_SCRATCH_SCHEMA = "_scratch"
"""Where :meth:`DuckDBEngine.materialize` keeps its tables; not a lake layer, never scoped."""
_QUERY_ERRORS: tuple[type[duckdb.Error], ...] = (
    duckdb.BinderException,
    duckdb.CatalogException,
    duckdb.ConversionException,
    duckdb.InvalidInputException,
    duckdb.NotImplementedException,
    duckdb.OutOfRangeException,
    duckdb.ParserException,
    duckdb.SyntaxException,
    duckdb.TypeMismatchException,
)
# Errors raised while a result streams arrive through the Arrow C stream as OSError carrying
# only DuckDB's text, which always starts with the error type; these prefixes stand for the
# exception classes above.
_QUERY_ERROR_PREFIXES = (
    "Binder Error",
    "Catalog Error",
    "Conversion Error",
    "Invalid Input Error",
    "Not implemented Error",
    "Out of Range Error",
    "Parser Error",
    "Syntax Error",
    "Type Mismatch Error",
)
_OUT_OF_MEMORY_PREFIX = "Out of Memory Error"

_SourceKey = SourceKey


_RENDERINGS_PER_TREE = 8
"""A tree runs over a few table versions at a time (its views change with each load)."""


@dataclass(slots=True)
class _View:
    """A cached view (or, for a table with no files, an empty table) and its users right now."""

    schema: str
    name: str
    kind: str
    pins: int = 0

    def table(self) -> exp.Table:
        return exp.Table(
            this=exp.to_identifier(self.name, quoted=True),
            db=exp.to_identifier(self.schema, quoted=True),
        )


class DuckDBEngine:
    """Runs queries in an in-process DuckDB database that only holds views of lake files.

    Thread-safe: each call runs on its own cursor; creating and dropping views is serialised.

    Args:
        threads: worker threads; ``None`` lets DuckDB use every core.
        memory_limit: e.g. ``"4GB"``; ``None`` keeps DuckDB's default (80 % of RAM).
        temp_directory: where large sorts and joins spill; ``None`` keeps DuckDB's default.
        allowed_roots: folders holding the lake; files elsewhere cannot be read at all.
        max_cached_views: table versions kept as views; the least recently used unused ones are
            dropped beyond this.

    Raises:
        ConfigError: a setting is invalid (DuckDB's message says which).
    """

    name = "duckdb"
    dialect = _DIALECT

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
        temp_directory: str | None = None,
        allowed_roots: Sequence[str] = (),
        max_cached_views: int = 256,
    ) -> None:
        if threads is not None and threads < 1:
            raise ConfigError(
                f"engine.threads must be at least 1, not {threads}.",
                hint="Set a positive number, or leave it unset to use every core.",
            )
        if max_cached_views < 1:
            raise ConfigError(
                f"max_cached_views must be at least 1, not {max_cached_views}.",
                hint="Keep the default of 256 unless memory is very tight.",
            )
        self._roots = tuple(_local_path(root) for root in allowed_roots)
        self._max_views = max_cached_views
        self._lock = threading.RLock()
        self._views: OrderedDict[_SourceKey, _View] = OrderedDict()
        self._rendered = _Rendered()
        self._sequence = 0
        self._views_created = 0
        self._closed = False
        self._con = duckdb.connect(":memory:")
        try:
            self._configure(threads=threads, memory_limit=memory_limit, temp=temp_directory)
        except BaseException:
            self._con.close()
            raise

    @property
    def views_created(self) -> int:
        """How many table versions have been turned into views so far (cache misses)."""
        return self._views_created

    def execute(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Run the query and return its rows, at most ``limit`` of them.

        With a limit, reading stops once enough rows have arrived, so the cost stays bounded
        however large the full result would be. The tree is not changed, and must not be
        changed once run: its SQL is kept per tree object and table versions, so running the
        same tree again skips rendering. Build a new tree for another query.

        Raises:
            InvalidInput: ``limit`` is negative or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: DuckDB refused the query (parser, binder, conversion … errors).
            EngineUnavailable: DuckDB ran out of memory.
            InternalError: anything else DuckDB raised (chained).
        """
        if limit is not None and limit < 0:
            raise InvalidInput(
                f"The row limit must not be negative: {limit}.",
                hint="Pass 0 or more, or None for every row.",
            )
        sql, views = self._bind(tree, tables)
        cursor: duckdb.DuckDBPyConnection | None = None
        try:
            cursor = self._cursor(relations)
            relation = self._relation(cursor, sql)
            if limit is None:
                result: pa.Table = relation.to_arrow_table()
                return result
            return _first_rows(relation.to_arrow_reader(max(1, min(limit, _READ_BATCH))), limit)
        except (duckdb.Error, OSError) as exc:
            raise _translate(exc, sql) from exc
        finally:
            self._release(views)
            if cursor is not None:
                cursor.close()

    def stream(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        batch_rows: int = 100_000,
    ) -> pa.RecordBatchReader:
        """Run the query and hand back its rows in batches of at most ``batch_rows``.

        DuckDB produces batches as they are read, so memory stays bounded by a few batches. The
        reader keeps its own connection open until it is exhausted or closed.

        Raises:
            InvalidInput: ``batch_rows`` is below 1 or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: DuckDB refused the query; errors while reading batches are translated
                the same way.
            EngineUnavailable: DuckDB ran out of memory.
        """
        if batch_rows < 1:
            raise InvalidInput(
                f"batch_rows must be at least 1, not {batch_rows}.",
                hint="Use the default of 100,000 unless rows are very wide.",
            )
        sql, views = self._bind(tree, tables)
        cursor: duckdb.DuckDBPyConnection | None = None
        try:
            cursor = self._cursor(relations)
            reader = self._relation(cursor, sql).to_arrow_reader(batch_rows)
        except BaseException as exc:
            if cursor is not None:
                cursor.close()
            if isinstance(exc, duckdb.Error | OSError):
                raise _translate(exc, sql) from exc
            raise
        finally:
            self._release(views)
        return pa.RecordBatchReader.from_batches(reader.schema, _batches(reader, cursor, sql))

    @contextmanager
    def materialize(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        name: str = "result",
    ) -> Iterator[exp.Table]:
        """Run the query once into a scratch table, for several later queries to read.

        Yields the table's expression (``_scratch.<unique name>``) to use in later trees; the
        table is dropped when the block ends. Its rows live in DuckDB's buffer manager, which
        spills them to ``temp_directory`` under memory pressure, so a large result costs disk,
        not memory. The caller scopes ``tree`` (tenant, policies) before it is materialised.

        Raises:
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: DuckDB refused the query.
            EngineUnavailable: DuckDB ran out of memory or disk.
        """
        sql, views = self._bind(tree, tables)
        with self._lock:
            self._check_open()
            self._sequence += 1
            table = exp.Table(
                this=exp.to_identifier(f"{name}#{self._sequence}", quoted=True),
                db=exp.to_identifier(_SCRATCH_SCHEMA, quoted=True),
            )
        cursor = self._cursor(None)
        try:
            create = exp.Create(
                this=table.copy(), kind="TABLE", expression=exp.maybe_parse("SELECT 1")
            )
            head = create.sql(dialect=_DIALECT).rsplit(" AS ", 1)[0]
            cursor.execute(f"{head} AS {sql}")
        except (duckdb.Error, OSError) as exc:
            raise _translate(exc, sql) from exc
        finally:
            self._release(views)
            cursor.close()
        try:
            yield table
        finally:
            with self._lock:
                if not self._closed:
                    drop = exp.Drop(tables=[table.copy()], kind="TABLE", exists=True)
                    self._con.execute(drop.sql(dialect=_DIALECT))

    def close(self) -> None:
        """Close the database; queries still streaming keep their own connection until done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._views.clear()
            self._con.close()

    def __enter__(self) -> "DuckDBEngine":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ set-up

    def _configure(
        self, *, threads: int | None, memory_limit: str | None, temp: str | None
    ) -> None:
        settings: list[tuple[str, object]] = []
        if threads is not None:
            settings.append(("threads", threads))
        if memory_limit is not None:
            settings.append(("memory_limit", memory_limit))
        if temp is not None:
            settings.append(("temp_directory", temp))
        settings += [
            # Timestamps are stored in UTC; a session zone would shift naive values and labels.
            ("TimeZone", "UTC"),
            ("python_enable_replacements", False),
            ("autoinstall_known_extensions", False),
            ("autoload_known_extensions", False),
            ("allow_community_extensions", False),
            ("parquet_metadata_cache", True),
            ("allowed_directories", list(self._roots)),
            ("enable_external_access", False),
            ("lock_configuration", True),
        ]
        for setting, value in settings:
            try:
                self._con.execute(f"SET {setting} = ?", [value])
            except duckdb.Error as exc:
                raise ConfigError(
                    f"Invalid engine setting {setting}={value!r}: {_first_line(exc)}",
                    hint=f"Correct engine.{setting} in gnomon.yaml or the environment.",
                    setting=setting,
                ) from exc
        for layer in (*LAYERS, _SCRATCH_SCHEMA):
            create = exp.Create(this=exp.to_identifier(layer, quoted=True), kind="SCHEMA")
            self._con.execute(create.sql(dialect=_DIALECT))

    # ------------------------------------------------------------------ binding views

    def _bind(self, tree: exp.Expr, tables: Mapping[str, TableSource]) -> tuple[str, list[_View]]:
        """Render the tree with each ``layer.name`` pointing at its version's view, pinned."""
        wanted = self._rendered.lake_tables(tree)
        given = {name.lower(): source for name, source in tables.items()}
        missing = sorted(
            f"{layer}.{name}" for layer, name in wanted if f"{layer}.{name}" not in given
        )
        if missing:
            raise UnboundTable(
                f"No table version was given for {', '.join(missing)}.",
                hint="Pass a snapshot for each lake table the query reads in tables= "
                f"(given: {', '.join(sorted(given)) or 'none'}).",
                tables=missing,
            )
        views = self._acquire({key: given[f"{key[0]}.{key[1]}"] for key in wanted})
        try:
            return self._rendered.sql(tree, views), list(views.values())
        except BaseException:
            self._release(list(views.values()))
            raise

    def _acquire(
        self, needed: Mapping[tuple[str, str], TableSource]
    ) -> dict[tuple[str, str], _View]:
        with self._lock:
            self._check_open()
            acquired = acquire_views(self._views, needed, self._create_view)
            evict_views(self._views, self._max_views, self._drop_view)
        return acquired

    def _release(self, views: list[_View]) -> None:
        with self._lock:
            for view in views:
                view.pins -= 1
            if not self._closed:
                self._evict()

    def _evict(self) -> None:
        evict_views(self._views, self._max_views, self._drop_view)

    def _drop_view(self, view: _View) -> None:
        drop = exp.Drop(tables=[view.table()], kind=view.kind, exists=True)
        self._con.execute(drop.sql(dialect=_DIALECT))
        log.debug("dropped %s %s.%s", view.kind.lower(), view.schema, view.name)

    def _create_view(self, key: tuple[str, str], source: TableSource) -> _View:
        layer, name = key
        files = [self._readable(path) for path in source.files]
        self._sequence += 1
        view = _View(
            schema=layer,
            name=f"{name}@{source.version}#{self._sequence}",
            kind="VIEW" if files else "TABLE",
        )
        try:
            self._con.register(_SCHEMA_RELATION, source.schema.empty_table())
            try:
                types = self._column_types(exp.select(exp.Star()).from_(_SCHEMA_RELATION))
                body = (
                    _file_rows(source, files, types, self._column_types)
                    if files
                    else exp.select(exp.Star()).from_(_SCHEMA_RELATION)
                )
                create = exp.Create(this=view.table(), kind=view.kind, expression=body)
                self._con.execute(create.sql(dialect=_DIALECT))
            finally:
                self._con.unregister(_SCHEMA_RELATION)
        except duckdb.Error as exc:
            raise InternalError(
                f"Could not open {layer}.{name} at version {source.version}: {_first_line(exc)}",
                hint="Check that the table's files still exist (a vacuum may have removed them).",
                uri=source.uri,
                version=source.version,
            ) from exc
        self._views_created += 1
        log.debug("created %s %s.%s over %d files", view.kind.lower(), layer, view.name, len(files))
        return view

    def _column_types(self, query: exp.Query) -> dict[str, str]:
        describe = exp.Describe(this=query)
        rows = self._con.execute(describe.sql(dialect=_DIALECT)).fetchall()
        return {str(row[0]): str(row[1]) for row in rows}

    def _readable(self, path: str) -> str:
        local = _local_path(path)
        if not any(Path(local).is_relative_to(root) for root in self._roots):
            roots = ", ".join(self._roots) or "none"
            raise ConfigError(
                f"Lake file outside the engine's allowed roots: {local}.",
                hint=f"Pass the lake root in DuckDBEngine(allowed_roots=[...]) (now: {roots}).",
                path=local,
            )
        return local

    # ------------------------------------------------------------------ running

    def _check_open(self) -> None:
        if self._closed:
            raise InternalError(
                "The DuckDB engine was used after close().",
                hint="Build a new engine; a closed one cannot be reopened.",
            )

    def _cursor(self, relations: Mapping[str, pa.Table] | None) -> duckdb.DuckDBPyConnection:
        clashes = sorted(name for name in relations or {} if name.lower() in _LAYER_SET)
        if clashes:
            raise InvalidInput(
                f"Relations cannot be named like a layer: {', '.join(clashes)}.",
                hint=f"Pick names other than {', '.join(LAYERS)}.",
            )
        with self._lock:
            self._check_open()
            cursor = self._con.cursor()
        for name, table in (relations or {}).items():
            cursor.register(name, table)
        return cursor

    @staticmethod
    def _relation(cursor: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyRelation:
        # DuckDB's sql() runs every statement of a script but the last, and runs anything other
        # than a SELECT at once, so check what DuckDB itself parsed before handing it over.
        statements = cursor.extract_statements(sql)
        if len(statements) != 1:
            raise InternalError(
                f"The rendered query holds {len(statements)} statements instead of one.",
                hint="Report this as a bug together with the query.",
                sql=sql,
            )
        kind = statements[0].type
        if kind != duckdb.StatementType.SELECT:
            raise QueryError(
                f"The engine runs single queries only: DuckDB reads this as a {kind.name} "
                "statement.",
                hint="Pass one SELECT, WITH … SELECT, set operation or VALUES query; "
                "a PIVOT needs an explicit IN list.",
                sql=sql,
            )
        return cursor.sql(statements[0])


def _render(tree: exp.Expr, views: Mapping[tuple[str, str], _View]) -> str:
    bound = tree.copy()
    for node in list(bound.find_all(exp.Table)):
        key = lake_key(node)
        if key is None:
            continue
        if node.args.get("alias") is None:
            node.set("alias", exp.TableAlias(this=node.this.copy()))
        target = views[key].table()
        node.set("this", target.this)
        node.set("db", target.args["db"])
    for column in bound.find_all(exp.Column):
        db = column.args.get("db")
        if isinstance(db, exp.Identifier) and db.name.lower() in _LAYER_SET:
            column.set("db", None)
            column.set("catalog", None)
    return bound.sql(dialect=_DIALECT, comments=False)


_ViewNames = tuple[tuple[tuple[str, str], str, str], ...]
_RenderEntry = tuple[exp.Expr, frozenset[tuple[str, str]], dict[_ViewNames, str]]


class _Rendered:
    """The SQL of trees run before, per tree and views: a dashboard runs the same trees again.

    Keyed by the tree's identity, with the tree held, so the identity cannot be reused while
    the entry lives; trees are not changed once run (the semantic layer keeps its compiled
    and scoped trees unchanged). Bounded, oldest out.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[int, _RenderEntry] = OrderedDict()
        self._lock = threading.Lock()

    def lake_tables(self, tree: exp.Expr) -> frozenset[tuple[str, str]]:
        """The ``(layer, name)`` of every lake table the tree reads."""
        found = self._entries.get(id(tree))
        if found is not None and found[0] is tree:
            return found[1]
        wanted = frozenset(
            key for node in tree.find_all(exp.Table) if (key := lake_key(node)) is not None
        )
        with self._lock:
            self._entries[id(tree)] = (tree, wanted, {})
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return wanted

    def sql(self, tree: exp.Expr, views: Mapping[tuple[str, str], _View]) -> str:
        """:func:`_render`, once per tree and views."""
        names = tuple(sorted((key, view.schema, view.name) for key, view in views.items()))
        found = self._entries.get(id(tree))
        if found is not None and found[0] is tree:
            sql = found[2].get(names)
            if sql is not None:
                return sql
        sql = _render(tree, views)
        if found is not None and found[0] is tree:
            with self._lock:
                if len(found[2]) >= _RENDERINGS_PER_TREE:
                    found[2].clear()
                found[2][names] = sql
        return sql


def _file_rows(
    source: TableSource,
    files: list[str],
    types: Mapping[str, str],
    describe: Callable[[exp.Query], dict[str, str]],
) -> exp.Query:
    """``SELECT <schema columns> FROM read_parquet(<files>, …)``, NULL for columns no file has."""
    hive_types = exp.Struct(
        expressions=[
            exp.PropertyEQ(
                this=exp.to_identifier(column),
                expression=exp.Literal.string(types.get(column, "VARCHAR")),
            )
            for column in source.partition_columns
        ]
    )
    options: list[tuple[str, exp.Expr]] = [
        ("union_by_name", exp.true()),
        ("hive_partitioning", exp.Boolean(this=bool(source.partition_columns))),
    ]
    if source.partition_columns:
        options.append(("hive_types", hive_types))
    scan = exp.Anonymous(
        this="read_parquet",
        expressions=[
            exp.Array(expressions=[exp.Literal.string(path) for path in files]),
            *(exp.EQ(this=exp.column(option), expression=value) for option, value in options),
        ],
    )
    present = {column.lower() for column in describe(exp.select(exp.Star()).from_(scan))}
    projection: list[exp.Expr] = []
    for field in source.schema:
        column = exp.column(field.name, quoted=True)
        if field.name.lower() in present:
            projection.append(column)
        else:
            null = exp.cast(exp.null(), exp.DataType.build(types[field.name], dialect=_DIALECT))
            projection.append(exp.alias_(null, field.name, quoted=True))
    return exp.select(*projection).from_(scan)


def _batches(
    reader: pa.RecordBatchReader, cursor: duckdb.DuckDBPyConnection, sql: str
) -> Iterator[pa.RecordBatch]:
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.Error, OSError) as exc:
                raise _translate(exc, sql) from exc
            yield batch
    finally:
        reader.close()
        cursor.close()


def _first_rows(reader: pa.RecordBatchReader, limit: int) -> pa.Table:
    batches: list[pa.RecordBatch] = []
    rows = 0
    try:
        while rows < limit:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            batches.append(batch.slice(0, limit - rows))
            rows += batches[-1].num_rows
    finally:
        reader.close()
    return pa.Table.from_batches(batches, schema=reader.schema)


def _translate(exc: BaseException, sql: str) -> GnomonError:
    text = str(exc).strip()
    first = _first_line(exc)
    if isinstance(exc, duckdb.OutOfMemoryException) or text.startswith(_OUT_OF_MEMORY_PREFIX):
        return EngineUnavailable(
            f"The query ran out of memory: {first}",
            hint="Filter or aggregate earlier, or raise engine.memory_limit.",
            engine_message=text,
        )
    if isinstance(exc, _QUERY_ERRORS) or (
        isinstance(exc, OSError) and text.startswith(_QUERY_ERROR_PREFIXES)
    ):
        return QueryError(
            f"The query failed: {first}",
            hint="Check table, column and function names and the types compared or cast.",
            engine_message=text,
            sql=sql,
        )
    return InternalError(
        f"The DuckDB engine failed: {first}",
        hint="Report this as a bug together with the query.",
        engine_message=text,
        sql=sql,
    )


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    return line if line.endswith((".", "!", "?")) else line + "."


def _local_path(location: str) -> str:
    """An absolute, normalised local path for a path or ``file://`` URI."""
    if location.startswith("file://"):
        location = unquote(urlparse(location).path)
    elif "://" in location:
        raise ConfigError(
            f"The DuckDB engine reads local files only: {location} is remote.",
            hint="Keep the lake on a local or mounted file system; reading object stores "
            "needs DuckDB's httpfs extension, which gnomon does not install.",
            location=location,
        )
    return os.path.normpath(Path(location).absolute())
