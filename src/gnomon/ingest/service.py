"""Loading a source into the lake: files → bronze → contract checks → quarantine and silver.

How a load stays safe (LAKE-2):

* Every Delta write of a load is one commit tagged with the load's ``batch_id``; readers never see
  the Delta head but the version the catalog *published*. A load publishes all its tables, records
  its files and finishes its run in **one catalog transaction** at the end. A load killed at any
  point therefore leaves every table, as readers see it, at its previous version.
* The next load of the dataset first **completes** runs that were left ``running`` (their process is
  gone, since the load lease is free): it finds the commits the batch already made and carries on
  from there. Commits of loads that failed are rolled back before new data is written.
* The batch id is derived from the tenant, the source and the content fingerprints of its files, so
  re-ingesting the same file adds nothing, and a resumed batch recognises its own commits.
* Silver's new rows are first written as files no version references (staged), so the dataset
  checks read the rows exactly as they would be published; the files are then committed, or
  deleted when a check blocks. Files staged by a killed load stay invisible until a vacuum.
* A batch whose blocking dataset check failed is *blocked*: bronze and quarantine are published and
  silver is left unchanged. Its files are not loaded again, but each later ingest re-checks the
  blocked batch from bronze (for example after the contract was fixed) before new files.
"""

import hashlib
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from sqlglot import exp

from gnomon.catalog import Catalog, RunRecord, hold_lease, process_owner
from gnomon.clock import Clock
from gnomon.context import RequestContext
from gnomon.engine import Engine, TableSource, scope_to_tenant
from gnomon.errors import Conflict, GnomonError, InvalidInput, NotFound
from gnomon.ingest._kept import KeptRows
from gnomon.ingest._landing import (
    PARSE_ERROR_COLUMN,
    RAW_COLUMN,
    RECORD_COLUMN,
    ROW_COLUMN,
    LandingStats,
    bronze_stream,
)
from gnomon.ingest._order import AscendingKey
from gnomon.ingest.files import (
    FileSourceSpec,
    expand_paths,
    fingerprint,
    infer_schema,
    load_file_source,
)
from gnomon.ingest.models import FileOutcome, IngestProgress, IngestResult, ProgressListener
from gnomon.lake import BATCH_COLUMN, Lake, Layer, RowCounter, StagedFiles
from gnomon.project import ProjectLayout
from gnomon.quality import (
    CheckPlan,
    ContractSpec,
    DriftReport,
    TextShape,
    TextShapes,
    breaking_changes,
    check_version_bump,
    compile_contract,
    detect_drift,
    guard_shapes,
    load_contract,
)

__all__ = ["IngestService"]

log = logging.getLogger(__name__)

_DROPPED_COLUMNS = (RECORD_COLUMN, PARSE_ERROR_COLUMN, RAW_COLUMN)
"""Bronze's internal columns that silver never gets; ``_row`` is dropped later (see KeptRows)."""
_LEFT_OUT = "__left_out"
"""The relation naming, by ``_row``, the parsed rows of a batch that are not valid."""


@dataclass(frozen=True, slots=True)
class _File:
    path: Path
    fingerprint: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": str(self.path), "fingerprint": self.fingerprint, "size": self.size}


@dataclass(frozen=True, slots=True)
class _Landed:
    """A batch in bronze: its version, its drift, and what was learnt while landing it."""

    version: int
    drift: DriftReport
    encoding_issues: int = 0
    shapes: Mapping[str, TextShape] = field(default_factory=dict)
    """Text columns every landed value of which has the shape (empty when landed earlier)."""


@dataclass(frozen=True, slots=True)
class _Batch:
    """One unit of loading: the new files of one ingest, identified by their content."""

    tenant: str
    source: FileSourceSpec
    contract: ContractSpec
    files: tuple[_File, ...]
    batch_id: str
    fingerprinted: bool = False
    """The files were fingerprinted by this very ingest, just before the batch was formed."""
    observed: Mapping[str, str] | None = None
    """The files' inferred columns, when read while they were fingerprinted."""

    @property
    def dataset(self) -> str:
        return self.source.dataset

    @property
    def tag(self) -> str:
        """Distinguishes processing of one batch under different contract versions."""
        return self.contract.fingerprint()[:12]


class IngestService:
    """Loads sources defined in the project's ``sources/`` folder."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        lake: Lake,
        engine: Engine,
        clock: Clock,
        layout: ProjectLayout,
        batch_rows: int = 250_000,
        block_size: int = 4 * 1024 * 1024,
        lease_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self._catalog = catalog
        self._lake = lake
        self._engine = engine
        self._clock = clock
        self._layout = layout
        self._batch_rows = batch_rows
        self._block_size = block_size
        self._lease_ttl = lease_ttl
        self._owner = process_owner()

    # ------------------------------------------------------------------ sources and contracts

    def sources(self) -> list[FileSourceSpec]:
        """Every source in ``sources/*.yaml``; files that are empty or all comments are skipped."""
        found: list[FileSourceSpec] = []
        if not self._layout.sources_dir.is_dir():
            return found
        for path in sorted(self._layout.sources_dir.glob("*.y*ml")):
            if _is_blank_yaml(path):
                continue
            found.append(load_file_source(path, project_dir=self._layout.root))
        return found

    def source(self, name: str) -> FileSourceSpec:
        """The source called ``name``.

        Raises:
            NotFound: no source has that name; the message lists the defined ones.
        """
        for candidate in (
            self._layout.sources_dir / f"{name}.yaml",
            self._layout.sources_dir / f"{name}.yml",
        ):
            if candidate.is_file() and not _is_blank_yaml(candidate):
                spec = load_file_source(candidate, project_dir=self._layout.root)
                if spec.name == name:
                    return spec
        sources = self.sources()
        for spec in sources:
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in sources) or "none defined yet"
        raise NotFound(
            f"There is no source called {name!r} (known: {known}).",
            hint=f"Define it in {self._layout.sources_dir / (name + '.yaml')} "
            "(see docs/sources.md).",
            source=name,
        )

    def contract_for(self, spec: FileSourceSpec) -> ContractSpec:
        """The contract a source's dataset is checked against."""
        path = self._layout.root / (spec.contract or f"contracts/{spec.dataset}.yaml")
        if not path.is_file():
            raise InvalidInput(
                f"Source {spec.name!r} needs a contract for dataset {spec.dataset!r}, "
                f"but {path} does not exist.",
                hint="Write the contract (see docs/contracts.md) or set `contract:` in the source.",
                source=spec.name,
                file=str(path),
            )
        contract = load_contract(path)
        if contract.dataset != spec.dataset:
            raise InvalidInput(
                f"Contract {path} is for dataset {contract.dataset!r}, but source {spec.name!r} "
                f"loads dataset {spec.dataset!r}.",
                hint="Point the source at the right contract or fix `dataset:` in one of them.",
                file=str(path),
            )
        return contract

    # ------------------------------------------------------------------ loading

    def ingest(
        self,
        name: str,
        *,
        ctx: RequestContext,
        on_progress: ProgressListener | None = None,
    ) -> list[IngestResult]:
        """Load source ``name``: resume interrupted loads, re-check blocked batches, load new files.

        Returns one result per batch handled, the batch of new files last. Raises the error of
        a batch that failed after recording its run as failed.
        """
        spec = self.source(name)
        contract = self.contract_for(spec)
        files = expand_paths(spec, project_dir=self._layout.root)
        results: list[IngestResult] = []
        with hold_lease(
            self._catalog,
            f"load:{spec.dataset}",
            owner=self._owner,
            ttl=self._lease_ttl,
            clock=self._clock,
        ):
            self._register(spec, contract, ctx)
            results.extend(self._resume_interrupted(spec.dataset, on_progress))
            self._discard_unpublished(spec.dataset)
            results.extend(self._retry_blocked(spec, contract, ctx, on_progress))
            results.append(self._ingest_new(spec, contract, files, ctx, on_progress))
        return results

    def _register(self, spec: FileSourceSpec, contract: ContractSpec, ctx: RequestContext) -> None:
        with self._catalog.transaction() as tx:
            tx.tenants.ensure(ctx.tenant)
            tx.sources.upsert(
                tenant=ctx.tenant,
                name=spec.name,
                kind="file",
                dataset=spec.dataset,
                spec=spec.model_dump(mode="json"),
            )
            latest = tx.contracts.latest(tenant=ctx.tenant, dataset=contract.dataset)
            previous = ContractSpec.model_validate(latest.spec) if latest else None
            if previous is not None and previous.fingerprint() == contract.fingerprint():
                return
            check_version_bump(previous, contract)
            if previous is not None:
                changes = breaking_changes(previous, contract)
                if changes:
                    log.warning(
                        "contract %s v%d has breaking changes: %s",
                        contract.dataset,
                        contract.version,
                        "; ".join(changes),
                    )
            tx.contracts.add(
                tenant=ctx.tenant,
                dataset=contract.dataset,
                version=contract.version,
                fingerprint=contract.fingerprint(),
                spec=contract.model_dump(mode="json"),
            )

    def _ingest_new(
        self,
        spec: FileSourceSpec,
        contract: ContractSpec,
        paths: Sequence[Path],
        ctx: RequestContext,
        on_progress: ProgressListener | None,
    ) -> IngestResult:
        new: list[_File] = []
        outcomes: list[FileOutcome] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnomon-infer") as pool:
            # The columns of the first files are read while the files are hashed (both wait on
            # I/O or native code, so on two cores they overlap); a file found already loaded
            # has its guess thrown away. Hashing runs outside the transaction: a large file
            # takes seconds, and SQLite's write lock would be held meanwhile.
            guesses = {p: pool.submit(infer_schema, p, spec) for p in paths[:_GUESSED_FILES]}
            hashed = [(path, fingerprint(path), path.stat().st_size) for path in paths]
            with self._catalog.transaction() as tx:
                for path, digest, size in hashed:
                    if tx.files.get(tenant=ctx.tenant, source=spec.name, fingerprint=digest):
                        outcomes.append(FileOutcome(str(path), digest, size, "skipped"))
                    else:
                        new.append(_File(path, digest, size))
            if not new:
                for guess in guesses.values():
                    guess.cancel()
                return self._record_skipped(spec, ctx, outcomes)
            observed = _guessed([f.path for f in new], guesses)
        batch = _Batch(
            tenant=ctx.tenant,
            source=spec,
            contract=contract,
            files=tuple(new),
            batch_id=_batch_id(ctx.tenant, spec.name, [f.fingerprint for f in new]),
            fingerprinted=True,
            observed=observed,
        )
        run = self._start_run(
            spec,
            ctx,
            batch_id=batch.batch_id,
            files=[f.to_json() for f in new],
            bytes_read=sum(f.size for f in new),
        )
        result = self._run_batch(run, batch, on_progress)
        return replace(result, files=tuple(outcomes) + result.files)

    def _start_run(
        self,
        spec: FileSourceSpec,
        ctx: RequestContext,
        *,
        batch_id: str | None = None,
        **fields: Any,
    ) -> RunRecord:
        """Record a new ingest run of ``spec`` (running), with any extra run fields."""
        with self._catalog.transaction() as tx:
            run = tx.runs.start(
                tenant=ctx.tenant,
                kind="ingest",
                source=spec.name,
                dataset=spec.dataset,
                batch_id=batch_id,
                correlation_id=ctx.correlation_id,
            )
            if fields:
                run = tx.runs.update(run.id, tenant=ctx.tenant, **fields)
        return run

    def _record_skipped(
        self, spec: FileSourceSpec, ctx: RequestContext, outcomes: list[FileOutcome]
    ) -> IngestResult:
        run = self._start_run(spec, ctx)
        with self._catalog.transaction() as tx:
            run = tx.runs.finish(
                run.id,
                tenant=ctx.tenant,
                status="skipped",
                files=[
                    {"path": o.path, "fingerprint": o.fingerprint, "size": o.size} for o in outcomes
                ],
            )
        return _result(run, files=tuple(outcomes))

    # ------------------------------------------------------------------ recovery

    def _resume_interrupted(
        self, dataset: str, on_progress: ProgressListener | None
    ) -> list[IngestResult]:
        """Complete runs whose process died (we hold the dataset's lease: nobody else runs them)."""
        with self._catalog.transaction() as tx:
            stale = tx.runs.incomplete(tenant=None, dataset=dataset)
        results: list[IngestResult] = []
        for run in stale:
            log.warning("resuming interrupted run %s of %s", run.id, dataset)
            try:
                spec = self.source(run.source or "")
                contract = self.contract_for(spec)
            except GnomonError as exc:
                self._finish_failed(run, exc, note="could not be resumed")
                continue
            files = tuple(
                _File(Path(f["path"]), f["fingerprint"], int(f["size"])) for f in (run.files or [])
            )
            batch = _Batch(run.tenant, spec, contract, files, run.batch_id or "")
            try:
                results.append(replace(self._run_batch(run, batch, on_progress), resumed=True))
            except GnomonError as exc:
                log.error("run %s could not be completed: %s", run.id, exc)
        return results

    def _discard_unpublished(self, dataset: str) -> None:
        """Roll back Delta commits that no published run owns (left by loads that failed)."""
        for layer in (Layer.BRONZE, Layer.QUARANTINE, Layer.SILVER):
            head = self._lake.head_version(layer, dataset)
            if head is None:
                continue
            with self._catalog.transaction() as tx:
                published = tx.tables.get(layer.value, dataset)
            if published is None:
                log.warning("dropping %s.%s: no load ever published it", layer.value, dataset)
                self._lake.drop(layer, dataset)
            elif head > published.version:
                log.warning(
                    "rolling %s.%s back from v%d to published v%d",
                    layer.value,
                    dataset,
                    head,
                    published.version,
                )
                version = self._lake.restore(layer, dataset, version=published.version)
                with self._catalog.transaction() as tx:
                    tx.tables.publish({(layer.value, dataset): version}, run_id=published.run_id)

    def _retry_blocked(
        self,
        spec: FileSourceSpec,
        contract: ContractSpec,
        ctx: RequestContext,
        on_progress: ProgressListener | None,
    ) -> list[IngestResult]:
        with self._catalog.transaction() as tx:
            runs = tx.runs.list(tenant=ctx.tenant, source=spec.name, limit=1000)
        done = {r.batch_id for r in runs if r.status == "succeeded"}
        pending: dict[str, RunRecord] = {}
        for run in runs:  # newest first: keep the newest blocked run per batch
            if run.status == "blocked" and run.batch_id and run.batch_id not in done:
                pending.setdefault(run.batch_id, run)
        results = []
        for blocked in reversed(list(pending.values())):
            files = tuple(
                _File(Path(f["path"]), f["fingerprint"], int(f["size"]))
                for f in (blocked.files or [])
            )
            batch = _Batch(ctx.tenant, spec, contract, files, blocked.batch_id or "")
            run = self._start_run(
                spec,
                ctx,
                batch_id=batch.batch_id,
                files=blocked.files,
                bytes_read=blocked.bytes_read,
                drift=blocked.drift,
            )
            results.append(self._run_batch(run, batch, on_progress))
        return results

    # ------------------------------------------------------------------ one batch

    def _run_batch(
        self, run: RunRecord, batch: _Batch, on_progress: ProgressListener | None
    ) -> IngestResult:
        try:
            return self._process(run, batch, on_progress)
        except GnomonError as exc:
            self._finish_failed(run, exc)
            raise
        except Exception as exc:
            self._finish_failed(run, exc)
            raise

    def _process(
        self, run: RunRecord, batch: _Batch, on_progress: ProgressListener | None
    ) -> IngestResult:
        started = time.monotonic()
        dataset = batch.dataset
        versions: dict[tuple[str, str], int] = {}

        landed = self._land(run, batch, on_progress)
        drift = landed.drift
        versions[(Layer.BRONZE.value, dataset)] = landed.version
        batch_source = self._batch_source(dataset, landed.version)
        plan = compile_contract(
            batch.contract,
            raw_columns=_raw_columns(batch_source),
            drift=drift,
            shapes=landed.shapes,
        )
        tables = self._tables_for(plan, dataset, batch_source)
        source = _batch_relation(dataset, batch.batch_id)

        rows_read = self._count(
            exp.select(exp.func("count", exp.Star()).as_("n"))
            .from_(exp.to_table(f"bronze.{dataset}"))
            .where(exp.column(BATCH_COLUMN).eq(exp.Literal.string(batch.batch_id))),
            batch.tenant,
            tables,
        )

        warnings = self._warnings(batch, plan, source, tables)
        if landed.encoding_issues:
            warnings["encoding"] = landed.encoding_issues
        # The valid rows are computed once (casts, rules, dedupe), straight into silver's data
        # files, which stay uncommitted until the dataset checks have read them; the quarantine
        # then only needs to judge the rows that did not make it (``kept`` notes which did).
        kept = KeptRows(ROW_COLUMN)
        staged = self._stage_silver(batch, plan, source, tables, kept, on_progress)
        try:
            rejected, relations = self._rejected(batch, kept, tables)
            quarantined, q_version = self._quarantine(
                run, batch, plan, rejected, relations, tables, on_progress
            )
            if q_version is not None:
                versions[(Layer.QUARANTINE.value, dataset)] = q_version
            checks = self._dataset_checks(batch, plan, staged, tables)
        except BaseException:
            self._lake.discard_staged(staged)
            raise
        blocking = [c for c in checks if not c["passed"] and c["severity"] == "block"]
        if blocking:
            self._lake.discard_staged(staged)
            return self._publish(
                run,
                batch,
                status="blocked",
                versions=versions,
                stats={"rows_read": rows_read, "rows_written": 0, "rows_quarantined": quarantined},
                checks=checks,
                drift=drift,
                warnings=warnings,
                started=started,
                record_files=True,
                error={
                    "code": "blocked",
                    "message": "Blocking dataset checks failed: "
                    + "; ".join(str(c["message"]) for c in blocking),
                    "hint": "Fix the data or the contract and run the ingest again; "
                    "silver was left unchanged.",
                },
            )

        # The commit deletes the staged files itself if it fails.
        versions[(Layer.SILVER.value, dataset)] = self._commit_silver(
            run, batch, staged, tables, on_progress
        )
        return self._publish(
            run,
            batch,
            status="succeeded",
            versions=versions,
            stats={
                "rows_read": rows_read,
                "rows_written": staged.rows,
                "rows_quarantined": quarantined,
            },
            checks=checks,
            drift=drift,
            warnings=warnings,
            started=started,
            record_files=True,
            error=None,
        )

    def _land(self, run: RunRecord, batch: _Batch, on_progress: ProgressListener | None) -> _Landed:
        """Land the batch in bronze unless an earlier attempt did it; also drift and encoding.

        The text columns the contract types are watched on their way into bronze, for the
        shapes the check plan may rely on (see :mod:`gnomon.quality.shapes`). A batch landed by
        an earlier attempt claims none: its rows were not watched.
        """
        dataset = batch.dataset
        previous = self._last_observed(batch)
        landed = self._lake.find_commit(
            Layer.BRONZE, dataset, batch_id=batch.batch_id, operation="land"
        )
        if landed is not None:
            recorded = dict((run.drift or {}).get("observed") or {})
            drift = detect_drift(batch.contract, observed=recorded, previous=previous)
            return _Landed(landed.version, drift)
        for item in batch.files:
            # A batch resumed or re-checked later must still find the very files it was formed
            # from; one formed by this ingest was fingerprinted moments ago, and hashing a
            # large file twice would cost a second full read of it.
            if not item.path.is_file() or (
                not batch.fingerprinted and fingerprint(item.path) != item.fingerprint
            ):
                raise Conflict(
                    f"{item.path} changed or disappeared before its load could finish.",
                    hint="Restore the file, or ingest the source again to load the current files.",
                    file=str(item.path),
                )
        observed: dict[str, str] = dict(batch.observed or {})
        if batch.observed is None:
            for item in batch.files:
                for column, type_name in infer_schema(item.path, batch.source).items():
                    observed.setdefault(column, type_name)
        drift = detect_drift(batch.contract, observed=observed, previous=previous)
        with self._catalog.transaction() as tx:
            tx.runs.update(
                run.id,
                tenant=batch.tenant,
                stage="landing",
                drift={**drift.to_dict(), "observed": observed},
            )
        total = sum(f.size for f in batch.files)
        stats = LandingStats()
        shapes = TextShapes(guard_shapes(batch.contract))
        reader = bronze_stream(
            [f.path for f in batch.files],
            batch.source,
            project_dir=self._layout.root,
            tenant=batch.tenant,
            batch_id=batch.batch_id,
            ingested_at=self._clock.now(),
            batch_rows=self._batch_rows,
            block_size=self._block_size,
            stats=stats,
            on_bytes=None
            if on_progress is None
            else (lambda n: on_progress(IngestProgress("read", n, total))),
        )
        version = self._lake.append(
            Layer.BRONZE,
            dataset,
            shapes.track(reader),
            batch_id=batch.batch_id,
            run_id=run.id,
            operation="land",
        )
        if on_progress is not None:
            on_progress(IngestProgress("read", total, total))
        return _Landed(version, drift, stats.encoding_issues, shapes.proven)

    def _last_observed(self, batch: _Batch) -> dict[str, str] | None:
        """The file schema the dataset's last successful load saw, for detecting retyped columns."""
        with self._catalog.transaction() as tx:
            runs = tx.runs.list(
                tenant=batch.tenant, dataset=batch.dataset, status="succeeded", limit=1
            )
        observed = (runs[0].drift or {}).get("observed") if runs else None
        return dict(observed) if observed else None

    def _batch_source(self, dataset: str, version: int) -> TableSource:
        snapshot = self._lake.snapshot(Layer.BRONZE, dataset, version=version)
        return replace(
            snapshot, files=self._lake.files_added_in(Layer.BRONZE, dataset, version=version)
        )

    def _tables_for(
        self, plan: CheckPlan, dataset: str, batch_source: TableSource
    ) -> dict[str, TableSource]:
        tables: dict[str, TableSource] = {f"bronze.{dataset}": batch_source}
        wanted = {(Layer.SILVER.value, dataset), *plan.references()}
        for layer, name in wanted:
            snapshot = self._published(layer, name)
            if snapshot is not None:
                tables[f"{layer}.{name}"] = snapshot
            elif (layer, name) != (Layer.SILVER.value, dataset):
                raise InvalidInput(
                    f"The contract of {dataset!r} references {layer}.{name}, "
                    "which has no data yet.",
                    hint=f"Load {name!r} before {dataset!r}.",
                )
        return tables

    def _published(self, layer: str, name: str) -> TableSource | None:
        with self._catalog.transaction() as tx:
            record = tx.tables.get(layer, name)
        if record is None:
            return None
        return self._lake.snapshot(Layer(layer), name, version=record.version)

    def _rejected(
        self, batch: _Batch, kept: KeptRows, tables: Mapping[str, TableSource]
    ) -> tuple[exp.Expression, dict[str, pa.Table]]:
        """The batch's parsed rows that are not among the valid ones, as a source relation.

        Every row a rule rejects is among them (a rejected row is never valid), and a row rule
        judges each row on its own, so judging only them finds the quarantine the whole batch
        would give, at the cost of the rows left out rather than of all rows. When every
        parsed row is valid there is nothing to judge. The rows left out are named by their
        ``_row`` in an in-memory relation (returned with the expression); without ``_row``
        nothing ties the valid rows to bronze, and the whole batch is judged.
        """
        whole = _batch_relation(batch.dataset, batch.batch_id)
        if not kept.tracked:
            return whole, {}
        ordinal = exp.column(ROW_COLUMN)
        summary = self._run(
            exp.select(
                exp.func("count", exp.Star()).as_("n"),
                exp.func("min", ordinal.copy()).as_("low"),
                exp.func("max", ordinal.copy()).as_("high"),
            ).from_(whole.copy()),
            batch.tenant,
            tables,
        ).to_pylist()[0]
        if kept.count == int(summary["n"] or 0):
            return _batch_relation(batch.dataset, batch.batch_id, exp.false()), {}
        missing = kept.missing(int(summary["low"]), int(summary["high"]))
        left_out = exp.select(ordinal.copy()).from_(exp.to_table(_LEFT_OUT))
        condition = exp.In(this=ordinal.copy(), query=left_out.subquery())
        return (
            _batch_relation(batch.dataset, batch.batch_id, condition),
            {_LEFT_OUT: pa.table({ROW_COLUMN: missing})},
        )

    def _run(
        self,
        tree: exp.Query,
        tenant: str,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
    ) -> pa.Table:
        return self._engine.execute(
            scope_to_tenant(tree, tenant=tenant), tables=tables, relations=relations
        )

    def _count(
        self,
        tree: exp.Query,
        tenant: str,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
    ) -> int:
        table = self._run(tree, tenant, tables, relations)
        return int(table.column(0)[0].as_py() or 0)

    def _quarantine(
        self,
        run: RunRecord,
        batch: _Batch,
        plan: CheckPlan,
        source: exp.Expression,
        relations: Mapping[str, pa.Table],
        tables: Mapping[str, TableSource],
        on_progress: ProgressListener | None,
    ) -> tuple[int, int | None]:
        dataset = batch.dataset
        operation = f"quarantine:{batch.tag}"
        rules = plan.quarantined(source)
        parse_failures = (
            exp.select(
                exp.Star(),
                exp.Literal.string("parse").as_("_rule"),
                exp.Literal.string("parse").as_("_rules"),
                exp.column(PARSE_ERROR_COLUMN).as_("_reason"),
            )
            .from_(exp.to_table(f"bronze.{dataset}"))
            .where(
                exp.and_(
                    exp.column(BATCH_COLUMN).eq(exp.Literal.string(batch.batch_id)),
                    exp.column(PARSE_ERROR_COLUMN).is_(exp.null()).not_(),
                )
            )
        )
        tree = exp.Union(this=rules, expression=parse_failures, distinct=False, by_name=True)
        done = self._lake.find_commit(
            Layer.QUARANTINE, dataset, batch_id=batch.batch_id, operation=operation
        )
        if done is not None:
            counted = exp.select(exp.func("count", exp.Star()).as_("n")).from_(
                tree.subquery("rows")
            )
            return self._count(counted, batch.tenant, tables, relations), done.version
        if on_progress is not None:
            on_progress(IngestProgress("quarantine", 0))
        counter = RowCounter(
            self._engine.stream(
                scope_to_tenant(tree, tenant=batch.tenant), tables=tables, relations=relations
            )
        )
        version = self._lake.replace_batch(
            Layer.QUARANTINE,
            dataset,
            counter.reader(),
            batch_id=batch.batch_id,
            run_id=run.id,
            operation=operation,
        )
        if on_progress is not None:
            on_progress(IngestProgress("quarantine", counter.rows, counter.rows))
        return counter.rows, version

    def _dataset_checks(
        self,
        batch: _Batch,
        plan: CheckPlan,
        staged: StagedFiles,
        tables: Mapping[str, TableSource],
    ) -> list[dict[str, Any]]:
        """Judge the batch's valid rows, read from silver's staged files, before publishing."""
        if not plan.dataset_checks:
            return []
        silver_key = f"silver.{batch.dataset}"
        current = exp.to_table(silver_key) if silver_key in tables else None
        # A name no table can have (see gnomon.lake's table names), so it never hides one.
        staged_name = f"{batch.dataset}#staged"
        candidate = exp.Table(
            this=exp.to_identifier(staged_name, quoted=True),
            db=exp.to_identifier(Layer.SILVER.value),
        )
        readable = {**tables, f"{Layer.SILVER.value}.{staged_name}": staged.snapshot}
        now = self._clock.now()
        results = []
        for check in plan.dataset_checks:
            table = self._run(check.query(candidate.copy(), current), batch.tenant, readable)
            row = table.to_pylist()[0] if table.num_rows else {}
            result = check.evaluate(row, now=now)
            results.append(
                {
                    "rule": result.rule,
                    "severity": result.severity,
                    "passed": result.passed,
                    "observed": _jsonable(result.observed),
                    "expected": result.expected,
                    "message": result.message,
                    "failed_rows": result.failed_rows,
                }
            )
        return results

    def _warnings(
        self,
        batch: _Batch,
        plan: CheckPlan,
        source: exp.Expression,
        tables: Mapping[str, TableSource],
    ) -> dict[str, int]:
        if not any(rule.severity == "warn" for rule in plan.row_rules):
            return {}
        table = self._run(plan.warnings(source), batch.tenant, tables)
        rows = table.to_pylist()
        if not rows:
            return {}
        rule_key, count_key = table.column_names[0], table.column_names[1]
        return {str(r[rule_key]): int(r[count_key]) for r in rows if r[count_key]}

    def _stage_silver(
        self,
        batch: _Batch,
        plan: CheckPlan,
        source: exp.Expression,
        tables: Mapping[str, TableSource],
        kept: KeptRows,
        on_progress: ProgressListener | None,
    ) -> StagedFiles:
        """Stream the batch's valid rows into uncommitted silver files.

        Most batches repeat no primary key, and then the valid rows need no dedupe: the engine
        streams them as it computes them instead of holding every typed row. So they are staged
        without it, and their keys proven distinct on the way: by their order when a one-column
        key arrives ascending (see :mod:`gnomon.ingest._order`), else by a cheap query over the
        key columns on a second thread, started as soon as the order breaks (at once for a
        composite key); the staging leaves a core idle most of the time, so the query costs
        little time. When a key does repeat, the files are deleted and the rows staged again
        with the dedupe. Bronze's internal columns stay out of silver; ``_row`` passes through
        ``kept`` on the way, for the quarantine.
        """
        if on_progress is not None:
            on_progress(IngestProgress("check", 0))
        primary_key = list(batch.contract.primary_key or ())
        if not primary_key:
            staged = self._stage_valid(batch, plan, source, tables, kept, unique_keys=True)
        else:
            repeated_keys = scope_to_tenant(plan.repeated_keys(source), tenant=batch.tenant)
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="gnomon-keys") as pool:
                asked: list[Future[pa.Table]] = []

                def ask() -> None:
                    if not asked:
                        asked.append(
                            pool.submit(self._engine.execute, repeated_keys, tables=tables, limit=1)
                        )

                # The batch holds one tenant, so the order of the key alone decides.
                order = AscendingKey(primary_key[0], on_break=ask)
                if len(primary_key) > 1:
                    ask()
                staged = self._stage_valid(
                    batch, plan, source, tables, kept, unique_keys=True, order=order
                )
                try:
                    unique = order.ascending or asked[0].result().num_rows == 0
                except BaseException:
                    self._lake.discard_staged(staged)
                    raise
            if not unique:
                self._lake.discard_staged(staged)
                kept.clear()
                staged = self._stage_valid(batch, plan, source, tables, kept, unique_keys=False)
        if on_progress is not None:
            on_progress(IngestProgress("check", staged.rows))
        return staged

    def _stage_valid(
        self,
        batch: _Batch,
        plan: CheckPlan,
        source: exp.Expression,
        tables: Mapping[str, TableSource],
        kept: KeptRows,
        *,
        unique_keys: bool,
        order: AscendingKey | None = None,
    ) -> StagedFiles:
        """Stage the rows of ``plan.valid`` (see its ``unique_keys``) as silver files."""
        valid = plan.valid(source, unique_keys=unique_keys)
        public = exp.Star(except_=[exp.column(c) for c in _DROPPED_COLUMNS])
        tree = scope_to_tenant(
            exp.select(public).from_(valid.subquery("valid")), tenant=batch.tenant
        )
        # Batches as large as landing's: with small ones DuckDB's result buffer fills between
        # reads and its threads wait for the writer (0.5 s of 2.3 at 5M rows).
        rows = self._engine.stream(tree, tables=tables, batch_rows=self._batch_rows)
        if order is not None:
            rows = order.track(rows)
        return self._lake.stage(
            Layer.SILVER,
            batch.dataset,
            kept.track(rows),
            batch_id=batch.batch_id,
            # Text ranges only let a reader skip files where the values run in order, as keys
            # often do; for the other text columns they cost a fifth of encoding them.
            text_statistics=list(batch.contract.primary_key or ()),
        )

    def _commit_silver(
        self,
        run: RunRecord,
        batch: _Batch,
        staged: StagedFiles,
        tables: Mapping[str, TableSource],
        on_progress: ProgressListener | None,
    ) -> int:
        """Publish the staged rows to silver (merged by key when silver has rows already).

        A resumed batch whose silver commit had landed keeps that commit; the files staged
        again for its checks are dropped.
        """
        dataset = batch.dataset
        operation = f"silver:{batch.tag}"
        done = self._lake.find_commit(
            Layer.SILVER, dataset, batch_id=batch.batch_id, operation=operation
        )
        if done is not None:
            self._lake.discard_staged(staged)
            return done.version
        if on_progress is not None:
            on_progress(IngestProgress("silver", 0))
        merging = bool(batch.contract.primary_key) and f"silver.{dataset}" in tables
        version = self._lake.commit_staged(
            staged,
            run_id=run.id,
            operation=operation,
            keys=list(batch.contract.primary_key or []) if merging else (),
            order_by=batch.contract.ordering,
        )
        if on_progress is not None:
            on_progress(IngestProgress("silver", staged.rows))
        return version

    # ------------------------------------------------------------------ finishing

    def _publish(
        self,
        run: RunRecord,
        batch: _Batch,
        *,
        status: str,
        versions: Mapping[tuple[str, str], int],
        stats: Mapping[str, int],
        checks: list[dict[str, Any]],
        drift: DriftReport,
        warnings: Mapping[str, int],
        started: float,
        record_files: bool,
        error: dict[str, Any] | None,
    ) -> IngestResult:
        silver_schema = self._schema_of(batch)
        watermark = self._watermark(batch, versions)
        with self._catalog.transaction() as tx:
            tx.tables.publish(versions, run_id=run.id)
            if record_files:
                for item in batch.files:
                    if not tx.files.get(
                        tenant=batch.tenant, source=batch.source.name, fingerprint=item.fingerprint
                    ):
                        tx.files.record(
                            tenant=batch.tenant,
                            source=batch.source.name,
                            fingerprint=item.fingerprint,
                            path=str(item.path),
                            size=item.size,
                            batch_id=batch.batch_id,
                            run_id=run.id,
                        )
            tx.datasets.upsert(
                tenant=batch.tenant,
                name=batch.dataset,
                schema=silver_schema,
                contract_version=batch.contract.version,
            )
            observed = dict((run.drift or {}).get("observed") or {})
            finished = tx.runs.finish(
                run.id,
                tenant=batch.tenant,
                status=status,
                error=error,
                stage="published",
                checks=checks,
                drift={**drift.to_dict(), "observed": observed} if observed else drift.to_dict(),
                watermark=watermark,
                **stats,
            )
            tx.outbox.add(
                tenant=batch.tenant,
                type=f"gnomon.ingest.run.{status}",
                source=f"/sources/{batch.source.name}",
                correlation_id=run.correlation_id,
                data={
                    "run_id": run.id,
                    "dataset": batch.dataset,
                    "batch_id": batch.batch_id,
                    "versions": {f"{k[0]}.{k[1]}": v for k, v in versions.items()},
                    "checks": [
                        {
                            k: c.get(k)
                            for k in ("rule", "severity", "passed", "message", "failed_rows")
                        }
                        for c in checks
                    ],
                    **stats,
                },
            )
        log.info(
            "run %s %s: %s read, %s written, %s quarantined",
            run.id,
            status,
            stats["rows_read"],
            stats["rows_written"],
            stats["rows_quarantined"],
        )
        return _result(
            finished,
            files=tuple(
                FileOutcome(str(f.path), f.fingerprint, f.size, "loaded") for f in batch.files
            ),
            checks=tuple(checks),
            drift=drift.to_dict(),
            warnings=dict(warnings),
            versions={f"{k[0]}.{k[1]}": v for k, v in versions.items()},
            duration=time.monotonic() - started,
        )

    def _schema_of(self, batch: _Batch) -> list[dict[str, Any]]:
        return [
            {"name": name, "type": column.type, "nullable": not column.required}
            for name, column in batch.contract.columns.items()
        ]

    def _watermark(self, batch: _Batch, versions: Mapping[tuple[str, str], int]) -> str | None:
        column = batch.contract.ordering
        key = (Layer.SILVER.value, batch.dataset)
        if column is None or key not in versions:
            return None
        snapshot = self._lake.snapshot(Layer.SILVER, batch.dataset, version=versions[key])
        tree = exp.select(exp.func("max", exp.column(column)).as_("w")).from_(
            exp.to_table(f"silver.{batch.dataset}")
        )
        table = self._engine.execute(
            scope_to_tenant(tree, tenant=batch.tenant),
            tables={f"silver.{batch.dataset}": snapshot},
        )
        value = table.column(0)[0].as_py()
        return None if value is None else str(value)

    def _finish_failed(
        self, run: RunRecord, exc: BaseException, *, note: str | None = None
    ) -> None:
        error = (
            exc.to_dict()
            if isinstance(exc, GnomonError)
            else {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}", "hint": None}
        )
        if note:
            error = {**error, "message": f"{error['message']} ({note})"}
        with self._catalog.transaction() as tx:
            tx.runs.finish(run.id, tenant=run.tenant, status="failed", error=error)


def _is_blank_yaml(path: Path) -> bool:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) is None
    except yaml.YAMLError:
        return False


def _batch_id(tenant: str, source: str, fingerprints: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for part in (tenant, source, *sorted(fingerprints)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:24]


def _raw_columns(source: TableSource) -> dict[str, pa.DataType]:
    """Every bronze column: the plan types the source's and passes metadata (``_…``) through."""
    return {f.name: f.type for f in source.schema}


def _batch_relation(dataset: str, batch_id: str, *conditions: exp.Expression) -> exp.Expression:
    """The batch's parsed rows in bronze (and ``conditions``), as the plan's source relation."""
    return (
        exp.select(exp.Star())
        .from_(exp.to_table(f"bronze.{dataset}"))
        .where(
            exp.and_(
                exp.column(BATCH_COLUMN).eq(exp.Literal.string(batch_id)),
                exp.column(PARSE_ERROR_COLUMN).is_(exp.null()),
                *conditions,
            )
        )
        .subquery("batch")
    )


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _result(
    run: RunRecord,
    *,
    files: tuple[FileOutcome, ...] = (),
    checks: tuple[Mapping[str, Any], ...] = (),
    drift: Mapping[str, Any] | None = None,
    warnings: Mapping[str, int] | None = None,
    versions: Mapping[str, int] | None = None,
    duration: float | None = None,
) -> IngestResult:
    return IngestResult(
        run_id=run.id,
        source=run.source or "",
        dataset=run.dataset or "",
        status=run.status,
        batch_id=run.batch_id,
        rows_read=run.rows_read,
        rows_written=run.rows_written,
        rows_quarantined=run.rows_quarantined,
        bytes_read=run.bytes_read,
        duration_s=duration if duration is not None else (run.duration_s or 0.0),
        files=files,
        checks=checks,
        drift=drift,
        warnings=warnings or {},
        versions=versions or {},
        error=run.error,
    )


_GUESSED_FILES = 4
"""Files whose columns are read while the files are hashed; later ones are read when landing."""


def _guessed(
    paths: Sequence[Path], guesses: Mapping[Path, Future[dict[str, str]]]
) -> dict[str, str] | None:
    """The columns of ``paths`` merged, if every one was guessed without an error.

    Otherwise ``None``: landing reads the columns itself, and an unreadable file fails the
    run there, recorded like any other failure.
    """
    observed: dict[str, str] = {}
    for path in paths:
        guess = guesses.get(path)
        if guess is None or guess.exception() is not None:
            return None
        for column, type_name in guess.result().items():
            observed.setdefault(column, type_name)
    return observed
