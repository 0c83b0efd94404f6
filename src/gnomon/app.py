"""The composition root: builds catalog, lake, engine and services from settings.

Nothing else in gnomon constructs infrastructure. Interfaces (CLI, API) hold a :class:`Gnomon`
and call its services; tests build one over a temporary project.
"""

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from gnomon.actions import Channel, Dispatcher, build_channel, load_channels
from gnomon.catalog import (
    LAKE_SCOPE,
    Catalog,
    CatalogMemo,
    ChangeWatch,
    DatasetRecord,
    RunRecord,
    TableVersionRecord,
    require_io,
)
from gnomon.clock import Clock, SystemClock
from gnomon.config import Settings, load_settings
from gnomon.context import RequestContext
from gnomon.engine import DuckDBEngine, Engine, QueryService, SparkEngine, TableSource
from gnomon.errors import ConfigError, InvalidInput, NotFound
from gnomon.governance.audit import AuditService
from gnomon.governance.auth import (
    ApiKeyAuthenticator,
    Authenticator,
    DevIssuer,
    IssuerConfig,
    JwtVerifier,
    load_or_create_secret,
)
from gnomon.governance.identities import CatalogKeyStore, IdentityService
from gnomon.governance.policies import PolicyService
from gnomon.ingest import IngestService
from gnomon.insights import InsightsService
from gnomon.lake import Lake, Layer, TableSnapshot
from gnomon.pipeline import MaintenanceService, ModelRunResult, ModelService
from gnomon.project import ProjectLayout
from gnomon.semantic import MetricQuery, MetricResult, SemanticService, read_details
from gnomon.semantic.refresh import RollupService
from gnomon.triggers.loop import TriggerLoop
from gnomon.triggers.service import TriggerService

__all__ = ["Gnomon", "TableInfo"]

log = logging.getLogger(__name__)

_SNAPSHOT_CACHE = 256


@dataclass(frozen=True, slots=True)
class TableInfo:
    """A lake table as readers see it: its published version."""

    layer: str
    name: str
    version: int
    updated_at: datetime
    run_id: str | None
    uri: str


class Gnomon:
    """One gnomon project, opened: the entry point of every interface."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.layout = ProjectLayout(settings.project_dir)
        self.catalog = Catalog(settings.catalog_url, echo=settings.catalog.echo, clock=self.clock)
        self.lake = Lake(settings.lake_root, storage_options=settings.lake.storage_options)
        self.changes = ChangeWatch(self.catalog, interval_s=settings.catalog.change_interval_s)
        self._published: CatalogMemo[tuple[str, str], TableVersionRecord | None] = CatalogMemo(
            self.changes, load=self._read_published, scope=lambda _key, _value: LAKE_SCOPE
        )
        self._audit: AuditService | None = None
        self._identities: IdentityService | None = None
        self._engine: DuckDBEngine | None = None
        self._spark: SparkEngine | None = None
        self._semantic: SemanticService | None = None
        self._triggers: TriggerService | None = None
        self._postgres: Engine | None = None
        self._secret: bytes | None = None
        self._policies: PolicyService | None = None
        self._authenticator: Authenticator | None = None
        self._snapshots: OrderedDict[tuple[str, str, int], TableSnapshot] = OrderedDict()
        self._snapshots_lock = threading.Lock()

    @classmethod
    def open(
        cls, project_dir: Path | str = ".", *, clock: Clock | None = None, **overrides: Any
    ) -> "Gnomon":
        """Load the project's settings and bring its catalog schema up to date."""
        app = cls(load_settings(project_dir, **overrides), clock=clock)
        app.catalog.migrate()
        return app

    def close(self) -> None:
        """Write the queued audit entries; release the engine's and the catalog's connections."""
        if self._audit is not None:
            self._audit.close()
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._spark is not None:
            self._spark.close()
            self._spark = None
        if self._postgres is not None:
            self._postgres.close()
            self._postgres = None
        self.catalog.dispose()

    def __enter__(self) -> "Gnomon":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def context(self, tenant: str | None = None) -> RequestContext:
        """The context of local work: the system user in the configured (or given) tenant."""
        return RequestContext.system(tenant or self.settings.tenant)

    # ------------------------------------------------------------------ infrastructure

    @property
    def engine(self) -> DuckDBEngine:
        """The query engine, started on first use."""
        if self._engine is None:
            data_dir = self.settings.resolved_data_dir
            roots = [self.settings.lake_root] if "://" not in self.settings.lake_root else []
            self._engine = DuckDBEngine(
                threads=self.settings.engine.threads,
                memory_limit=self.settings.engine.memory_limit,
                temp_directory=str(data_dir / "tmp"),
                allowed_roots=roots,
            )
        return self._engine

    def _engines(self) -> dict[str, Callable[[], Engine]]:
        """Metric query engines by name: DuckDB and Spark always, PostgreSQL when configured."""
        engines: dict[str, Callable[[], Engine]] = {
            "duckdb": lambda: self.engine,
            "spark": self._spark_engine,
        }
        if self.settings.engine.postgres.url:
            engines["postgres"] = self._postgres_engine
        return engines

    def _postgres_engine(self) -> Engine:
        """The PostgreSQL engine, connected on first use."""
        if self._postgres is None:
            from gnomon.engine.postgres import PostgresEngine

            config = self.settings.engine.postgres
            assert config.url is not None  # noqa: S101 - offered only when configured
            self._postgres = PostgresEngine(
                config.url,
                schema=config.schema_name,
                statement_timeout_s=config.statement_timeout_s,
            )
        return self._postgres

    def _spark_engine(self) -> SparkEngine:
        """The Spark engine, started on first use (a session takes seconds to start)."""
        if self._spark is None:
            spark = self.settings.engine.spark
            roots = [self.settings.lake_root] if "://" not in self.settings.lake_root else []
            self._spark = SparkEngine(
                spark.master, app_name=spark.app_name, conf=spark.conf, allowed_roots=roots
            )
        return self._spark

    # ------------------------------------------------------------------ services

    @property
    def ingest(self) -> IngestService:
        """Loading sources into the lake."""
        return IngestService(
            catalog=self.catalog,
            lake=self.lake,
            engine=self.engine,
            clock=self.clock,
            layout=self.layout,
            batch_rows=self.settings.ingest.batch_rows,
            block_size=self.settings.ingest.block_size_bytes,
        )

    def queries(
        self,
        *,
        as_of: datetime | None = None,
        versions: Mapping[str, int] | None = None,
    ) -> QueryService:
        """The read path over published tables, optionally as of a time or at given versions."""
        pinned = dict(versions or {})

        def resolve(layer: str, name: str) -> TableSource:
            return self.snapshot(layer, name, as_of=as_of, version=pinned.get(f"{layer}.{name}"))

        return QueryService(
            self.engine,
            resolve=resolve,
            max_rows=self.settings.engine.max_result_rows,
            access=self.policies.access,
            on_read=self._audit_read,
        )

    def snapshot(
        self,
        layer: str,
        name: str,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> TableSnapshot:
        """The published snapshot of a table, or an older one for time travel.

        Versions newer than the published one belong to a load that has not finished and are
        never read.

        Raises:
            NotFound: the table has never been published.
            InvalidInput: the version asked for is newer than the published one.
        """
        lake_layer = _layer(layer)
        record = self._published.get((lake_layer.value, name))
        if record is None:
            with self.catalog.transaction(read_only=True) as tx:
                known = [f"{t.layer}.{t.name}" for t in tx.tables.all()]
            raise NotFound(
                f"There is no table {layer}.{name} (tables: {', '.join(sorted(known)) or 'none'}).",
                hint="Load a source or build the models first, or check the spelling.",
                table=f"{layer}.{name}",
            )
        if version is not None:
            if version > record.version:
                raise InvalidInput(
                    f"{layer}.{name} has no published version {version}; the latest is "
                    f"{record.version}.",
                    hint=f"Use a version between 0 and {record.version}.",
                )
            return self._snapshot_at(lake_layer, name, version)
        if as_of is not None:
            snapshot = self.lake.snapshot(lake_layer, name, as_of=as_of)
            if snapshot.version <= record.version:
                return snapshot
        return self._snapshot_at(lake_layer, name, record.version)

    def _read_published(self, key: tuple[str, str]) -> TableVersionRecord | None:
        with self.catalog.transaction(read_only=True) as tx:
            return tx.tables.get(*key)

    def _snapshot_at(self, layer: Layer, name: str, version: int) -> TableSnapshot:
        """A table version's snapshot; versions never change, so they are kept (a few hundred)."""
        key = (layer.value, name, version)
        with self._snapshots_lock:
            cached = self._snapshots.get(key)
            if cached is not None:
                self._snapshots.move_to_end(key)
                return cached
        require_io(f"read the Delta log of {layer.value}.{name}")
        snapshot = self.lake.snapshot(layer, name, version=version)
        with self._snapshots_lock:
            self._snapshots[key] = snapshot
            while len(self._snapshots) > _SNAPSHOT_CACHE:
                self._snapshots.popitem(last=False)
        return snapshot

    def sql(
        self,
        text: str,
        *,
        ctx: RequestContext | None = None,
        limit: int | None = None,
        as_of: datetime | None = None,
        versions: Mapping[str, int] | None = None,
    ) -> pa.Table:
        """Run read-only SQL over the lake for a tenant (the configured one by default)."""
        service = self.queries(as_of=as_of, versions=versions)
        return service.sql(text, ctx=ctx or self.context(), limit=limit).table

    def tables(self) -> list[TableInfo]:
        """Every published lake table."""
        with self.catalog.transaction() as tx:
            records = tx.tables.all()
        return [
            TableInfo(
                layer=r.layer,
                name=r.name,
                version=r.version,
                updated_at=r.updated_at,
                run_id=r.run_id,
                uri=self.lake.uri(Layer(r.layer), r.name),
            )
            for r in sorted(records, key=lambda r: (r.layer, r.name))
        ]

    def runs(
        self,
        *,
        ctx: RequestContext | None = None,
        source: str | None = None,
        dataset: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Recent runs of the tenant, newest first."""
        tenant = (ctx or self.context()).tenant
        with self.catalog.transaction() as tx:
            return tx.runs.list(
                tenant=tenant, source=source, dataset=dataset, status=status, limit=limit
            )

    def run(self, run_id: str, *, ctx: RequestContext | None = None) -> RunRecord:
        """One run of the tenant (another tenant's run is not found)."""
        with self.catalog.transaction() as tx:
            return tx.runs.get(run_id, tenant=(ctx or self.context()).tenant)

    def datasets(self, *, ctx: RequestContext | None = None) -> list[DatasetRecord]:
        """The tenant's datasets."""
        with self.catalog.transaction() as tx:
            return tx.datasets.list(tenant=(ctx or self.context()).tenant)

    def dataset(self, name: str, *, ctx: RequestContext | None = None) -> DatasetRecord:
        """One dataset of the tenant."""
        with self.catalog.transaction() as tx:
            return tx.datasets.get(tenant=(ctx or self.context()).tenant, name=name)

    @property
    def semantic(self) -> SemanticService:
        """Metric definitions and metric queries (one per app: it holds the result cache)."""
        if self._semantic is None:
            self._semantic = self.semantic_service()
        return self._semantic

    @property
    def insights(self) -> InsightsService:
        """Scans of the metrics for anomalies, the anomalies found, and feedback on them."""
        return InsightsService(
            catalog=self.catalog,
            semantic=self.semantic,
            lake=self.lake,
            clock=self.clock,
            settings=self.settings.insights,
            spark=(lambda: self._spark_engine().session)
            if self.settings.engine.name == "spark"
            else None,
        )

    @property
    def triggers(self) -> TriggerService:
        """Trigger rules, their alerts and silences, and the events they watch.

        One per app: it keeps the compiled rules.
        """
        if self._triggers is None:
            semantic = self.semantic
            self._triggers = TriggerService(
                self.catalog,
                triggers_dir=self.layout.triggers_dir,
                project_dir=self.settings.project_dir,
                clock=self.clock,
                kpis=lambda ctx, metrics, by, changes: semantic.latest(
                    metrics, by=by, changes=changes, ctx=ctx
                ),
            )
        return self._triggers

    def tenant_ids(self) -> list[str]:
        """Every tenant's id."""
        with self.catalog.transaction(read_only=True) as tx:
            return [t.id for t in tx.tenants.list()]

    def channels(self, *, env: Mapping[str, str] | None = None) -> dict[str, Channel]:
        """The delivery channels of ``channels.yaml`` (none without the file), built.

        Raises:
            ChannelSpecError: the file is not valid; every problem is located.
            MissingEnvironment: a ``${NAME}`` it references is not set.
        """
        path = self.layout.channels_file
        if not path.exists():
            return {}
        specs = load_channels(path)
        return {
            name: build_channel(name, spec, env=env, clock=self.clock)
            for name, spec in specs.items()
        }

    def dispatcher(
        self, channels: Mapping[str, Channel] | None = None, **options: Any
    ) -> Dispatcher:
        """A dispatcher over the outbox, with the project's channels unless given.

        ``options`` are the dispatcher's settings (lease, concurrency, backoff policy …).
        """
        return Dispatcher(
            self.catalog,
            self.channels() if channels is None else channels,
            clock=self.clock,
            **options,
        )

    async def run_alerting(
        self,
        stop: asyncio.Event,
        *,
        poll_interval: float = 1.0,
        tick_interval: float = 5.0,
        kpi_interval: float | None = 300.0,
    ) -> None:
        """Judge trigger rules and deliver their notifications until ``stop`` is set.

        The trigger loop wakes the dispatcher when it has queued notifications, so an event
        published in this process reaches its receiver without waiting for a poll.
        """
        channels = self.channels()
        dispatcher = self.dispatcher(channels)
        wake = asyncio.Event()
        running = asyncio.get_running_loop()

        loop = TriggerLoop(
            self.triggers,
            poll_interval=poll_interval,
            tick_interval=tick_interval,
            kpi_interval=kpi_interval,
            on_notified=lambda: _call_soon(running, wake.set),
            tenants=self.tenant_ids,
        )

        async def stopper() -> None:
            await stop.wait()
            self.triggers.wake.set()

        try:
            await asyncio.gather(
                loop.run(stop),
                dispatcher.run(stop, poll_interval=poll_interval, wake=wake),
                stopper(),
            )
        finally:
            for channel in channels.values():
                await channel.aclose()

    def semantic_service(self, *, cache_entries: int = 256) -> SemanticService:
        """A semantic service of this app; ``cache_entries=0`` turns the result cache off."""
        return SemanticService(
            catalog=self.catalog,
            resolve=self.snapshot,
            engines=self._engines(),
            default_engine=self.settings.engine.name,
            metrics_dir=self.layout.metrics_dir,
            project_dir=self.layout.root,
            clock=self.clock,
            access=self.policies.access,
            policy_stamp=self.policies.stamp,
            on_read=self._audit_read,
            cache_entries=cache_entries,
            changes=self.changes,
            rollups=RollupService(
                catalog=self.catalog,
                lake=self.lake,
                engine=self.engine,
                resolve=self.snapshot,
                snapshot_at=self._snapshot_at,
                clock=self.clock,
                changes=self.changes,
            ),
        )

    def query(
        self,
        metrics: Sequence[str],
        *,
        by: Sequence[str] = (),
        grain: str | None = None,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        where: str | None = None,
        order: Sequence[str] = (),
        limit: int | None = None,
        engine: str | None = None,
        use_rollups: bool = True,
        ctx: RequestContext | None = None,
    ) -> MetricResult:
        """Metric values by dimensions and time (see :class:`gnomon.semantic.MetricQuery`).

        Raises:
            InvalidInput: the query is malformed (an unknown grain, a negative limit …).
            UnknownMetric, MetricQueryError: the definitions cannot answer it as asked.
        """
        try:
            query = MetricQuery.build(
                metrics,
                by=by,
                grain=grain,
                start=start,
                end=end,
                where=where,
                order=order,
                limit=limit,
            )
        except ValueError as exc:
            raise InvalidInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
        return self.semantic.query(
            query, ctx=ctx or self.context(), engine=engine, use_rollups=use_rollups
        )

    async def answer_cached(
        self,
        query: MetricQuery,
        *,
        ctx: RequestContext,
        engine: str | None = None,
        use_rollups: bool = True,
        admit: Callable[[], None] | None = None,
    ) -> MetricResult | None:
        """``query`` answered from memory, for an event loop; ``None`` means "call query".

        Only a cached answer that memory alone shows to be current is given (no catalog or lake
        read, so the loop never waits on one); its read is audited like any other, and this
        returns once the audit entry has committed. ``admit`` runs once an answer is found and
        before it is audited (an API server's rate limit); what it raises is raised.
        """
        result = self.semantic.cached(query, ctx=ctx, engine=engine, use_rollups=use_rollups)
        if result is None:
            return None
        if admit is not None:
            admit()
        details = read_details(query, rows=result.table.num_rows, engine=result.engine, cached=True)
        await self.audit.record_async(ctx, "metrics.query", **details)
        return result

    # ------------------------------------------------------------------ governance

    @property
    def secret(self) -> bytes:
        """The project's secret (mask keys, signed cursors), made on first use, mode 0600."""
        if self._secret is None:
            path = self.settings.resolved_data_dir / "secret.key"
            self._secret = load_or_create_secret(path, purpose="project secret")
        return self._secret

    @property
    def audit(self) -> AuditService:
        """The tamper-evident log of reads, changes and admin actions."""
        if self._audit is None:
            self._audit = AuditService(catalog=self.catalog)
        return self._audit

    @property
    def policies(self) -> PolicyService:
        """Row policies and column masks."""
        if self._policies is None:
            self._policies = PolicyService(
                catalog=self.catalog,
                mask_key=self.secret,
                resolve=self.snapshot,
                audit=self.audit,
                changes=self.changes,
            )
        return self._policies

    @property
    def identities(self) -> IdentityService:
        """Users, API keys and custom roles."""
        if self._identities is None:
            self._identities = IdentityService(
                catalog=self.catalog, audit=self.audit, clock=self.clock, changes=self.changes
            )
        return self._identities

    @property
    def dev_issuer(self) -> DevIssuer:
        """The development token issuer.

        Raises:
            ConfigError: it is not enabled (``auth.dev_issuer.enabled``).
        """
        settings = self.settings.auth.dev_issuer
        if not settings.enabled:
            raise ConfigError(
                "The development token issuer is off.",
                hint="Set auth.dev_issuer.enabled: true in gnomon.yaml (development only).",
            )
        secret = load_or_create_secret(self.settings.resolved_data_dir / "dev-issuer.key")
        return DevIssuer(secret, ttl=timedelta(seconds=settings.ttl_s), clock=self.clock)

    @property
    def authenticator(self) -> Authenticator:
        """Checks API keys and bearer tokens (configured issuers, the dev issuer if on)."""
        if self._authenticator is None:
            issuers = [
                IssuerConfig(
                    issuer=i.issuer,
                    audience=i.audience,
                    jwks_url=i.jwks_url,
                    algorithms=tuple(i.algorithms),
                    tenant_claim=i.tenant_claim,
                    user_claim=i.user_claim,
                    roles_claim=i.roles_claim,
                    attribute_claims=tuple(i.attribute_claims),
                    allowed_tenants=None
                    if i.allowed_tenants is None
                    else frozenset(i.allowed_tenants),
                )
                for i in self.settings.auth.issuers
            ]
            if self.settings.auth.dev_issuer.enabled:
                issuers.append(self.dev_issuer.issuer_config())
            self._authenticator = Authenticator(
                api_keys=ApiKeyAuthenticator(
                    CatalogKeyStore(self.catalog, self.changes), self.clock
                ),
                tokens=JwtVerifier(issuers, self.clock) if issuers else None,
            )
        return self._authenticator

    def readiness(self) -> dict[str, dict[str, Any]]:
        """Whether the catalog answers and the lake's root can be listed, each with why not."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            with self.catalog.transaction() as tx:
                tx.tables.all()
            checks["catalog"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
            checks["catalog"] = {"ok": False, "error": type(exc).__name__}
        try:
            self.lake.tables()
            checks["lake"] = {"ok": True}
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
            checks["lake"] = {"ok": False, "error": type(exc).__name__}
        return checks

    def _audit_read(self, ctx: RequestContext, action: str, details: dict[str, Any]) -> None:
        self.audit.record(ctx, action, **details)

    @property
    def models(self) -> ModelService:
        """Building gold tables from the project's SQL models."""
        return ModelService(
            catalog=self.catalog,
            lake=self.lake,
            queries=self.queries(),
            clock=self.clock,
            models_dir=self.layout.models_dir,
        )

    @property
    def maintenance(self) -> MaintenanceService:
        """History, compaction and vacuum of lake tables."""
        return MaintenanceService(catalog=self.catalog, lake=self.lake, clock=self.clock)

    def build(
        self,
        select: list[str] | None = None,
        *,
        ctx: RequestContext | None = None,
        on_event: Callable[[ModelRunResult], None] | None = None,
    ) -> list[ModelRunResult]:
        """Build gold models (all, or the selected ones and what they depend on)."""
        return self.models.build(select, ctx=ctx or self.context(), on_event=on_event)


def _layer(text: str) -> Layer:
    try:
        return Layer(text)
    except ValueError:
        valid = ", ".join(layer.value for layer in Layer)
        raise InvalidInput(
            f"Unknown layer {text!r}.", hint=f"Use one of: {valid}.", layer=text
        ) from None


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> None:
    """Run ``callback`` in ``loop``'s thread (from a worker thread)."""
    loop.call_soon_threadsafe(callback)
