"""Keeping rollups fresh: recompute only the time buckets whose source rows changed.

A rollup remembers (in the catalog, per tenant) the source table version it was computed from.
Refreshing compares that version's files with the current version's files in the tenant's
partition: files that appeared or disappeared hold every row that was added, changed or removed.
The months (or the rollup's own periods, when coarser) those rows fall in are recomputed from the
source; the rollup's other rows are kept as they are. The tenant's rollup rows are then replaced
in one commit and published with the new state in one catalog transaction, so a reader sees the
old rollup or the new one, never a mix. When the old files are gone (vacuumed) or the definition
changed, the rollup is rebuilt in full.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlglot import exp

from gnomon.catalog import (
    Catalog,
    CatalogMemo,
    ChangeWatch,
    RollupRecord,
    hold_lease,
    process_owner,
)
from gnomon.clock import Clock
from gnomon.context import RequestContext
from gnomon.engine import Engine, TableSource, scope_to_tenant
from gnomon.lake import Lake, Layer, TableSnapshot
from gnomon.semantic.layer import SemanticLayer
from gnomon.semantic.rollups import RollupPlan, plan_rollups, rollup_build
from gnomon.semantic.time import TimeRange, bucket_expression, next_bucket

__all__ = ["RefreshResult", "RollupService", "RollupStatus"]

_TIME = "time"
_SPAN_GRAINS = frozenset({"week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year"})


@dataclass(frozen=True, slots=True)
class RollupStatus:
    """A rollup and whether it can answer queries now."""

    name: str
    model: str
    grain: str
    metrics: tuple[str, ...]
    state: str
    """``fresh``, ``stale`` (the source changed since), ``changed`` (the definitions changed) or
    ``missing`` (never refreshed)."""
    source_table: str
    source_version: int
    refreshed_from: int | None
    rows: int | None
    refreshed_at: datetime | None

    def to_row(self) -> dict[str, Any]:
        """The status as a listing row."""
        return {
            "name": self.name,
            "model": self.model,
            "grain": self.grain,
            "metrics": list(self.metrics),
            "state": self.state,
            "source_table": self.source_table,
            "source_version": self.source_version,
            "refreshed_from": self.refreshed_from,
            "rows": self.rows,
            "refreshed_at": self.refreshed_at,
        }


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What one refresh did."""

    name: str
    mode: str
    """``full``, ``incremental`` or ``unchanged``."""
    recomputed_from: datetime | None
    recomputed_to: datetime | None
    rows: int
    version: int | None
    elapsed_s: float

    def to_row(self) -> dict[str, Any]:
        """The result as a listing row."""
        return {
            "name": self.name,
            "mode": self.mode,
            "recomputed_from": self.recomputed_from,
            "recomputed_to": self.recomputed_to,
            "rows": self.rows,
            "version": self.version,
            "elapsed_s": round(self.elapsed_s, 3),
        }


class RollupService:
    """Rollups of one project: their state, their refresh, the fresh ones for queries."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        lake: Lake,
        engine: Engine,
        resolve: Callable[[str, str], TableSource],
        snapshot_at: Callable[[Layer, str, int], TableSnapshot],
        clock: Clock,
        changes: ChangeWatch | None = None,
    ) -> None:
        self._catalog = catalog
        self._lake = lake
        self._engine = engine
        self._resolve = resolve
        self._snapshot_at = snapshot_at
        self._clock = clock
        self._owner = process_owner()
        # What every query with rollups on reads: the tenant's rollup states (kept while the
        # tenant's generation stands) and the plans of a layer; ``snapshot_at`` keeps the
        # snapshots of table versions.
        self._states: CatalogMemo[str, dict[str, RollupRecord]] | None = (
            None
            if changes is None
            else CatalogMemo(changes, load=self._read_states, scope=lambda tenant, _s: tenant)
        )
        self._plans: tuple[SemanticLayer | None, list[RollupPlan]] = (None, [])

    def status(self, layer: SemanticLayer, *, ctx: RequestContext) -> list[RollupStatus]:
        """Every rollup the definitions call for, and its state for the tenant."""
        out = []
        with self._catalog.transaction(read_only=True) as tx:
            states = {r.name: r for r in tx.rollups.list(tenant=ctx.tenant)}
        for plan in self._plans_of(layer):
            source = self._resolve(plan.model.layer, plan.model.table)
            record = states.get(plan.name)
            out.append(
                RollupStatus(
                    name=plan.name,
                    model=plan.model.name,
                    grain=plan.grain,
                    metrics=tuple(sorted(plan.metric_names)),
                    state=_state(record, plan, source.version),
                    source_table=plan.model.table_key,
                    source_version=source.version,
                    refreshed_from=None if record is None else record.source_version,
                    rows=None if record is None else record.rows,
                    refreshed_at=None if record is None else record.refreshed_at,
                )
            )
        return out

    def fresh(
        self, layer: SemanticLayer, *, ctx: RequestContext
    ) -> tuple[dict[str, RollupPlan], dict[str, TableSource], dict[str, str]]:
        """Rollups a query may read: by model, their table versions, and why others may not."""
        plans: dict[str, RollupPlan] = {}
        tables: dict[str, TableSource] = {}
        stale: dict[str, str] = {}
        states = (
            self._read_states(ctx.tenant) if self._states is None else self._states.get(ctx.tenant)
        )
        for plan in self._plans_of(layer):
            record = states.get(plan.name)
            source = self._resolve(plan.model.layer, plan.model.table)
            state = _state(record, plan, source.version)
            if record is None or state != "fresh":
                stale[plan.model.name] = (
                    f"its rollup {plan.name} is {state}: run `gnomon metrics refresh`"
                )
                continue
            plans[plan.model.name] = plan
            tables[plan.table_key] = self._snapshot_at(Layer.GOLD, plan.name, record.table_version)
        return plans, tables, stale

    def _read_states(self, tenant: str) -> dict[str, RollupRecord]:
        with self._catalog.transaction(read_only=True) as tx:
            return {r.name: r for r in tx.rollups.list(tenant=tenant)}

    def _plans_of(self, layer: SemanticLayer) -> list[RollupPlan]:
        kept_layer, kept = self._plans
        if kept_layer is layer:
            return kept
        plans = plan_rollups(layer)
        self._plans = (layer, plans)
        return plans

    def refresh(
        self, layer: SemanticLayer, *, ctx: RequestContext, full: bool = False
    ) -> list[RefreshResult]:
        """Bring every rollup of the tenant up to date with its source table.

        Raises:
            Conflict: another process is refreshing the same rollup.
        """
        results = []
        for plan in self._plans_of(layer):
            with hold_lease(
                self._catalog,
                f"rollup:{plan.name}",
                owner=self._owner,
                ttl=timedelta(minutes=10),
                clock=self._clock,
            ):
                results.append(self._refresh_one(plan, layer, ctx=ctx, full=full))
        return results

    def _refresh_one(
        self, plan: RollupPlan, layer: SemanticLayer, *, ctx: RequestContext, full: bool
    ) -> RefreshResult:
        started = time.perf_counter()
        source = self._resolve(plan.model.layer, plan.model.table)
        with self._catalog.transaction() as tx:
            record = tx.rollups.get(tenant=ctx.tenant, name=plan.name)
        state = _state(record, plan, source.version)
        span: TimeRange | None = None
        keep: TableSource | None = None
        if not full and record is not None and state in ("fresh", "stale"):
            changed = self._changed_files(plan, record, source, tenant=ctx.tenant)
            if changed is not None and not changed:
                self._save(plan, record.table_version, record.rows, source.version, ctx=ctx)
                return RefreshResult(
                    plan.name, "unchanged", None, None, record.rows, None, _since(started)
                )
            if changed:
                span = self._changed_span(plan, layer, source, changed, ctx=ctx)
                keep = self._lake.snapshot(Layer.GOLD, plan.name, version=record.table_version)
        tables: dict[str, TableSource] = {plan.model.table_key: source}
        build = scope_to_tenant(rollup_build(plan, layer, time_range=span), tenant=ctx.tenant)
        fresh_rows = self._engine.execute(build, tables=tables)
        if keep is not None and span is not None:
            kept = self._kept_rows(plan, keep, span, fresh_rows.schema, ctx=ctx)
            rows = pa.concat_tables([kept, fresh_rows])
        else:
            rows = fresh_rows
        # In time order, so each row group covers a span of days: a query over a range reads
        # only the groups that overlap it (their min/max tell the engine), not the whole rollup.
        rows = rows.sort_by([(_TIME, "ascending")])
        version = self._lake.overwrite_partition(
            Layer.GOLD,
            plan.name,
            rows,
            tenant=ctx.tenant,
            batch_id=f"rollup-{source.version}-{plan.fingerprint[:12]}",
        )
        self._save(plan, version, rows.num_rows, source.version, ctx=ctx, publish=True)
        return RefreshResult(
            plan.name,
            "incremental" if span is not None else "full",
            None if span is None else span.start,
            None if span is None else span.end,
            rows.num_rows,
            version,
            _since(started),
        )

    def _changed_files(
        self, plan: RollupPlan, record: RollupRecord, source: TableSource, *, tenant: str
    ) -> tuple[str, ...] | None:
        """Files of the tenant that differ between the refreshed and the current version.

        ``None`` when the old version's files can no longer be read (vacuumed): rebuild in full.
        """
        layer = Layer(plan.model.layer)
        try:
            old = self._lake.snapshot(layer, plan.model.table, version=record.source_version)
        except Exception:  # noqa: BLE001 - any failure to read old history means: rebuild in full
            return None
        marker = f"_tenant_id={tenant}/"
        changed = sorted(
            f for f in set(old.files) ^ set(source.files) if marker in f.replace("\\", "/")
        )
        if any(f in old.files and "://" not in f and not Path(f).exists() for f in changed):
            return None
        return tuple(changed)

    def _changed_span(
        self,
        plan: RollupPlan,
        layer: SemanticLayer,
        source: TableSource,
        files: tuple[str, ...],
        *,
        ctx: RequestContext,
    ) -> TimeRange:
        """The whole periods (months, or the rollup's grain if coarser) the changed rows touch."""
        unit = plan.grain if plan.grain in _SPAN_GRAINS else "month"
        model = plan.model
        assert model.time_column is not None  # noqa: S101 - rollups need time
        column = exp.column(model.time_column, quoted=True)
        bucket = bucket_expression(
            column, unit, layer.calendar, is_date=model.time_is_date, is_naive=model.time_is_naive
        )
        tree = exp.select(
            exp.Min(this=bucket).as_("low"), exp.Max(this=bucket.copy()).as_("high")
        ).from_(exp.Table(this=exp.to_identifier(model.table), db=exp.to_identifier(model.layer)))
        narrowed = replace(source, files=files) if isinstance(source, TableSnapshot) else source
        row = self._engine.execute(
            scope_to_tenant(tree, tenant=ctx.tenant), tables={model.table_key: narrowed}
        ).to_pylist()[0]
        low, high = row["low"], row["high"]
        if low is None or high is None:  # only rows without time changed
            low = high = datetime(1970, 1, 1)
        return TimeRange(low, next_bucket(high, unit), layer.calendar.time_zone)

    def _kept_rows(
        self,
        plan: RollupPlan,
        keep: TableSource,
        span: TimeRange,
        schema: pa.Schema,
        *,
        ctx: RequestContext,
    ) -> pa.Table:
        stamp = exp.DataType(this=exp.DataType.Type.TIMESTAMP)
        time_column = exp.column(_TIME, quoted=True)
        outside = exp.or_(
            exp.LT(
                this=time_column,
                expression=exp.cast(exp.Literal.string(span.start.isoformat(sep=" ")), stamp),
            ),
            exp.GTE(
                this=time_column.copy(),
                expression=exp.cast(exp.Literal.string(span.end.isoformat(sep=" ")), stamp),
            ),
        )
        tree = (
            exp.select(*(exp.column(name, quoted=True) for name in schema.names))
            .from_(exp.Table(this=exp.to_identifier(plan.name), db=exp.to_identifier("gold")))
            .where(outside)
        )
        kept = self._engine.execute(
            scope_to_tenant(tree, tenant=ctx.tenant), tables={plan.table_key: keep}
        )
        return kept.cast(schema)

    def _save(
        self,
        plan: RollupPlan,
        version: int,
        rows: int,
        source_version: int,
        *,
        ctx: RequestContext,
        publish: bool = False,
    ) -> None:
        with self._catalog.transaction() as tx:
            if publish:
                tx.tables.publish({(Layer.GOLD.value, plan.name): version}, run_id=None)
            tx.rollups.put(
                tenant=ctx.tenant,
                name=plan.name,
                model=plan.model.name,
                grain=plan.grain,
                fingerprint=plan.fingerprint,
                source_table=plan.model.table_key,
                source_version=source_version,
                table_version=version,
                rows=rows,
                spec=plan.spec(),
            )


def _state(record: RollupRecord | None, plan: RollupPlan, source_version: int) -> str:
    if record is None:
        return "missing"
    if record.fingerprint != plan.fingerprint:
        return "changed"
    if record.source_version != source_version:
        return "stale"
    return "fresh"


def _since(started: float) -> float:
    return time.perf_counter() - started
