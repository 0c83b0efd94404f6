"""Shared fixtures: service probes, unique resource names, folder markers.

A test that needs a service asks for its fixture. When the service does not answer, the test is
skipped with the reason, or fails when GNOMON_REQUIRE_SERVICES=1 (as in CI), so a missing service
can never turn a run green by itself.
"""

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test may depend on timing: the machines are shared and noisy. In CI the examples are
# derandomised so that a failure reproduces from the same commit.
settings.register_profile(
    "gnomon",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI") == "true",
)
settings.load_profile("gnomon")

REQUIRE_SERVICES = os.environ.get("GNOMON_REQUIRE_SERVICES") == "1"
PG_HOST = os.environ.get("GNOMON_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("GNOMON_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("GNOMON_TEST_PG_USER", "postgres")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the folder it lives in (unit, integration, e2e)."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder in ("integration", "e2e"):
            if folder in parts:
                item.add_marker(getattr(pytest.mark, folder))


def unique_name(prefix: str = "gnomon_t") -> str:
    """A name no other test (or test worker) uses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{worker}_{uuid.uuid4().hex[:10]}"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def service_missing(what: str) -> None:
    """Skip, or fail under GNOMON_REQUIRE_SERVICES=1."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} (GNOMON_REQUIRE_SERVICES=1)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The base URL of the local PostgreSQL server, probed once."""
    if not _reachable(PG_HOST, PG_PORT):
        service_missing(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}")
    pytest.importorskip("psycopg")
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}"


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import psycopg

    name = unique_name()
    admin = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{postgres_server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
