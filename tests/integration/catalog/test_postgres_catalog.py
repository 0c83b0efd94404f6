"""The catalog suite on PostgreSQL, each test in a fresh database."""

import threading
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gnomon.catalog import Catalog
from gnomon.errors import Conflict
from tests.unit.catalog.catalog_suite import CatalogSuite, wait_until


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
