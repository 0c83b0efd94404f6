"""Catalog construction, connection set-up and the errors of a catalog that cannot be used."""

import sqlite3
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from gnomon.catalog import Catalog, CatalogNotMigrated, CatalogUnavailable, hold_lease
from gnomon.catalog.store import SQLITE_BUSY_TIMEOUT_MS
from gnomon.clock import FixedClock
from gnomon.errors import ConfigError, Unavailable


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'nested' / 'dir' / 'catalog.db'}"


def test_sqlite_file_gets_its_folder_wal_and_foreign_keys(tmp_path: Path) -> None:
    catalog = Catalog(sqlite_url(tmp_path))
    try:
        catalog.migrate()
        with catalog._engine.connect() as connection:
            foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
            busy_timeout = connection.execute(text("PRAGMA busy_timeout")).scalar_one()
    finally:
        catalog.dispose()
    database = tmp_path / "nested" / "dir" / "catalog.db"
    assert database.is_file()
    with closing(sqlite3.connect(database)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert (foreign_keys, busy_timeout) == (1, SQLITE_BUSY_TIMEOUT_MS)
    assert catalog.backend == "sqlite"


def test_in_memory_catalog_works_across_transactions() -> None:
    catalog = Catalog("sqlite://", clock=FixedClock(datetime(2025, 1, 1, tzinfo=UTC)))
    try:
        catalog.migrate()
        with catalog.transaction() as tx:
            tx.tenants.ensure("acme")
        with catalog.transaction() as tx:
            assert [t.id for t in tx.tenants.list()] == ["acme", "default"]
    finally:
        catalog.dispose()


def test_transaction_commits_on_success_and_rolls_back_on_error(tmp_path: Path) -> None:
    catalog = Catalog(sqlite_url(tmp_path))
    try:
        catalog.migrate()
        with catalog.transaction() as tx:
            tx.tenants.ensure("kept")
        with pytest.raises(KeyError), catalog.transaction() as tx:
            tx.tenants.ensure("dropped")
            raise KeyError("boom")
        catalog.dispose()
        with catalog.transaction() as tx:
            assert [t.id for t in tx.tenants.list()] == ["default", "kept"]
    finally:
        catalog.dispose()


def test_unmigrated_catalog_says_how_to_fix_it(tmp_path: Path) -> None:
    catalog = Catalog(sqlite_url(tmp_path))
    try:
        with (
            pytest.raises(CatalogNotMigrated, match="has no schema") as caught,
            catalog.transaction(),
        ):
            pass
        assert caught.value.hint is not None
        assert "migrate()" in caught.value.hint
        assert isinstance(caught.value, ConfigError)
    finally:
        catalog.dispose()


def test_catalog_at_an_unknown_revision_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    catalog = Catalog(url)
    catalog.migrate()
    catalog.dispose()
    with closing(sqlite3.connect(tmp_path / "nested" / "dir" / "catalog.db")) as raw:
        raw.execute("UPDATE alembic_version SET version_num = 'from-the-future'")
        raw.commit()
    other = Catalog(url)
    try:
        with (
            pytest.raises(CatalogNotMigrated, match="revision from-the-future") as caught,
            other.transaction(),
        ):
            pass
        assert caught.value.details["current"] == "from-the-future"
    finally:
        other.dispose()


def test_unreachable_postgres_is_unavailable_with_the_password_masked() -> None:
    catalog = Catalog("postgresql+psycopg://gnomon:s3cret-pw@127.0.0.1:1/catalog")

    def open_transaction() -> None:
        with catalog.transaction():
            pass

    try:
        for attempt in (catalog.migrate, open_transaction):
            with pytest.raises(CatalogUnavailable) as caught:
                attempt()
            error = caught.value
            assert isinstance(error, Unavailable)
            assert error.retryable
            assert "gnomon:***@127.0.0.1:1/catalog" in error.message
            assert "s3cret-pw" not in str(error)
            assert "s3cret-pw" not in repr(error.to_dict())
            assert error.hint is not None
    finally:
        catalog.dispose()


def test_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "catalog.db").mkdir()
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        with pytest.raises(CatalogUnavailable, match=r"catalog\.db"):
            catalog.migrate()
    finally:
        catalog.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "not a SQLAlchemy database URL"),
        ("mysql://u:p@h/db", "Unsupported catalog database 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "Unsupported PostgreSQL driver 'asyncpg'"),
        ("sqlite+aiosqlite:///x.db", "Unsupported SQLite driver 'aiosqlite'"),
    ],
)
def test_bad_urls_are_config_errors(url: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as caught:
        Catalog(url)
    assert caught.value.hint is not None
    assert caught.value.details["key"] == "catalog.url"


def test_unsupported_backend_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        Catalog("oracle://u@h/db")
    assert caught.value.details["valid"] == ["sqlite", "postgresql"]


def test_postgres_url_without_driver_uses_psycopg() -> None:
    catalog = Catalog("postgresql://u:pw@db.internal:5432/meta")
    try:
        assert catalog.url_for_display == "postgresql+psycopg://u:***@db.internal:5432/meta"
        assert catalog.backend == "postgresql"
        assert "pw" not in repr(catalog)
    finally:
        catalog.dispose()


@settings(deadline=None)
@given(password=st.text(min_size=1, max_size=40))
def test_display_url_never_shows_the_password(password: str) -> None:
    catalog = Catalog(f"postgresql+psycopg://user:{quote(password, safe='')}@db.example/cat")
    try:
        assert catalog.url_for_display == "postgresql+psycopg://user:***@db.example/cat"
    finally:
        catalog.dispose()


def test_in_memory_catalog_holds_leases_without_a_renewal_thread() -> None:
    catalog = Catalog("sqlite://")
    try:
        catalog.migrate()
        assert catalog.is_in_memory
        before = threading.active_count()
        with hold_lease(catalog, "l", owner="a", ttl=timedelta(minutes=1)) as held:
            assert threading.active_count() == before
            assert held.owner == "a"
        with catalog.transaction() as tx:
            assert tx.leases.get("l") is None
    finally:
        catalog.dispose()
