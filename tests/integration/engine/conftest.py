"""Engines over a real lake: one Spark session for the whole run, DuckDB per test.

Spark takes 10-35 s to start, so every Spark test shares the session-scoped ``spark_session``;
each test gets its own :class:`SparkEngine` on it (its own views), which leaves the session
running when closed. Without pyspark or Java the Spark tests are skipped, or fail under
GNOMON_REQUIRE_SERVICES=1.
"""

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gnomon.engine import DuckDBEngine
from gnomon.lake import Lake
from tests.conftest import service_missing

if TYPE_CHECKING:
    from gnomon.engine.spark import SparkEngine

SPARK_TEST_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.driver.memory": "1g",
}


def _java_found() -> bool:
    home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(home and Path(home, "bin", "java").exists())


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """A local Spark session (two cores, UTC), started once and stopped at the end."""
    if importlib.util.find_spec("pyspark") is None:
        service_missing('pyspark is not installed (pip install "gnomon[spark]")')
    if not _java_found():
        service_missing("Java not found for Spark (install Java 17 or set JAVA_HOME)")
    from gnomon.engine.spark import SparkEngine

    engine = SparkEngine("local[2]", app_name="gnomon-tests", conf=SPARK_TEST_CONF)
    try:
        yield engine.session
    finally:
        engine.close()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """An empty lake under the test's temporary folder."""
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def spark_engine(spark_session: Any, lake: Lake) -> Iterator["SparkEngine"]:
    """A Spark engine on the shared session that may read only the test's lake."""
    from gnomon.engine.spark import SparkEngine

    with SparkEngine(session=spark_session, allowed_roots=[lake.root]) as engine:
        yield engine


@pytest.fixture
def duckdb_engine(lake: Lake) -> Iterator[DuckDBEngine]:
    """The reference engine over the same lake."""
    with DuckDBEngine(threads=2, allowed_roots=[lake.root]) as engine:
        yield engine
