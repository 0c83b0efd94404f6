"""A dispatcher killed mid-delivery: its successor takes over once the leases expire.

The dispatcher runs in a process of its own; the receiver holds its requests unanswered until
the process is SIGKILLed, so it dies with sends in flight and claims it never recorded. A new
dispatcher takes over after the leases expire. Every notification must arrive, each under its
one key; the requests the dead process had sent arrive a second time with the same key, which
is what at-least-once means, and are counted.
"""

import asyncio
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest

from gnomon.actions import Dispatcher, build_channel
from gnomon.catalog import Catalog
from tests.integration.actions.dispatch.outbox import (
    FAST,
    counts,
    fill,
    outbox,
    running,
    until,
    until_all_delivered,
)
from tests.integration.actions.dispatch.worker import PER_ENDPOINT
from tests.integration.actions.receiver import Hang, Receiver, Recorded, Respond

pytestmark = pytest.mark.anyio

WORKER = Path(__file__).resolve().with_name("worker.py")
COUNT = 12
LEASE_S = 1.5


async def test_a_killed_dispatchers_notifications_all_arrive_under_their_keys(
    catalog: Catalog, catalog_url: str, receiver: Receiver
) -> None:
    phase = {"holding": True}
    accepted: list[Recorded] = []

    def answer(request: Recorded) -> Hang | Respond:
        if phase["holding"]:
            return Hang()
        accepted.append(request)
        return Respond()

    receiver.default("/hook", answer)
    keys = fill(catalog, COUNT)

    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        catalog_url,
        receiver.url(),
        "doomed",
        str(LEASE_S),
    )
    try:
        await until(lambda: len(receiver.requests) >= PER_ENDPOINT)
        claimed = outbox(catalog)
    finally:
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    held = [r.headers["idempotency-key"] for r in receiver.requests]

    assert doomed.returncode == -signal.SIGKILL
    assert [(n.status, n.lease_owner) for n in claimed] == [("delivering", "doomed")] * COUNT
    assert len(held) == PER_ENDPOINT

    phase["holding"] = False
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url(), "timeout_s": 10})
    successor = Dispatcher(catalog, {"ops": channel}, owner="successor", policy=FAST)
    try:
        async with running(successor) as run:
            await until_all_delivered(catalog)
    finally:
        await channel.aclose()
    [report] = run

    # Each notification was accepted exactly once, under its own key ...
    assert counts(accepted) == dict.fromkeys(keys, 1)
    # ... and every request carried one notification's key, and only its own: a notification
    # arrived twice only with the same key, and only when the dead process had sent it.
    arrived = counts(receiver.requests)
    duplicates = {key: seen - 1 for key, seen in arrived.items() if seen > 1}
    assert set(arrived) == set(keys)
    assert duplicates == dict.fromkeys(held, 1)
    assert sum(arrived.values()) == COUNT + len(duplicates)
    assert report.delivered == COUNT
    # The successor recorded the dead process's unknown attempts before its own.
    notifications = outbox(catalog)
    with catalog.transaction() as tx:
        logs = [tx.deliveries.list(n.id, tenant="acme") for n in notifications]
    assert Counter(tuple((a.owner, a.outcome) for a in log) for log in logs) == {
        (("doomed", "retry"), ("successor", "delivered")): COUNT
    }
