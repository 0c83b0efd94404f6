"""A receiver that is down for a while, then recovers: every notification arrives exactly once."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from gnomon.actions import CircuitBreaker, Dispatcher, build_channel
from gnomon.catalog import Catalog, DeliveryAttemptRecord, NotificationRecord
from gnomon.clock import SystemClock
from tests.integration.actions.dispatch.outbox import (
    FAST,
    SHORT_COOL_DOWN,
    counts,
    fill,
    outbox,
    running,
    until,
    until_all_delivered,
)
from tests.integration.actions.receiver import Receiver, Recorded, Respond, refused_url

pytestmark = pytest.mark.anyio

COUNT = 20
REFUSALS = 15


@asynccontextmanager
async def dispatching(catalog: Catalog, url: str) -> AsyncIterator[Dispatcher]:
    """A dispatcher with a fast schedule and a quick breaker, its channel closed afterwards."""
    clock = SystemClock()
    channel = build_channel("ops", {"kind": "webhook", "url": url, "timeout_s": 10}, clock=clock)
    breaker = CircuitBreaker(clock=clock, failure_threshold=3, cool_down=SHORT_COOL_DOWN)
    try:
        yield Dispatcher(catalog, {"ops": channel}, clock=clock, policy=FAST, breaker=breaker)
    finally:
        await channel.aclose()


async def listen_on(port: int) -> Receiver:
    """A receiver on a chosen port (the fixture's takes any free one)."""
    receiver = Receiver()
    receiver._server = await asyncio.start_server(receiver._handle, "127.0.0.1", port)
    receiver.port = port
    return receiver


async def test_a_receiver_answering_500_for_a_while_gets_each_notification_once(
    catalog: Catalog, receiver: Receiver
) -> None:
    down = {"answers": 0}
    accepted: list[Recorded] = []

    def answer(request: Recorded) -> Respond:
        # Down for the first REFUSALS requests, whatever time they take to come.
        if down["answers"] < REFUSALS:
            down["answers"] += 1
            return Respond(500, b"down for maintenance")
        accepted.append(request)
        return Respond()

    receiver.default("/hook", answer)
    keys = fill(catalog, COUNT)

    async with dispatching(catalog, receiver.url()) as dispatcher, running(dispatcher) as run:
        await until_all_delivered(catalog)
    [report] = run

    assert counts(accepted) == dict.fromkeys(keys, 1)
    assert down["answers"] == REFUSALS
    assert report.delivered == COUNT
    # Every refusal is logged as an attempt; deferrals by the open breaker are not attempts.
    attempts = [a for _, of_one in _by_notification(catalog) for a in of_one]
    assert Counter((a.outcome, a.status_code) for a in attempts) == {
        ("retry", 500): REFUSALS,
        ("delivered", 200): COUNT,
    }
    assert report.retried == REFUSALS
    assert all(n.attempts == len(of_one) for n, of_one in _by_notification(catalog))


async def test_a_receiver_refusing_connections_for_a_while_gets_each_notification_once(
    catalog: Catalog,
) -> None:
    url = refused_url()
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    keys = fill(catalog, COUNT)

    async with dispatching(catalog, url) as dispatcher, running(dispatcher) as run:
        # Refused until REFUSALS attempts have failed, however long that takes.
        await until(lambda: sum(n.attempts for n in outbox(catalog)) >= REFUSALS)
        receiver = await listen_on(port)
        try:
            await until_all_delivered(catalog)
        finally:
            await receiver.stop()
    [report] = run

    assert counts(receiver.requests) == dict.fromkeys(keys, 1)
    assert report.delivered == COUNT
    refusals = [
        a for _, attempts in _by_notification(catalog) for a in attempts if a.outcome == "retry"
    ]
    assert len(refusals) >= REFUSALS
    assert all(a.status_code is None and "Connect" in (a.error or "") for a in refusals)


def _by_notification(
    catalog: Catalog,
) -> list[tuple[NotificationRecord, list[DeliveryAttemptRecord]]]:
    notifications = outbox(catalog)
    with catalog.transaction() as tx:
        return [(n, tx.deliveries.list(n.id, tenant="acme")) for n in notifications]
