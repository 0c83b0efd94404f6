"""The outbox against real receivers: a migrated catalog per test, on SQLite or PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from gnomon.catalog import Catalog


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty catalog database: a file under ``tmp_path``, or a fresh PostgreSQL database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return f"sqlite:///{tmp_path / 'catalog.db'}"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[Catalog]:
    """The catalog at ``catalog_url``, migrated, with tenant ``acme``; on the wall clock."""
    catalog = Catalog(catalog_url)
    catalog.migrate()
    with catalog.transaction() as tx:
        tx.tenants.ensure("acme")
    yield catalog
    catalog.dispose()
