"""Two dispatchers on one PostgreSQL catalog never deliver the same notification at once."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from gnomon.actions import Dispatcher, DispatchReport, build_channel
from gnomon.catalog import Catalog
from tests.integration.actions.dispatch.outbox import (
    FAST,
    Watch,
    Watched,
    counts,
    fill,
    outbox,
    running,
    until,
    until_all_delivered,
)
from tests.integration.actions.receiver import Receiver

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


@pytest.fixture
def catalogs(postgres_url: str) -> Iterator[tuple[Catalog, Catalog]]:
    """Two catalogs on one fresh PostgreSQL database, as two processes would have."""
    first, second = Catalog(postgres_url), Catalog(postgres_url)
    first.migrate()
    with first.transaction() as tx:
        tx.tenants.ensure("acme")
    yield first, second
    first.dispose()
    second.dispose()


@asynccontextmanager
async def pair(
    catalogs: tuple[Catalog, Catalog], url: str, *, gate_a: asyncio.Event | None = None
) -> AsyncIterator[tuple[Dispatcher, Dispatcher, Watch]]:
    """Dispatchers A and B, one per catalog, whose sends are watched together.

    With ``gate_a``, A's sends wait for it before they go out.
    """
    watch = Watch()
    channels = [build_channel("ops", {"kind": "webhook", "url": url}) for _ in catalogs]
    a, b = (
        Dispatcher(catalog, {"ops": Watched(channel, watch, gate)}, owner=owner, policy=FAST)
        for owner, catalog, channel, gate in zip(
            "AB", catalogs, channels, (gate_a, None), strict=True
        )
    )
    try:
        yield a, b, watch
    finally:
        for channel in channels:
            await channel.aclose()


async def test_a_dispatcher_never_takes_what_another_has_in_flight(
    catalogs: tuple[Catalog, Catalog], receiver: Receiver
) -> None:
    keys = fill(catalogs[0], 10)
    gate = asyncio.Event()

    async with pair(catalogs, receiver.url(), gate_a=gate) as (a, b, watch):
        a_round = asyncio.create_task(a.run_once(limit=4))
        await until(lambda: len(watch.in_flight) == 4)
        a_keys = set(watch.in_flight)
        b_round = await b.run_once(limit=100)
        b_keys = set(counts(receiver.requests))
        gate.set()
        a_report = await a_round

    # While A's four were in flight, B took the six others and none of A's.
    assert b_round == DispatchReport(claimed=6, delivered=6)
    assert a_keys.isdisjoint(b_keys)
    assert a_keys | b_keys == set(keys)
    assert a_report == DispatchReport(claimed=4, delivered=4)
    assert counts(receiver.requests) == dict.fromkeys(keys, 1)
    assert watch.overlaps == []


async def test_racing_dispatchers_deliver_each_notification_once(
    catalogs: tuple[Catalog, Catalog], receiver: Receiver
) -> None:
    keys = fill(catalogs[0], 60)

    async with (
        pair(catalogs, receiver.url()) as (a, b, watch),
        running(a, limit=5) as a_run,
        running(b, limit=5) as b_run,
    ):
        await until_all_delivered(catalogs[0])

    assert counts(receiver.requests) == dict.fromkeys(keys, 1)
    assert watch.overlaps == []
    assert a_run[0].delivered + b_run[0].delivered == 60
    assert all(n.attempts == 1 for n in outbox(catalogs[0]))
