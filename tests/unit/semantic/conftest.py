"""The shop lake, written once for every semantic test that needs it."""

from collections.abc import Iterator

import pytest

from tests.unit.semantic.shop import Shop


@pytest.fixture(scope="package")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    built = Shop(tmp_path_factory.mktemp("semantic_lake"))
    yield built
    built.engine.close()
