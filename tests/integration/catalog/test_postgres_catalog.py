"""The catalog suite on PostgreSQL, each test in a fresh database."""

import pytest

from tests.unit.catalog.catalog_suite import CatalogSuite


@pytest.mark.postgres
class TestPostgresCatalog(CatalogSuite):
    __test__ = True

    @pytest.fixture
    def catalog_url(self, postgres_url: str) -> str:
        return postgres_url
