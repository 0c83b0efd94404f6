"""Helpers of the dispatch tests: filling the outbox, reading it, and watching sends."""

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from gnomon.actions import (
    Attempt,
    BackoffPolicy,
    Channel,
    Dispatcher,
    DispatchReport,
    Notification,
    enqueue,
)
from gnomon.catalog import Catalog, NotificationRecord
from tests.integration.actions.receiver import Recorded
from tests.unit.actions.samples import notification

FAST = BackoffPolicy(base_s=0.05, factor=2, cap_s=0.2, max_attempts=1000)
"""Retries within a fraction of a second, and enough of them to outlast any outage here."""

SHORT_COOL_DOWN = timedelta(seconds=0.2)


def fill(catalog: Catalog, count: int) -> list[str]:
    """Queue ``count`` notifications of distinct alerts to channel ``ops``; their keys."""
    with catalog.transaction() as tx:
        return [
            enqueue(tx, notification(key=f"ntf-{i:03d}", fingerprint=f"fp-{i:03d}")).key
            for i in range(count)
        ]


def outbox(catalog: Catalog) -> list[NotificationRecord]:
    with catalog.transaction() as tx:
        return tx.notifications.list(tenant="acme", limit=10_000)


async def until_all_delivered(catalog: Catalog, *, within: float = 60.0) -> None:
    """Wait until every notification is delivered; ``within`` only bounds a hang."""
    await until(lambda: all(n.status == "delivered" for n in outbox(catalog)), within=within)


async def until(condition: Callable[[], bool], *, within: float = 60.0) -> None:
    """Poll ``condition`` (in a thread: it may read the catalog) until it holds."""
    async with asyncio.timeout(within):
        while not await asyncio.to_thread(condition):
            await asyncio.sleep(0.02)


@asynccontextmanager
async def running(
    dispatcher: Dispatcher, *, limit: int = 100
) -> AsyncIterator[list[DispatchReport]]:
    """Run ``dispatcher`` for the block; afterwards the list holds what the run did."""
    stop = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stop, poll_interval=0.02, limit=limit))
    reports: list[DispatchReport] = []
    try:
        yield reports
    finally:
        stop.set()
        reports.append(await task)


def key_of(request: Recorded) -> str:
    """The request's idempotency key, checked against the key in the body it carries."""
    key = request.headers["idempotency-key"]
    body = json.loads(request.body)
    assert body["key"] == key, "a request carried another notification's body"
    return key


def counts(requests: list[Recorded]) -> Counter[str]:
    return Counter(key_of(request) for request in requests)


class Watch:
    """What watched channels share: the keys in flight, and each key sent while in flight."""

    def __init__(self) -> None:
        self.in_flight: set[str] = set()
        self.overlaps: list[str] = []


class Watched:
    """A channel wrapper that notes a key sent while the same key is already in flight.

    With a ``gate``, each send waits for it (counted as in flight) before it goes out.
    """

    def __init__(self, inner: Channel, watch: Watch, gate: asyncio.Event | None = None) -> None:
        self._inner = inner
        self.name = inner.name
        self.kind = inner.kind
        self.endpoint = inner.endpoint
        self._watch = watch
        self._gate = gate

    async def send(self, notification: Notification, /) -> Attempt:
        if notification.key in self._watch.in_flight:
            self._watch.overlaps.append(notification.key)
        self._watch.in_flight.add(notification.key)
        try:
            if self._gate is not None:
                await self._gate.wait()
            return await self._inner.send(notification)
        finally:
            self._watch.in_flight.discard(notification.key)

    async def aclose(self) -> None:
        await self._inner.aclose()
