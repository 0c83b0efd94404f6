"""The catalog suite on SQLite, the default backend; PostgreSQL runs it in tests/integration."""

from pathlib import Path

import pytest

from tests.unit.catalog.catalog_suite import CatalogSuite


class TestSqliteCatalog(CatalogSuite):
    __test__ = True

    @pytest.fixture
    def catalog_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'catalog' / 'catalog.db'}"
