"""Building gold tables from the project's SQL models, as one recorded run.

Each model's result replaces the tenant's partition of its gold table and is published at once,
so models downstream read it; a failed model leaves its table at the previous version and its
dependants are skipped.
"""

from collections.abc import Callable, Collection
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from gnomon.catalog import Catalog, hold_lease, process_owner
from gnomon.clock import Clock
from gnomon.context import RequestContext
from gnomon.engine import QueryService
from gnomon.lake import Lake, Layer, RowCounter
from gnomon.pipeline.dag import build_order
from gnomon.pipeline.loader import load_models
from gnomon.pipeline.models import ModelRunResult, ModelSpec
from gnomon.pipeline.runner import build_models

__all__ = ["BUILD_LEASE", "ModelService"]

BUILD_LEASE = "build:gold"


class ModelService:
    """Loads, orders and builds the SQL models of one project."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        lake: Lake,
        queries: QueryService,
        clock: Clock,
        models_dir: Path,
    ) -> None:
        self._catalog = catalog
        self._lake = lake
        self._queries = queries
        self._clock = clock
        self._models_dir = models_dir
        self._owner = process_owner()

    def load(self) -> list[ModelSpec]:
        """Every model in the models folder."""
        return load_models(self._models_dir)

    def ordered(self, select: Collection[str] | None = None) -> list[ModelSpec]:
        """Models in the order they are built."""
        return build_order(self.load(), select=select)

    def build(
        self,
        select: Collection[str] | None = None,
        *,
        ctx: RequestContext,
        on_event: Callable[[ModelRunResult], None] | None = None,
    ) -> list[ModelRunResult]:
        """Build the selected models (and their upstream models) for the context's tenant."""
        models = self.ordered(select)
        if not models:
            return []
        with hold_lease(
            self._catalog,
            BUILD_LEASE,
            owner=self._owner,
            ttl=timedelta(minutes=5),
            clock=self._clock,
        ):
            with self._catalog.transaction() as tx:
                tx.tenants.ensure(ctx.tenant)
                run = tx.runs.start(
                    tenant=ctx.tenant, kind="build", correlation_id=ctx.correlation_id
                )
            written = 0

            def run_query(model: ModelSpec) -> pa.RecordBatchReader:
                return self._queries.stream(model.query, ctx=ctx)

            def write(model: ModelSpec, data: pa.Table | pa.RecordBatchReader) -> int:
                nonlocal written
                counted = RowCounter(data)
                version = self._lake.overwrite_partition(
                    Layer.GOLD,
                    model.name,
                    counted.reader(),
                    tenant=ctx.tenant,
                    batch_id=run.id,
                    run_id=run.id,
                )
                with self._catalog.transaction() as tx:
                    tx.tables.publish({(Layer.GOLD.value, model.name): version}, run_id=run.id)
                written += counted.rows
                return version

            results = build_models(models, run_query=run_query, write=write, on_event=on_event)
            failed = [r for r in results if r.status != "succeeded"]
            with self._catalog.transaction() as tx:
                tx.runs.finish(
                    run.id,
                    tenant=ctx.tenant,
                    status="failed" if failed else "succeeded",
                    rows_written=written,
                    error=None
                    if not failed
                    else {
                        "code": "build_failed",
                        "message": "; ".join(f"{r.model}: {r.error or r.status}" for r in failed),
                        "hint": "Fix the failing models and run gnomon build again.",
                    },
                )
                tx.outbox.add(
                    tenant=ctx.tenant,
                    type="gnomon.build.run." + ("failed" if failed else "succeeded"),
                    source="/models",
                    correlation_id=ctx.correlation_id,
                    data={"run_id": run.id, "models": {r.model: r.status for r in results}},
                )
        return results
