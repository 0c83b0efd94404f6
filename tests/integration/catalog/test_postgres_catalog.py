"""The catalog suite on PostgreSQL, each test in a fresh database."""

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gnomon.catalog import GENESIS_HASH, Catalog
from gnomon.errors import Conflict
from tests.unit.catalog.catalog_suite import CatalogSuite, anomaly, wait_until


def _sessions_waiting_on_a_lock(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.postgres
class TestPostgresCatalog(CatalogSuite):
    __test__ = True

    @pytest.fixture
    def catalog_url(self, postgres_url: str) -> str:
        return postgres_url

    def test_put_racing_an_uncommitted_version_conflicts_and_keeps_its_transaction(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # SQLite serialises writers with BEGIN IMMEDIATE, so only PostgreSQL can interleave two
        # puts: both read "no version yet" and both try to add version 1.
        racer = Catalog(catalog_url)
        outcome: dict[str, Any] = {}

        def put_second() -> None:
            try:
                with racer.transaction() as tx:
                    try:
                        tx.definitions.put(
                            tenant="acme",
                            kind="metric",
                            name="revenue",
                            spec={"by": "second"},
                            fingerprint="second",
                        )
                    except Conflict as exc:
                        outcome["conflict"] = exc
                        # The conflict did not abort the transaction: it can still read.
                        outcome["seen"] = tx.definitions.history(
                            tenant="acme", kind="metric", name="revenue"
                        )
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        thread = threading.Thread(target=put_second)
        try:
            with catalog.transaction() as tx:
                first, _ = tx.definitions.put(
                    tenant="acme",
                    kind="metric",
                    name="revenue",
                    spec={"by": "first"},
                    fingerprint="first",
                )
                thread.start()
                assert wait_until(lambda: _sessions_waiting_on_a_lock(catalog_url) > 0)
        finally:
            if thread.ident is not None:  # started
                thread.join()
            racer.dispose()
        assert "error" not in outcome, outcome.get("error")
        conflict = outcome["conflict"]
        assert isinstance(conflict, Conflict)
        assert "Version 1 of metric 'revenue'" in conflict.message
        assert conflict.hint is not None
        assert conflict.hint.startswith("Retry")
        assert conflict.details["version"] == 1
        assert [v.fingerprint for v in outcome["seen"]] == ["first"]
        with catalog.transaction() as tx:
            history = tx.definitions.history(tenant="acme", kind="metric", name="revenue")
        assert history == [first]

    def test_audit_append_waits_for_an_uncommitted_append_and_chains_after_it(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # Without the tenant's log lock both appends would read "no entry yet" and the second
        # would conflict; with it, the second waits and then appends entry 2.
        racer = Catalog(catalog_url)
        outcome: dict[str, Any] = {}

        def append_second() -> None:
            try:
                with racer.transaction() as tx:
                    outcome["entry"] = tx.audit.append(
                        tenant="acme", principal="second", action="sql.query"
                    )
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        thread = threading.Thread(target=append_second)
        try:
            with catalog.transaction() as tx:
                first = tx.audit.append(tenant="acme", principal="first", action="sql.query")
                # Another tenant's log is not held up by acme's.
                assert tx.audit.list(tenant="globex") == []
                thread.start()
                assert wait_until(lambda: _sessions_waiting_on_a_lock(catalog_url) > 0)
        finally:
            if thread.ident is not None:  # started
                thread.join()
            racer.dispose()
        assert "error" not in outcome, outcome.get("error")
        second = outcome["entry"]
        assert (first.seq, second.seq) == (1, 2)
        assert second.prev_hash == first.hash
        with catalog.transaction() as tx:
            assert tx.audit.verify(tenant="acme").ok

    def test_audit_append_racing_an_entry_written_past_the_lock_conflicts(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # An entry inserted without the log lock (by hand, or by a bug) takes seq 1 first: the
        # unique (tenant, seq) constraint turns the append into a Conflict, never a fork.
        outcome: dict[str, Any] = {}

        def append() -> None:
            try:
                with catalog.transaction() as tx:
                    try:
                        tx.audit.append(tenant="acme", principal="p", action="sql.query")
                    except Conflict as exc:
                        outcome["conflict"] = exc
                        # The conflict did not abort the transaction: it can still read.
                        outcome["seen"] = tx.audit.list(tenant="acme")
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        engine = create_engine(catalog_url)
        thread = threading.Thread(target=append)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO audit_log (tenant_id, seq, at, principal, action, details,"
                        " prev_hash, hash) VALUES ('acme', 1, now(), 'intruder', 'x', '{}',"
                        " :genesis, :genesis)"
                    ),
                    {"genesis": GENESIS_HASH},
                )
                thread.start()
                assert wait_until(lambda: _sessions_waiting_on_a_lock(catalog_url) > 0)
        finally:
            if thread.ident is not None:  # started
                thread.join()
            engine.dispose()
        assert "error" not in outcome, outcome.get("error")
        conflict = outcome["conflict"]
        assert isinstance(conflict, Conflict)
        assert conflict.message == (
            "Audit entry 1 of tenant 'acme' was written by another transaction at the same time."
        )
        assert conflict.hint is not None
        assert conflict.hint.startswith("Retry")
        assert conflict.details == {"tenant": "acme", "seq": 1}
        assert [e.principal for e in outcome["seen"]] == ["intruder"]

    def test_user_pages_follow_plain_string_order_under_a_language_collation(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # A language collation sorts "alice" before "Bob"; pagination must not follow it, or a
        # page boundary taken from one order would skip or repeat users in the other.
        engine = create_engine(catalog_url)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text('ALTER TABLE users ALTER COLUMN name TYPE varchar COLLATE "en-US-x-icu"')
                )
                connection.execute(
                    text('ALTER TABLE roles ALTER COLUMN name TYPE varchar COLLATE "en-US-x-icu"')
                )
        finally:
            engine.dispose()
        names = ["bob", "Zoe", "alice", "Bob", "émile", "Eve"]
        with catalog.transaction() as tx:
            for name in names:
                tx.users.create(tenant="acme", name=name, roles=[])
                tx.roles.put(tenant="acme", name=name, permissions=[])
        with catalog.transaction() as tx:
            first = tx.users.list(tenant="acme", limit=3)
            rest = tx.users.list(tenant="acme", after=first[-1].name)
            roles = [r.name for r in tx.roles.list(tenant="acme")]
        assert [u.name for u in first + rest] == sorted(names)
        assert roles == sorted(names)

    def test_register_racing_a_version_written_past_the_lock_conflicts(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # A version inserted without the series lock takes version 1 first: the unique
        # constraint turns the registration into a Conflict, never a duplicate version.
        outcome: dict[str, Any] = {}

        def register() -> None:
            try:
                with catalog.transaction() as tx:
                    try:
                        tx.insight_models.register(
                            tenant="acme",
                            kind="detector",
                            metric="revenue",
                            segment={"region": "EMEA"},
                            params={"window": 28},
                        )
                    except Conflict as exc:
                        outcome["conflict"] = exc
                        # The conflict did not abort the transaction: it can still read.
                        outcome["seen"] = tx.insight_models.list(tenant="acme", latest_only=False)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        engine = create_engine(catalog_url)
        thread = threading.Thread(target=register)
        try:
            with engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO insight_models (tenant_id, kind, metric, segment, segment_key,"
                        " version, params, fingerprint, metrics, created_at) VALUES ('acme',"
                        " 'detector', 'revenue', :segment, :key, 1, '{}', 'other', '{}', now())"
                    ),
                    {"segment": '{"region": "EMEA"}', "key": '{"region":"EMEA"}'},
                )
                thread.start()
                assert wait_until(lambda: _sessions_waiting_on_a_lock(catalog_url) > 0)
        finally:
            if thread.ident is not None:  # started
                thread.join()
            engine.dispose()
        assert "error" not in outcome, outcome.get("error")
        conflict = outcome["conflict"]
        assert isinstance(conflict, Conflict)
        assert conflict.message == (
            'Version 1 of the detector of \'revenue\' {"region":"EMEA"} was registered by'
            " another transaction at the same time."
        )
        assert conflict.hint is not None
        assert conflict.hint.startswith("Retry")
        assert [m.fingerprint for m in outcome["seen"]] == ["other"]

    def test_anomaly_recorded_by_a_concurrent_scan_is_not_new_twice(
        self, catalog_url: str, catalog: Catalog
    ) -> None:
        # The second scan waits for the first to commit, then finds the point stored: it is
        # new once, and the second scan adds only what the first did not find.
        racer = Catalog(catalog_url)
        outcome: dict[str, Any] = {}

        def record_second() -> None:
            try:
                with racer.transaction() as tx:
                    outcome["new"] = tx.anomalies.record(
                        tenant="acme",
                        scope="",
                        run_id="second",
                        items=[anomaly(), anomaly(metric="orders")],
                    )
            except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
                outcome["error"] = exc

        thread = threading.Thread(target=record_second)
        try:
            with catalog.transaction() as tx:
                [first] = tx.anomalies.record(
                    tenant="acme", scope="", run_id="first", items=[anomaly()]
                )
                thread.start()
                assert wait_until(lambda: _sessions_waiting_on_a_lock(catalog_url) > 0)
        finally:
            if thread.ident is not None:  # started
                thread.join()
            racer.dispose()
        assert "error" not in outcome, outcome.get("error")
        assert [(a.metric, a.run_id) for a in outcome["new"]] == [("orders", "second")]
        with catalog.transaction() as tx:
            stored = tx.anomalies.list(tenant="acme", scope="", metric="revenue")
        assert stored == [first]
