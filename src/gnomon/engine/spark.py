"""Spark: the scale-out engine, in local mode or on any cluster by its master URL.

How lake tables are read (see docs/engine-spark.md): Spark cannot read Delta without jars from
Maven, so each table version a query needs becomes a temporary view over exactly that version's
Parquet files (see :mod:`gnomon.engine._spark_files`). Views are cached by (uri, version, files),
so a repeated query creates nothing; the tree's ``layer.name`` references are rewritten to the
cached view's name, and in-memory ``relations`` become views with unique names for one call, so
concurrent calls never see each other's. Spark resolves views when a query is planned, so a view
may be dropped (evicted, or its call finished) while a planned query still runs or streams.

Defence in depth: a tree may not name the engine's own views directly (they hold every tenant's
rows), SQL on files is off, and only single queries run, never statements (Spark would run DDL
at once).
"""

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

import pyarrow as pa
from sqlglot import exp

from gnomon.engine._references import LAYERS, table_references
from gnomon.engine._spark_files import local_path, read_source
from gnomon.engine._spark_rows import nullable, row_batches
from gnomon.engine._spark_session import (
    prepare_session,
    spark_errors,
    start_session,
    translate,
)
from gnomon.engine._views import SourceKey, acquire_views, evict_views
from gnomon.engine.errors import QueryError, UnboundTable
from gnomon.engine.protocols import TableSource
from gnomon.errors import ConfigError, InternalError, InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["SparkEngine"]

log = logging.getLogger(__name__)

_DIALECT: Final = "spark"
_LAYER_SET: Final = frozenset(LAYERS)
_PREFIX: Final = "gnomon"
_UNSAFE: Final = re.compile(r"[^0-9A-Za-z_]")

_SourceKey = SourceKey


@dataclass(slots=True)
class _View:
    """A cached temporary view of one table version and its users right now."""

    name: str
    pins: int = 0


@dataclass(slots=True)
class _Bound:
    """A rendered query and what it holds until Spark has planned it."""

    sql: str
    views: list[_View]
    relations: list[str]


class SparkEngine:
    """Runs queries on Spark over temporary views of lake files.

    Thread-safe: Spark plans and runs concurrent queries of one session; creating and dropping
    views is serialised. Spark allows one context per process, so an engine reuses a running
    one (and ``session`` hands one over explicitly); :meth:`close` stops the session only if
    this engine started it. Either way the session's time zone is set to UTC.

    Args:
        master: where to run: ``local[2]``, ``local[*]``, ``spark://host:7077``, ``yarn``,
            ``k8s://…``. Executors must reach the lake's files at the same paths.
        app_name: the application name shown in Spark's UI.
        conf: more Spark settings (``spark.executor.memory`` …) for a session this engine starts.
        session: an existing session to use instead of starting one.
        allowed_roots: folders holding the lake; local files elsewhere are refused. ``None``
            checks nothing (the cluster's file permissions decide).
        max_cached_views: table versions kept as views; the least recently used unused ones are
            dropped beyond this.

    Raises:
        MissingDependency: pyspark is not installed (``pip install "gnomon[spark]"``).
        EngineUnavailable: Java is missing, or Spark could not start or reach the master.
        ConfigError: ``max_cached_views`` is below 1.
    """

    name = "spark"
    dialect = _DIALECT

    def __init__(
        self,
        master: str = "local[2]",
        *,
        app_name: str = "gnomon",
        conf: Mapping[str, str] | None = None,
        session: "SparkSession | None" = None,
        allowed_roots: Sequence[str] | None = None,
        max_cached_views: int = 256,
    ) -> None:
        if max_cached_views < 1:
            raise ConfigError(
                f"max_cached_views must be at least 1, not {max_cached_views}.",
                hint="Keep the default of 256 unless memory is very tight.",
            )
        self._roots = None if allowed_roots is None else tuple(map(local_path, allowed_roots))
        self._max_views = max_cached_views
        self._lock = threading.RLock()
        self._views: OrderedDict[_SourceKey, _View] = OrderedDict()
        self._reserved: set[str] = set()
        self._sequence = 0
        self._views_created = 0
        self._closed = False
        if session is None:
            self._session, self._owns = start_session(
                master, app_name=app_name, conf=dict(conf or {})
            )
        else:
            prepare_session(session)
            self._session, self._owns = session, False
        self._errors = spark_errors()

    @property
    def session(self) -> "SparkSession":
        """The Spark session queries run in."""
        return self._session

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

        The limit is part of the plan Spark runs, so it stops scanning once it has enough rows.
        Timestamps come back as UTC instants; top-level columns are nullable, as on DuckDB.

        Raises:
            InvalidInput: ``limit`` is negative or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: Spark refused the query (parse, analysis or ANSI runtime errors), or the
                tree is not a single query.
            EngineUnavailable: Spark ran out of memory or the session is gone.
            InternalError: anything else Spark raised (chained).
        """
        if limit is not None and limit < 0:
            raise InvalidInput(
                f"The row limit must not be negative: {limit}.",
                hint="Pass 0 or more, or None for every row.",
            )
        frame, sql = self._plan(tree, tables, relations)
        try:
            if limit is not None:
                frame = frame.limit(limit)
            table: pa.Table = frame.toArrow()
            return table.cast(nullable(table.schema))
        except self._errors as exc:
            raise translate(exc, sql) from exc

    def stream(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        batch_rows: int = 100_000,
    ) -> pa.RecordBatchReader:
        """Run the query and hand back its rows in batches of at most ``batch_rows``.

        Rows reach the driver one partition at a time (``toLocalIterator``), so memory is
        bounded by the largest partition, not the result. Batches have the types
        :meth:`execute` returns. The reader stays valid after the call and after the views it
        read were dropped.

        Raises:
            InvalidInput: ``batch_rows`` is below 1 or a relation is named like a layer.
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: Spark refused the query; errors while reading batches are translated
                the same way.
            EngineUnavailable: Spark ran out of memory or the session is gone.
        """
        if batch_rows < 1:
            raise InvalidInput(
                f"batch_rows must be at least 1, not {batch_rows}.",
                hint="Use the default of 100,000 unless rows are very wide.",
            )
        frame, sql = self._plan(tree, tables, relations)
        try:
            # LIMIT 0 plans to an empty relation: the schema costs no job.
            schema = nullable(frame.limit(0).toArrow().schema)
        except self._errors as exc:
            raise translate(exc, sql) from exc
        return pa.RecordBatchReader.from_batches(
            schema, self._batches(frame, schema, batch_rows=batch_rows, sql=sql)
        )

    @contextmanager
    def materialize(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        name: str = "result",
    ) -> Iterator[exp.Table]:
        """Run the query once into a cached view, for several later queries to read.

        Yields the view's table expression to use in later trees; the view is dropped and its
        cache released when the block ends. The rows are persisted in memory and spilled to
        the executors' disks when memory is short. The caller scopes ``tree`` (tenant,
        policies) before it is materialised.

        Raises:
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: Spark refused the query (raised here, not by later reads).
            EngineUnavailable: Spark ran out of memory or the session is gone.
        """
        from pyspark import StorageLevel

        frame, sql = self._plan(tree, tables, None)
        with self._lock:
            self._check_open()
            self._sequence += 1
            view = f"{_PREFIX}_scratch_{_safe(name)}_{self._sequence}"
        cached = frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            cached.count()
            cached.createOrReplaceTempView(view)
        except self._errors as exc:
            cached.unpersist()
            raise translate(exc, sql) from exc
        try:
            yield exp.Table(this=exp.to_identifier(view, quoted=True))
        finally:
            with self._lock:
                if not self._closed:
                    self._session.catalog.dropTempView(view)
            cached.unpersist()

    def close(self) -> None:
        """Drop the engine's views, and stop the session if this engine started it."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            names = [view.name for view in self._views.values()]
            self._views.clear()
            try:
                for name in names:
                    self._session.catalog.dropTempView(name)
            except self._errors as exc:
                log.warning("could not drop the engine's views: %s", exc)
            if self._owns:
                self._session.stop()

    def __enter__(self) -> "SparkEngine":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ planning

    def _plan(
        self,
        tree: exp.Expr,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None,
    ) -> tuple["DataFrame", str]:
        """Bind, render and let Spark plan the query; the views are released once planned."""
        if not isinstance(tree, exp.Query | exp.Values):
            raise QueryError(
                f"The engine runs single queries only, not {type(tree).__name__} statements.",
                hint="Pass one SELECT, WITH … SELECT, set operation or VALUES query.",
            )
        bound = self._bind(tree, tables, relations)
        try:
            return self._session.sql(bound.sql), bound.sql
        except self._errors as exc:
            raise translate(exc, bound.sql) from exc
        finally:
            self._release(bound)

    def _bind(
        self,
        tree: exp.Expr,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None,
    ) -> _Bound:
        """Each ``layer.name`` pointed at its version's view, each relation at a fresh view."""
        clashes = sorted(name for name in relations or {} if name.lower() in _LAYER_SET)
        if clashes:
            raise InvalidInput(
                f"Relations cannot be named like a layer: {', '.join(clashes)}.",
                hint=f"Pick names other than {', '.join(LAYERS)}.",
            )
        references = [r for r in table_references(tree) if not r.names_cte]
        wanted = {key for r in references if (key := r.lake_key) is not None}
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
        plain = {
            r.node.name.lower() for r in references if r.lake_key is None and _is_plain(r.node)
        }
        self._refuse_internal(plain)
        offered = {name.lower(): table for name, table in (relations or {}).items()}
        views = self._acquire({key: given[f"{key[0]}.{key[1]}"] for key in wanted})
        bound = _Bound(sql="", views=list(views.values()), relations=[])
        try:
            renamed = {
                name: self._register(name, offered[name], bound) for name in plain & offered.keys()
            }
            bound.sql = _render(tree, {key: v.name for key, v in views.items()}, renamed)
        except BaseException:
            self._release(bound)
            raise
        return bound

    def _refuse_internal(self, names: Iterable[str]) -> None:
        with self._lock:
            internal = sorted(name for name in names if name in self._reserved)
        if internal:
            raise QueryError(
                f"The query names the engine's own views: {', '.join(internal)}.",
                hint="Read lake tables as layer.name.",
            )

    def _register(self, name: str, table: pa.Table, bound: _Bound) -> str:
        with self._lock:
            self._check_open()
            self._sequence += 1
            view = f"{_PREFIX}_relation_{_safe(name)}_{self._sequence}"
            self._reserved.add(view.lower())
        bound.relations.append(view)
        try:
            self._session.createDataFrame(table).createOrReplaceTempView(view)
        except self._errors as exc:
            raise translate(exc, f"-- relation {name}") from exc
        return view

    def _acquire(
        self, needed: Mapping[tuple[str, str], TableSource]
    ) -> dict[tuple[str, str], _View]:
        with self._lock:
            self._check_open()
            acquired = acquire_views(self._views, needed, self._create_view)
            evict_views(self._views, self._max_views, self._drop_view)
        return acquired

    def _release(self, bound: _Bound) -> None:
        with self._lock:
            for view in bound.views:
                view.pins -= 1
            if self._closed:
                return
            for name in bound.relations:
                self._session.catalog.dropTempView(name)
                self._reserved.discard(name.lower())
            bound.views, bound.relations = [], []
            self._evict()

    def _evict(self) -> None:
        evict_views(self._views, self._max_views, self._drop_view)

    def _drop_view(self, view: _View) -> None:
        self._session.catalog.dropTempView(view.name)
        self._reserved.discard(view.name.lower())
        log.debug("dropped view %s", view.name)

    def _create_view(self, key: tuple[str, str], source: TableSource) -> _View:
        layer, name = key
        self._sequence += 1
        view = _View(name=f"{_PREFIX}_{layer}_{_safe(name)}_v{source.version}_{self._sequence}")
        try:
            frame = read_source(self._session, source, allowed_roots=self._roots)
            frame.createOrReplaceTempView(view.name)
        except self._errors as exc:
            raise InternalError(
                f"Could not open {layer}.{name} at version {source.version}: {exc}",
                hint="Check that the table's files still exist (a vacuum may have removed them).",
                uri=source.uri,
                version=source.version,
            ) from exc
        self._reserved.add(view.name.lower())
        self._views_created += 1
        log.debug("created view %s over %d files", view.name, len(source.files))
        return view

    # ------------------------------------------------------------------ running

    def _check_open(self) -> None:
        if self._closed:
            raise InternalError(
                "The Spark engine was used after close().",
                hint="Build a new engine; a closed one cannot be reopened.",
            )

    def _batches(
        self, frame: "DataFrame", schema: pa.Schema, *, batch_rows: int, sql: str
    ) -> Iterator[pa.RecordBatch]:
        rows: Any = None
        try:
            rows = frame.toLocalIterator()
            yield from row_batches(rows, schema, batch_rows=batch_rows)
        except self._errors as exc:
            raise translate(exc, sql) from exc
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()


def _is_plain(node: exp.Table) -> bool:
    return (
        node.args.get("db") is None
        and node.args.get("catalog") is None
        and isinstance(node.this, exp.Identifier)
    )


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name)[:64]


def _render(
    tree: exp.Expr, views: Mapping[tuple[str, str], str], relations: Mapping[str, str]
) -> str:
    bound = tree.copy()
    for reference in table_references(bound):
        node = reference.node
        key = reference.lake_key
        if key is not None:
            target = views[key]
        elif not reference.names_cte and _is_plain(node) and node.name.lower() in relations:
            target = relations[node.name.lower()]
        else:
            continue
        if node.args.get("alias") is None:
            node.set("alias", exp.TableAlias(this=node.this.copy()))
        node.set("this", exp.to_identifier(target, quoted=True))
        node.set("db", None)
    for column in bound.find_all(exp.Column):
        db = column.args.get("db")
        if isinstance(db, exp.Identifier) and db.name.lower() in _LAYER_SET:
            column.set("db", None)
            column.set("catalog", None)
    return bound.sql(dialect=_DIALECT, comments=False)
