"""Applying definitions to the catalog and answering metric queries from them.

Definitions are read from the catalog, not from files, at query time: ``gnomon apply`` is the
moment a change to ``metrics/*.yaml`` takes effect (checked as a whole, then stored as new
versions), so every process and every interface answers from the same definitions.
"""

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pyarrow as pa
from sqlglot import exp

from gnomon.catalog import (
    Catalog,
    CatalogMemo,
    ChangeWatch,
    DefinitionRecord,
    NotInMemory,
    memory_only,
)
from gnomon.clock import Clock, SystemClock
from gnomon.context import RequestContext
from gnomon.engine import (
    Access,
    AccessResolver,
    Engine,
    ReadHook,
    TableSource,
    apply_access,
    tenant_only,
)
from gnomon.errors import Conflict, InvalidInput, NotFound
from gnomon.semantic.cache import ResultCache
from gnomon.semantic.compiler import CompiledQuery, compile_query
from gnomon.semantic.errors import MetricQueryError
from gnomon.semantic.files import load_definitions
from gnomon.semantic.layer import Definition, Metric, SemanticLayer, build_layer
from gnomon.semantic.query import MetricQuery
from gnomon.semantic.refresh import RollupService

if TYPE_CHECKING:
    from gnomon.semantic.rollups import RollupPlan

__all__ = ["ApplyResult", "MetricResult", "SemanticService", "read_details"]

_COMPILED_KEPT = 256
"""Compiled queries kept per layer."""
_SCOPED_KEPT = 64
"""Scoped trees kept per compiled query (one per tenant and set of access rules)."""
_KINDS_ORDER = {"calendar": 0, "semantic_model": 1, "metric": 2}
_SEMANTIC_KINDS = ("calendar", "semantic_model", "metric")
"""The definition kinds this service owns; others (trigger rules) are left to their services."""
_CHANGE_DAYS = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}
"""Trailing windows ``pct_change`` compares (the rule language checks the same names)."""


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What ``apply`` changed: ``(kind, name, version)`` per definition."""

    created: tuple[tuple[str, str, int], ...]
    updated: tuple[tuple[str, str, int], ...]
    unchanged: tuple[tuple[str, str, int], ...]
    retired: tuple[tuple[str, str, int], ...]

    def rows(self) -> list[dict[str, Any]]:
        """One row per definition, for listings."""
        out = []
        for change, items in (
            ("created", self.created),
            ("updated", self.updated),
            ("unchanged", self.unchanged),
            ("retired", self.retired),
        ):
            out += [
                {"kind": kind, "name": name, "version": version, "change": change}
                for kind, name, version in items
            ]
        return sorted(out, key=lambda r: (_KINDS_ORDER[r["kind"]], r["name"]))


@dataclass(frozen=True)
class MetricResult:
    """A metric query's answer and how it was computed."""

    table: pa.Table
    tree: exp.Query
    """The query as it ran (policies applied)."""
    dialect: str
    engine: str
    elapsed_s: float
    compiled: CompiledQuery
    versions: Mapping[str, int] = field(default_factory=dict)
    """The version of each lake table read."""
    cached: bool = False
    """Whether the answer came from the result cache (no table was read)."""

    @property
    def columns(self) -> list[str]:
        """The result's columns, in order."""
        return list(self.table.column_names)

    @property
    def sql(self) -> str:
        """The SQL that ran, in the engine's dialect (rendered when asked: it costs)."""
        return self.tree.sql(dialect=self.dialect, pretty=True)


class SemanticService:
    """Definitions in, metric values out, for one project.

    Args:
        catalog: where definitions are stored.
        resolve: the published version of a lake table (``layer``, ``name``); raises NotFound.
        engines: engine factories by name (``duckdb``, ``spark``, ``postgres``).
        default_engine: the engine used when a query names none.
        metrics_dir: the project's ``metrics/`` folder.
        project_dir: files are named relative to it.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        resolve: Callable[[str, str], TableSource],
        engines: Mapping[str, Callable[[], Engine]],
        default_engine: str,
        metrics_dir: Path,
        project_dir: Path,
        rollups: RollupService | None = None,
        cache_entries: int = 256,
        clock: Clock | None = None,
        access: AccessResolver | None = None,
        policy_stamp: Callable[[RequestContext], Hashable] | None = None,
        on_read: ReadHook | None = None,
        changes: ChangeWatch | None = None,
    ) -> None:
        self._on_read = on_read
        self._definitions: CatalogMemo[str, _Stored] | None = (
            None
            if changes is None
            else CatalogMemo(
                changes, load=self._read_definitions, scope=lambda tenant, _records: tenant
            )
        )
        self._access = access or tenant_only
        self._policy_stamp = policy_stamp
        self._clock: Clock = clock or SystemClock()
        self._catalog = catalog
        self._rollups = rollups
        self._memo = threading.local()
        self._cache: ResultCache[MetricResult] | None = (
            ResultCache(cache_entries) if cache_entries > 0 else None
        )
        self._layer_cache: tuple[tuple[Any, Any], SemanticLayer] | None = None
        self._compile_lock = threading.Lock()
        self._compile_cache: tuple[SemanticLayer | None, OrderedDict[Hashable, _Prepared]] = (
            None,
            OrderedDict(),
        )
        self._resolve_published = resolve
        self._engines = engines
        self._default_engine = default_engine
        self._metrics_dir = metrics_dir
        self._project_dir = project_dir

    # ------------------------------------------------------------ definitions

    def apply(
        self,
        *,
        ctx: RequestContext,
        definitions: Sequence[Definition] | None = None,
        prune: bool = True,
        dry_run: bool = False,
        expected: Sequence[DefinitionRecord] | None = None,
    ) -> ApplyResult:
        """Check the definitions (the project's files by default) and store what changed.

        All of them are checked together against the lake before anything is stored; one bad
        definition stores nothing. With ``prune``, stored definitions that are no longer given
        are retired. With ``dry_run`` nothing is stored: the result says what would change.
        ``expected`` are the stored definitions the given ones were made from (a change to one
        definition among the others): if the tenant's definitions are no longer those when the
        change is stored, nothing is stored, so no concurrent change is lost.

        Raises:
            DefinitionError: any problem, each named with its file and key.
            Conflict: the stored definitions are no longer ``expected``; retrying is safe.
        """
        items = (
            list(definitions)
            if definitions is not None
            else load_definitions(self._metrics_dir, root=self._project_dir)
        )
        self._build(items)
        created, updated, unchanged, retired = [], [], [], []
        with self._catalog.transaction() as tx:
            if dry_run:
                return _planned(
                    tx.definitions.current(tenant=ctx.tenant, kind=_SEMANTIC_KINDS),
                    items,
                    prune=prune,
                )
            if expected is not None:
                tx.definitions.lock(tenant=ctx.tenant)
                now = {
                    (r.kind, r.name, r.version)
                    for r in tx.definitions.current(tenant=ctx.tenant, kind=_SEMANTIC_KINDS)
                }
                if now != {(r.kind, r.name, r.version) for r in expected}:
                    raise Conflict(
                        "The tenant's definitions changed while this change was being checked;"
                        " nothing was stored.",
                        hint="Retry the request: it is checked again against the new definitions.",
                    )
            given = set()
            for item in items:
                given.add((item.kind, item.name))
                before = tx.definitions.get(tenant=ctx.tenant, kind=item.kind, name=item.name)
                record, changed = tx.definitions.put(
                    tenant=ctx.tenant,
                    kind=item.kind,
                    name=item.name,
                    spec=dict(item.spec),
                    fingerprint=_fingerprint(item.spec),
                    source=item.source,
                    created_by=ctx.principal.user,
                )
                entry = (item.kind, item.name, record.version)
                if not changed:
                    unchanged.append(entry)
                elif before is None:
                    created.append(entry)
                else:
                    updated.append(entry)
            if prune:
                for record in tx.definitions.current(tenant=ctx.tenant, kind=_SEMANTIC_KINDS):
                    if (record.kind, record.name) not in given:
                        gone = tx.definitions.retire(
                            tenant=ctx.tenant,
                            kind=record.kind,
                            name=record.name,
                            created_by=ctx.principal.user,
                        )
                        if gone is not None:
                            retired.append((record.kind, record.name, gone.version))
        return ApplyResult(tuple(created), tuple(updated), tuple(unchanged), tuple(retired))

    def stored(self, *, ctx: RequestContext) -> list[DefinitionRecord]:
        """The tenant's current definitions, as stored (kept in memory while none changes)."""
        return list(self._stored(ctx).records)

    def _stored(self, ctx: RequestContext) -> "_Stored":
        if self._definitions is not None:
            return self._definitions.get(ctx.tenant)
        return self._read_definitions(ctx.tenant)

    def _read_definitions(self, tenant: str) -> "_Stored":
        with self._catalog.transaction(read_only=True) as tx:
            records = tuple(tx.definitions.current(tenant=tenant, kind=_SEMANTIC_KINDS))
        return _Stored(records, tuple(sorted((r.kind, r.name, r.version) for r in records)))

    def history(self, kind: str, name: str, *, ctx: RequestContext) -> list[DefinitionRecord]:
        """Every stored version of one definition, oldest first."""
        with self._catalog.transaction(read_only=True) as tx:
            return tx.definitions.history(tenant=ctx.tenant, kind=kind, name=name)

    def layer(
        self, *, ctx: RequestContext, records: Sequence[DefinitionRecord] | None = None
    ) -> SemanticLayer:
        """The tenant's applied definitions, resolved against the lake's current tables.

        Raises:
            NotFound: nothing has been applied yet.
            DefinitionError: a table the definitions read has changed so that they no longer
                resolve (a column was dropped, say).
        """
        if records is None:
            records = self.stored(ctx=ctx)
        if not any(r.kind == "metric" for r in records):
            raise NotFound(
                "No metrics are defined yet.",
                hint="Write metrics/*.yaml (see docs/metrics.md) and run `gnomon apply`.",
            )
        stamp = (ctx.tenant, *sorted((r.kind, r.name, r.version) for r in records))
        tables = sorted({str(r.spec.get("table")) for r in records if r.kind == "semantic_model"})
        versions = tuple(self._published_version(t) for t in tables)
        if self._layer_cache is not None and self._layer_cache[0] == (stamp, versions):
            return self._layer_cache[1]
        layer = self._build(
            [
                Definition(r.kind, r.name, r.spec, r.source or "<catalog>")
                for r in records
                if r.kind != "trigger"
            ]
        )
        self._layer_cache = ((stamp, versions), layer)
        return layer

    def metrics(self, *, ctx: RequestContext) -> list[dict[str, Any]]:
        """One row per metric: name, type, description, unit, owner, dimensions."""
        layer = self.layer(ctx=ctx)
        return [_metric_row(layer, metric) for metric in layer.metrics.values()]

    def describe(
        self, name: str, *, ctx: RequestContext, engine: str | None = None
    ) -> dict[str, Any]:
        """A metric's definition, its dimensions and the SQL of its series at its grain."""
        layer = self.layer(ctx=ctx)
        metric = layer.metric(name)
        engine_name = engine or self._default_engine
        dialect = self._engine(engine_name).dialect
        today = self._clock.now().date()
        sample = MetricQuery.build(
            [name], grain=metric.spec.grain, start=today - timedelta(days=30), end=today
        )
        compiled = compile_query(layer, sample, dialect=dialect)
        sources = {
            base.model.table_key: self._resolve(base.model.layer, base.model.table)
            for base in layer.base_metrics(name)
            if base.model is not None
        }
        tree = apply_access(compiled.tree, self._access(ctx, sources), show_keys=False)
        return {
            **_metric_row(layer, metric),
            "definition": metric.spec.model_dump(mode="json", exclude_none=True),
            "source": metric.source,
            "inputs": list(metric.inputs),
            "hierarchies": sorted(
                {
                    " > ".join(path)
                    for base in layer.base_metrics(name)
                    if base.model is not None
                    for path in layer.hierarchy(base.model.name)
                }
            ),
            "sql": tree.sql(dialect=dialect, pretty=True),
            "sql_engine": engine_name,
        }

    def data_view(self, metrics: Sequence[str], *, ctx: RequestContext) -> str:
        """Which view of the data ``ctx`` reads ``metrics`` through, as a short stable key.

        ``""`` when nothing narrows the reads beyond the tenant; otherwise a digest of the row
        and column policies that apply, so that readers under the same rules share one key.
        What is computed from a metric's rows (anomalies, say) is kept per view and shown only
        to readers of that view.

        Raises:
            UnknownMetric: a metric is not defined.
        """
        layer = self.layer(ctx=ctx)
        sources = {
            base.model.table_key: self._resolve(base.model.layer, base.model.table)
            for name in metrics
            for base in layer.base_metrics(name)
            if base.model is not None
        }
        access = self._access(ctx, sources)
        narrowed = {t: rules for t, rules in access.tables.items() if access.restricts(t)}
        if not narrowed:
            return ""
        key = _access_key(Access(tenant=access.tenant, tables=narrowed))
        return hashlib.sha256(repr(key).encode()).hexdigest()[:16]

    def _build(self, items: Sequence[Definition]) -> SemanticLayer:
        tables: dict[str, pa.Schema] = {}
        for item in items:
            table = item.spec.get("table") if item.kind == "semantic_model" else None
            if isinstance(table, str) and "." in table and table not in tables:
                layer, _, name = table.partition(".")
                try:
                    tables[table] = self._resolve(layer, name).schema
                except (NotFound, InvalidInput):
                    continue
        return build_layer(items, tables=tables)

    # ------------------------------------------------------------ queries

    def query(
        self,
        query: MetricQuery,
        *,
        ctx: RequestContext,
        engine: str | None = None,
        use_rollups: bool = True,
    ) -> MetricResult:
        """Answer ``query`` from the published tables, for the context's tenant.

        A query with a grain but no range covers the data's whole time span. Fresh rollups are
        read instead of raw tables wherever they give the same answer, unless ``use_rollups`` is
        off.

        Raises:
            UnknownMetric, MetricQueryError: the query cannot be answered as asked.
        """
        self._memo.tables = {}
        try:
            return self._query(query, ctx=ctx, engine=engine, use_rollups=use_rollups)
        finally:
            self._memo.tables = None

    def latest(
        self,
        metrics: Sequence[str],
        *,
        by: Sequence[str] = (),
        changes: Sequence[tuple[str, str]] = (),
        ctx: RequestContext,
    ) -> list[dict[str, Any]]:
        """The metrics' values in the latest bucket of their grain that holds data, per ``by``.

        What rules on KPI values judge: one row per combination of ``by`` values, with each
        metric's value under its name, ``<metric>_target`` (and ``target`` for a single metric)
        where the metric has a target, and ``time``, the bucket. Each ``(metric, period)`` of
        ``changes`` adds ``pct_change:<metric>:<period>``: the relative change of the metric
        between the trailing window of that period up to the latest day and the window before
        it (each computed by the metric's own definition; ``None`` where the earlier window is
        0 or empty). Periods are ``day``, ``week``, ``month``, ``quarter``, ``year``
        (1, 7, 30, 91, 365 days).

        Raises:
            UnknownMetric, MetricQueryError: a metric or dimension is not defined.
            MetricQueryError: a period is not one of those.
        """
        layer = self.layer(ctx=ctx)
        specs = [layer.metric(name).spec for name in metrics]
        grain = specs[0].grain if specs else None
        result = self.query(MetricQuery.build(list(metrics), by=list(by), grain=grain), ctx=ctx)
        rows = result.table.to_pylist()
        if not rows:
            return []
        newest = max(row["time"] for row in rows if row.get("time") is not None)
        targets = {name: spec.target for name, spec in zip(metrics, specs, strict=True)}
        latest = []
        for row in rows:
            if row.get("time") != newest:
                continue
            for name, target in targets.items():
                row[f"{name}_target"] = target
            if len(targets) == 1:
                row["target"] = next(iter(targets.values()))
            latest.append(row)
        last_day = newest.date() if isinstance(newest, datetime) else newest
        for metric, period in changes:
            change = self._change(metric, period, by, last_day, ctx)
            for row in latest:
                row[f"pct_change:{metric}:{period}"] = change.get(tuple(row[d] for d in by))
        return latest

    def _change(
        self,
        metric: str,
        period: str,
        by: Sequence[str],
        last_day: date,
        ctx: RequestContext,
    ) -> dict[tuple[Any, ...], float | None]:
        """The relative change of ``metric`` per ``by`` values over two trailing windows."""
        days = _CHANGE_DAYS.get(period)
        if days is None:
            raise MetricQueryError(
                f"{period!r} is not a period to compare over.",
                hint=f"Use one of: {', '.join(_CHANGE_DAYS)}.",
            )
        windows = []
        for back in (0, days):
            end = last_day - timedelta(days=back)
            query = MetricQuery.build(
                [metric], by=list(by), start=end - timedelta(days=days - 1), end=end
            )
            table = self.query(query, ctx=ctx).table.to_pylist()
            windows.append({tuple(r[d] for d in by): r[metric] for r in table})
        now, before = windows
        return {
            key: (value - before[key]) / abs(before[key])
            if value is not None and before.get(key) not in (None, 0)
            else None
            for key, value in now.items()
        }

    def cached(
        self,
        query: MetricQuery,
        *,
        ctx: RequestContext,
        engine: str | None = None,
        use_rollups: bool = True,
    ) -> MetricResult | None:
        """The result cache's answer to ``query``, found from memory alone, not yet audited.

        For callers that must not wait on the catalog or the lake (an event loop): ``None``
        when the answer is not cached, or when telling that it still holds needs a read;
        :meth:`query` then answers (in a thread). The caller records the read in the audit
        log with :func:`read_details`. The result is the one kept: ``cached`` and
        ``elapsed_s`` describe the query that computed it.
        """
        if self._cache is None:
            return None
        engine_name = engine or self._default_engine
        self._memo.tables = {}
        try:
            with memory_only():
                key = self._cache_key(query, ctx, engine_name, use_rollups, self._stored(ctx))
                hit = self._cache.get(key, self._published_version)
        except NotInMemory:
            return None
        finally:
            self._memo.tables = None
        return hit

    def _cache_key(
        self,
        query: MetricQuery,
        ctx: RequestContext,
        engine_name: str,
        use_rollups: bool,
        stored: "_Stored",
    ) -> Hashable:
        """Everything an answer depends on but the data (whose versions the entry keeps)."""
        return _Key(
            (
                ctx.tenant,
                _policy_key(ctx),
                engine_name,
                query,
                use_rollups,
                stored.versions,
                None if self._policy_stamp is None else self._policy_stamp(ctx),
            )
        )

    def _query(
        self, query: MetricQuery, *, ctx: RequestContext, engine: str | None, use_rollups: bool
    ) -> MetricResult:
        started = time.perf_counter()
        engine_name = engine or self._default_engine
        stored = self._stored(ctx)
        records = list(stored.records)
        key = self._cache_key(query, ctx, engine_name, use_rollups, stored)
        if self._cache is not None:
            hit = self._cache.get(key, self._published_version)
            if hit is not None:
                self._audit(ctx, query, hit.table.num_rows, engine_name, cached=True)
                return replace(hit, cached=True, elapsed_s=time.perf_counter() - started)
        runner = self._engine(engine_name)
        layer = self.layer(ctx=ctx, records=records)
        prepared, tables, _, access = self._compile(
            query, ctx=ctx, runner=runner, use_rollups=use_rollups, records=records
        )
        compiled = prepared.compiled
        tree = prepared.scoped(access)
        table = _uniform(runner.execute(tree, tables=tables, relations=compiled.relations))
        sources = {
            layer.models[name].table_key: self._resolve(
                layer.models[name].layer, layer.models[name].table
            ).version
            for name in compiled.sources
        }
        result = MetricResult(
            table=table,
            tree=tree,
            dialect=runner.dialect,
            engine=engine_name,
            elapsed_s=time.perf_counter() - started,
            compiled=compiled,
            versions={key: source.version for key, source in tables.items()},
        )
        if self._cache is not None and sources:
            self._cache.put(key, result, sources)
        self._audit(ctx, query, table.num_rows, engine_name, cached=False)
        return result

    def _audit(
        self, ctx: RequestContext, query: MetricQuery, rows: int, engine: str, *, cached: bool
    ) -> None:
        if self._on_read is None:
            return
        self._on_read(
            ctx, "metrics.query", read_details(query, rows=rows, engine=engine, cached=cached)
        )

    def _resolve(self, layer: str, name: str) -> TableSource:
        """A table's published version, looked up once per query (versions may move between)."""
        memo: dict[tuple[str, str], TableSource] | None = getattr(self._memo, "tables", None)
        if memo is None:
            return self._resolve_published(layer, name)
        found = memo.get((layer, name))
        if found is None:
            found = memo[(layer, name)] = self._resolve_published(layer, name)
        return found

    def _published_version(self, table: str) -> int | None:
        try:
            return self._resolve(*table.split(".", 1)).version
        except NotFound:
            return None

    def explain(
        self,
        query: MetricQuery,
        *,
        ctx: RequestContext,
        engine: str | None = None,
        use_rollups: bool = True,
    ) -> dict[str, Any]:
        """How ``query`` would be answered: engine, tables and versions, rollups, the SQL."""
        engine_name = engine or self._default_engine
        runner = self._engine(engine_name)
        prepared, tables, stale, access = self._compile(
            query, ctx=ctx, runner=runner, use_rollups=use_rollups
        )
        compiled = prepared.compiled
        tree = apply_access(compiled.tree, access, show_keys=False)
        time_range = compiled.time_range
        refusals = {**stale, **compiled.rollup_refusals}
        if not use_rollups:
            refusals = dict.fromkeys(compiled.sources, "rollups were turned off (--no-rollup)")
        return {
            "engine": engine_name,
            "dialect": runner.dialect,
            "tables": {key: source.version for key, source in tables.items()},
            "rollups_used": [t for t in compiled.sources.values() if t.startswith("gold.rollup_")],
            "rollups_not_used": refusals,
            "grain": compiled.grain,
            "start": None if time_range is None else time_range.start.isoformat(),
            "end_exclusive": None if time_range is None else time_range.end.isoformat(),
            "spine_buckets": sum(t.num_rows for t in compiled.relations.values()),
            "sql": tree.sql(dialect=runner.dialect, pretty=True),
        }

    def _compile(
        self,
        query: MetricQuery,
        *,
        ctx: RequestContext,
        runner: Engine,
        use_rollups: bool,
        records: Sequence[DefinitionRecord] | None = None,
    ) -> tuple["_Prepared", dict[str, TableSource], dict[str, str], Access]:
        layer = self.layer(ctx=ctx, records=records)
        used = {
            base.model.name: base.model
            for name in query.metrics
            for base in layer.base_metrics(name)
            if base.model is not None
        }
        sources = {
            model.table_key: self._resolve(model.layer, model.table) for model in used.values()
        }
        access = self._access(ctx, sources)
        if query.grain is not None and query.start is None and query.end is None:
            query = self._whole_span(layer, query, access=access, runner=runner)
        plans: dict[str, RollupPlan] = {}
        rollup_tables: dict[str, TableSource] = {}
        stale: dict[str, str] = {}
        if use_rollups and self._rollups is not None:
            plans, rollup_tables, stale = self._rollups.fresh(layer, ctx=ctx)
            for model_name in list(plans):
                # A rollup holds every row: where policies narrow the table, it must not answer.
                table = layer.models[model_name].table_key
                if access.restricts(table):
                    del plans[model_name]
                    stale[model_name] = f"row or column policies apply to {table} for this user"
        prepared = self._prepared(layer, query, dialect=runner.dialect, rollups=plans)
        tables = {
            key: rollup_tables[key]
            if key in rollup_tables
            else sources.get(key) or self._resolve(*key.split(".", 1))
            for key in prepared.compiled.tables
        }
        return prepared, tables, stale, access

    def _prepared(
        self,
        layer: SemanticLayer,
        query: MetricQuery,
        *,
        dialect: str,
        rollups: Mapping[str, "RollupPlan"],
    ) -> "_Prepared":
        """:func:`compile_query`, kept per layer: a dashboard asks the same questions again.

        A compiled query depends only on the layer (the definitions over the tables' current
        schemas), the query, the dialect and the rollups chosen; a new layer starts afresh.
        """
        key = (
            query,
            dialect,
            tuple(sorted((name, plan.name, plan.fingerprint) for name, plan in rollups.items())),
        )
        with self._compile_lock:
            if self._compile_cache[0] is not layer:
                self._compile_cache = (layer, OrderedDict())
            kept = self._compile_cache[1]
            found = kept.get(key)
            if found is not None:
                kept.move_to_end(key)
                return found
        prepared = _Prepared(compile_query(layer, query, dialect=dialect, rollups=rollups))
        with self._compile_lock:
            if self._compile_cache[0] is layer:
                kept = self._compile_cache[1]
                kept[key] = prepared
                while len(kept) > _COMPILED_KEPT:
                    kept.popitem(last=False)
        return prepared

    def rollup_status(self, *, ctx: RequestContext) -> list[dict[str, Any]]:
        """The rollups the definitions call for and their state."""
        return [s.to_row() for s in self._require_rollups().status(self.layer(ctx=ctx), ctx=ctx)]

    def refresh(self, *, ctx: RequestContext, full: bool = False) -> list[dict[str, Any]]:
        """Refresh the tenant's rollups (only changed periods, unless ``full``)."""
        rollups = self._require_rollups()
        return [r.to_row() for r in rollups.refresh(self.layer(ctx=ctx), ctx=ctx, full=full)]

    def _require_rollups(self) -> RollupService:
        if self._rollups is None:
            raise InvalidInput("Rollups are not set up for this service.")
        return self._rollups

    def _whole_span(
        self, layer: SemanticLayer, query: MetricQuery, *, access: Access, runner: Engine
    ) -> MetricQuery:
        """The query over the first to the last day any of its models has data for."""
        lows: list[datetime] = []
        highs: list[datetime] = []
        models = {
            m.model.name: m.model for n in query.metrics for m in layer.base_metrics(n) if m.model
        }
        zone = ZoneInfo(layer.calendar.time_zone)
        for model in models.values():
            if model.time_column is None:
                continue
            column = exp.column(model.time_column, quoted=True)
            tree = exp.select(
                exp.Min(this=column).as_("low"), exp.Max(this=column.copy()).as_("high")
            ).from_(
                exp.Table(this=exp.to_identifier(model.table), db=exp.to_identifier(model.layer))
            )
            source = self._resolve(model.layer, model.table)
            row = runner.execute(
                apply_access(tree, access), tables={model.table_key: source}
            ).to_pylist()[0]
            for value, bucket in ((row["low"], lows), (row["high"], highs)):
                if isinstance(value, datetime):
                    bucket.append(value.astimezone(zone) if value.tzinfo else value)
                elif isinstance(value, date):
                    bucket.append(datetime.combine(value, datetime.min.time()))
        if not lows:
            raise MetricQueryError(
                "The metrics' tables hold no rows yet, so there is no time span to show.",
                hint="Load data first, or give --start and --end.",
            )
        return MetricQuery(
            metrics=query.metrics,
            by=query.by,
            grain=query.grain,
            start=min(lows).date(),
            end=max(highs).date(),
            where=query.where,
            order=query.order,
            limit=query.limit,
        )

    def _engine(self, name: str) -> Engine:
        factory = self._engines.get(name)
        if factory is None:
            raise InvalidInput(
                f"{name!r} is not an engine.",
                hint=f"Use one of: {', '.join(sorted(self._engines))}.",
            )
        return factory()


def _planned(
    stored: Sequence[DefinitionRecord], items: Sequence[Definition], *, prune: bool
) -> ApplyResult:
    """What applying ``items`` over ``stored`` would do, without doing it."""
    current = {(r.kind, r.name): r for r in stored}
    created, updated, unchanged = [], [], []
    for item in items:
        record = current.get((item.kind, item.name))
        if record is None:
            created.append((item.kind, item.name, 1))
        elif record.fingerprint == _fingerprint(item.spec):
            unchanged.append((item.kind, item.name, record.version))
        else:
            updated.append((item.kind, item.name, record.version + 1))
    given = {(i.kind, i.name) for i in items}
    retired = [
        (r.kind, r.name, r.version + 1) for r in stored if prune and (r.kind, r.name) not in given
    ]
    return ApplyResult(tuple(created), tuple(updated), tuple(unchanged), tuple(retired))


class _Prepared:
    """A compiled query and its trees scoped per access rules, kept with it.

    Engines keep the SQL they render per tree, so asking the same question again skips
    scoping and rendering. No tree is changed once made (access rules apply to a copy).
    """

    __slots__ = ("_lock", "_scoped", "compiled")

    def __init__(self, compiled: CompiledQuery) -> None:
        self.compiled = compiled
        self._scoped: dict[Hashable, exp.Query] = {}
        self._lock = threading.Lock()

    def scoped(self, access: Access) -> exp.Query:
        """``apply_access`` of the compiled tree, made once per tenant and rules."""
        key = _access_key(access)
        with self._lock:
            tree = self._scoped.get(key)
        if tree is None:
            tree = apply_access(self.compiled.tree, access)
            with self._lock:
                if len(self._scoped) >= _SCOPED_KEPT:
                    self._scoped.clear()
                self._scoped[key] = tree
        return tree


class _Key:
    """A result-cache key that hashes its parts once (a lookup hashes it several times)."""

    __slots__ = ("_hash", "_parts")

    def __init__(self, parts: tuple[Hashable, ...]) -> None:
        self._parts = parts
        self._hash = hash(parts)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and self._hash == other._hash and self._parts == other._parts


@dataclass(frozen=True, slots=True)
class _Stored:
    """A tenant's current definition records, and their versions (part of a cache key)."""

    records: tuple[DefinitionRecord, ...]
    versions: tuple[tuple[str, str, int], ...]


def _access_key(access: Access) -> Hashable:
    """What of ``access`` decides the scoped tree: the tenant and each table's rules."""
    return (
        access.tenant,
        tuple(
            sorted(
                (
                    table,
                    None if rules.row_filter is None else rules.row_filter.sql(),
                    tuple(sorted(rules.masks.items())),
                    rules.columns,
                )
                for table, rules in access.tables.items()
            )
        ),
    )


def read_details(query: MetricQuery, *, rows: int, engine: str, cached: bool) -> dict[str, Any]:
    """What the audit log records of a metric query (action ``metrics.query``)."""
    return {
        "metrics": list(query.metrics),
        "by": list(query.by),
        "grain": query.grain,
        "start": None if query.start is None else query.start.isoformat(),
        "end": None if query.end is None else query.end.isoformat(),
        "where": query.where,
        "rows": rows,
        "engine": engine,
        "cached": cached,
    }


def _policy_key(ctx: RequestContext) -> tuple[Any, ...]:
    """What of the principal may change which rows it sees (row-level policies read these)."""
    principal = ctx.principal
    attributes = json.dumps(principal.attributes, sort_keys=True, default=str)
    return (principal.user, tuple(sorted(principal.roles)), attributes)


def _uniform(table: pa.Table) -> pa.Table:
    """The same types from every engine: bucket starts are wall-clock times without zone."""
    if "time" not in table.column_names:
        return table
    index = table.column_names.index("time")
    column = table.column(index)
    if pa.types.is_timestamp(column.type) and column.type.tz is not None:
        return table.set_column(index, "time", column.cast(pa.timestamp("us")))
    return table


def _fingerprint(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _metric_row(layer: SemanticLayer, metric: Metric) -> dict[str, Any]:
    spec = metric.spec
    return {
        "name": metric.name,
        "type": metric.kind,
        "description": spec.description,
        "unit": spec.unit,
        "format": spec.format,
        "owner": spec.owner,
        "direction": spec.direction,
        "target": spec.target,
        "grain": spec.grain,
        "refresh": spec.refresh,
        "dimensions": layer.dimensions_of(metric.name),
    }
