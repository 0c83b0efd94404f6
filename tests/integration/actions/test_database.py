"""Database actions on SQLite files and on a real PostgreSQL: transactions, keys, compensation."""

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from gnomon.actions import build_channel
from gnomon.actions.channels.database import DatabaseChannel
from gnomon.clock import FixedClock
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 3, 1, 12, 0, 30, tzinfo=UTC)

INSERT = (
    "insert into incidents (fingerprint, region, state, title, opened_at) "
    "values (:fingerprint, :label_region, :state, :title, :created_at)"
)
COUNT = "update counters set n = n + 1 where name = :rule"
DELETE = "delete from incidents where fingerprint = :fingerprint"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with the tables the tests' statements use."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'actions.db'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "create table incidents (fingerprint varchar(100) primary key, "
                "region varchar(20) not null, state varchar(20), title varchar(500), "
                "opened_at timestamp)"
            )
        )
        conn.execute(text("create table counters (name varchar(100) primary key, n integer)"))
        conn.execute(text("insert into counters values ('revenue_drop', 0)"))
    engine.dispose()
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
async def make(db_url: str) -> AsyncIterator[Callable[..., DatabaseChannel]]:
    built: list[DatabaseChannel] = []

    def factory(**spec: Any) -> DatabaseChannel:
        full = {"kind": "database", "url": "${DB_URL}", "statements": [INSERT, COUNT], **spec}
        channel = build_channel("incidents", full, env={"DB_URL": db_url}, clock=FixedClock(NOW))
        assert isinstance(channel, DatabaseChannel)
        built.append(channel)
        return channel

    yield factory
    for channel in built:
        await channel.aclose()


def rows(db: Engine, sql: str) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def counter(db: Engine) -> int:
    [(n,)] = rows(db, "select n from counters where name = 'revenue_drop'")
    return int(n)


def keys(db: Engine) -> list[tuple[Any, ...]]:
    return rows(db, "select key, channel from gnomon_action_keys order by key")


async def test_statements_run_with_bound_parameters(make: Callable[..., Any], db: Engine) -> None:
    attempt = await make().send(notification())
    assert attempt.outcome == "delivered", attempt
    assert attempt.response_excerpt == "2 statements committed"
    [(fingerprint, region, state, title, opened_at)] = rows(
        db, "select fingerprint, region, state, title, opened_at from incidents"
    )
    assert (fingerprint, region, state, title) == (
        "fp-revenue-eu",
        "EU",
        "firing",
        "Revenue down 40% in EU",
    )
    opened = opened_at if isinstance(opened_at, datetime) else datetime.fromisoformat(opened_at)
    assert opened.replace(tzinfo=None) == datetime(2025, 3, 1, 12, 0)
    assert counter(db) == 1
    assert keys(db) == [("acme:ntf-0001", "incidents")]
    [(done_at,)] = rows(db, "select done_at from gnomon_action_keys")
    done = done_at if isinstance(done_at, datetime) else datetime.fromisoformat(done_at)
    assert done.replace(tzinfo=None) == NOW.replace(tzinfo=None)


async def test_values_are_bound_never_formatted(make: Callable[..., Any], db: Engine) -> None:
    title = "x'); delete from counters; --"
    attempt = await make().send(notification(title=title))
    assert attempt.outcome == "delivered", attempt
    assert rows(db, "select title from incidents") == [(title,)]
    assert counter(db) == 1


async def test_a_failing_second_statement_rolls_back_the_first(
    make: Callable[..., Any], db: Engine
) -> None:
    channel = make(statements=[COUNT, "insert into no_such_table values (:key)"])
    attempt = await channel.send(notification())
    assert attempt.outcome == "failed", attempt
    assert attempt.error is not None
    assert attempt.error.startswith("statement 2 of 2: ")
    assert "no_such_table" in attempt.error
    assert "rolled back" in attempt.error
    assert counter(db) == 0, "the first statement is undone"
    assert keys(db) == [], "the key goes with it, so a retry runs everything"


async def test_a_violated_constraint_fails_and_rolls_back(
    make: Callable[..., Any], db: Engine
) -> None:
    channel = make(statements=[COUNT, INSERT])
    assert (await channel.send(notification(key="k1"))).outcome == "delivered"
    attempt = await channel.send(notification(key="k2"))
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "IntegrityError" in attempt.error or "UniqueViolation" in attempt.error
    assert counter(db) == 1
    assert keys(db) == [("acme:k1", "incidents")]


async def test_a_duplicate_key_runs_once(make: Callable[..., Any], db: Engine) -> None:
    channel = make()
    first = await channel.send(notification())
    again = await channel.send(notification())
    other_channel = await make().send(notification())
    assert [first.outcome, again.outcome, other_channel.outcome] == ["delivered"] * 3
    assert "already done" in again.response_excerpt
    assert counter(db) == 1
    assert len(rows(db, "select * from incidents")) == 1


async def test_the_same_key_of_another_tenant_is_another_action(
    make: Callable[..., Any], db: Engine
) -> None:
    channel = make(statements=[COUNT])
    await channel.send(notification(tenant="acme"))
    await channel.send(notification(tenant="globex"))
    assert counter(db) == 2


async def test_concurrent_sends_of_one_key_run_once(make: Callable[..., Any], db: Engine) -> None:
    a, b = make(statements=[COUNT]), make(statements=[COUNT])
    attempts = await asyncio.gather(*(ch.send(notification()) for ch in (a, b, a, b)))
    assert [attempt.outcome for attempt in attempts] == ["delivered"] * 4
    assert counter(db) == 1


async def test_resolved_runs_the_compensation(make: Callable[..., Any], db: Engine) -> None:
    channel = make(compensate=[DELETE])
    await channel.send(notification())
    assert len(rows(db, "select * from incidents")) == 1
    attempt = await channel.send(notification(key="ntf-0002", state="resolved"))
    assert attempt.outcome == "delivered", attempt
    assert rows(db, "select * from incidents") == []
    assert counter(db) == 1, "resolved runs compensate, not statements"
    assert keys(db) == [("acme:ntf-0001", "incidents"), ("acme:ntf-0002", "incidents")]


async def test_without_compensation_resolved_and_acknowledged_do_nothing(
    make: Callable[..., Any], db: Engine
) -> None:
    channel = make()
    resolved = await channel.send(notification(state="resolved"))
    acknowledged = await channel.send(notification(key="k-ack", state="acknowledged"))
    assert resolved.outcome == acknowledged.outcome == "delivered"
    assert resolved.response_excerpt == "nothing to run for a resolved notification"
    assert rows(db, "select * from incidents") == []
    assert counter(db) == 0


async def test_bad_sql_fails(make: Callable[..., Any], db: Engine) -> None:
    attempt = await make(statements=["updte counters set n = 1"]).send(notification())
    assert attempt.outcome == "failed", attempt
    assert attempt.error is not None
    assert attempt.error.startswith("statement 1 of 1: ")
    assert "syntax" in attempt.error.lower()
    assert keys(db) == []


async def test_a_missing_label_fails_before_anything_runs(
    make: Callable[..., Any], db: Engine
) -> None:
    attempt = await make().send(notification(labels={"metric": "revenue"}))
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert ":label_region" in attempt.error
    assert "'region'" in attempt.error
    assert counter(db) == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(f"postgresql://gnomon:pw-secret-9@127.0.0.1:{closed_port()}/x", id="pg"),
        pytest.param("sqlite:////nonexistent-dir-gnomon/actions.db", id="sqlite"),
    ],
)
async def test_an_unreachable_database_is_retried(url: str) -> None:
    channel = build_channel(
        "incidents",
        {"kind": "database", "url": url, "statements": [COUNT], "timeout_s": 5},
    )
    try:
        attempt = await channel.send(notification())
    finally:
        await channel.aclose()
    assert attempt.outcome == "retry", attempt
    assert attempt.error is not None
    assert "pw-secret-9" not in attempt.error
    assert "pw-secret-9" not in channel.endpoint


@pytest.mark.postgres
async def test_a_statement_over_the_timeout_is_cancelled_and_retried(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("create table marks (key varchar(50))"))
    channel = build_channel(
        "slow",
        {
            "kind": "database",
            "url": postgres_url,
            "statements": ["insert into marks values (:key)", "select pg_sleep(30)"],
            "timeout_s": 1,
        },
    )
    try:
        attempt = await channel.send(notification())
    finally:
        await channel.aclose()
    assert attempt.outcome == "retry", attempt
    assert attempt.error is not None
    assert attempt.error.startswith("statement 2 of 2: ")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from marks")).scalar() == 0
    engine.dispose()
