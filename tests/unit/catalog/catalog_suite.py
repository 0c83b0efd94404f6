"""The catalog's behaviour, written once and run against every backend.

A backend's test class subclasses :class:`CatalogSuite` and supplies ``catalog_url``: an empty
database that the suite migrates. SQLite runs in tests/unit/catalog, PostgreSQL in
tests/integration/catalog.
"""

import dataclasses
import hashlib
import itertools
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from gnomon.catalog import (
    DELETED_FINGERPRINT,
    GENESIS_HASH,
    LAKE_SCOPE,
    AlertNotFound,
    AnomalyInput,
    AnomalyNotFound,
    AnomalyRecord,
    AuditCheck,
    AuditRecord,
    AuditRepository,
    Catalog,
    CatalogMemo,
    CatalogTransaction,
    ChangeWatch,
    DatasetNotFound,
    DeliveryAttemptInput,
    LeaseHeld,
    NewAuditEntry,
    NotificationNotFound,
    NotificationRecord,
    NotInMemory,
    RunNotFound,
    SilenceNotFound,
    SourceNotFound,
    TenantNotFound,
    UserNotFound,
    audit_hash,
    hold_lease,
    memory_only,
    owner_is_dead,
    params_fingerprint,
    process_owner,
    segment_key,
)
from gnomon.catalog.models import Base
from gnomon.catalog.repositories import audit as audit_repository
from gnomon.catalog.store import MIGRATIONS_DIR
from gnomon.clock import FixedClock
from gnomon.errors import Conflict, InternalError, InvalidInput, NotFound

T = TypeVar("T")

START = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SCHEMA = [
    {"name": "id", "type": "int64", "nullable": False},
    {"name": "amount", "type": "decimal(12,2)", "nullable": True},
]

ROLLUP_SPEC = {"model": "orders", "grain": "day", "dimensions": ["region"], "metrics": ["revenue"]}


def rollup(**overrides: Any) -> dict[str, Any]:
    """Arguments of ``tx.rollups.put`` for acme's ``orders_day``, with some replaced."""
    arguments: dict[str, Any] = {
        "tenant": "acme",
        "name": "orders_day",
        "model": "orders",
        "grain": "day",
        "fingerprint": "r1",
        "source_table": "silver.orders",
        "source_version": 3,
        "table_version": 1,
        "rows": 42,
        "spec": ROLLUP_SPEC,
    }
    return arguments | overrides


DAY = datetime(2025, 2, 1, tzinfo=UTC)
"""The first bucket of the anomalies the tests record."""


def anomaly(**overrides: Any) -> AnomalyInput:
    """An anomaly of acme's daily revenue in EMEA on :data:`DAY`, with some fields replaced."""
    base = AnomalyInput(
        metric="revenue",
        grain="day",
        segment={"region": "EMEA"},
        time=DAY,
        actual=180.0,
        expected=100.0,
        lower=80.0,
        upper=120.0,
        score=4.0,
        severity="high",
        direction="up",
        detector="robust_z",
        evidence={"z": 4.0},
    )
    return dataclasses.replace(base, **overrides)


def finding(record: AnomalyRecord) -> tuple[Any, ...]:
    """What a scan found about a point, as a record holds it."""
    return (
        record.actual,
        record.expected,
        record.lower,
        record.upper,
        record.score,
        record.severity,
        record.direction,
        record.detector,
        record.model_id,
        record.evidence,
    )


def notification(**overrides: Any) -> dict[str, Any]:
    """Arguments of ``tx.notifications.add`` for acme's revenue alert to ops, some replaced."""
    arguments: dict[str, Any] = {
        "tenant": "acme",
        "key": "alert-1:firing:ops",
        "channel": "ops",
        "rule": "revenue_drop",
        "fingerprint": "fp-revenue-eu",
        "state": "firing",
        "payload": {"title": "Revenue down", "labels": {"region": "EU"}, "value": 6000},
    }
    return arguments | overrides


def attempt_input(outcome: str, at: datetime = START, **overrides: Any) -> DeliveryAttemptInput:
    """A delivery attempt that started at ``at`` and took 40 ms."""
    base = DeliveryAttemptInput(
        outcome=outcome,
        started_at=at,
        finished_at=at + timedelta(milliseconds=40),
        status_code={"delivered": 200, "retry": 503, "failed": 400}.get(outcome),
        latency_ms=40.0,
        response_excerpt="ok" if outcome == "delivered" else "no",
        error=None if outcome == "delivered" else f"answered {outcome}",
    )
    return dataclasses.replace(base, **overrides)


def digest(key: str) -> str:
    """What a caller stores for an API key: the SHA-256 hex digest of the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key(**overrides: Any) -> dict[str, Any]:
    """Arguments of ``tx.api_keys.add`` for an acme key (``user_id`` must be overridden)."""
    arguments: dict[str, Any] = {
        "tenant": "acme",
        "user_id": "set-by-the-test",
        "name": "ci-export",
        "prefix": "gk_secre",
        "key_hash": digest("gk_secret"),
        "roles": [],
    }
    return arguments | overrides


def policy(**overrides: Any) -> dict[str, Any]:
    """Arguments of ``tx.policies.put`` for acme's row policy on silver.orders."""
    arguments: dict[str, Any] = {
        "tenant": "acme",
        "name": "orders_by_region",
        "kind": "row",
        "table_name": "silver.orders",
        "roles": ["analyst"],
        "spec": {"predicate": "region = {{ user.region }}"},
    }
    return arguments | overrides


def hashed_fields(entry: AuditRecord) -> dict[str, Any]:
    """The fields of an audit entry its hash covers."""
    return {
        "tenant": entry.tenant,
        "seq": entry.seq,
        "at": entry.at,
        "principal": entry.principal,
        "action": entry.action,
        "target": entry.target,
        "correlation_id": entry.correlation_id,
        "details": entry.details,
    }


def append_audit_entries(catalog: Catalog, clock: FixedClock, *, count: int) -> list[AuditRecord]:
    """Append ``count`` varied entries to acme's audit log, a second apart."""
    entries = []
    with catalog.transaction() as tx:
        for index in range(count):
            clock.advance(timedelta(seconds=1))
            entries.append(
                tx.audit.append(
                    tenant="acme",
                    principal=f"user:{index % 3}",
                    action="sql.query" if index % 2 else "metrics.query",
                    target=f"silver.t{index}" if index % 4 else None,
                    correlation_id=f"req-{index}",
                    details={"rows": index, "sql": f"select {index}"},
                )
            )
    return entries


def execute_sql(url: str, sql: str, **params: Any) -> None:
    """Run one statement behind the catalog's back, as someone with database access could."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(sql), params)
    finally:
        engine.dispose()


def wait_until(condition: Callable[[], bool], *, within: float = 30.0) -> bool:
    """Poll until ``condition()`` holds; ``within`` only bounds a hang, nothing is timed."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def run_in_threads(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: dict[int, T] = {}
    failures: list[BaseException] = []

    def target(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            failures.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [results[i] for i in range(count)]


class CatalogSuite:
    """Repository behaviour every catalog backend must show."""

    __test__ = False

    @pytest.fixture
    def catalog_url(self) -> str:
        raise NotImplementedError("a backend's test class supplies catalog_url")

    @pytest.fixture
    def clock(self) -> FixedClock:
        return FixedClock(START)

    @pytest.fixture
    def catalog(self, catalog_url: str, clock: FixedClock) -> Iterator[Catalog]:
        catalog = Catalog(catalog_url, clock=clock)
        catalog.migrate()
        with catalog.transaction() as tx:
            tx.tenants.ensure("acme", name="Acme Corp")
            tx.tenants.ensure("globex")
        yield catalog
        catalog.dispose()

    # ------------------------------------------------------------------ migrations

    def test_migration_head_matches_the_models(self, catalog: Catalog, catalog_url: str) -> None:
        engine = create_engine(catalog_url)
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    def test_migrate_is_idempotent_and_keeps_data(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.sources.upsert(tenant="acme", name="orders", kind="csv", dataset="orders", spec={})
        catalog.migrate()
        catalog.migrate()
        with catalog.transaction() as tx:
            assert [t.id for t in tx.tenants.list()] == ["acme", "default", "globex"]
            assert [s.name for s in tx.sources.list(tenant="acme")] == ["orders"]

    def test_concurrent_migrations_both_succeed(self, catalog_url: str, clock: FixedClock) -> None:
        catalogs = [Catalog(catalog_url, clock=clock) for _ in range(4)]
        try:
            run_in_threads(4, lambda i: catalogs[i].migrate())
            with catalogs[0].transaction() as tx:
                assert [t.id for t in tx.tenants.list()] == ["default"]
        finally:
            for catalog in catalogs:
                catalog.dispose()

    # ------------------------------------------------------------------ tenants

    def test_migrate_creates_the_default_tenant(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            default = tx.tenants.get("default")
        assert default.name == "default"
        assert default.created_at == START

    def test_ensure_keeps_or_renames_an_existing_tenant(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        clock.advance(timedelta(hours=1))
        with catalog.transaction() as tx:
            unchanged = tx.tenants.ensure("acme")
            renamed = tx.tenants.ensure("globex", name="Globex Inc")
        assert (unchanged.name, unchanged.created_at) == ("Acme Corp", START)
        assert (renamed.name, renamed.created_at) == ("Globex Inc", START)

    def test_ensure_refuses_ids_that_cannot_be_tenant_ids(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            for bad in ("", "a b", "-lead", "x" * 65, "acme/../x"):
                with pytest.raises(InvalidInput, match="Invalid tenant id"):
                    tx.tenants.ensure(bad)
            assert [t.id for t in tx.tenants.list()] == ["acme", "default", "globex"]

    def test_get_of_unknown_tenant_names_no_other_tenant(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx, pytest.raises(TenantNotFound) as caught:
            tx.tenants.get("initech")
        assert isinstance(caught.value, NotFound)
        assert "initech" in caught.value.message
        shown = f"{caught.value.message} {caught.value.hint} {caught.value.details}"
        assert not any(name in shown for name in ("acme", "globex"))

    def test_writes_for_an_unknown_tenant_are_refused(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(TenantNotFound):
                tx.sources.upsert(tenant="initech", name="s", kind="csv", dataset="d", spec={})
            with pytest.raises(TenantNotFound):
                tx.datasets.upsert(tenant="initech", name="d", schema=[], contract_version=None)
            with pytest.raises(TenantNotFound):
                tx.runs.start(tenant="initech", kind="ingest")
            with pytest.raises(TenantNotFound):
                tx.outbox.add(tenant="initech", type="t", source="s", data={})

    # ------------------------------------------------------------------ sources

    def test_source_upsert_creates_then_updates(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            created = tx.sources.upsert(
                tenant="acme", name="orders", kind="csv", dataset="orders", spec={"path": "a/*"}
            )
        later = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            same = tx.sources.upsert(
                tenant="acme", name="orders", kind="csv", dataset="orders", spec={"path": "a/*"}
            )
            changed = tx.sources.upsert(
                tenant="acme", name="orders", kind="parquet", dataset="orders2", spec={"p": 1}
            )
        assert created.spec == {"path": "a/*"}
        assert (created.created_at, created.updated_at) == (START, START)
        assert same == created
        assert changed.id == created.id
        assert (changed.kind, changed.dataset, changed.spec) == ("parquet", "orders2", {"p": 1})
        assert (changed.created_at, changed.updated_at) == (START, later)

    def test_source_get_and_list(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            for name in ("zeta", "alpha"):
                tx.sources.upsert(tenant="acme", name=name, kind="csv", dataset=name, spec={})
            assert tx.sources.get(tenant="acme", name="zeta").dataset == "zeta"
            assert [s.name for s in tx.sources.list(tenant="acme")] == ["alpha", "zeta"]
            with pytest.raises(SourceNotFound) as caught:
                tx.sources.get(tenant="acme", name="beta")
        assert caught.value.details["known"] == ["alpha", "zeta"]
        assert "alpha, zeta" in caught.value.message

    def test_source_record_is_detached_from_the_input(self, catalog: Catalog) -> None:
        spec: dict[str, Any] = {"options": {"delimiter": ","}}
        with catalog.transaction() as tx:
            record = tx.sources.upsert(
                tenant="acme", name="orders", kind="csv", dataset="orders", spec=spec
            )
        spec["options"]["delimiter"] = ";"
        with catalog.transaction() as tx:
            stored = tx.sources.get(tenant="acme", name="orders")
        assert record.spec == {"options": {"delimiter": ","}}
        assert stored.spec == {"options": {"delimiter": ","}}

    # ------------------------------------------------------------------ datasets

    def test_dataset_upsert_get_find_list(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            created = tx.datasets.upsert(
                tenant="acme", name="orders", schema=SCHEMA, contract_version=None
            )
            tx.datasets.upsert(tenant="acme", name="customers", schema=[], contract_version=1)
        later = clock.advance(timedelta(seconds=1))
        with catalog.transaction() as tx:
            updated = tx.datasets.upsert(
                tenant="acme", name="orders", schema=SCHEMA[:1], contract_version=2
            )
            assert tx.datasets.get(tenant="acme", name="orders") == updated
            assert tx.datasets.find(tenant="acme", name="missing") is None
            assert [d.name for d in tx.datasets.list(tenant="acme")] == ["customers", "orders"]
        assert created.schema == SCHEMA
        assert created.contract_version is None
        assert (updated.id, updated.schema, updated.contract_version) == (created.id, SCHEMA[:1], 2)
        assert (updated.created_at, updated.updated_at) == (START, later)

    def test_dataset_get_of_unknown_lists_the_known(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.datasets.upsert(tenant="acme", name="orders", schema=[], contract_version=None)
            with pytest.raises(DatasetNotFound) as caught:
                tx.datasets.get(tenant="acme", name="order")
        assert caught.value.details["known"] == ["orders"]

    @pytest.mark.parametrize(
        "column",
        [
            {"name": "id", "type": "int64"},
            {"name": 1, "type": "int64", "nullable": True},
            {"name": "id", "type": "int64", "nullable": "yes"},
            "id int64",
        ],
    )
    def test_dataset_schema_columns_are_checked(self, catalog: Catalog, column: Any) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match="column 1"):
                tx.datasets.upsert(
                    tenant="acme", name="orders", schema=[SCHEMA[0], column], contract_version=None
                )
            assert tx.datasets.find(tenant="acme", name="orders") is None

    # ------------------------------------------------------------------ contracts

    def test_contract_versions(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            assert tx.contracts.latest(tenant="acme", dataset="orders") is None
            first = tx.contracts.add(
                tenant="acme", dataset="orders", version=1, fingerprint="f1", spec={"v": 1}
            )
            tx.contracts.add(
                tenant="acme", dataset="orders", version=2, fingerprint="f2", spec={"v": 2}
            )
            again = tx.contracts.add(
                tenant="acme", dataset="orders", version=1, fingerprint="f1", spec={"v": 1}
            )
            latest = tx.contracts.latest(tenant="acme", dataset="orders")
            versions = tx.contracts.list(tenant="acme", dataset="orders")
        assert again == first
        assert latest is not None
        assert (latest.version, latest.fingerprint, latest.spec) == (2, "f2", {"v": 2})
        assert [(v.version, v.fingerprint) for v in versions] == [(1, "f1"), (2, "f2")]

    def test_contract_version_with_another_fingerprint_conflicts(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.contracts.add(tenant="acme", dataset="orders", version=1, fingerprint="f1", spec={})
            with pytest.raises(Conflict, match="another fingerprint"):
                tx.contracts.add(
                    tenant="acme", dataset="orders", version=1, fingerprint="f9", spec={}
                )
            with pytest.raises(InvalidInput):
                tx.contracts.add(
                    tenant="acme", dataset="orders", version=0, fingerprint="f0", spec={}
                )
            # The conflict left the transaction usable on every backend.
            stored = tx.contracts.list(tenant="acme", dataset="orders")
        assert [(v.version, v.fingerprint) for v in stored] == [(1, "f1")]

    # ------------------------------------------------------------------ definitions

    def test_definition_versions_grow_only_on_change(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            assert tx.definitions.get(tenant="acme", kind="metric", name="revenue") is None
            first, added = tx.definitions.put(
                tenant="acme",
                kind="metric",
                name="revenue",
                spec={"measure": "amount"},
                fingerprint="f1",
                source="metrics/sales.yaml",
                created_by="alice",
            )
            assert added
            same, added_again = tx.definitions.put(
                tenant="acme", kind="metric", name="revenue", spec={"other": 1}, fingerprint="f1"
            )
            assert not added_again
            assert same == first
        later = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            second, added = tx.definitions.put(
                tenant="acme",
                kind="metric",
                name="revenue",
                spec={"measure": "net_amount"},
                fingerprint="f2",
            )
            assert added
            latest = tx.definitions.get(tenant="acme", kind="metric", name="revenue")
            old = tx.definitions.get(tenant="acme", kind="metric", name="revenue", version=1)
            missing = tx.definitions.get(tenant="acme", kind="metric", name="revenue", version=3)
            history = tx.definitions.history(tenant="acme", kind="metric", name="revenue")
        assert (first.tenant, first.kind, first.name, first.version) == (
            "acme",
            "metric",
            "revenue",
            1,
        )
        assert (first.spec, first.source, first.created_by, first.created_at) == (
            {"measure": "amount"},
            "metrics/sales.yaml",
            "alice",
            START,
        )
        assert not first.deleted
        assert (second.version, second.fingerprint, second.created_at) == (2, "f2", later)
        assert (second.source, second.created_by) == (None, None)
        assert latest == second
        assert old == first
        assert missing is None
        assert history == [first, second]

    def test_retired_definition_is_absent_until_stored_again(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            assert tx.definitions.retire(tenant="acme", kind="metric", name="never") is None
            tx.definitions.put(
                tenant="acme",
                kind="metric",
                name="orders",
                spec={"measure": "count"},
                fingerprint="f1",
                source="metrics/orders.yaml",
            )
        clock.advance(timedelta(minutes=1))
        with catalog.transaction() as tx:
            retired = tx.definitions.retire(
                tenant="acme", kind="metric", name="orders", created_by="bob"
            )
            assert tx.definitions.retire(tenant="acme", kind="metric", name="orders") is None
            gone = tx.definitions.get(tenant="acme", kind="metric", name="orders")
            deletion = tx.definitions.get(tenant="acme", kind="metric", name="orders", version=2)
        with catalog.transaction() as tx:
            back, added = tx.definitions.put(
                tenant="acme",
                kind="metric",
                name="orders",
                spec={"measure": "count"},
                fingerprint="f1",
            )
            history = tx.definitions.history(tenant="acme", kind="metric", name="orders")
            found = tx.definitions.get(tenant="acme", kind="metric", name="orders")
        assert retired is not None
        assert (retired.version, retired.deleted, retired.fingerprint) == (2, True, "deleted")
        assert retired.fingerprint == DELETED_FINGERPRINT
        assert (retired.spec, retired.source) == ({"measure": "count"}, "metrics/orders.yaml")
        assert (retired.created_by, retired.created_at) == ("bob", START + timedelta(minutes=1))
        assert gone is None
        assert deletion == retired
        assert added
        assert (back.version, back.deleted, back.fingerprint) == (3, False, "f1")
        assert found == back
        assert [(v.version, v.deleted) for v in history] == [(1, False), (2, True), (3, False)]

    def test_current_lists_the_latest_live_versions_by_kind_then_name(
        self, catalog: Catalog
    ) -> None:
        with catalog.transaction() as tx:
            assert tx.definitions.current(tenant="acme") == []
            for kind, name in [
                ("metric", "revenue"),
                ("metric", "aov"),
                ("semantic_model", "orders"),
                ("calendar", "calendar"),
                ("metric", "returns"),
                ("metric", "revenue_7d"),
            ]:
                tx.definitions.put(tenant="acme", kind=kind, name=name, spec={}, fingerprint="a")
            tx.definitions.put(
                tenant="acme", kind="metric", name="revenue", spec={"v": 2}, fingerprint="b"
            )
            tx.definitions.retire(tenant="acme", kind="metric", name="returns")
        with catalog.transaction() as tx:
            everything = tx.definitions.current(tenant="acme")
            metrics = tx.definitions.current(tenant="acme", kind="metric")
            models = tx.definitions.current(tenant="acme", kind="semantic_model")
        assert [(d.kind, d.name, d.version) for d in everything] == [
            ("calendar", "calendar", 1),
            ("metric", "aov", 1),
            ("metric", "revenue", 2),
            ("metric", "revenue_7d", 1),
            ("semantic_model", "orders", 1),
        ]
        assert [(d.name, d.spec) for d in metrics] == [
            ("aov", {}),
            ("revenue", {"v": 2}),
            ("revenue_7d", {}),
        ]
        assert [d.name for d in models] == ["orders"]
        assert not any(d.deleted for d in everything)

    def test_kinds_keep_their_own_names_and_versions(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            model, _ = tx.definitions.put(
                tenant="acme", kind="semantic_model", name="orders", spec={}, fingerprint="m"
            )
            metric, _ = tx.definitions.put(
                tenant="acme", kind="metric", name="orders", spec={}, fingerprint="m"
            )
            tx.definitions.retire(tenant="acme", kind="metric", name="orders")
            still = tx.definitions.get(tenant="acme", kind="semantic_model", name="orders")
        assert (model.version, metric.version) == (1, 1)
        assert still == model

    def test_definition_spec_is_detached_from_input_and_output(self, catalog: Catalog) -> None:
        spec: dict[str, Any] = {"measure": {"agg": "sum", "filters": ["a > 1"]}}
        with catalog.transaction() as tx:
            stored, _ = tx.definitions.put(
                tenant="acme", kind="metric", name="revenue", spec=spec, fingerprint="f"
            )
            spec["measure"]["filters"].append("b > 2")
            stored.spec["measure"]["agg"] = "max"
            again = tx.definitions.get(tenant="acme", kind="metric", name="revenue")
            assert again is not None
            again.spec["measure"]["filters"].clear()
        with catalog.transaction() as tx:
            reread = tx.definitions.get(tenant="acme", kind="metric", name="revenue")
            listed = tx.definitions.current(tenant="acme")
            listed[0].spec.clear()
            history = tx.definitions.history(tenant="acme", kind="metric", name="revenue")
        expected = {"measure": {"agg": "sum", "filters": ["a > 1"]}}
        assert reread is not None
        assert reread.spec == expected
        assert history[0].spec == expected

    def test_definition_input_is_checked(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match="Unknown kind 'dashboard'") as caught:
                tx.definitions.put(
                    tenant="acme", kind="dashboard", name="d", spec={}, fingerprint="f"
                )
            assert caught.value.details["valid"] == [
                "semantic_model",
                "metric",
                "calendar",
                "trigger",
            ]
            assert caught.value.hint is not None
            assert "semantic_model, metric, calendar, trigger" in caught.value.hint
            for read in (
                lambda: tx.definitions.get(tenant="acme", kind="metrics", name="d"),
                lambda: tx.definitions.history(tenant="acme", kind="metrics", name="d"),
                lambda: tx.definitions.current(tenant="acme", kind="metrics"),
                lambda: tx.definitions.retire(tenant="acme", kind="metrics", name="d"),
            ):
                with pytest.raises(InvalidInput, match="Unknown kind"):
                    read()
            with pytest.raises(InvalidInput, match="empty"):
                tx.definitions.put(tenant="acme", kind="metric", name="", spec={}, fingerprint="f")
            for fingerprint in ("", DELETED_FINGERPRINT):
                with pytest.raises(InvalidInput, match="fingerprint"):
                    tx.definitions.put(
                        tenant="acme", kind="metric", name="m", spec={}, fingerprint=fingerprint
                    )
            with pytest.raises(TenantNotFound, match="initech"):
                tx.definitions.put(
                    tenant="initech", kind="metric", name="m", spec={}, fingerprint="f"
                )
            assert tx.definitions.current(tenant="acme") == []
            assert tx.definitions.current(tenant="initech") == []

    def test_tenants_never_see_each_others_definitions(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.definitions.put(
                tenant="acme", kind="metric", name="revenue", spec={"t": "a"}, fingerprint="a1"
            )
            tx.definitions.put(
                tenant="acme", kind="metric", name="revenue", spec={"t": "a"}, fingerprint="a2"
            )
        with catalog.transaction() as tx:
            assert tx.definitions.current(tenant="globex") == []
            assert tx.definitions.get(tenant="globex", kind="metric", name="revenue") is None
            assert (
                tx.definitions.get(tenant="globex", kind="metric", name="revenue", version=1)
                is None
            )
            assert tx.definitions.history(tenant="globex", kind="metric", name="revenue") == []
            assert tx.definitions.retire(tenant="globex", kind="metric", name="revenue") is None
            # The same name in another tenant starts its own history at version 1.
            globex, added = tx.definitions.put(
                tenant="globex", kind="metric", name="revenue", spec={"t": "g"}, fingerprint="a2"
            )
            acme = tx.definitions.get(tenant="acme", kind="metric", name="revenue")
            tx.definitions.retire(tenant="globex", kind="metric", name="revenue")
            acme_after = tx.definitions.current(tenant="acme")
        assert added
        assert (globex.tenant, globex.version, globex.spec) == ("globex", 1, {"t": "g"})
        assert acme is not None
        assert (acme.tenant, acme.version, acme.spec) == ("acme", 2, {"t": "a"})
        assert acme_after == [acme]

    def test_concurrent_puts_never_share_a_version(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        writers = 6
        catalogs = [Catalog(catalog_url) for _ in range(writers)]

        def put(index: int) -> int | Conflict:
            try:
                with catalogs[index].transaction() as tx:
                    record, added = tx.definitions.put(
                        tenant="acme",
                        kind="metric",
                        name="revenue",
                        spec={"writer": index},
                        fingerprint=f"f{index}",
                    )
            except Conflict as exc:
                return exc
            assert added
            return record.version

        try:
            outcomes = run_in_threads(writers, put)
        finally:
            for each in catalogs:
                each.dispose()
        versions = sorted(o for o in outcomes if isinstance(o, int))
        conflicts = [o for o in outcomes if isinstance(o, Conflict)]
        assert versions == list(range(1, len(versions) + 1))
        assert len(versions) + len(conflicts) == writers
        for conflict in conflicts:
            assert conflict.hint is not None
            assert "Retry" in conflict.hint
        with catalog.transaction() as tx:
            history = tx.definitions.history(tenant="acme", kind="metric", name="revenue")
        assert [v.version for v in history] == versions
        writers_seen = [v.spec["writer"] for v in history]
        assert len(set(writers_seen)) == len(writers_seen)

    def test_downgrade_to_0001_drops_definitions_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            tx.definitions.put(tenant="acme", kind="metric", name="m", spec={}, fingerprint="f")
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0001")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == "0001"
            assert "definitions" not in tables
            assert {"tenants", "contract_versions", "runs"} <= tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.definitions.current(tenant="acme") == []
                    assert [t.id for t in tx.tenants.list()] == ["acme", "default", "globex"]
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ rollups

    def test_rollup_put_inserts_then_updates_the_same_row(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            assert tx.rollups.get(tenant="acme", name="orders_day") is None
            first = tx.rollups.put(**rollup())
        later = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            second = tx.rollups.put(
                **rollup(
                    model="orders_v2",
                    grain="hour",
                    fingerprint="r2",
                    source_table="silver.orders_v2",
                    source_version=9,
                    table_version=4,
                    rows=1200,
                    spec={"grain": "hour", "metrics": ["revenue", "returns"]},
                )
            )
            found = tx.rollups.get(tenant="acme", name="orders_day")
            listed = tx.rollups.list(tenant="acme")
        assert (first.tenant, first.name, first.model, first.grain) == (
            "acme",
            "orders_day",
            "orders",
            "day",
        )
        assert (first.fingerprint, first.source_table) == ("r1", "silver.orders")
        assert (first.source_version, first.table_version, first.rows) == (3, 1, 42)
        assert (first.spec, first.refreshed_at) == (ROLLUP_SPEC, START)
        assert second.id == first.id
        assert (second.model, second.grain, second.fingerprint, second.source_table) == (
            "orders_v2",
            "hour",
            "r2",
            "silver.orders_v2",
        )
        assert (second.source_version, second.table_version, second.rows) == (9, 4, 1200)
        assert second.spec == {"grain": "hour", "metrics": ["revenue", "returns"]}
        assert second.refreshed_at == later
        assert found == second
        assert listed == [second]

    def test_rollup_put_of_unchanged_state_still_moves_refreshed_at(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            first = tx.rollups.put(**rollup())
        later = clock.advance(timedelta(hours=1))
        with catalog.transaction() as tx:
            again = tx.rollups.put(**rollup())
        assert again.refreshed_at == later
        assert again == dataclasses.replace(first, refreshed_at=later)

    def test_rollups_list_by_name_as_plain_strings(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            assert tx.rollups.list(tenant="acme") == []
            for name in ("orders_week", "Returns_day", "orders_day", "customers_month"):
                tx.rollups.put(**rollup(name=name))
        with catalog.transaction() as tx:
            names = [r.name for r in tx.rollups.list(tenant="acme")]
        assert names == ["Returns_day", "customers_month", "orders_day", "orders_week"]

    def test_rollup_remove(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            assert not tx.rollups.remove(tenant="acme", name="orders_day")
            tx.rollups.put(**rollup())
            tx.rollups.put(**rollup(name="orders_week"))
        with catalog.transaction() as tx:
            assert tx.rollups.remove(tenant="acme", name="orders_day")
            assert tx.rollups.get(tenant="acme", name="orders_day") is None
            assert not tx.rollups.remove(tenant="acme", name="orders_day")
        later = clock.advance(timedelta(minutes=1))
        with catalog.transaction() as tx:
            assert [r.name for r in tx.rollups.list(tenant="acme")] == ["orders_week"]
            back = tx.rollups.put(**rollup(rows=7))
        assert (back.name, back.rows, back.refreshed_at) == ("orders_day", 7, later)

    def test_tenants_never_see_each_others_rollups(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.rollups.put(**rollup())
        with catalog.transaction() as tx:
            assert tx.rollups.get(tenant="globex", name="orders_day") is None
            assert tx.rollups.list(tenant="globex") == []
            assert not tx.rollups.remove(tenant="globex", name="orders_day")
            # The same name in another tenant is a row of its own.
            globex = tx.rollups.put(**rollup(tenant="globex", table_version=8, rows=5))
            acme_after_put = tx.rollups.get(tenant="acme", name="orders_day")
            assert tx.rollups.remove(tenant="globex", name="orders_day")
            acme_after_remove = tx.rollups.list(tenant="acme")
        assert globex.id != acme.id
        assert (globex.tenant, globex.table_version, globex.rows) == ("globex", 8, 5)
        assert acme_after_put == acme
        assert acme_after_remove == [acme]

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"name": ""}, "Invalid name for rollup ''"),
            ({"model": ""}, "Invalid model for rollup 'orders_day': it is empty"),
            ({"grain": ""}, "Invalid grain"),
            ({"fingerprint": ""}, "Invalid fingerprint"),
            ({"source_table": ""}, "Invalid source_table"),
            ({"source_version": -1}, "Invalid source_version for rollup 'orders_day': -1"),
            ({"table_version": -1}, "Invalid table_version"),
            ({"rows": -5}, "Invalid rows"),
        ],
    )
    def test_rollup_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        with catalog.transaction() as tx:
            stored = tx.rollups.put(**rollup())
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.rollups.put(**rollup(**override))
            assert caught.value.hint is not None
            assert tx.rollups.list(tenant="acme") == [stored]

    def test_rollup_put_for_an_unknown_tenant_is_refused(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(TenantNotFound, match="initech") as caught:
                tx.rollups.put(**rollup(tenant="initech"))
            assert "known" not in caught.value.details
            assert tx.rollups.list(tenant="initech") == []
            assert tx.rollups.list(tenant="acme") == []

    def test_rollup_spec_is_detached_from_input_and_output(self, catalog: Catalog) -> None:
        spec: dict[str, Any] = {"grain": "day", "metrics": ["revenue"]}
        with catalog.transaction() as tx:
            stored = tx.rollups.put(**rollup(spec=spec))
            spec["metrics"].append("returns")
            stored.spec["metrics"].clear()
            again = tx.rollups.get(tenant="acme", name="orders_day")
            assert again is not None
            again.spec["grain"] = "hour"
        with catalog.transaction() as tx:
            reread = tx.rollups.get(tenant="acme", name="orders_day")
            listed = tx.rollups.list(tenant="acme")
            listed[0].spec.clear()
            relisted = tx.rollups.list(tenant="acme")
        expected = {"grain": "day", "metrics": ["revenue"]}
        assert reread is not None
        assert reread.spec == expected
        assert relisted[0].spec == expected

    def test_concurrent_puts_of_one_rollup_leave_one_row(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        writers = 6
        catalogs = [Catalog(catalog_url) for _ in range(writers)]

        def put(index: int) -> int:
            with catalogs[index].transaction() as tx:
                return tx.rollups.put(**rollup(table_version=index, rows=index)).id

        try:
            ids = run_in_threads(writers, put)
        finally:
            for each in catalogs:
                each.dispose()
        with catalog.transaction() as tx:
            listed = tx.rollups.list(tenant="acme")
        assert len(listed) == 1
        assert set(ids) == {listed[0].id}
        assert listed[0].table_version == listed[0].rows
        assert listed[0].rows in range(writers)

    def test_downgrade_to_0002_drops_rollups_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            tx.definitions.put(tenant="acme", kind="metric", name="m", spec={}, fingerprint="f")
            tx.rollups.put(**rollup())
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0002")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == "0002"
            assert "rollups" not in tables
            assert {"tenants", "definitions", "runs"} <= tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.rollups.list(tenant="acme") == []
                    assert [d.name for d in tx.definitions.current(tenant="acme")] == ["m"]
                    assert tx.rollups.put(**rollup()).name == "orders_day"
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ users

    def test_user_create_get_and_by_name(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            created = tx.users.create(
                tenant="acme",
                name="emea@acme",
                roles=["analyst"],
                attributes={"region": "EMEA", "department": "sales"},
                display_name="EMEA analyst",
            )
            plain = tx.users.create(tenant="acme", name="admin@acme", roles=["admin"])
        with catalog.transaction() as tx:
            found = tx.users.get(tenant="acme", user_id=created.id)
            named = tx.users.by_name(tenant="acme", name="emea@acme")
            assert tx.users.get(tenant="acme", user_id="0" * 32) is None
            assert tx.users.by_name(tenant="acme", name="nobody@acme") is None
        assert re.fullmatch(r"[0-9a-f]{32}", created.id)
        assert created.id != plain.id
        assert (created.tenant, created.name, created.display_name) == (
            "acme",
            "emea@acme",
            "EMEA analyst",
        )
        assert created.roles == ["analyst"]
        assert created.attributes == {"region": "EMEA", "department": "sales"}
        assert not created.disabled
        assert created.created_at == created.updated_at == START
        assert found == named == created
        assert (plain.display_name, plain.attributes, plain.roles) == (None, {}, ["admin"])

    def test_user_names_are_unique_per_tenant(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            first = tx.users.create(tenant="acme", name="emea@acme", roles=["analyst"])
            with pytest.raises(Conflict, match="already has a user of that name") as caught:
                tx.users.create(tenant="acme", name="emea@acme", roles=["admin"])
            assert caught.value.hint is not None
            # The failed create changed nothing and left the transaction usable.
            assert tx.users.list(tenant="acme") == [first]
            other = tx.users.create(tenant="globex", name="emea@acme", roles=["viewer"])
        assert other.id != first.id
        assert (other.tenant, other.roles) == ("globex", ["viewer"])

    def test_users_list_pages_by_name_as_plain_strings(self, catalog: Catalog) -> None:
        names = ["bob", "Zoe", "alice", "émile", "carol", "Adam", "dave"]
        with catalog.transaction() as tx:
            assert tx.users.list(tenant="acme") == []
            for name in names:
                tx.users.create(tenant="acme", name=name, roles=[])
            tx.users.create(tenant="globex", name="aaron", roles=[])
        pages: list[list[str]] = []
        after: str | None = None
        with catalog.transaction() as tx:
            while True:
                page = tx.users.list(tenant="acme", after=after, limit=3)
                pages.append([u.name for u in page])
                if len(page) < 3:
                    break
                after = page[-1].name
            everyone = [u.name for u in tx.users.list(tenant="acme")]
            with pytest.raises(InvalidInput, match="limit must be at least 1"):
                tx.users.list(tenant="acme", limit=0)
        assert pages == [["Adam", "Zoe", "alice"], ["bob", "carol", "dave"], ["émile"]]
        assert everyone == sorted(names)

    def test_user_update_replaces_given_fields_only(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(
                tenant="acme",
                name="emea@acme",
                roles=["analyst", "viewer"],
                attributes={"region": "EMEA", "department": "sales"},
                display_name="EMEA",
            )
        later = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            updated = tx.users.update(
                tenant="acme",
                user_id=user.id,
                roles=["viewer"],
                attributes={"region": "APAC"},
                disabled=True,
            )
        clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            unchanged = tx.users.update(
                tenant="acme", user_id=user.id, roles=["viewer"], disabled=True
            )
            renamed = tx.users.update(tenant="acme", user_id=user.id, display_name="APAC")
            stored = tx.users.get(tenant="acme", user_id=user.id)
        assert updated.roles == ["viewer"]
        # Attributes are replaced whole, not merged.
        assert updated.attributes == {"region": "APAC"}
        assert updated.disabled
        assert (updated.display_name, updated.name, updated.created_at) == (
            "EMEA",
            "emea@acme",
            START,
        )
        assert updated.updated_at == later
        assert unchanged == updated
        assert renamed.display_name == "APAC"
        assert renamed.updated_at == clock.now()
        assert stored == renamed

    def test_user_update_and_delete_of_unknown_users(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(UserNotFound, match="Unknown user 'nobody'") as caught:
                tx.users.update(tenant="acme", user_id="nobody", disabled=True)
            assert isinstance(caught.value, NotFound)
            assert caught.value.hint is not None
            assert not tx.users.delete(tenant="acme", user_id="nobody")

    def test_user_delete_removes_the_users_api_keys(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            gone = tx.users.create(tenant="acme", name="gone@acme", roles=["viewer"])
            kept = tx.users.create(tenant="acme", name="kept@acme", roles=["viewer"])
            tx.api_keys.add(**api_key(user_id=gone.id, key_hash=digest("gone")))
            kept_key = tx.api_keys.add(**api_key(user_id=kept.id, key_hash=digest("kept")))
        with catalog.transaction() as tx:
            assert tx.users.delete(tenant="acme", user_id=gone.id)
            assert not tx.users.delete(tenant="acme", user_id=gone.id)
        with catalog.transaction() as tx:
            assert tx.users.get(tenant="acme", user_id=gone.id) is None
            assert tx.api_keys.by_hash(digest("gone")) is None
            assert tx.api_keys.list(tenant="acme") == [kept_key]
            assert [u.name for u in tx.users.list(tenant="acme")] == ["kept@acme"]

    def test_tenants_never_see_each_others_users(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.users.create(
                tenant="acme", name="emea@acme", roles=["analyst"], attributes={"region": "EMEA"}
            )
        with catalog.transaction() as tx:
            assert tx.users.get(tenant="globex", user_id=acme.id) is None
            assert tx.users.by_name(tenant="globex", name="emea@acme") is None
            assert tx.users.list(tenant="globex") == []
            with pytest.raises(UserNotFound) as caught:
                tx.users.update(tenant="globex", user_id=acme.id, roles=["admin"])
            assert not tx.users.delete(tenant="globex", user_id=acme.id)
            with pytest.raises(UserNotFound):
                tx.api_keys.add(**api_key(tenant="globex", user_id=acme.id))
            assert tx.users.get(tenant="acme", user_id=acme.id) == acme
        # Another tenant's id is reported exactly like an id that never existed.
        with catalog.transaction() as tx, pytest.raises(UserNotFound) as missing:
            tx.users.update(tenant="globex", user_id="never", roles=["admin"])
        assert caught.value.message == missing.value.message.replace("never", acme.id)
        assert caught.value.hint == missing.value.hint

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"name": ""}, "Invalid user name ''"),
            ({"name": " emea@acme"}, "Invalid user name ' emea@acme'"),
            ({"name": "emea\n@acme"}, "Invalid user name"),
            ({"roles": "analyst"}, "Invalid roles: expected a list of names"),
            ({"roles": ["analyst", ""]}, "Invalid name in roles ''"),
            ({"roles": [7]}, "Invalid name in roles 7"),
            ({"attributes": ["region"]}, "Invalid attributes"),
            ({"attributes": {"score": float("nan")}}, "Invalid attributes"),
            ({"attributes": {1: "x"}}, "Invalid attributes"),
            ({"attributes": {"since": START}}, "Invalid attributes"),
            ({"display_name": ""}, "Invalid display name ''"),
        ],
    )
    def test_user_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        arguments: dict[str, Any] = {"tenant": "acme", "name": "emea@acme", "roles": ["analyst"]}
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.users.create(**(arguments | override))
            assert caught.value.hint is not None
            assert tx.users.list(tenant="acme") == []
            user = tx.users.create(**arguments)
            update = {k: v for k, v in override.items() if k != "name"}
            if update:
                with pytest.raises(InvalidInput, match=re.escape(expected)):
                    tx.users.update(tenant="acme", user_id=user.id, **update)
                assert tx.users.get(tenant="acme", user_id=user.id) == user

    def test_user_update_refuses_a_disabled_flag_that_is_not_a_bool(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=[])
            with pytest.raises(InvalidInput, match="Invalid disabled flag 'yes'"):
                tx.users.update(tenant="acme", user_id=user.id, disabled="yes")  # type: ignore[arg-type]

    def test_user_of_an_unknown_tenant_is_refused(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(TenantNotFound, match="initech"):
                tx.users.create(tenant="initech", name="a@initech", roles=[])
            assert tx.users.list(tenant="initech") == []

    def test_user_attributes_are_detached_from_input_and_output(self, catalog: Catalog) -> None:
        attributes: dict[str, Any] = {"regions": ["EMEA"]}
        roles = ["analyst"]
        with catalog.transaction() as tx:
            user = tx.users.create(
                tenant="acme", name="emea@acme", roles=roles, attributes=attributes
            )
            attributes["regions"].append("APAC")
            roles.append("admin")
            user.attributes["regions"].clear()
            user.roles.clear()
        with catalog.transaction() as tx:
            stored = tx.users.get(tenant="acme", user_id=user.id)
        assert stored is not None
        assert (stored.attributes, stored.roles) == ({"regions": ["EMEA"]}, ["analyst"])

    # ------------------------------------------------------------------ roles

    def test_role_put_creates_then_replaces(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            assert tx.roles.get(tenant="acme", name="regional") is None
            first = tx.roles.put(
                tenant="acme", name="regional", permissions=["metrics:read"], description="d"
            )
        later = clock.advance(timedelta(minutes=1))
        with catalog.transaction() as tx:
            same = tx.roles.put(
                tenant="acme", name="regional", permissions=["metrics:read"], description="d"
            )
            second = tx.roles.put(
                tenant="acme", name="regional", permissions=["metrics:read", "sql:run"]
            )
            found = tx.roles.get(tenant="acme", name="regional")
        assert (first.tenant, first.name, first.permissions, first.description) == (
            "acme",
            "regional",
            ["metrics:read"],
            "d",
        )
        assert first.created_at == first.updated_at == START
        assert same == first
        assert second.id == first.id
        assert (second.permissions, second.description) == (["metrics:read", "sql:run"], None)
        assert (second.created_at, second.updated_at) == (START, later)
        assert found == second

    def test_roles_list_and_delete(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            assert tx.roles.list(tenant="acme") == []
            for name in ("ops", "Finance", "analyst_emea"):
                tx.roles.put(tenant="acme", name=name, permissions=[])
        with catalog.transaction() as tx:
            assert [r.name for r in tx.roles.list(tenant="acme")] == [
                "Finance",
                "analyst_emea",
                "ops",
            ]
            assert tx.roles.delete(tenant="acme", name="ops")
            assert not tx.roles.delete(tenant="acme", name="ops")
            assert tx.roles.get(tenant="acme", name="ops") is None
            assert [r.name for r in tx.roles.list(tenant="acme")] == ["Finance", "analyst_emea"]

    def test_tenants_never_see_each_others_roles(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.roles.put(tenant="acme", name="regional", permissions=["metrics:read"])
        with catalog.transaction() as tx:
            assert tx.roles.get(tenant="globex", name="regional") is None
            assert tx.roles.list(tenant="globex") == []
            assert not tx.roles.delete(tenant="globex", name="regional")
            globex = tx.roles.put(tenant="globex", name="regional", permissions=["sql:run"])
            assert tx.roles.get(tenant="acme", name="regional") == acme
        assert globex.id != acme.id
        assert globex.permissions == ["sql:run"]

    def test_role_input_is_checked(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match="Invalid role name ''"):
                tx.roles.put(tenant="acme", name="", permissions=[])
            with pytest.raises(InvalidInput, match="Invalid name in permissions ''"):
                tx.roles.put(tenant="acme", name="r", permissions=["metrics:read", ""])
            with pytest.raises(InvalidInput, match="Invalid permissions: expected a list"):
                tx.roles.put(tenant="acme", name="r", permissions="metrics:read")  # type: ignore[arg-type]
            with pytest.raises(TenantNotFound):
                tx.roles.put(tenant="initech", name="r", permissions=[])
            assert tx.roles.list(tenant="acme") == []

    # ------------------------------------------------------------------ api keys

    def test_api_key_add_get_list_and_by_hash(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=["analyst"])
            other = tx.users.create(tenant="acme", name="ops@acme", roles=["viewer"])
            key = tx.api_keys.add(
                **api_key(user_id=user.id, roles=["viewer"], expires_at=START + timedelta(days=30))
            )
            clock.advance(timedelta(seconds=1))
            second = tx.api_keys.add(**api_key(user_id=other.id, key_hash=digest("second")))
        with catalog.transaction() as tx:
            found = tx.api_keys.get(tenant="acme", key_id=key.id)
            by_hash = tx.api_keys.by_hash(digest("gk_secret"))
            listed = tx.api_keys.list(tenant="acme")
            of_user = tx.api_keys.list(tenant="acme", user_id=user.id)
            assert tx.api_keys.get(tenant="acme", key_id="nope") is None
            assert tx.api_keys.by_hash(digest("never issued")) is None
        assert re.fullmatch(r"[0-9a-f]{32}", key.id)
        assert (key.tenant, key.user_id, key.name, key.prefix) == (
            "acme",
            user.id,
            "ci-export",
            "gk_secre",
        )
        assert key.key_hash == digest("gk_secret")
        assert key.roles == ["viewer"]
        assert (key.created_at, key.expires_at) == (START, START + timedelta(days=30))
        assert (key.revoked_at, key.last_used_at) == (None, None)
        assert not key.revoked
        assert found == by_hash == key
        assert second.roles == []
        assert second.expires_at is None
        assert [k.id for k in listed] == [key.id, second.id]
        assert of_user == [key]

    def test_api_key_by_hash_finds_keys_of_every_tenant(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.users.create(tenant="acme", name="admin", roles=["admin"])
            globex = tx.users.create(tenant="globex", name="admin", roles=["admin"])
            acme_key = tx.api_keys.add(**api_key(user_id=acme.id, key_hash=digest("a")))
            globex_key = tx.api_keys.add(
                **api_key(tenant="globex", user_id=globex.id, key_hash=digest("g"))
            )
        with catalog.transaction() as tx:
            found_acme = tx.api_keys.by_hash(digest("a"))
            found_globex = tx.api_keys.by_hash(digest("g"))
            # Every other lookup stays within its tenant.
            assert tx.api_keys.get(tenant="globex", key_id=acme_key.id) is None
            assert tx.api_keys.get(tenant="acme", key_id=globex_key.id) is None
            assert tx.api_keys.list(tenant="globex") == [globex_key]
            assert tx.api_keys.list(tenant="globex", user_id=acme.id) == []
        assert found_acme == acme_key
        assert found_globex == globex_key
        assert (found_acme.tenant, found_globex.tenant) == ("acme", "globex")

    def test_api_key_revoke_once_and_only_in_its_tenant(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=["analyst"])
            key = tx.api_keys.add(**api_key(user_id=user.id))
        revoked_at = clock.advance(timedelta(hours=1))
        with catalog.transaction() as tx:
            assert tx.api_keys.revoke(tenant="globex", key_id=key.id) is None
            assert tx.api_keys.get(tenant="acme", key_id=key.id) == key
            revoked = tx.api_keys.revoke(tenant="acme", key_id=key.id)
            assert tx.api_keys.revoke(tenant="acme", key_id="nope") is None
        clock.advance(timedelta(hours=1))
        with catalog.transaction() as tx:
            again = tx.api_keys.revoke(tenant="acme", key_id=key.id)
            by_hash = tx.api_keys.by_hash(key.key_hash)
        assert revoked is not None
        assert revoked.revoked_at == revoked_at
        assert revoked.revoked
        assert not revoked.usable_at(revoked_at)
        assert key.usable_at(revoked_at)
        assert again == revoked
        # Authentication still finds a revoked key, and can tell why it is refused.
        assert by_hash == revoked

    def test_api_key_expiry(self, catalog: Catalog) -> None:
        expires = START + timedelta(days=1)
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=[])
            key = tx.api_keys.add(**api_key(user_id=user.id, expires_at=expires))
            forever = tx.api_keys.add(**api_key(user_id=user.id, key_hash=digest("forever")))
            for past in (START, START - timedelta(seconds=1)):
                with pytest.raises(InvalidInput, match="is not in the future"):
                    tx.api_keys.add(
                        **api_key(user_id=user.id, key_hash=digest("x"), expires_at=past)
                    )
            with pytest.raises(InvalidInput, match="must be timezone-aware"):
                tx.api_keys.add(
                    **api_key(
                        user_id=user.id,
                        key_hash=digest("x"),
                        expires_at=expires.replace(tzinfo=None),
                    )
                )
            assert len(tx.api_keys.list(tenant="acme")) == 2
        assert key.expires_at == expires
        assert key.usable_at(expires - timedelta(microseconds=1))
        assert not key.usable_at(expires)
        assert forever.usable_at(START + timedelta(days=10_000))

    def test_api_key_touch_moves_last_used_forward_only(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=[])
            key = tx.api_keys.add(**api_key(user_id=user.id))
            other = tx.api_keys.add(**api_key(user_id=user.id, key_hash=digest("other")))
        first_use = START + timedelta(minutes=3)
        with catalog.transaction() as tx:
            tx.api_keys.touch(key.id, at=first_use)
            tx.api_keys.touch(key.id, at=first_use - timedelta(minutes=1))
            tx.api_keys.touch("no such key", at=first_use)
        with catalog.transaction() as tx:
            touched = tx.api_keys.get(tenant="acme", key_id=key.id)
            untouched = tx.api_keys.get(tenant="acme", key_id=other.id)
            tx.api_keys.touch(key.id, at=first_use + timedelta(minutes=1))
            moved = tx.api_keys.get(tenant="acme", key_id=key.id)
            with pytest.raises(InvalidInput, match="must be timezone-aware"):
                tx.api_keys.touch(key.id, at=first_use.replace(tzinfo=None))
        assert touched is not None
        assert touched.last_used_at == first_use
        assert untouched == other
        assert moved is not None
        assert moved.last_used_at == first_use + timedelta(minutes=1)

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"key_hash": "gk_secret_key_itself"}, "Invalid key_hash"),
            ({"key_hash": digest("x").upper()}, "Invalid key_hash"),
            ({"key_hash": digest("x")[:63]}, "Invalid key_hash"),
            ({"prefix": ""}, "Invalid key prefix ''"),
            ({"prefix": "x" * 17}, "Invalid key prefix"),
            ({"name": ""}, "Invalid key name ''"),
            ({"roles": [""]}, "Invalid name in roles ''"),
        ],
    )
    def test_api_key_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=[])
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.api_keys.add(**api_key(user_id=user.id, **override))
            assert caught.value.hint is not None
            assert tx.api_keys.list(tenant="acme") == []

    def test_api_key_digest_is_unique_across_tenants(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.users.create(tenant="acme", name="u", roles=[])
            globex = tx.users.create(tenant="globex", name="u", roles=[])
            first = tx.api_keys.add(**api_key(user_id=acme.id))
            with pytest.raises(Conflict, match="same digest exists") as caught:
                tx.api_keys.add(**api_key(tenant="globex", user_id=globex.id))
            assert caught.value.hint is not None
            assert tx.api_keys.list(tenant="globex") == []
            assert tx.api_keys.by_hash(first.key_hash) == first

    # ------------------------------------------------------------------ access policies

    def test_policy_put_get_and_replace(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            assert tx.policies.get(tenant="acme", name="orders_by_region") is None
            row = tx.policies.put(**policy())
            mask = tx.policies.put(
                **policy(
                    name="mask_customer",
                    kind="mask",
                    roles=[],
                    spec={"column": "customer_id", "strategy": "partial", "keep_last": 4},
                    enabled=False,
                )
            )
        later = clock.advance(timedelta(minutes=2))
        with catalog.transaction() as tx:
            same = tx.policies.put(**policy())
            changed = tx.policies.put(**policy(spec={"predicate": "region = 'EMEA'"}))
            found = tx.policies.get(tenant="acme", name="orders_by_region")
        assert re.fullmatch(r"[0-9a-f]{32}", row.id)
        assert (row.tenant, row.name, row.kind, row.table_name) == (
            "acme",
            "orders_by_region",
            "row",
            "silver.orders",
        )
        assert row.roles == ["analyst"]
        assert row.spec == {"predicate": "region = {{ user.region }}"}
        assert row.enabled
        assert row.created_at == row.updated_at == START
        assert (mask.kind, mask.roles, mask.enabled) == ("mask", [], False)
        assert mask.spec == {"column": "customer_id", "strategy": "partial", "keep_last": 4}
        assert same == row
        assert changed.id == row.id
        assert changed.spec == {"predicate": "region = 'EMEA'"}
        assert (changed.created_at, changed.updated_at) == (START, later)
        assert found == changed

    def test_policies_list_filters_and_delete(self, catalog: Catalog) -> None:
        mask_spec = {"column": "email", "strategy": "hash"}
        with catalog.transaction() as tx:
            assert tx.policies.list(tenant="acme") == []
            tx.policies.put(**policy(name="orders_rls"))
            tx.policies.put(**policy(name="Orders_mask", kind="mask", spec=mask_spec))
            tx.policies.put(**policy(name="customers_rls", table_name="silver.customers"))
        with catalog.transaction() as tx:
            names = [p.name for p in tx.policies.list(tenant="acme")]
            of_orders = [
                p.name for p in tx.policies.list(tenant="acme", table_name="silver.orders")
            ]
            rows = [p.name for p in tx.policies.list(tenant="acme", kind="row")]
            masks = [
                p.name
                for p in tx.policies.list(tenant="acme", table_name="silver.orders", kind="mask")
            ]
            with pytest.raises(InvalidInput, match="Unknown policy kind 'column'"):
                tx.policies.list(tenant="acme", kind="column")
            assert tx.policies.delete(tenant="acme", name="orders_rls")
            assert not tx.policies.delete(tenant="acme", name="orders_rls")
            after = [p.name for p in tx.policies.list(tenant="acme")]
        assert names == ["Orders_mask", "customers_rls", "orders_rls"]
        assert of_orders == ["Orders_mask", "orders_rls"]
        assert rows == ["customers_rls", "orders_rls"]
        assert masks == ["Orders_mask"]
        assert after == ["Orders_mask", "customers_rls"]

    def test_tenants_never_see_each_others_policies(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.policies.put(**policy())
        with catalog.transaction() as tx:
            assert tx.policies.get(tenant="globex", name=acme.name) is None
            assert tx.policies.list(tenant="globex") == []
            assert tx.policies.list(tenant="globex", table_name="silver.orders") == []
            assert not tx.policies.delete(tenant="globex", name=acme.name)
            globex = tx.policies.put(**policy(tenant="globex", roles=["viewer"]))
            assert tx.policies.get(tenant="acme", name=acme.name) == acme
        assert globex.id != acme.id
        assert globex.roles == ["viewer"]

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"kind": "column"}, "Unknown policy kind 'column': use one of row, mask"),
            ({"name": ""}, "Invalid policy name ''"),
            ({"table_name": "orders"}, "Invalid policy table 'orders'"),
            ({"table_name": "silver.orders; drop"}, "Invalid policy table"),
            ({"roles": "analyst"}, "Invalid roles"),
            ({"spec": {}}, "Invalid spec of row policy 'orders_by_region': 'predicate'"),
            ({"spec": {"predicate": "  "}}, "'predicate' is missing or empty"),
            ({"kind": "mask"}, "Invalid spec of mask policy 'orders_by_region': 'column'"),
            ({"kind": "mask", "spec": {"column": "c"}}, "'strategy' is missing or empty"),
            ({"spec": {"predicate": "x", "since": START}}, "Invalid policy spec"),
            ({"enabled": "yes"}, "Invalid enabled flag 'yes'"),
        ],
    )
    def test_policy_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.policies.put(**policy(**override))
            assert caught.value.hint is not None
            with pytest.raises(TenantNotFound):
                tx.policies.put(**policy(tenant="initech"))
            assert tx.policies.list(tenant="acme") == []

    # ------------------------------------------------------------------ audit log

    def test_audit_append_chains_entries(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            first = tx.audit.append(
                tenant="acme",
                principal="user:emea@acme",
                action="metrics.query",
                target="revenue",
                correlation_id="req-1",
                details={"rows": 12, "by": ["region"], "ratio": 0.5},
            )
        later = clock.advance(timedelta(seconds=1))
        with catalog.transaction() as tx:
            second = tx.audit.append(tenant="acme", principal="user:admin", action="user.create")
            listed = tx.audit.list(tenant="acme")
        assert (first.tenant, first.seq, first.at) == ("acme", 1, START)
        assert (first.principal, first.action, first.target, first.correlation_id) == (
            "user:emea@acme",
            "metrics.query",
            "revenue",
            "req-1",
        )
        assert first.details == {"rows": 12, "by": ["region"], "ratio": 0.5}
        assert first.prev_hash == GENESIS_HASH
        assert first.hash == audit_hash(GENESIS_HASH, hashed_fields(first))
        assert (second.seq, second.at, second.prev_hash) == (2, later, first.hash)
        assert (second.target, second.correlation_id, second.details) == (None, None, {})
        assert second.hash == audit_hash(first.hash, hashed_fields(second))
        assert listed == [first, second]

    def test_audit_list_pages_and_filters_by_action(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            assert tx.audit.list(tenant="acme") == []
            for index in range(7):
                action = "sql.query" if index % 2 else "metrics.query"
                tx.audit.append(tenant="acme", principal="p", action=action, details={"i": index})
        with catalog.transaction() as tx:
            page = tx.audit.list(tenant="acme", limit=3)
            next_page = tx.audit.list(tenant="acme", after_seq=page[-1].seq, limit=3)
            last_page = tx.audit.list(tenant="acme", after_seq=6)
            queries = tx.audit.list(tenant="acme", action="sql.query", after_seq=2)
            with pytest.raises(InvalidInput, match="limit must be at least 1"):
                tx.audit.list(tenant="acme", limit=0)
        assert [e.seq for e in page] == [1, 2, 3]
        assert [e.seq for e in next_page] == [4, 5, 6]
        assert [e.seq for e in last_page] == [7]
        assert [(e.seq, e.details["i"]) for e in queries] == [(4, 3), (6, 5)]

    def test_audit_logs_of_tenants_are_separate_chains(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = [tx.audit.append(tenant="acme", principal="p", action="a") for _ in range(3)]
            globex = tx.audit.append(tenant="globex", principal="p", action="a")
        with catalog.transaction() as tx:
            assert tx.audit.list(tenant="globex") == [globex]
            assert tx.audit.list(tenant="acme") == acme
            assert tx.audit.list(tenant="default") == []
            checks = {t: tx.audit.verify(tenant=t) for t in ("acme", "globex", "default")}
        assert [e.seq for e in acme] == [1, 2, 3]
        assert (globex.seq, globex.prev_hash) == (1, GENESIS_HASH)
        # The tenant is hashed: the same content in another tenant gives another hash.
        assert globex.hash != acme[0].hash
        assert checks["acme"] == AuditCheck(ok=True, entries=3, first_bad_seq=None, reason=None)
        assert checks["globex"].entries == 1
        assert checks["default"] == AuditCheck(ok=True, entries=0, first_bad_seq=None, reason=None)

    def test_audit_verify_reads_long_chains_in_batches(
        self, catalog: Catalog, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(audit_repository, "VERIFY_BATCH", 4)
        append_audit_entries(catalog, clock, count=13)
        with catalog.transaction() as tx:
            check = tx.audit.verify(tenant="acme")
        assert check == AuditCheck(ok=True, entries=13, first_bad_seq=None, reason=None)

    @pytest.mark.parametrize(
        ("tampering", "bad_seq", "reason"),
        [
            (
                "UPDATE audit_log SET details = '{\"rows\": 999}'"
                " WHERE tenant_id = 'acme' AND seq = 3",
                3,
                "entry 3 was changed: its hash does not match its content",
            ),
            (
                "UPDATE audit_log SET principal = 'someone else'"
                " WHERE tenant_id = 'acme' AND seq = 9",
                9,
                "entry 9 was changed",
            ),
            (
                "DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 5",
                5,
                "entry 5 is missing: the entry after 4 is 6",
            ),
            (
                "DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 1",
                1,
                "entry 1 is missing",
            ),
            (
                f"UPDATE audit_log SET hash = '{'f' * 64}' WHERE tenant_id = 'acme' AND seq = 7",
                7,
                "entry 7 was changed",
            ),
            (
                f"UPDATE audit_log SET prev_hash = '{'0' * 64}'"
                " WHERE tenant_id = 'acme' AND seq = 2",
                2,
                "entry 2 does not follow the entry before it",
            ),
        ],
    )
    def test_audit_verify_names_the_first_tampered_entry(
        self,
        catalog: Catalog,
        catalog_url: str,
        clock: FixedClock,
        monkeypatch: pytest.MonkeyPatch,
        tampering: str,
        bad_seq: int,
        reason: str,
    ) -> None:
        monkeypatch.setattr(audit_repository, "VERIFY_BATCH", 4)
        append_audit_entries(catalog, clock, count=10)
        with catalog.transaction() as tx:
            globex = tx.audit.append(tenant="globex", principal="p", action="a")
            assert tx.audit.verify(tenant="acme").ok
        execute_sql(catalog_url, tampering)
        with catalog.transaction() as tx:
            check = tx.audit.verify(tenant="acme")
            globex_check = tx.audit.verify(tenant="globex")
        assert not check.ok
        assert check.first_bad_seq == bad_seq
        assert check.entries == bad_seq - 1
        assert check.reason is not None
        assert check.reason.startswith(reason)
        assert globex_check == AuditCheck(ok=True, entries=1, first_bad_seq=None, reason=None)
        assert globex.seq == 1

    def test_audit_verify_catches_a_rehashed_entry_at_the_next_link(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        entries = append_audit_entries(catalog, clock, count=5)
        # A forger who changes entry 3 and recomputes its hash still breaks entry 4's link.
        forged = dataclasses.replace(entries[2], details={"rows": 0})
        forged_hash = audit_hash(forged.prev_hash, hashed_fields(forged))
        execute_sql(
            catalog_url,
            "UPDATE audit_log SET details = '{\"rows\": 0}', hash = :hash"
            " WHERE tenant_id = 'acme' AND seq = 3",
            hash=forged_hash,
        )
        with catalog.transaction() as tx:
            check = tx.audit.verify(tenant="acme")
            stored = tx.audit.list(tenant="acme", after_seq=2, limit=1)
        assert stored[0].details == {"rows": 0}
        assert stored[0].hash == forged_hash
        assert (check.ok, check.first_bad_seq, check.entries) == (False, 4, 3)
        assert check.reason == (
            "entry 4 does not follow the entry before it: its prev_hash is not the hash of entry 3"
        )

    def test_audit_details_are_stored_as_they_read_back(self, catalog: Catalog) -> None:
        details: dict[str, Any] = {"sql": "select 1", "nested": {"b": 1, "a": [1.5, None, True]}}
        with catalog.transaction() as tx:
            entry = tx.audit.append(
                tenant="acme", principal="p", action="sql.query", details=details
            )
            details["nested"]["b"] = 2
            entry.details["sql"] = "changed"
        with catalog.transaction() as tx:
            stored = tx.audit.list(tenant="acme")[0]
            check = tx.audit.verify(tenant="acme")
        assert stored.details == {"sql": "select 1", "nested": {"b": 1, "a": [1.5, None, True]}}
        assert stored.hash == audit_hash(GENESIS_HASH, hashed_fields(stored))
        assert check.ok

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"principal": ""}, "Invalid principal ''"),
            ({"action": " sql.query"}, "Invalid action"),
            ({"target": ""}, "Invalid audit target ''"),
            ({"correlation_id": ""}, "Invalid audit correlation id ''"),
            ({"details": {"rows": float("inf")}}, "Invalid audit details"),
            ({"details": {"at": START}}, "Invalid audit details"),
            ({"details": {"ids": (1, 2)}}, "Invalid audit details"),
            ({"details": "rows=1"}, "Invalid audit details"),
        ],
    )
    def test_audit_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        arguments: dict[str, Any] = {"tenant": "acme", "principal": "p", "action": "sql.query"}
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.audit.append(**(arguments | override))
            assert caught.value.hint is not None
            with pytest.raises(TenantNotFound):
                tx.audit.append(**(arguments | {"tenant": "initech"}))
            # Nothing was appended, so the next entry is still the first.
            assert tx.audit.append(**arguments).seq == 1

    def test_audit_entries_roll_back_with_their_transaction(self, catalog: Catalog) -> None:
        with pytest.raises(RuntimeError, match="boom"), catalog.transaction() as tx:
            tx.audit.append(tenant="acme", principal="p", action="user.create")
            raise RuntimeError("boom")
        with catalog.transaction() as tx:
            entry = tx.audit.append(tenant="acme", principal="p", action="user.create")
            check = tx.audit.verify(tenant="acme")
        assert (entry.seq, entry.prev_hash) == (1, GENESIS_HASH)
        assert check.ok

    def test_audit_repository_cannot_change_or_remove_entries(self) -> None:
        public = {name for name in dir(AuditRepository) if not name.startswith("_")}
        assert public == {"append", "append_many", "list", "verify"}

    def test_append_many_chains_entries_of_several_tenants_in_order(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.tenants.ensure("globex")
            tx.audit.append(tenant="acme", principal="p", action="user.create")
        entries = [
            NewAuditEntry("acme", "p", "metrics.query", details={"rows": 1}),
            NewAuditEntry("globex", "q", "sql.query", target="silver.orders"),
            NewAuditEntry("acme", "p", "metrics.query", details={"rows": 2}),
        ]
        with catalog.transaction() as tx:
            records = tx.audit.append_many(entries)
        assert [(r.tenant, r.seq) for r in records] == [("acme", 2), ("globex", 1), ("acme", 3)]
        assert records[2].prev_hash == records[0].hash
        with catalog.transaction() as tx:
            stored = tx.audit.list(tenant="acme")
            assert tx.audit.verify(tenant="acme").ok
            assert tx.audit.verify(tenant="globex").ok
        assert [(r.id, r.hash, r.details) for r in stored[1:]] == [
            (r.id, r.hash, r.details) for r in (records[0], records[2])
        ]

    def test_append_many_appends_nothing_when_one_entry_is_invalid(self, catalog: Catalog) -> None:
        entries = [
            NewAuditEntry("acme", "p", "metrics.query"),
            NewAuditEntry("acme", "p", "metrics.query", target=""),
        ]
        with pytest.raises(InvalidInput, match="target"), catalog.transaction() as tx:
            tx.audit.append_many(entries)
        with catalog.transaction() as tx:
            assert tx.audit.list(tenant="acme") == []

    def test_concurrent_appends_never_share_a_seq(self, catalog_url: str, catalog: Catalog) -> None:
        writers = 6
        catalogs = [Catalog(catalog_url) for _ in range(writers)]

        def append(index: int) -> int:
            with catalogs[index].transaction() as tx:
                return tx.audit.append(
                    tenant="acme", principal=f"writer-{index}", action="sql.query"
                ).seq

        try:
            seqs = run_in_threads(writers, append)
        finally:
            for each in catalogs:
                each.dispose()
        assert sorted(seqs) == list(range(1, writers + 1))
        with catalog.transaction() as tx:
            entries = tx.audit.list(tenant="acme")
            check = tx.audit.verify(tenant="acme")
        assert check == AuditCheck(ok=True, entries=writers, first_bad_seq=None, reason=None)
        assert {e.principal for e in entries} == {f"writer-{i}" for i in range(writers)}

    def test_downgrade_to_0003_drops_governance_tables_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            tx.rollups.put(**rollup())
            user = tx.users.create(tenant="acme", name="u", roles=[])
            tx.api_keys.add(**api_key(user_id=user.id))
            tx.roles.put(tenant="acme", name="r", permissions=[])
            tx.policies.put(**policy())
            tx.audit.append(tenant="acme", principal="p", action="a")
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        governance = {"users", "roles", "api_keys", "access_policies", "audit_log"}
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0003")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == "0003"
            assert not governance & tables
            assert {"tenants", "definitions", "rollups", "runs"} <= tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.users.list(tenant="acme") == []
                    assert tx.audit.list(tenant="acme") == []
                    assert [r.name for r in tx.rollups.list(tenant="acme")] == ["orders_day"]
                    assert tx.audit.append(tenant="acme", principal="p", action="a").seq == 1
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                assert governance <= set(inspect(connection).get_table_names())
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ runs

    def test_run_start_defaults(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(
                tenant="acme",
                kind="ingest",
                source="orders_csv",
                dataset="orders",
                batch_id="b1",
                correlation_id="c1",
            )
        assert len(run.id) == 32
        assert int(run.id, 16) >= 0
        assert (run.status, run.started_at, run.heartbeat_at) == ("running", START, START)
        assert (run.finished_at, run.duration_s, run.error) == (None, None, None)
        assert (run.rows_read, run.rows_written, run.rows_quarantined, run.bytes_read) == (
            0,
            0,
            0,
            0,
        )
        assert (run.source, run.dataset, run.batch_id, run.correlation_id) == (
            "orders_csv",
            "orders",
            "b1",
            "c1",
        )
        assert not run.finished

    def test_run_start_with_chosen_id_and_bad_kind(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="build", run_id="r-1")
            with pytest.raises(Conflict, match="already exists"):
                tx.runs.start(tenant="globex", kind="build", run_id="r-1")
            with pytest.raises(InvalidInput, match="ingest, build, maintenance"):
                tx.runs.start(tenant="acme", kind="load")  # type: ignore[arg-type]
            assert tx.runs.get("r-1", tenant="acme") == run

    def test_run_update_writes_fields_and_a_heartbeat(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="ingest", dataset="orders")
        later = clock.advance(timedelta(seconds=30))
        with catalog.transaction() as tx:
            updated = tx.runs.update(
                run.id,
                tenant="acme",
                stage="write",
                rows_read=10,
                rows_written=8,
                rows_quarantined=2,
                bytes_read=1024,
                watermark="2025-03-01T00:00:00Z",
                drift={"added": ["note"]},
                checks=[{"rule": "not_null", "failed": 2}],
                files=["a.csv"],
            )
        with catalog.transaction() as tx:
            stored = tx.runs.get(run.id, tenant="acme")
        assert stored == updated
        assert updated.heartbeat_at == later
        assert updated.started_at == START
        assert (updated.stage, updated.rows_read, updated.rows_written) == ("write", 10, 8)
        assert (updated.rows_quarantined, updated.bytes_read) == (2, 1024)
        assert updated.drift == {"added": ["note"]}
        assert updated.checks == [{"rule": "not_null", "failed": 2}]
        assert updated.files == ["a.csv"]
        assert updated.status == "running"

    @pytest.mark.parametrize(
        "fields",
        [
            {"colour": "red"},
            {"status": "succeeded"},
            {"finished_at": START},
            {"id": "other"},
            {"rows_read": -1},
            {"rows_read": "10"},
            {"stage": 3},
        ],
    )
    def test_run_update_refuses_unknown_or_owned_fields(
        self, catalog: Catalog, fields: dict[str, Any]
    ) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="ingest")
            with pytest.raises(InternalError):
                tx.runs.update(run.id, tenant="acme", **fields)
            assert tx.runs.get(run.id, tenant="acme") == run

    def test_run_finish_sets_end_and_duration(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="ingest")
        end = clock.advance(timedelta(seconds=90, microseconds=500_000))
        with catalog.transaction() as tx:
            finished = tx.runs.finish(run.id, tenant="acme", status="succeeded", rows_written=7)
        assert (finished.status, finished.finished_at, finished.heartbeat_at) == (
            "succeeded",
            end,
            end,
        )
        assert finished.duration_s == pytest.approx(90.5)
        assert finished.rows_written == 7
        assert finished.finished

    def test_run_finish_stores_an_error_and_happens_once(self, catalog: Catalog) -> None:
        failure = Conflict("Load of orders is locked: another load runs.", hint="Wait.")
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="ingest")
            failed = tx.runs.finish(run.id, tenant="acme", status="failed", error=failure)
            with pytest.raises(Conflict, match="already finished"):
                tx.runs.finish(run.id, tenant="acme", status="succeeded")
            with pytest.raises(InvalidInput, match="succeeded, failed, blocked, skipped"):
                tx.runs.finish(run.id, tenant="acme", status="running")
        assert failed.error == failure.to_dict()
        assert failed.error is not None
        assert failed.error["code"] == "conflict"

    def test_run_finish_keeps_an_error_written_earlier(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="build")
            tx.runs.update(run.id, tenant="acme", error={"message": "boom"})
            finished = tx.runs.finish(run.id, tenant="acme", status="failed")
        assert finished.error == {"message": "boom"}

    def test_run_list_filters_and_orders_newest_first(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            first = tx.runs.start(tenant="acme", kind="ingest", source="a", dataset="x")
            clock.advance(timedelta(seconds=1))
            second = tx.runs.start(tenant="acme", kind="ingest", source="b", dataset="x")
            clock.advance(timedelta(seconds=1))
            third = tx.runs.start(tenant="acme", kind="build", dataset="y")
            tx.runs.finish(second.id, tenant="acme", status="failed")
        with catalog.transaction() as tx:
            assert [r.id for r in tx.runs.list(tenant="acme")] == [third.id, second.id, first.id]
            assert [r.id for r in tx.runs.list(tenant="acme", limit=2)] == [third.id, second.id]
            assert [r.id for r in tx.runs.list(tenant="acme", source="a")] == [first.id]
            assert [r.id for r in tx.runs.list(tenant="acme", dataset="x")] == [
                second.id,
                first.id,
            ]
            assert [r.id for r in tx.runs.list(tenant="acme", status="failed")] == [second.id]
            with pytest.raises(InvalidInput):
                tx.runs.list(tenant="acme", limit=0)
            with pytest.raises(InvalidInput, match="running, succeeded"):
                tx.runs.list(tenant="acme", status="done")  # type: ignore[arg-type]

    def test_incomplete_runs_of_a_dataset(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            acme = tx.runs.start(tenant="acme", kind="ingest", dataset="orders")
            clock.advance(timedelta(seconds=1))
            globex = tx.runs.start(tenant="globex", kind="ingest", dataset="orders")
            done = tx.runs.start(tenant="acme", kind="ingest", dataset="orders")
            tx.runs.finish(done.id, tenant="acme", status="succeeded")
            tx.runs.start(tenant="acme", kind="ingest", dataset="customers")
        with catalog.transaction() as tx:
            assert [r.id for r in tx.runs.incomplete(dataset="orders")] == [acme.id, globex.id]
            assert [r.id for r in tx.runs.incomplete(tenant="acme", dataset="orders")] == [acme.id]
            assert tx.runs.incomplete(dataset="nothing") == []

    def test_find_by_batch_returns_the_newest(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            tx.runs.start(tenant="acme", kind="ingest", batch_id="b1")
            clock.advance(timedelta(minutes=1))
            retry = tx.runs.start(tenant="acme", kind="ingest", batch_id="b1")
            found = tx.runs.find_by_batch(tenant="acme", batch_id="b1")
            assert tx.runs.find_by_batch(tenant="acme", batch_id="b2") is None
        assert found == retry

    # ------------------------------------------------------------------ tenant scoping

    def test_other_tenants_rows_are_invisible(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.sources.upsert(tenant="acme", name="orders", kind="csv", dataset="orders", spec={})
            tx.datasets.upsert(tenant="acme", name="orders", schema=[], contract_version=None)
            tx.contracts.add(tenant="acme", dataset="orders", version=1, fingerprint="f", spec={})
            run = tx.runs.start(tenant="acme", kind="ingest", dataset="orders", batch_id="b1")
            tx.files.record(
                tenant="acme",
                source="orders",
                fingerprint="sha",
                path="a.csv",
                size=1,
                batch_id="b1",
                run_id=run.id,
            )
        with catalog.transaction() as tx:
            with pytest.raises(SourceNotFound):
                tx.sources.get(tenant="globex", name="orders")
            with pytest.raises(DatasetNotFound):
                tx.datasets.get(tenant="globex", name="orders")
            with pytest.raises(RunNotFound):
                tx.runs.get(run.id, tenant="globex")
            with pytest.raises(RunNotFound):
                tx.runs.update(run.id, tenant="globex", stage="x")
            with pytest.raises(RunNotFound):
                tx.runs.finish(run.id, tenant="globex", status="failed")
            assert tx.sources.list(tenant="globex") == []
            assert tx.datasets.find(tenant="globex", name="orders") is None
            assert tx.datasets.list(tenant="globex") == []
            assert tx.contracts.latest(tenant="globex", dataset="orders") is None
            assert tx.contracts.list(tenant="globex", dataset="orders") == []
            assert tx.runs.list(tenant="globex") == []
            assert tx.runs.find_by_batch(tenant="globex", batch_id="b1") is None
            assert tx.runs.incomplete(tenant="globex", dataset="orders") == []
            assert tx.files.get(tenant="globex", source="orders", fingerprint="sha") is None
            # and the owner still sees everything, untouched by the attempts above
            assert tx.runs.get(run.id, tenant="acme").stage is None

    def test_same_names_in_two_tenants_are_separate(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.sources.upsert(
                tenant="acme", name="orders", kind="csv", dataset="o", spec={"t": "a"}
            )
            globex = tx.sources.upsert(
                tenant="globex", name="orders", kind="json", dataset="o", spec={"t": "g"}
            )
            tx.contracts.add(tenant="acme", dataset="o", version=1, fingerprint="a", spec={})
            tx.contracts.add(tenant="globex", dataset="o", version=1, fingerprint="g", spec={})
        assert acme.id != globex.id
        with catalog.transaction() as tx:
            assert tx.sources.get(tenant="acme", name="orders").kind == "csv"
            assert tx.sources.get(tenant="globex", name="orders").kind == "json"

    # ------------------------------------------------------------------ ingested files

    def test_files_record_and_get(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            assert tx.files.get(tenant="acme", source="s", fingerprint="sha1") is None
            recorded = tx.files.record(
                tenant="acme",
                source="s",
                fingerprint="sha1",
                path="in/a.csv",
                size=2_000_000_000_000,
                batch_id="b1",
                run_id="r1",
            )
        with catalog.transaction() as tx:
            found = tx.files.get(tenant="acme", source="s", fingerprint="sha1")
            other_source = tx.files.get(tenant="acme", source="t", fingerprint="sha1")
        assert found == recorded
        assert (recorded.path, recorded.size, recorded.ingested_at) == (
            "in/a.csv",
            2_000_000_000_000,
            START,
        )
        assert other_source is None

    def test_recording_a_file_twice_conflicts(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.files.record(
                tenant="acme",
                source="s",
                fingerprint="f",
                path="a",
                size=1,
                batch_id="b",
                run_id="r",
            )
            with pytest.raises(Conflict, match="already loaded"):
                tx.files.record(
                    tenant="acme",
                    source="s",
                    fingerprint="f",
                    path="copy-of-a",
                    size=1,
                    batch_id="b2",
                    run_id="r2",
                )
            with pytest.raises(InvalidInput):
                tx.files.record(
                    tenant="acme",
                    source="s",
                    fingerprint="g",
                    path="g",
                    size=-1,
                    batch_id="b",
                    run_id="r",
                )
            kept = tx.files.get(tenant="acme", source="s", fingerprint="f")
        assert kept is not None
        assert kept.path == "a"

    # ------------------------------------------------------------------ table versions

    def test_publish_get_all_remove(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            assert tx.tables.get("silver", "orders") is None
            tx.tables.publish({("silver", "orders"): 3, ("bronze", "orders"): 7}, run_id="r1")
        later = clock.advance(timedelta(minutes=1))
        with catalog.transaction() as tx:
            tx.tables.publish({("silver", "orders"): 5}, run_id="r2")
            tx.tables.publish({("silver", "orders"): 5}, run_id="r3")
            silver = tx.tables.get("silver", "orders")
            everything = tx.tables.all()
            tx.tables.remove("bronze", "orders")
            tx.tables.remove("bronze", "never-published")
            remaining = tx.tables.all()
        assert silver is not None
        assert (silver.version, silver.run_id, silver.updated_at) == (5, "r3", later)
        assert [(t.layer, t.name, t.version) for t in everything] == [
            ("bronze", "orders", 7),
            ("silver", "orders", 5),
        ]
        assert [(t.layer, t.name) for t in remaining] == [("silver", "orders")]

    def test_publish_never_moves_a_version_back(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.tables.publish({("silver", "orders"): 5}, run_id="r1")
        with (
            pytest.raises(Conflict, match="version 5 is already published"),
            catalog.transaction() as tx,
        ):
            tx.tables.publish({("gold", "daily"): 1, ("silver", "orders"): 4}, run_id="r2")
        with catalog.transaction() as tx:
            assert [(t.layer, t.name, t.version) for t in tx.tables.all()] == [
                ("silver", "orders", 5)
            ]
            tx.tables.remove("silver", "orders")
            tx.tables.publish({("silver", "orders"): 0}, run_id="recreated")
            restarted = tx.tables.get("silver", "orders")
            with pytest.raises(InvalidInput):
                tx.tables.publish({("silver", "orders"): -1}, run_id=None)
        assert restarted is not None
        assert restarted.version == 0

    def test_publish_transaction_rolls_back_everything_on_error(self, catalog: Catalog) -> None:
        with pytest.raises(RuntimeError, match="crash"), catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="ingest", dataset="orders", batch_id="b")
            tx.files.record(
                tenant="acme",
                source="s",
                fingerprint="f",
                path="a.csv",
                size=1,
                batch_id="b",
                run_id=run.id,
            )
            tx.tables.publish({("bronze", "orders"): 1, ("silver", "orders"): 1}, run_id=run.id)
            tx.outbox.add(tenant="acme", type="gnomon.run.finished", source="t", data={})
            tx.runs.finish(run.id, tenant="acme", status="succeeded")
            raise RuntimeError("crash before commit")
        with catalog.transaction() as tx:
            assert tx.tables.all() == []
            assert tx.files.get(tenant="acme", source="s", fingerprint="f") is None
            assert tx.outbox.pending() == []
            assert tx.runs.list(tenant="acme") == []

    # ------------------------------------------------------------------ leases

    def test_lease_is_exclusive_until_it_expires(self, catalog: Catalog) -> None:
        ttl = timedelta(seconds=60)
        with catalog.transaction() as tx:
            assert tx.leases.acquire("load:silver.orders", owner="a", ttl=ttl, now=START)
            assert not tx.leases.acquire(
                "load:silver.orders", owner="b", ttl=ttl, now=START + timedelta(seconds=59)
            )
            assert tx.leases.acquire("load:silver.other", owner="b", ttl=ttl, now=START)
        with catalog.transaction() as tx:
            lease = tx.leases.get("load:silver.orders")
        assert lease is not None
        assert (lease.owner, lease.acquired_at, lease.expires_at) == ("a", START, START + ttl)

    def test_owner_reacquires_and_renews(self, catalog: Catalog) -> None:
        ttl = timedelta(seconds=60)
        later = START + timedelta(seconds=30)
        with catalog.transaction() as tx:
            assert tx.leases.acquire("l", owner="a", ttl=ttl, now=START)
            assert tx.leases.acquire("l", owner="a", ttl=ttl, now=later)
            after_reacquire = tx.leases.get("l")
            assert tx.leases.renew("l", owner="a", ttl=ttl, now=later + ttl)
            assert not tx.leases.renew("l", owner="b", ttl=ttl, now=later)
            after_renew = tx.leases.get("l")
        assert after_reacquire is not None
        assert (after_reacquire.acquired_at, after_reacquire.expires_at) == (START, later + ttl)
        assert after_renew is not None
        assert after_renew.expires_at == later + 2 * ttl

    def test_expired_lease_is_taken_over(self, catalog: Catalog) -> None:
        ttl = timedelta(seconds=60)
        with catalog.transaction() as tx:
            assert tx.leases.acquire("l", owner="a", ttl=ttl, now=START)
            assert tx.leases.acquire("l", owner="b", ttl=ttl, now=START + ttl)
            assert not tx.leases.renew("l", owner="a", ttl=ttl, now=START + ttl)
            assert not tx.leases.release("l", owner="a")
            taken = tx.leases.get("l")
            assert tx.leases.release("l", owner="b")
            assert tx.leases.get("l") is None
            assert tx.leases.acquire("l", owner="a", ttl=ttl, now=START + ttl)
        assert taken is not None
        assert (taken.owner, taken.acquired_at) == ("b", START + ttl)

    def test_lease_uses_the_clock_and_checks_its_input(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            assert tx.leases.acquire("l", owner="a", ttl=timedelta(minutes=1))
            lease = tx.leases.get("l")
            with pytest.raises(InvalidInput, match="ttl"):
                tx.leases.acquire("m", owner="a", ttl=timedelta(0))
            with pytest.raises(InvalidInput, match="timezone-aware"):
                tx.leases.acquire("m", owner="a", ttl=timedelta(1), now=datetime(2025, 1, 1))
        assert lease is not None
        assert lease.expires_at == clock.now() + timedelta(minutes=1)

    def test_racing_for_a_lease_exactly_one_wins(self, catalog_url: str, catalog: Catalog) -> None:
        contenders = 8
        catalogs = [Catalog(catalog_url) for _ in range(contenders)]

        def contend(index: int) -> bool:
            with catalogs[index].transaction() as tx:
                return tx.leases.acquire(
                    "load:silver.orders", owner=f"worker-{index}", ttl=timedelta(minutes=5)
                )

        try:
            results = run_in_threads(contenders, contend)
        finally:
            for each in catalogs:
                each.dispose()
        assert results.count(True) == 1
        with catalog.transaction() as tx:
            lease = tx.leases.get("load:silver.orders")
        assert lease is not None
        assert lease.owner == f"worker-{results.index(True)}"

    def test_hold_lease_excludes_others_and_releases(self, catalog: Catalog) -> None:
        ttl = timedelta(minutes=5)
        with hold_lease(catalog, "load:orders", owner="a", ttl=ttl) as held:
            assert (held.name, held.owner, held.record.expires_at) == (
                "load:orders",
                "a",
                START + ttl,
            )
            with (
                pytest.raises(LeaseHeld, match="held by a") as caught,
                hold_lease(catalog, "load:orders", owner="b", ttl=ttl),
            ):
                pass
            assert isinstance(caught.value, Conflict)
            held.check()
        with catalog.transaction() as tx:
            assert tx.leases.get("load:orders") is None

    def test_hold_lease_takes_over_from_a_dead_process(self, catalog: Catalog) -> None:
        child = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        dead = f"{socket.gethostname()}:{int(child.stdout)}:nonce"
        assert owner_is_dead(dead)
        with catalog.transaction() as tx:
            assert tx.leases.acquire("load:orders", owner=dead, ttl=timedelta(hours=1), now=START)
        with hold_lease(catalog, "load:orders", owner="new", ttl=timedelta(minutes=5)) as held:
            assert held.owner == "new"

    def test_hold_lease_never_takes_over_from_a_live_or_foreign_owner(
        self, catalog: Catalog
    ) -> None:
        alive = process_owner()
        foreign = f"elsewhere-{socket.gethostname()}:1:nonce"
        assert not owner_is_dead(alive)
        assert not owner_is_dead(foreign)
        assert not owner_is_dead("no-pid-here")
        for holder in (alive, foreign):
            with catalog.transaction() as tx:
                assert tx.leases.acquire(holder, owner=holder, ttl=timedelta(hours=1), now=START)
            with (
                pytest.raises(LeaseHeld),
                hold_lease(catalog, holder, owner="new", ttl=timedelta(minutes=5)),
            ):
                pass

    def test_hold_lease_releases_when_the_job_fails(self, catalog: Catalog) -> None:
        with (
            pytest.raises(ValueError, match="job failed"),
            hold_lease(catalog, "l", owner="a", ttl=timedelta(minutes=1)),
        ):
            raise ValueError("job failed")
        with catalog.transaction() as tx:
            assert tx.leases.get("l") is None

    def test_hold_lease_renews_while_the_job_runs(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        ttl = timedelta(milliseconds=300)

        def expiry() -> datetime | None:
            with catalog.transaction() as tx:
                lease = tx.leases.get("l")
            return None if lease is None else lease.expires_at

        with hold_lease(catalog, "l", owner="a", ttl=ttl) as held:
            later = clock.advance(timedelta(hours=1))
            assert wait_until(lambda: expiry() == later + ttl)
            with catalog.transaction() as tx:
                assert not tx.leases.acquire("l", owner="b", ttl=ttl)
            assert not held.lost

    def test_hold_lease_notices_a_take_over(self, catalog: Catalog, clock: FixedClock) -> None:
        ttl = timedelta(milliseconds=300)
        with hold_lease(catalog, "l", owner="a", ttl=ttl) as held:
            with catalog.transaction() as tx:
                assert tx.leases.acquire("l", owner="b", ttl=ttl, now=START + timedelta(hours=1))
            assert wait_until(lambda: held.lost)
            with pytest.raises(LeaseHeld, match="was lost"):
                held.check()
        with catalog.transaction() as tx:
            lease = tx.leases.get("l")
        assert lease is not None
        assert lease.owner == "b"

    # ------------------------------------------------------------------ outbox

    def test_outbox_add_pending_and_mark(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            first = tx.outbox.add(
                tenant="acme",
                type="gnomon.ingest.run.finished",
                source="gnomon/ingest",
                data={"run_id": "r1", "rows": 3},
                correlation_id="c1",
            )
            clock.advance(timedelta(seconds=1))
            second = tx.outbox.add(tenant="globex", type="t2", source="s", data={})
            clock.advance(timedelta(seconds=1))
            third = tx.outbox.add(tenant="acme", type="t3", source="s", data={})
        assert (first.time, first.published_at, first.attempts) == (START, None, 0)
        assert (first.data, first.correlation_id, first.tenant) == (
            {"run_id": "r1", "rows": 3},
            "c1",
            "acme",
        )
        sent_at = clock.advance(timedelta(seconds=1))
        with catalog.transaction() as tx:
            assert [m.id for m in tx.outbox.pending()] == [first.id, second.id, third.id]
            assert [m.id for m in tx.outbox.pending(limit=1)] == [first.id]
            assert tx.outbox.mark_published([first.id, "unknown"]) == 1
            assert tx.outbox.mark_failed([second.id]) == 1
            assert tx.outbox.mark_published([]) == 0
        with catalog.transaction() as tx:
            pending = tx.outbox.pending()
            assert tx.outbox.mark_published([first.id]) == 0
        assert [(m.id, m.attempts) for m in pending] == [(second.id, 1), (third.id, 0)]
        assert all(m.published_at is None for m in pending)
        assert sent_at > first.time

    # ------------------------------------------------------------------ time

    def test_timestamps_round_trip_as_aware_utc(self, catalog_url: str) -> None:
        # An instant given in another zone comes back as the same instant in UTC.
        plus_five = datetime(2025, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=5)))
        catalog = Catalog(catalog_url, clock=FixedClock(plus_five))
        try:
            catalog.migrate()
            with catalog.transaction() as tx:
                run = tx.runs.start(tenant="default", kind="maintenance")
                tx.leases.acquire("l", owner="o", ttl=timedelta(hours=1), now=plus_five)
            with catalog.transaction() as tx:
                stored = tx.runs.get(run.id, tenant="default")
                lease = tx.leases.get("l")
                tenant = tx.tenants.get("default")
        finally:
            catalog.dispose()
        for value in (stored.started_at, stored.heartbeat_at, tenant.created_at):
            assert value == plus_five
            assert value is not None
            assert value.tzinfo is UTC
            assert value.hour == 18
        assert lease is not None
        assert lease.expires_at == plus_five + timedelta(hours=1)
        assert lease.expires_at.tzinfo is UTC

    # ------------------------------------------------------------------ change generations

    def test_every_write_a_request_reads_moves_its_tenants_generation(
        self, catalog: Catalog
    ) -> None:
        def generation(scope: str = "acme") -> int:
            with catalog.transaction(read_only=True) as tx:
                return tx.changes.generations().get(scope, 0)

        writes: list[tuple[str, Callable[[CatalogTransaction], object]]] = []
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=["analyst"])
        writes += [
            ("user", lambda tx: tx.users.create(tenant="acme", name="b@acme", roles=[])),
            (
                "user update",
                lambda tx: tx.users.update(tenant="acme", user_id=user.id, disabled=True),
            ),
            ("key", lambda tx: tx.api_keys.add(**api_key(user_id=user.id))),
            (
                "role",
                lambda tx: tx.roles.put(tenant="acme", name="r", permissions=["metrics:read"]),
            ),
            ("role delete", lambda tx: tx.roles.delete(tenant="acme", name="r")),
            ("policy", lambda tx: tx.policies.put(**policy())),
            (
                "policy delete",
                lambda tx: tx.policies.delete(tenant="acme", name="orders_by_region"),
            ),
            (
                "definition",
                lambda tx: tx.definitions.put(
                    tenant="acme", kind="metric", name="m", spec={}, fingerprint="a"
                ),
            ),
            ("user delete", lambda tx: tx.users.delete(tenant="acme", user_id=user.id)),
        ]
        for what, write in writes:
            before, globex = generation(), generation("globex")
            with catalog.transaction() as tx:
                write(tx)
            assert generation() == before + 1, what
            assert generation("globex") == globex, f"{what} moved another tenant's generation"

    def test_recording_a_keys_last_use_moves_no_generation(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            user = tx.users.create(tenant="acme", name="emea@acme", roles=["analyst"])
            key = tx.api_keys.add(**api_key(user_id=user.id))
            before = tx.changes.generations()
        with catalog.transaction() as tx:
            tx.api_keys.touch(key.id, at=START)
        with catalog.transaction() as tx:
            assert tx.changes.generations() == before

    def test_publishing_moves_the_lake_generation(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.tables.publish({("silver", "orders"): 3}, run_id=None)
        with catalog.transaction() as tx:
            first = tx.changes.generations()[LAKE_SCOPE]
            tx.tables.remove("silver", "orders")
        with catalog.transaction() as tx:
            assert tx.changes.generations()[LAKE_SCOPE] == first + 1
            assert "acme" not in tx.changes.generations()

    def test_a_watch_sees_its_own_changes_at_once_and_others_within_its_interval(
        self, catalog: Catalog, catalog_url: str
    ) -> None:
        now = [100.0]
        watch = ChangeWatch(catalog, interval_s=1.0, monotonic=lambda: now[0])
        other = Catalog(catalog_url)  # another process, as far as the watch can tell
        try:
            start = watch.generation("acme")
            with other.transaction() as tx:
                tx.roles.put(tenant="acme", name="r", permissions=["metrics:read"])
            assert watch.generation("acme") == start  # within the interval: not read again
            now[0] += 1.0
            assert watch.generation("acme") == start + 1
            with catalog.transaction() as tx:
                tx.roles.delete(tenant="acme", name="r")
            assert watch.generation("acme") == start + 2  # this process's change: at once
        finally:
            other.dispose()

    def test_a_memo_keeps_a_value_until_its_scope_changes(self, catalog: Catalog) -> None:
        now = [0.0]
        watch = ChangeWatch(catalog, interval_s=10.0, monotonic=lambda: now[0])
        loads: list[str] = []

        def load(tenant: str) -> list[str]:
            loads.append(tenant)
            with catalog.transaction(read_only=True) as tx:
                return [r.name for r in tx.roles.list(tenant=tenant)]

        memo: CatalogMemo[str, list[str]] = CatalogMemo(
            watch, load=load, scope=lambda tenant, _value: tenant
        )
        assert memo.get("acme") == [] and memo.get("globex") == []
        assert memo.get("acme") == [] and loads == ["acme", "globex"]
        with catalog.transaction() as tx:
            tx.roles.put(tenant="acme", name="r", permissions=["metrics:read"])
        assert memo.get("acme") == ["r"]
        assert memo.get("globex") == [] and loads == ["acme", "globex", "acme"]

    def test_memory_only_code_is_told_when_an_answer_needs_a_read(self, catalog: Catalog) -> None:
        now = [0.0]
        watch = ChangeWatch(catalog, interval_s=1.0, monotonic=lambda: now[0])
        memo: CatalogMemo[str, int] = CatalogMemo(
            watch, load=lambda _tenant: 1, scope=lambda tenant, _value: tenant
        )
        with memory_only(), pytest.raises(NotInMemory):
            memo.get("acme")  # never read
        assert memo.get("acme") == 1
        with memory_only():
            assert memo.get("acme") == 1  # in memory and current
        now[0] += 1.0
        with memory_only(), pytest.raises(NotInMemory):
            memo.get("acme")  # the generations are due for a read
        assert memo.get("acme") == 1

    def test_a_memo_does_not_keep_values_without_a_scope(self, catalog: Catalog) -> None:
        watch = ChangeWatch(catalog)
        loads: list[str] = []

        def load(key: str) -> str | None:
            loads.append(key)
            return None

        memo: CatalogMemo[str, str | None] = CatalogMemo(
            watch, load=load, scope=lambda _key, value: None if value is None else "acme"
        )
        assert memo.get("unknown") is None and memo.get("unknown") is None
        assert loads == ["unknown", "unknown"]

    # ------------------------------------------------------------------ scan runs

    def test_scans_are_runs_of_their_own_kind(self, catalog: Catalog, clock: FixedClock) -> None:
        with catalog.transaction() as tx:
            run = tx.runs.start(tenant="acme", kind="scan", correlation_id="c1")
        clock.advance(timedelta(seconds=2))
        with catalog.transaction() as tx:
            finished = tx.runs.finish(
                run.id, tenant="acme", status="succeeded", rows_read=1200, rows_written=3
            )
            listed = tx.runs.list(tenant="acme")
        assert (finished.kind, finished.status, finished.duration_s) == ("scan", "succeeded", 2.0)
        assert (finished.rows_read, finished.rows_written) == (1200, 3)
        assert listed == [finished]

    # ------------------------------------------------------------------ insight models

    def test_model_versions_grow_only_on_a_new_fit(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        series: dict[str, Any] = {
            "tenant": "acme",
            "kind": "detector",
            "metric": "revenue",
            "segment": {"region": "EMEA"},
        }
        window: dict[str, Any] = {"training_start": DAY, "training_end": DAY + timedelta(days=90)}
        with catalog.transaction() as tx:
            assert tx.insight_models.latest(**series) is None
            first = tx.insight_models.register(
                **series, params={"window": 28, "threshold": 3.5}, run_id="scan-1"
            )
        clock.advance(timedelta(hours=1))
        with catalog.transaction() as tx:
            # The same fit, its keys in another order, from another run: nothing is added.
            again = tx.insight_models.register(
                **series, params={"threshold": 3.5, "window": 28}, metrics=None, run_id="scan-2"
            )
            retuned = tx.insight_models.register(**series, params={"window": 28, "threshold": 4})
            retrained = tx.insight_models.register(
                **series, params={"window": 28, "threshold": 4}, **window
            )
            backtested = tx.insight_models.register(
                **series, params={"window": 28, "threshold": 4}, metrics={"smape": 0.1}, **window
            )
            unchanged = tx.insight_models.register(
                **series, params={"threshold": 4, "window": 28}, metrics={"smape": 0.1}, **window
            )
            latest = tx.insight_models.latest(**series)
            history = tx.insight_models.list(tenant="acme", latest_only=False)
        assert again == first
        assert (first.version, first.created_at, first.run_id) == (1, START, "scan-1")
        assert (first.kind, first.metric, first.segment) == (
            "detector",
            "revenue",
            {"region": "EMEA"},
        )
        assert first.segment_key == '{"region":"EMEA"}'
        assert (first.params, first.metrics) == ({"window": 28, "threshold": 3.5}, {})
        assert (first.training_start, first.training_end) == (None, None)
        assert [m.version for m in (retuned, retrained, backtested)] == [2, 3, 4]
        assert retuned.created_at == START + timedelta(hours=1)
        assert (retrained.training_start, retrained.training_end) == (
            DAY,
            DAY + timedelta(days=90),
        )
        assert backtested.metrics == {"smape": 0.1}
        assert unchanged == backtested == latest
        assert history == [first, retuned, retrained, backtested]

    def test_model_fingerprint_is_the_digest_of_canonical_params(self, catalog: Catalog) -> None:
        params = {"window": 28, "seasonal": {"period": 7, "robust": True}, "label": "é"}
        canonical = '{"label":"\\u00e9","seasonal":{"period":7,"robust":true},"window":28}'
        expected = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        with catalog.transaction() as tx:
            model = tx.insight_models.register(
                tenant="acme", kind="forecaster", metric="orders", segment={}, params=params
            )
            other = tx.insight_models.register(
                tenant="acme", kind="forecaster", metric="orders", segment={}, params={}
            )
        assert model.fingerprint == params_fingerprint(params) == expected
        assert other.fingerprint == params_fingerprint({}) != expected
        assert len(other.fingerprint) == 32

    def test_model_segments_are_series_of_their_own(self, catalog: Catalog) -> None:
        base: dict[str, Any] = {"tenant": "acme", "kind": "detector", "metric": "revenue"}
        with catalog.transaction() as tx:
            overall = tx.insight_models.register(**base, segment={}, params={"w": 1})
            emea = tx.insight_models.register(**base, segment={"region": "EMEA"}, params={"w": 1})
            web = tx.insight_models.register(
                **base, segment={"region": "EMEA", "channel": "web"}, params={"w": 1}
            )
            # The same segment with its keys in another order is the same series.
            web_again = tx.insight_models.register(
                **base, segment={"channel": "web", "region": "EMEA"}, params={"w": 2}
            )
            latest_web = tx.insight_models.latest(
                **base, segment={"region": "EMEA", "channel": "web"}
            )
            latest_overall = tx.insight_models.latest(**base, segment={})
            apac = tx.insight_models.latest(**base, segment={"region": "APAC"})
        assert [m.version for m in (overall, emea, web, web_again)] == [1, 1, 1, 2]
        assert (overall.segment, overall.segment_key) == ({}, "{}")
        assert web.segment_key == '{"channel":"web","region":"EMEA"}'
        assert web.segment_key == segment_key({"region": "EMEA", "channel": "web"})
        assert latest_web == web_again
        assert latest_overall == overall
        assert apac is None

    def test_models_list_latest_by_kind_metric_segment(self, catalog: Catalog) -> None:
        def register(kind: str, metric: str, segment: dict[str, Any], **params: Any) -> Any:
            return tx.insight_models.register(
                tenant="acme", kind=kind, metric=metric, segment=segment, params=params
            )

        with catalog.transaction() as tx:
            assert tx.insight_models.list(tenant="acme") == []
            revenue_emea_1 = register("detector", "revenue", {"region": "EMEA"}, w=1)
            orders = register("detector", "orders", {})
            revenue_emea_2 = register("detector", "revenue", {"region": "EMEA"}, w=2)
            forecast = register("forecaster", "revenue", {}, h=30)
            revenue = register("detector", "revenue", {})
            revenue_apac = register("detector", "revenue", {"region": "APAC"})
        with catalog.transaction() as tx:
            latest = tx.insight_models.list(tenant="acme")
            everything = tx.insight_models.list(tenant="acme", latest_only=False)
            detectors = tx.insight_models.list(tenant="acme", kind="detector", metric="revenue")
            history = tx.insight_models.list(
                tenant="acme", kind="detector", metric="revenue", latest_only=False
            )
            forecasters = tx.insight_models.list(tenant="acme", kind="forecaster")
            found = tx.insight_models.get(tenant="acme", id=revenue_emea_1.id)
            missing = tx.insight_models.get(tenant="acme", id=revenue_apac.id + 100)
            with pytest.raises(InvalidInput, match="detector, forecaster"):
                tx.insight_models.list(tenant="acme", kind="model")
        # Segment keys compare as plain strings: '{"region":…}' before the overall '{}'.
        assert latest == [orders, revenue_apac, revenue_emea_2, revenue, forecast]
        assert everything == [
            orders,
            revenue_apac,
            revenue_emea_1,
            revenue_emea_2,
            revenue,
            forecast,
        ]
        assert detectors == [revenue_apac, revenue_emea_2, revenue]
        assert history == [revenue_apac, revenue_emea_1, revenue_emea_2, revenue]
        assert forecasters == [forecast]
        assert (found, missing) == (revenue_emea_1, None)

    def test_tenants_never_see_each_others_models(self, catalog: Catalog) -> None:
        series: dict[str, Any] = {"kind": "detector", "metric": "revenue", "segment": {}}
        with catalog.transaction() as tx:
            acme = tx.insight_models.register(tenant="acme", **series, params={"w": 1})
        with catalog.transaction() as tx:
            assert tx.insight_models.latest(tenant="globex", **series) is None
            assert tx.insight_models.get(tenant="globex", id=acme.id) is None
            assert tx.insight_models.list(tenant="globex", latest_only=False) == []
            # The same series in another tenant is numbered on its own.
            globex = tx.insight_models.register(tenant="globex", **series, params={"w": 2})
            acme_after = tx.insight_models.list(tenant="acme", latest_only=False)
        assert (globex.tenant, globex.version) == ("globex", 1)
        assert acme_after == [acme]

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"kind": "model"}, "Unknown model kind 'model': use one of detector, forecaster"),
            ({"metric": ""}, "Invalid metric ''"),
            ({"segment": "EMEA"}, "Invalid segment 'EMEA'"),
            ({"segment": {"region": ["EMEA"]}}, "Invalid segment {'region': ['EMEA']}"),
            ({"segment": {"": "EMEA"}}, "Invalid segment"),
            ({"segment": {"share": float("nan")}}, "Invalid segment"),
            ({"params": {"window": float("inf")}}, "Invalid params"),
            ({"params": {"since": START}}, "Invalid params"),
            ({"params": [1, 2]}, "Invalid params"),
            ({"metrics": {"smape": float("nan")}}, "Invalid metrics"),
            ({"training_start": datetime(2025, 1, 1)}, "training_start must be timezone-aware"),
            (
                {"training_start": DAY, "training_end": DAY - timedelta(days=1)},
                "Invalid training window for detector of 'revenue'",
            ),
            ({"run_id": ""}, "Invalid run_id ''"),
        ],
    )
    def test_model_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        arguments: dict[str, Any] = {
            "tenant": "acme",
            "kind": "detector",
            "metric": "revenue",
            "segment": {"region": "EMEA"},
            "params": {"window": 28},
        }
        with catalog.transaction() as tx:
            stored = tx.insight_models.register(**arguments)
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.insight_models.register(**(arguments | override))
            assert caught.value.hint is not None
            assert tx.insight_models.list(tenant="acme", latest_only=False) == [stored]

    def test_model_of_an_unknown_tenant_is_refused(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(TenantNotFound, match="initech"):
                tx.insight_models.register(
                    tenant="initech", kind="detector", metric="m", segment={}, params={}
                )
            assert tx.insight_models.list(tenant="initech") == []

    def test_model_values_are_detached_from_input_and_output(self, catalog: Catalog) -> None:
        params: dict[str, Any] = {"windows": [7, 28]}
        segment: dict[str, Any] = {"region": "EMEA"}
        series: dict[str, Any] = {"tenant": "acme", "kind": "detector", "metric": "revenue"}
        with catalog.transaction() as tx:
            stored = tx.insight_models.register(**series, segment=segment, params=params)
            params["windows"].append(90)
            segment["region"] = "APAC"
            stored.params["windows"].clear()
            stored.segment.clear()
            stored.metrics["x"] = 1
        with catalog.transaction() as tx:
            latest = tx.insight_models.latest(**series, segment={"region": "EMEA"})
        assert latest is not None
        assert (latest.params, latest.segment, latest.metrics) == (
            {"windows": [7, 28]},
            {"region": "EMEA"},
            {},
        )

    def test_concurrent_registers_never_share_a_version(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        writers = 6
        catalogs = [Catalog(catalog_url) for _ in range(writers)]
        series: dict[str, Any] = {
            "tenant": "acme",
            "kind": "detector",
            "metric": "revenue",
            "segment": {},
        }

        def register(index: int) -> tuple[int, int]:
            # Writers 0-2 register one fit each; writers 3-5 all register the same fit.
            params = {"writer": index} if index < 3 else {"writer": "shared"}
            with catalogs[index].transaction() as tx:
                first = tx.insight_models.register(**series, params=params).version
            with catalogs[index].transaction() as tx:
                again = tx.insight_models.register(**series, params={"writer": "shared"}).version
            return first, again

        try:
            outcomes = run_in_threads(writers, register)
        finally:
            for each in catalogs:
                each.dispose()
        with catalog.transaction() as tx:
            history = tx.insight_models.list(tenant="acme", latest_only=False)
        versions = [m.version for m in history]
        assert versions == list(range(1, len(versions) + 1))
        fits = [m.params["writer"] for m in history]
        # Each distinct fit is a version, and the shared one was never added twice in a row.
        assert {0, 1, 2, "shared"} <= set(fits)
        assert all(a != b for a, b in itertools.pairwise(fits))
        assert {first for first, _ in outcomes} <= set(versions)
        assert fits[-1] == "shared"

    def test_downgrade_to_0005_drops_insight_tables_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            model = tx.insight_models.register(
                tenant="acme", kind="detector", metric="revenue", segment={}, params={}
            )
            tx.anomalies.record(
                tenant="acme", scope="", run_id=None, items=[anomaly(model_id=model.id)]
            )
            tx.definitions.put(tenant="acme", kind="metric", name="m", spec={}, fingerprint="f")
            scan = tx.runs.start(tenant="acme", kind="scan")
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        insights = {"insight_models", "anomalies"}
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0005")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == "0005"
            assert not insights & tables
            assert {"tenants", "definitions", "runs", "changes"} <= tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.insight_models.list(tenant="acme") == []
                    assert tx.anomalies.list(tenant="acme", scope="") == []
                    assert [d.name for d in tx.definitions.current(tenant="acme")] == ["m"]
                    assert tx.runs.get(scan.id, tenant="acme").kind == "scan"
                    again = tx.insight_models.register(
                        tenant="acme", kind="detector", metric="revenue", segment={}, params={}
                    )
                    assert again.version == 1
                    assert (
                        len(
                            tx.anomalies.record(
                                tenant="acme", scope="", run_id=None, items=[anomaly()]
                            )
                        )
                        == 1
                    )
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                assert insights <= set(inspect(connection).get_table_names())
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ anomalies

    def test_anomaly_record_stores_every_field(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            model = tx.insight_models.register(
                tenant="acme", kind="detector", metric="revenue", segment={}, params={}
            )
            plus_two = timezone(timedelta(hours=2))
            [recorded] = tx.anomalies.record(
                tenant="acme",
                scope="role:emea",
                run_id="scan-1",
                items=[
                    anomaly(
                        segment={},
                        time=datetime(2025, 2, 1, 2, tzinfo=plus_two),
                        expected=None,
                        lower=None,
                        upper=None,
                        score=2,
                        severity="low",
                        direction="down",
                        model_id=model.id,
                        evidence={"votes": ["mad", "iqr"]},
                    )
                ],
            )
        with catalog.transaction() as tx:
            found = tx.anomalies.get(tenant="acme", id=recorded.id)
        assert found == recorded
        assert (recorded.tenant, recorded.scope, recorded.metric, recorded.grain) == (
            "acme",
            "role:emea",
            "revenue",
            "day",
        )
        assert (recorded.segment, recorded.segment_key) == ({}, "{}")
        assert recorded.time == DAY
        assert recorded.time.tzinfo is UTC
        assert finding(recorded) == (
            180.0,
            None,
            None,
            None,
            2.0,
            "low",
            "down",
            "robust_z",
            model.id,
            {"votes": ["mad", "iqr"]},
        )
        assert (recorded.run_id, recorded.status, recorded.detected_at) == ("scan-1", "open", START)
        assert (recorded.feedback_by, recorded.feedback_at) == (None, None)

    def test_anomaly_record_returns_only_new_ones_and_keeps_feedback(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        first_batch = [
            anomaly(),
            anomaly(time=DAY + timedelta(days=1)),
            anomaly(segment={"region": "APAC"}),
        ]
        with catalog.transaction() as tx:
            first = tx.anomalies.record(tenant="acme", scope="", run_id="scan-1", items=first_batch)
            dismissed = tx.anomalies.set_status(
                tenant="acme", id=first[0].id, status="dismissed", by="user:ann"
            )
        later = clock.advance(timedelta(hours=1))
        second_batch = [
            anomaly(time=DAY + timedelta(days=2)),
            *first_batch,
            # The same instant given in another zone is the same bucket.
            anomaly(time=DAY.astimezone(timezone(timedelta(hours=-5)))),
            anomaly(metric="orders"),
        ]
        with catalog.transaction() as tx:
            second = tx.anomalies.record(
                tenant="acme", scope="", run_id="scan-2", items=second_batch
            )
            third = tx.anomalies.record(
                tenant="acme", scope="", run_id="scan-3", items=second_batch
            )
            kept = tx.anomalies.get(tenant="acme", id=first[0].id)
            listed = tx.anomalies.list(tenant="acme", scope="")
        assert [(a.metric, a.segment, a.time) for a in first] == [
            ("revenue", {"region": "EMEA"}, DAY),
            ("revenue", {"region": "EMEA"}, DAY + timedelta(days=1)),
            ("revenue", {"region": "APAC"}, DAY),
        ]
        assert [(a.metric, a.time, a.run_id, a.detected_at) for a in second] == [
            ("revenue", DAY + timedelta(days=2), "scan-2", later),
            ("orders", DAY, "scan-2", later),
        ]
        assert third == []
        assert kept == dismissed
        assert (kept.status, kept.feedback_by, kept.feedback_at) == ("dismissed", "user:ann", START)
        assert (kept.run_id, kept.detected_at) == ("scan-1", START)
        assert len(listed) == 5

    def test_a_higher_score_replaces_the_finding_and_nothing_else(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            model = tx.insight_models.register(
                tenant="acme", kind="detector", metric="revenue", segment={}, params={}
            )
            [stored] = tx.anomalies.record(tenant="acme", scope="", run_id="s1", items=[anomaly()])
            confirmed = tx.anomalies.set_status(
                tenant="acme", id=stored.id, status="confirmed", by="user:ann"
            )
        clock.advance(timedelta(hours=1))
        stronger = anomaly(
            actual=190.0,
            expected=95.0,
            lower=85.0,
            upper=110.0,
            score=6.5,
            severity="critical",
            detector="stl",
            model_id=model.id,
            evidence={"residual": 80.0},
        )
        with catalog.transaction() as tx:
            weaker = tx.anomalies.record(
                tenant="acme",
                scope="",
                run_id="s2",
                items=[anomaly(score=1.0, severity="low", evidence={"z": 1.0})],
            )
            unchanged = tx.anomalies.get(tenant="acme", id=stored.id)
            raised = tx.anomalies.record(tenant="acme", scope="", run_id="s3", items=[stronger])
            updated = tx.anomalies.get(tenant="acme", id=stored.id)
        assert (weaker, raised) == ([], [])
        assert unchanged == confirmed
        assert updated is not None
        assert finding(updated) == (
            190.0,
            95.0,
            85.0,
            110.0,
            6.5,
            "critical",
            "up",
            "stl",
            model.id,
            {"residual": 80.0},
        )
        assert (updated.id, updated.run_id, updated.detected_at) == (stored.id, "s1", START)
        assert (updated.status, updated.feedback_by, updated.feedback_at) == (
            "confirmed",
            "user:ann",
            START,
        )

    def test_items_of_one_batch_with_the_same_key_count_once(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            recorded = tx.anomalies.record(
                tenant="acme",
                scope="",
                run_id=None,
                items=[
                    anomaly(score=3.0, evidence={"pass": 1}),
                    anomaly(time=DAY + timedelta(days=1)),
                    anomaly(score=5.0, severity="critical", evidence={"pass": 2}),
                    anomaly(score=4.0, evidence={"pass": 3}),
                ],
            )
        assert [(a.time, a.score, a.severity, a.evidence) for a in recorded] == [
            (DAY, 5.0, "critical", {"pass": 2}),
            (DAY + timedelta(days=1), 4.0, "high", {"z": 4.0}),
        ]

    def test_anomaly_list_filters_and_order(self, catalog: Catalog) -> None:
        items = [
            anomaly(time=DAY + timedelta(days=1), severity="low"),
            anomaly(time=DAY, metric="revenue", segment={}, severity="medium"),
            anomaly(time=DAY, metric="orders", severity="critical"),
            anomaly(time=DAY, metric="revenue", segment={"region": "APAC"}, severity="high"),
            anomaly(time=DAY, metric="Revenue", severity="low"),
            anomaly(time=DAY + timedelta(days=3), severity="critical"),
        ]
        with catalog.transaction() as tx:
            recorded = tx.anomalies.record(tenant="acme", scope="", run_id=None, items=items)
            tx.anomalies.record(
                tenant="acme", scope="role:emea", run_id=None, items=[anomaly(metric="signups")]
            )
            tx.anomalies.set_status(
                tenant="acme", id=recorded[2].id, status="dismissed", by="user:ann"
            )
        late, overall, orders, apac, capital, latest = recorded

        def listed(**filters: Any) -> list[int]:
            with catalog.transaction(read_only=True) as tx:
                return [a.id for a in tx.anomalies.list(tenant="acme", scope="", **filters)]

        # By time, then metric and segment key as plain strings ("R" < "o" < "r", "{" last).
        everything = [capital.id, orders.id, apac.id, overall.id, late.id, latest.id]
        assert overall.segment_key == "{}"
        assert listed() == everything
        assert listed(limit=2) == everything[:2]
        assert listed(metric="revenue") == [apac.id, overall.id, late.id, latest.id]
        assert listed(metric="revenue", segment={}) == [overall.id]
        assert listed(segment={"region": "EMEA"}) == [capital.id, orders.id, late.id, latest.id]
        assert listed(since=DAY + timedelta(days=1)) == [late.id, latest.id]
        assert listed(until=DAY + timedelta(days=1)) == everything[:4]
        assert listed(since=DAY + timedelta(days=1), until=DAY + timedelta(days=3)) == [late.id]
        assert listed(status="dismissed") == [orders.id]
        assert listed(status="open") == [i for i in everything if i != orders.id]
        assert listed(min_severity="high") == [orders.id, apac.id, latest.id]
        assert listed(min_severity="critical", status="open") == [latest.id]
        assert listed(min_severity="low") == everything
        with catalog.transaction(read_only=True) as tx:
            scoped = tx.anomalies.list(tenant="acme", scope="role:emea")
            assert tx.anomalies.list(tenant="acme", scope="role:apac") == []
            for bad, message in (
                ({"status": "closed"}, "open, dismissed, confirmed"),
                ({"min_severity": "severe"}, "low, medium, high, critical"),
                ({"since": datetime(2025, 2, 1)}, "since must be timezone-aware"),
                ({"limit": 0}, "limit must be at least 1"),
                ({"segment": {"region": {"nested": 1}}}, "Invalid segment"),
            ):
                with pytest.raises(InvalidInput, match=re.escape(message)):
                    tx.anomalies.list(tenant="acme", scope="", **bad)
        assert [a.metric for a in scoped] == ["signups"]

    def test_anomaly_set_status_records_who_and_when(
        self, catalog: Catalog, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            [stored] = tx.anomalies.record(tenant="acme", scope="", run_id=None, items=[anomaly()])
        confirmed_at = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            confirmed = tx.anomalies.set_status(
                tenant="acme", id=stored.id, status="confirmed", by="user:ann"
            )
        reopened_at = clock.advance(timedelta(minutes=5))
        with catalog.transaction() as tx:
            reopened = tx.anomalies.set_status(
                tenant="acme", id=stored.id, status="open", by="user:bob"
            )
            found = tx.anomalies.get(tenant="acme", id=stored.id)
            with pytest.raises(InvalidInput, match="open, dismissed, confirmed"):
                tx.anomalies.set_status(tenant="acme", id=stored.id, status="closed", by="u")
            with pytest.raises(InvalidInput, match="Invalid by"):
                tx.anomalies.set_status(tenant="acme", id=stored.id, status="open", by="")
            with pytest.raises(AnomalyNotFound, match=f"Unknown anomaly {stored.id + 1}") as caught:
                tx.anomalies.set_status(
                    tenant="acme", id=stored.id + 1, status="dismissed", by="user:ann"
                )
        assert isinstance(caught.value, NotFound)
        assert caught.value.hint is not None
        assert (confirmed.status, confirmed.feedback_by, confirmed.feedback_at) == (
            "confirmed",
            "user:ann",
            confirmed_at,
        )
        assert (reopened.status, reopened.feedback_by, reopened.feedback_at) == (
            "open",
            "user:bob",
            reopened_at,
        )
        assert found == reopened
        assert finding(reopened) == finding(stored)
        assert reopened.detected_at == START

    def test_anomaly_delete_by_scope_and_metric(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            tx.anomalies.record(
                tenant="acme",
                scope="",
                run_id=None,
                items=[anomaly(), anomaly(segment={}), anomaly(metric="orders")],
            )
            tx.anomalies.record(tenant="acme", scope="role:emea", run_id=None, items=[anomaly()])
        with catalog.transaction() as tx:
            assert tx.anomalies.delete(tenant="acme", scope="", metric="revenue") == 2
            assert tx.anomalies.delete(tenant="acme", scope="", metric="revenue") == 0
            assert [a.metric for a in tx.anomalies.list(tenant="acme", scope="")] == ["orders"]
            assert len(tx.anomalies.list(tenant="acme", scope="role:emea")) == 1
            assert tx.anomalies.delete(tenant="acme", scope="role:emea") == 1
            assert tx.anomalies.list(tenant="acme", scope="role:emea") == []
            # Deleted points are new again when a scan finds them.
            assert (
                len(tx.anomalies.record(tenant="acme", scope="", run_id=None, items=[anomaly()]))
                == 1
            )

    def test_tenants_never_see_each_others_anomalies(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            [acme] = tx.anomalies.record(tenant="acme", scope="", run_id=None, items=[anomaly()])
            acme_model = tx.insight_models.register(
                tenant="acme", kind="detector", metric="revenue", segment={}, params={}
            )
        with catalog.transaction() as tx:
            assert tx.anomalies.list(tenant="globex", scope="") == []
            assert tx.anomalies.get(tenant="globex", id=acme.id) is None
            with pytest.raises(AnomalyNotFound):
                tx.anomalies.set_status(tenant="globex", id=acme.id, status="dismissed", by="u")
            assert tx.anomalies.delete(tenant="globex", scope="") == 0
            # The same point in another tenant is new there, and may not use acme's model.
            with pytest.raises(InvalidInput, match="the tenant has no registered model"):
                tx.anomalies.record(
                    tenant="globex",
                    scope="",
                    run_id=None,
                    items=[anomaly(model_id=acme_model.id)],
                )
            [globex] = tx.anomalies.record(
                tenant="globex", scope="", run_id=None, items=[anomaly(score=9.0)]
            )
            acme_after = tx.anomalies.list(tenant="acme", scope="")
        assert (globex.tenant, globex.score) == ("globex", 9.0)
        assert globex.id != acme.id
        assert acme_after == [acme]

    @pytest.mark.parametrize(
        ("override", "expected"),
        [
            ({"severity": "severe"}, "Invalid severity of anomaly #1"),
            ({"direction": "sideways"}, "Invalid direction of anomaly #1"),
            ({"actual": float("nan")}, "Invalid actual of anomaly #1"),
            ({"score": float("inf")}, "Invalid score of anomaly #1"),
            ({"score": True}, "Invalid score of anomaly #1"),
            ({"expected": "100"}, "Invalid expected of anomaly #1"),
            ({"upper": float("-inf")}, "Invalid upper of anomaly #1"),
            ({"time": datetime(2025, 2, 1)}, "Invalid time of anomaly #1"),
            ({"metric": ""}, "Invalid metric of anomaly #1"),
            ({"grain": ""}, "Invalid grain of anomaly #1"),
            ({"detector": ""}, "Invalid detector of anomaly #1"),
            ({"segment": {"region": ["EMEA"]}}, "Invalid segment of anomaly #1"),
            ({"evidence": {"seen": {1, 2}}}, "Invalid evidence of anomaly #1"),
            ({"model_id": "1"}, "Invalid model_id of anomaly #1"),
            ({"model_id": 12345}, "Invalid model_id of anomaly #1: the tenant has no"),
        ],
    )
    def test_anomaly_input_is_checked(
        self, catalog: Catalog, override: dict[str, Any], expected: str
    ) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput, match=re.escape(expected)) as caught:
                tx.anomalies.record(
                    tenant="acme",
                    scope="",
                    run_id=None,
                    items=[anomaly(segment={}), anomaly(**override)],
                )
            assert caught.value.hint is not None
            assert caught.value.details["item"] == 1
            # Nothing of the batch was recorded, not even its valid first item.
            assert tx.anomalies.list(tenant="acme", scope="") == []

    def test_anomaly_errors_name_the_item(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            with pytest.raises(InvalidInput) as caught:
                tx.anomalies.record(
                    tenant="acme", scope="", run_id=None, items=[anomaly(severity="severe")]
                )
            with pytest.raises(InvalidInput, match="Invalid scope"):
                tx.anomalies.record(tenant="acme", scope=None, run_id=None, items=[])  # type: ignore[arg-type]
            with pytest.raises(TenantNotFound, match="initech"):
                tx.anomalies.record(tenant="initech", scope="", run_id=None, items=[anomaly()])
            assert tx.anomalies.record(tenant="acme", scope="", run_id=None, items=[]) == []
        assert caught.value.message == (
            "Invalid severity of anomaly #0 (metric 'revenue', segment {'region': 'EMEA'},"
            " time 2025-02-01T00:00:00+00:00): 'severe' is not one of low, medium, high,"
            " critical."
        )
        assert caught.value.details == {"item": 0, "field": "severity"}

    def test_anomaly_values_are_detached_from_input_and_output(self, catalog: Catalog) -> None:
        evidence: dict[str, Any] = {"votes": ["mad"]}
        segment: dict[str, Any] = {"region": "EMEA"}
        with catalog.transaction() as tx:
            [stored] = tx.anomalies.record(
                tenant="acme",
                scope="",
                run_id=None,
                items=[anomaly(segment=segment, evidence=evidence)],
            )
            evidence["votes"].append("iqr")
            segment["region"] = "APAC"
            stored.evidence["votes"].clear()
            stored.segment.clear()
        with catalog.transaction() as tx:
            found = tx.anomalies.get(tenant="acme", id=stored.id)
        assert found is not None
        assert (found.evidence, found.segment) == ({"votes": ["mad"]}, {"region": "EMEA"})

    def test_concurrent_scans_record_each_point_once(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        writers = 4
        catalogs = [Catalog(catalog_url) for _ in range(writers)]

        def record(index: int) -> list[tuple[str, datetime]]:
            # Overlapping windows: writer i finds days i … i+5, scoring them i.
            items = [
                anomaly(segment={"store": f"s{store}"}, time=DAY + timedelta(days=day), score=index)
                for day in range(index, index + 6)
                for store in range(3)
            ]
            with catalogs[index].transaction() as tx:
                new = tx.anomalies.record(tenant="acme", scope="", run_id=f"w{index}", items=items)
            return [(a.segment_key, a.time) for a in new]

        try:
            outcomes = run_in_threads(writers, record)
        finally:
            for each in catalogs:
                each.dispose()
        with catalog.transaction() as tx:
            stored = tx.anomalies.list(tenant="acme", scope="")
        found = [key for new in outcomes for key in new]
        assert len(found) == len(set(found)) == len(stored) == 3 * (writers + 5)
        assert set(found) == {(a.segment_key, a.time) for a in stored}
        for each in stored:
            day = (each.time - DAY).days
            # The highest score found for the point stays: that of the last writer that saw it.
            assert each.score == min(day, writers - 1)

    def test_large_batches_are_recorded_and_rescored(self, catalog: Catalog) -> None:
        # More segments than the lookup names one by one, over a few days.
        items = [
            anomaly(segment={"store": f"s{store:04d}"}, time=DAY + timedelta(days=day))
            for day in range(3)
            for store in range(700)
        ]
        with catalog.transaction() as tx:
            first = tx.anomalies.record(tenant="acme", scope="", run_id="s1", items=items)
        rescored = [
            dataclasses.replace(item, score=9.0, severity="critical") if i % 3 == 0 else item
            for i, item in enumerate(items)
        ]
        extra = anomaly(segment={"store": "s9999"}, time=DAY + timedelta(days=1))
        with catalog.transaction() as tx:
            second = tx.anomalies.record(
                tenant="acme", scope="", run_id="s2", items=[*rescored, extra]
            )
            stored = tx.anomalies.list(tenant="acme", scope="")
        assert [(a.segment, a.time) for a in first] == [(i.segment, i.time) for i in items]
        assert len({a.id for a in first}) == len(items)
        assert [(a.segment, a.run_id) for a in second] == [({"store": "s9999"}, "s2")]
        assert len(stored) == len(items) + 1
        by_key = {(a.segment_key, a.time): a.score for a in stored}
        for i, item in enumerate(rescored):
            assert by_key[(segment_key(item.segment), item.time)] == (9.0 if i % 3 == 0 else 4.0)

    # ------------------------------------------------------------------ notifications

    def test_notification_add_stores_every_field_due_now(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification())
        with catalog.transaction() as tx:
            stored = tx.notifications.get(added.id, tenant="acme")
        assert stored == added
        assert (stored.tenant, stored.key, stored.channel, stored.rule) == (
            "acme",
            "alert-1:firing:ops",
            "ops",
            "revenue_drop",
        )
        assert (stored.fingerprint, stored.state) == ("fp-revenue-eu", "firing")
        assert stored.payload == notification()["payload"]
        assert (stored.status, stored.attempts, stored.next_attempt_at) == ("pending", 0, START)
        assert (stored.lease_owner, stored.lease_expires_at, stored.claimed_at) == (None,) * 3
        assert (stored.created_at, stored.delivered_at, stored.last_error) == (START, None, None)

    def test_adding_a_known_key_returns_the_stored_notification(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            first = tx.notifications.add(**notification())
            again = tx.notifications.add(**notification(payload={"title": "changed"}))
            other_tenant = tx.notifications.add(**notification(tenant="globex"))
        with catalog.transaction() as tx:
            claimed = tx.notifications.claim(owner="d1", lease=timedelta(minutes=1))
        with catalog.transaction() as tx:
            tx.notifications.record_attempt(claimed[0].id, attempt_input("delivered"), owner="d1")
            after_delivery = tx.notifications.add(**notification(state="resolved"))
            listed = tx.notifications.list(tenant="acme")
        assert again == first
        assert other_tenant.id != first.id
        assert other_tenant.tenant == "globex"
        assert after_delivery.id == first.id
        assert after_delivery.status == "delivered"
        assert after_delivery.state == "firing"
        assert [n.id for n in listed] == [first.id]
        assert listed[0].payload == notification()["payload"]

    def test_a_notification_rolls_back_with_its_transaction(self, catalog: Catalog) -> None:
        with pytest.raises(RuntimeError), catalog.transaction() as tx:
            tx.notifications.add(**notification())
            raise RuntimeError("the alert change failed")
        with catalog.transaction() as tx:
            assert tx.notifications.list(tenant="acme") == []
            assert tx.notifications.claim(owner="d1", lease=timedelta(minutes=1)) == []

    @pytest.mark.parametrize(
        ("overrides", "match"),
        [
            ({"key": ""}, "idempotency key"),
            ({"channel": " ops"}, "channel"),
            ({"rule": "a\nb"}, "rule"),
            ({"fingerprint": ""}, "fingerprint"),
            ({"payload": {"at": START}}, "payload"),
            ({"payload": ["not", "an", "object"]}, "payload"),
            ({"not_before": datetime(2025, 3, 1)}, "timezone-aware"),
        ],
    )
    def test_notification_input_is_checked(
        self, catalog: Catalog, overrides: dict[str, Any], match: str
    ) -> None:
        with catalog.transaction() as tx, pytest.raises(InvalidInput, match=match):
            tx.notifications.add(**notification(**overrides))

    def test_notification_of_an_unknown_tenant_is_refused(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx, pytest.raises(TenantNotFound):
            tx.notifications.add(**notification(tenant="initech"))

    def test_claim_takes_due_notifications_oldest_first_under_a_lease(
        self, catalog: Catalog
    ) -> None:
        lease = timedelta(seconds=60)
        with catalog.transaction() as tx:
            later = tx.notifications.add(
                **notification(key="later"), not_before=START + timedelta(minutes=5)
            )
            second = tx.notifications.add(
                **notification(key="second"), not_before=START - timedelta(seconds=1)
            )
            first = tx.notifications.add(
                **notification(key="first"), not_before=START - timedelta(seconds=2)
            )
            third = tx.notifications.add(**notification(key="third", tenant="globex"))
        with catalog.transaction() as tx:
            taken = tx.notifications.claim(owner="d1", lease=lease, limit=2, now=START)
            rest = tx.notifications.claim(owner="d2", lease=lease, now=START)
            nothing = tx.notifications.claim(owner="d3", lease=lease, now=START)
        assert [n.id for n in taken] == [first.id, second.id]
        assert [n.id for n in rest] == [third.id]
        assert nothing == []
        for claimed, owner in ((taken[0], "d1"), (taken[1], "d1"), (rest[0], "d2")):
            assert claimed.status == "delivering"
            assert (claimed.lease_owner, claimed.lease_expires_at) == (owner, START + lease)
            assert claimed.claimed_at == START
            assert claimed.attempts == 0
        with catalog.transaction() as tx:
            assert tx.notifications.get(first.id, tenant="acme") == taken[0]
            live = tx.notifications.claim(
                owner="d3", lease=lease, now=START + lease - timedelta(microseconds=1)
            )
            expired = tx.notifications.claim(owner="d3", lease=lease, now=START + lease)
            due_later = tx.notifications.claim(
                owner="d4", lease=lease, now=START + timedelta(minutes=5)
            )
        assert live == []
        # Expired claims are taken over, oldest due first; "later" is not due yet.
        assert [n.id for n in expired] == [first.id, second.id, third.id]
        assert [n.id for n in due_later] == [first.id, second.id, third.id, later.id]

    def test_an_expired_claim_is_taken_over_and_its_attempt_recorded(
        self, catalog: Catalog
    ) -> None:
        lease = timedelta(seconds=60)
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification())
        with catalog.transaction() as tx:
            tx.notifications.claim(owner="dead", lease=lease, now=START)
        with catalog.transaction() as tx:
            before_expiry = tx.notifications.claim(
                owner="d2", lease=lease, now=START + lease - timedelta(microseconds=1)
            )
            taken = tx.notifications.claim(owner="d2", lease=lease, now=START + lease)
            attempts = tx.deliveries.list(added.id, tenant="acme")
        assert before_expiry == []
        [record] = taken
        assert (record.lease_owner, record.lease_expires_at) == ("d2", START + 2 * lease)
        assert record.claimed_at == START + lease
        assert record.attempts == 1
        assert record.last_error is not None
        assert "abandoned" in record.last_error
        [abandoned] = attempts
        assert (abandoned.number, abandoned.owner, abandoned.outcome) == (1, "dead", "retry")
        assert (abandoned.started_at, abandoned.finished_at) == (START, START + lease)
        assert (abandoned.status_code, abandoned.latency_ms) == (None, None)
        assert abandoned.error is not None
        assert "dead" in abandoned.error
        assert "may or may not" in abandoned.error

    def test_a_takeover_that_uses_the_last_attempt_makes_it_dead(self, catalog: Catalog) -> None:
        lease = timedelta(seconds=60)
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification())
            tx.notifications.claim(owner="d1", lease=lease, now=START)
        with catalog.transaction() as tx:
            tx.notifications.record_attempt(
                added.id, attempt_input("retry"), owner="d1", retry_at=START
            )
            tx.notifications.claim(owner="d1", lease=lease, now=START)
        with catalog.transaction() as tx:
            taken = tx.notifications.claim(
                owner="d2", lease=lease, now=START + lease, max_attempts=2
            )
            stored = tx.notifications.get(added.id, tenant="acme")
        assert taken == []
        assert (stored.status, stored.attempts) == ("dead", 2)
        assert (stored.lease_owner, stored.next_attempt_at) == (None, None)
        with catalog.transaction() as tx:
            assert tx.notifications.claim(owner="d3", lease=lease, now=START + 10 * lease) == []

    def test_renew_extends_only_the_owners_live_claims(self, catalog: Catalog) -> None:
        lease = timedelta(seconds=60)
        with catalog.transaction() as tx:
            ids = [tx.notifications.add(**notification(key=f"k{i}")).id for i in range(3)]
            tx.notifications.claim(owner="d1", lease=lease, limit=2, now=START)
            tx.notifications.claim(owner="d2", lease=lease, now=START)
        later = START + timedelta(seconds=30)
        with catalog.transaction() as tx:
            renewed = tx.notifications.renew([*ids, 999], owner="d1", lease=lease, now=later)
            assert tx.notifications.renew([], owner="d1", lease=lease) == []
            stored = [tx.notifications.get(i, tenant="acme") for i in ids]
        assert renewed == ids[:2]
        assert [n.lease_expires_at for n in stored] == [later + lease, later + lease, START + lease]
        with catalog.transaction() as tx:
            tx.notifications.claim(owner="d3", lease=lease, now=later + lease)
            assert tx.notifications.renew(ids, owner="d1", lease=lease, now=later + lease) == []
            with pytest.raises(InvalidInput, match="lease"):
                tx.notifications.renew(ids, owner="d3", lease=timedelta(0))

    def test_release_gives_claims_back_without_an_attempt(self, catalog: Catalog) -> None:
        lease = timedelta(seconds=60)
        until = START + timedelta(seconds=20)
        with catalog.transaction() as tx:
            a = tx.notifications.add(**notification(key="a"))
            b = tx.notifications.add(**notification(key="b"))
            tx.notifications.claim(owner="d1", lease=lease, now=START)
        with catalog.transaction() as tx:
            assert tx.notifications.release([a.id], owner="d2", next_attempt_at=until) == 0
            assert tx.notifications.release([a.id], owner="d1", next_attempt_at=until) == 1
            assert tx.notifications.release([b.id], owner="d1") == 1
            assert tx.notifications.release([b.id], owner="d1") == 0
            released = [tx.notifications.get(i, tenant="acme") for i in (a.id, b.id)]
            early = tx.notifications.claim(owner="d2", lease=lease, now=START)
            on_time = tx.notifications.claim(owner="d2", lease=lease, now=until)
        assert [(n.status, n.attempts, n.lease_owner) for n in released] == [
            ("pending", 0, None),
            ("pending", 0, None),
        ]
        assert [n.next_attempt_at for n in released] == [until, START]
        assert [n.id for n in early] == [b.id]
        assert [n.id for n in on_time] == [a.id]

    def test_attempts_move_the_notification_and_are_logged(self, catalog: Catalog) -> None:
        lease = timedelta(seconds=60)
        retry_at = START + timedelta(seconds=10)
        with catalog.transaction() as tx:
            ids = {k: tx.notifications.add(**notification(key=k)).id for k in "rfdx"}
            tx.notifications.claim(owner="d1", lease=lease, now=START)
        with catalog.transaction() as tx:
            retried = tx.notifications.record_attempt(
                ids["r"], attempt_input("retry"), owner="d1", retry_at=retry_at
            )
            failed = tx.notifications.record_attempt(ids["f"], attempt_input("failed"), owner="d1")
            delivered = tx.notifications.record_attempt(
                ids["d"], attempt_input("delivered", reference="ts-1"), owner="d1"
            )
            exhausted = tx.notifications.record_attempt(
                ids["x"], attempt_input("retry"), owner="d1", retry_at=None
            )
        assert (retried.status, retried.next_attempt_at, retried.attempts) == (
            "pending",
            retry_at,
            1,
        )
        assert (retried.lease_owner, retried.last_error) == (None, "answered retry")
        assert (failed.status, failed.next_attempt_at, failed.last_error) == (
            "failed",
            None,
            "answered failed",
        )
        assert (delivered.status, delivered.delivered_at, delivered.last_error) == (
            "delivered",
            START + timedelta(milliseconds=40),
            None,
        )
        assert (exhausted.status, exhausted.next_attempt_at) == ("dead", None)
        with catalog.transaction() as tx:
            again = tx.notifications.claim(owner="d1", lease=lease, now=retry_at)
            assert [n.id for n in again] == [ids["r"]]
            tx.notifications.record_attempt(
                ids["r"], attempt_input("delivered", at=retry_at), owner="d1"
            )
            log = tx.deliveries.list(ids["r"], tenant="acme")
            [delivery] = tx.deliveries.list(ids["d"], tenant="acme")
            final = tx.notifications.get(ids["r"], tenant="acme")
        assert [(a.number, a.outcome, a.status_code) for a in log] == [
            (1, "retry", 503),
            (2, "delivered", 200),
        ]
        assert (final.status, final.attempts, final.delivered_at) == (
            "delivered",
            2,
            retry_at + timedelta(milliseconds=40),
        )
        assert (delivery.owner, delivery.started_at, delivery.latency_ms) == ("d1", START, 40.0)
        assert (delivery.response_excerpt, delivery.reference, delivery.error) == (
            "ok",
            "ts-1",
            None,
        )
        assert delivery.tenant == "acme"

    def test_an_attempt_of_a_lost_claim_is_logged_but_moves_nothing_but_delivery(
        self, catalog: Catalog
    ) -> None:
        lease = timedelta(seconds=60)
        with catalog.transaction() as tx:
            slow = tx.notifications.add(**notification(key="slow")).id
            late = tx.notifications.add(**notification(key="late")).id
            tx.notifications.claim(owner="d1", lease=lease, now=START)
        with catalog.transaction() as tx:
            tx.notifications.claim(owner="d2", lease=lease, now=START + lease)
            # d1 comes back after d2 took over: its failures are d2's business now ...
            kept = tx.notifications.record_attempt(
                slow, attempt_input("retry"), owner="d1", retry_at=START
            )
            also_kept = tx.notifications.record_attempt(late, attempt_input("failed"), owner="d1")
            # ... but a receiver that took the notification has it, whoever sent it.
            delivered = tx.notifications.record_attempt(
                late, attempt_input("delivered"), owner="d1"
            )
            # d2's own attempt then finds it delivered and leaves it so.
            after = tx.notifications.record_attempt(late, attempt_input("failed"), owner="d2")
            log = tx.deliveries.list(late, tenant="acme")
        assert (kept.status, kept.lease_owner, kept.attempts) == ("delivering", "d2", 2)
        assert (also_kept.status, also_kept.lease_owner) == ("delivering", "d2")
        assert (delivered.status, delivered.lease_owner) == ("delivered", None)
        assert (after.status, after.attempts, after.last_error) == ("delivered", 4, None)
        assert [(a.number, a.owner, a.outcome) for a in log] == [
            (1, "d1", "retry"),
            (2, "d1", "failed"),
            (3, "d1", "delivered"),
            (4, "d2", "failed"),
        ]

    def test_attempt_input_is_checked(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification())
            with pytest.raises(NotificationNotFound):
                tx.notifications.record_attempt(
                    added.id + 1000, attempt_input("delivered"), owner="d1"
                )
            with pytest.raises(InvalidInput, match="outcome"):
                tx.notifications.record_attempt(added.id, attempt_input("sent"), owner="d1")
            with pytest.raises(InvalidInput, match="timezone-aware"):
                tx.notifications.record_attempt(
                    added.id, attempt_input("retry"), owner="d1", retry_at=datetime(2025, 3, 2)
                )
            with pytest.raises(InvalidInput, match="latency_ms"):
                tx.notifications.record_attempt(
                    added.id, attempt_input("delivered", latency_ms=-1.0), owner="d1"
                )
            with pytest.raises(InvalidInput, match="limit"):
                tx.notifications.claim(owner="d1", lease=timedelta(minutes=1), limit=0)
            assert tx.deliveries.list(added.id, tenant="acme") == []

    def test_notifications_list_by_alert_rule_channel_and_status(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            firing = tx.notifications.add(**notification(key="f-ops"))
            paged = tx.notifications.add(**notification(key="f-pager", channel="pager"))
            other = tx.notifications.add(
                **notification(key="o", fingerprint="fp-other", rule="late_orders")
            )
            tx.notifications.claim(owner="d1", lease=timedelta(minutes=1), limit=1)
        with catalog.transaction() as tx:
            by_alert = tx.notifications.list(tenant="acme", fingerprint="fp-revenue-eu")
            by_rule = tx.notifications.list(tenant="acme", rule="late_orders")
            by_channel = tx.notifications.list(tenant="acme", channel="pager")
            delivering = tx.notifications.list(tenant="acme", status="delivering")
            pending = tx.notifications.list(tenant="acme", status="pending", limit=1)
            with pytest.raises(InvalidInput, match="pending, delivering"):
                tx.notifications.list(tenant="acme", status="sent")
            found = tx.notifications.by_key("f-pager", tenant="acme")
            missing = tx.notifications.by_key("f-pager", tenant="globex")
        assert [n.id for n in by_alert] == [firing.id, paged.id]
        assert [n.id for n in by_rule] == [other.id]
        assert [n.id for n in by_channel] == [paged.id]
        assert [n.id for n in delivering] == [firing.id]
        assert [n.id for n in pending] == [paged.id]
        assert found is not None
        assert found.id == paged.id
        assert missing is None

    def test_tenants_never_see_each_others_notifications(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            acme = tx.notifications.add(**notification())
            tx.notifications.claim(owner="d1", lease=timedelta(minutes=1))
            tx.notifications.record_attempt(acme.id, attempt_input("delivered"), owner="d1")
        with catalog.transaction() as tx:
            assert tx.notifications.list(tenant="globex") == []
            assert tx.deliveries.list(acme.id, tenant="globex") == []
            with pytest.raises(NotificationNotFound) as caught:
                tx.notifications.get(acme.id, tenant="globex")
            assert "acme" not in caught.value.message
            assert isinstance(caught.value, NotFound)

    def test_notification_payload_is_detached_from_input_and_output(self, catalog: Catalog) -> None:
        payload: dict[str, Any] = {"labels": {"region": "EU"}}
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification(payload=payload))
            payload["labels"]["region"] = "US"
            added.payload["labels"]["region"] = "APAC"
            stored = tx.notifications.get(added.id, tenant="acme")
        assert stored.payload == {"labels": {"region": "EU"}}

    def test_concurrent_claims_never_share_a_notification(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        total, dispatchers = 40, 5
        with catalog.transaction() as tx:
            for i in range(total):
                tx.notifications.add(**notification(key=f"k{i:02d}"))
        catalogs = [Catalog(catalog_url) for _ in range(dispatchers)]

        def claim_all(index: int) -> list[NotificationRecord]:
            taken: list[NotificationRecord] = []
            while True:
                with catalogs[index].transaction() as tx:
                    batch = tx.notifications.claim(
                        owner=f"d{index}", lease=timedelta(minutes=5), limit=3
                    )
                if not batch:
                    return taken
                taken += batch

        try:
            outcomes = run_in_threads(dispatchers, claim_all)
        finally:
            for each in catalogs:
                each.dispose()
        claimed = [n.key for taken in outcomes for n in taken]
        assert sorted(claimed) == [f"k{i:02d}" for i in range(total)]
        with catalog.transaction() as tx:
            stored = tx.notifications.list(tenant="acme", limit=total)
        owners = {n.key: f"d{i}" for i, taken in enumerate(outcomes) for n in taken}
        assert all(n.lease_owner == owners[n.key] for n in stored)
        assert all(n.attempts == 0 for n in stored)

    def test_a_claim_never_takes_what_an_uncommitted_claim_holds(
        self, catalog_url: str, catalog: Catalog, clock: FixedClock
    ) -> None:
        # PostgreSQL: the second claim skips the rows the first has locked and returns at once.
        # SQLite: the second claim waits for the first's write lock, then finds them claimed.
        with catalog.transaction() as tx:
            for i in range(6):
                tx.notifications.add(**notification(key=f"k{i}"))
        racer = Catalog(catalog_url, clock=clock)
        outcome: dict[str, Any] = {}

        def claim_second() -> None:
            try:
                with racer.transaction() as tx:
                    outcome["second"] = tx.notifications.claim(
                        owner="d2", lease=timedelta(minutes=5)
                    )
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        thread = threading.Thread(target=claim_second)
        try:
            with catalog.transaction() as tx:
                first = tx.notifications.claim(owner="d1", lease=timedelta(minutes=5), limit=3)
                thread.start()
                if catalog.backend == "postgresql":
                    thread.join(timeout=30)
                    assert not thread.is_alive(), "the second claim waited for the first"
        finally:
            if thread.ident is not None:
                thread.join()
            racer.dispose()
        assert "error" not in outcome, outcome.get("error")
        second = outcome["second"]
        assert len(first) == 3
        assert {n.key for n in first}.isdisjoint({n.key for n in second})
        assert {n.key for n in first} | {n.key for n in second} == {f"k{i}" for i in range(6)}

    def test_downgrade_to_0006_drops_notification_tables_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            added = tx.notifications.add(**notification())
            tx.notifications.claim(owner="d1", lease=timedelta(minutes=1))
            tx.notifications.record_attempt(added.id, attempt_input("delivered"), owner="d1")
            tx.definitions.put(tenant="acme", kind="metric", name="m", spec={}, fingerprint="f")
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        outbox = {"notifications", "delivery_attempts"}
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0006")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
                revision = MigrationContext.configure(connection).get_current_revision()
            assert revision == "0006"
            assert not outbox & tables
            assert {"tenants", "definitions", "anomalies", "insight_models"} <= tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.notifications.list(tenant="acme") == []
                    assert [d.name for d in tx.definitions.current(tenant="acme")] == ["m"]
                    again = tx.notifications.add(**notification())
                    assert (again.status, again.attempts) == ("pending", 0)
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                assert outbox <= set(inspect(connection).get_table_names())
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    # ------------------------------------------------------------------ alerts

    def _alert_fields(self, **overrides: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "fingerprint": "fp-1",
            "rule": "revenue_drop",
            "key": ["EU"],
            "labels": {"rule": "revenue_drop", "region": "EU"},
            "severity": "critical",
            "state": "firing",
            "started_at": START,
            "last_active_at": START,
            "fired_at": START,
            "resolved_at": None,
            "acknowledged_at": None,
            "acknowledged_by": None,
            "last_notified_at": None,
            "escalation_level": 0,
            "reason": "revenue 900 < 1000",
        }
        return fields | overrides

    def test_alert_lives_are_stored_updated_and_listed(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            first = tx.alerts.save(tenant="acme", **self._alert_fields())
            pending = tx.alerts.save(
                tenant="acme",
                **self._alert_fields(
                    fingerprint="fp-2", key=["US"], state="pending", fired_at=None
                ),
            )
            tx.alerts.save(tenant="acme", **self._alert_fields(rule="other", fingerprint="fp-3"))
        assert (first.key, first.labels["region"], first.state) == (("EU",), "EU", "firing")
        with catalog.transaction() as tx:
            assert [a.id for a in tx.alerts.open(tenant="acme", rule="revenue_drop")] == [
                first.id,
                pending.id,
            ]
            later = START + timedelta(minutes=5)
            resolved = tx.alerts.save(
                tenant="acme", id=first.id, state="resolved", resolved_at=later
            )
            tx.alerts.discard([pending.id], tenant="acme")
        assert (resolved.state, resolved.resolved_at, resolved.reason) == (
            "resolved",
            later,
            "revenue 900 < 1000",
        )
        with catalog.transaction() as tx:
            assert tx.alerts.open(tenant="acme", rule="revenue_drop") == []
            again = tx.alerts.save(tenant="acme", **self._alert_fields())
            lives = tx.alerts.list(tenant="acme", fingerprint="fp-1")
            assert [a.id for a in lives] == [again.id, first.id]
            assert [a.rule for a in tx.alerts.list(tenant="acme", state="firing")] == [
                "revenue_drop",
                "other",
            ]
            assert [a.id for a in tx.alerts.list(tenant="acme", before=again.id, limit=1)] != [
                again.id
            ]
            with pytest.raises(AlertNotFound):
                tx.alerts.get(pending.id, tenant="acme")

    def test_tenants_never_see_each_others_alerts(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            mine = tx.alerts.save(tenant="acme", **self._alert_fields())
        with catalog.transaction() as tx:
            assert tx.alerts.list(tenant="globex") == []
            assert tx.alerts.open(tenant="globex") == []
            with pytest.raises(AlertNotFound):
                tx.alerts.get(mine.id, tenant="globex")
            with pytest.raises(AlertNotFound):
                tx.alerts.save(tenant="globex", id=mine.id, state="resolved")
            tx.alerts.discard([mine.id], tenant="globex")
        with catalog.transaction() as tx:
            assert tx.alerts.get(mine.id, tenant="acme").state == "firing"

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"state": "burning"}, "state"),
            ({"started_at": datetime(2025, 1, 1)}, "started_at"),
            ({"colour": "red"}, "colour"),
        ],
    )
    def test_alert_input_is_checked(
        self, catalog: Catalog, overrides: dict[str, Any], message: str
    ) -> None:
        with catalog.transaction() as tx, pytest.raises(InvalidInput, match=message):
            tx.alerts.save(tenant="acme", **self._alert_fields(**overrides))
        with catalog.transaction() as tx, pytest.raises(InvalidInput, match="needs"):
            tx.alerts.save(tenant="acme", rule="r", state="firing")

    def test_trigger_state_round_trips_per_rule_and_tenant(self, catalog: Catalog) -> None:
        state = {"windows": {"keys": [["EU", ["2025-01-01T00:00:00+00:00"]]]}, "n": 1}
        with catalog.transaction() as tx:
            assert tx.trigger_states.get(tenant="acme", rule="r") is None
            tx.trigger_states.put(tenant="acme", rule="r", state=state)
        with catalog.transaction() as tx:
            assert tx.trigger_states.get(tenant="acme", rule="r") == state
            assert tx.trigger_states.get(tenant="globex", rule="r") is None
            tx.trigger_states.put(tenant="acme", rule="r", state={"n": 2})
            assert tx.trigger_states.rules(tenant="acme") == ["r"]
        with catalog.transaction() as tx:
            assert tx.trigger_states.get(tenant="acme", rule="r") == {"n": 2}
            tx.trigger_states.forget(tenant="acme", rule="r")
            assert tx.trigger_states.rules(tenant="acme") == []
            with pytest.raises(InvalidInput):
                tx.trigger_states.put(tenant="acme", rule="r", state={"t": START})

    def test_silences_hold_between_start_and_end_and_expire(self, catalog: Catalog) -> None:
        hour = timedelta(hours=1)
        with catalog.transaction() as tx:
            now = tx.silences.add(
                tenant="acme",
                matchers=["rule=revenue_drop"],
                starts_at=START,
                ends_at=START + hour,
                created_by="ann",
                comment="maintenance",
            )
            later = tx.silences.add(
                tenant="acme",
                matchers=["severity=info"],
                starts_at=START + hour,
                ends_at=START + 2 * hour,
                created_by=None,
            )
        with catalog.transaction() as tx:
            active = tx.silences.list(tenant="acme", active_at=START + timedelta(minutes=30))
            assert [s.id for s in active] == [now.id]
            assert active[0].matchers == ("rule=revenue_drop",)
            assert [s.id for s in tx.silences.list(tenant="acme", active_at=START + hour)] == [
                later.id
            ]
            assert tx.silences.list(tenant="globex") == []
            ended = tx.silences.expire(now.id, tenant="acme", at=START + timedelta(minutes=10))
            assert ended.ends_at == START + timedelta(minutes=10)
            with pytest.raises(SilenceNotFound):
                tx.silences.expire(now.id, tenant="globex", at=START)
        with catalog.transaction() as tx:
            assert tx.silences.list(tenant="acme", active_at=START + timedelta(minutes=30)) == []
            with pytest.raises(InvalidInput, match="end after"):
                tx.silences.add(
                    tenant="acme", matchers=["a=b"], starts_at=START, ends_at=START, created_by=None
                )
            with pytest.raises(InvalidInput, match="matcher"):
                tx.silences.add(
                    tenant="acme",
                    matchers=[],
                    starts_at=START,
                    ends_at=START + hour,
                    created_by=None,
                )

    def test_downgrade_to_0007_drops_alert_tables_and_upgrade_restores_them(
        self, catalog: Catalog, catalog_url: str, clock: FixedClock
    ) -> None:
        with catalog.transaction() as tx:
            tx.alerts.save(tenant="acme", **self._alert_fields())
            tx.notifications.add(**notification())
        catalog.dispose()
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        engine = create_engine(catalog_url)
        added = {"alerts", "trigger_states", "silences"}
        try:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0007")
            with engine.connect() as connection:
                tables = set(inspect(connection).get_table_names())
            assert not added & tables
            assert "notifications" in tables
            upgraded = Catalog(catalog_url, clock=clock)
            try:
                upgraded.migrate()
                with upgraded.transaction() as tx:
                    assert tx.alerts.list(tenant="acme") == []
                    assert len(tx.notifications.list(tenant="acme")) == 1
            finally:
                upgraded.dispose()
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                assert compare_metadata(context, Base.metadata) == []
        finally:
            engine.dispose()

    def test_events_added_together_are_published_in_their_order(self, catalog: Catalog) -> None:
        with catalog.transaction() as tx:
            added = tx.outbox.add_many(
                tenant="acme",
                events=[(f"shop.e{i}", "/test", {"i": i}) for i in range(20)],
                correlation_id="c1",
            )
        assert len({e.id for e in added}) == 20
        with catalog.transaction() as tx:
            pending = tx.outbox.pending(limit=100)
            assert [e.data["i"] for e in pending] == list(range(20))
            assert {e.correlation_id for e in pending} == {"c1"}
            with pytest.raises(TenantNotFound):
                tx.outbox.add_many(tenant="initech", events=[("a.b", "/x", {})])
