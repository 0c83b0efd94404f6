"""The dispatcher over a SQLite catalog, with scripted channels and a fixed clock."""

import asyncio
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gnomon.actions import (
    Attempt,
    BackoffPolicy,
    CircuitBreaker,
    Dispatcher,
    DispatchReport,
    Notification,
    enqueue,
    next_delay,
    notification_from,
)
from gnomon.catalog import Catalog, NotificationRecord
from gnomon.clock import FixedClock
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
DELIVERED = Attempt(outcome="delivered", status_code=200, response_excerpt="ok", latency_ms=12.0)
POLICY = BackoffPolicy(base_s=10, factor=2, cap_s=100, max_attempts=4)


def retry(**changes: object) -> Attempt:
    fields: dict[str, object] = {"outcome": "retry", "status_code": 503, "error": "answered 503"}
    return Attempt(**(fields | changes))  # type: ignore[arg-type]


class ScriptedChannel:
    """A channel whose attempts are scripted; ``hook`` runs inside each send."""

    kind = "scripted"

    def __init__(self, name: str, endpoint: str, *script: Attempt | Exception) -> None:
        self.name = name
        self.endpoint = endpoint
        self.sent: list[Notification] = []
        self.default: Attempt = DELIVERED
        self.hook: Callable[[Notification], Awaitable[None]] | None = None
        self._script: deque[Attempt | Exception] = deque(script)

    async def send(self, notification: Notification, /) -> Attempt:
        self.sent.append(notification)
        if self.hook is not None:
            await self.hook(notification)
        step = self._script.popleft() if self._script else self.default
        if isinstance(step, Exception):
            raise step
        return step

    async def aclose(self) -> None:
        return None


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def catalog(tmp_path: Path, clock: FixedClock) -> Iterator[Catalog]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", clock=clock)
    catalog.migrate()
    with catalog.transaction() as tx:
        tx.tenants.ensure("acme")
    yield catalog
    catalog.dispose()


def add(catalog: Catalog, *notifications: Notification) -> list[NotificationRecord]:
    with catalog.transaction() as tx:
        return [enqueue(tx, each) for each in notifications]


def stored(catalog: Catalog, record: NotificationRecord) -> NotificationRecord:
    with catalog.transaction() as tx:
        return tx.notifications.get(record.id, tenant=record.tenant)


def dispatcher(
    catalog: Catalog, clock: FixedClock, *channels: ScriptedChannel, **options: object
) -> Dispatcher:
    settings: dict[str, object] = {
        "clock": clock,
        "owner": "d1",
        "policy": POLICY,
        "lease": LEASE,
        "rng": random.Random(7),
    }
    return Dispatcher(catalog, {c.name: c for c in channels}, **(settings | options))  # type: ignore[arg-type]


async def eventually(condition: Callable[[], bool], *, within: float = 30.0) -> None:
    """Wait until ``condition()`` holds; ``within`` only bounds a hang, nothing is timed."""
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.01)


async def test_a_delivered_notification_is_recorded_with_its_attempt(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    [record] = add(catalog, notification())

    report = await dispatcher(catalog, clock, ops).run_once()

    assert report == DispatchReport(claimed=1, delivered=1)
    assert ops.sent == [notification()]
    after = stored(catalog, record)
    assert (after.status, after.attempts, after.delivered_at) == ("delivered", 1, START)
    assert (after.lease_owner, after.next_attempt_at, after.last_error) == (None, None, None)
    with catalog.transaction() as tx:
        [attempt] = tx.deliveries.list(record.id, tenant="acme")
    assert (attempt.number, attempt.owner, attempt.outcome) == (1, "d1", "delivered")
    assert (attempt.status_code, attempt.latency_ms, attempt.response_excerpt) == (200, 12.0, "ok")
    assert await dispatcher(catalog, clock, ops).run_once() == DispatchReport()


async def test_a_transient_failure_is_retried_on_schedule_with_the_same_key(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443", retry())
    [record] = add(catalog, notification())
    worker = dispatcher(catalog, clock, ops)

    first = await worker.run_once()
    expected_delay = next_delay(1, None, random.Random(7), policy=POLICY)
    assert expected_delay is not None
    due = START + timedelta(seconds=expected_delay)
    waiting = stored(catalog, record)
    assert first == DispatchReport(claimed=1, retried=1)
    assert (waiting.status, waiting.attempts, waiting.next_attempt_at) == ("pending", 1, due)
    assert waiting.last_error == "answered 503"

    clock.advance(due - START - timedelta(microseconds=1))
    assert await worker.run_once() == DispatchReport()
    clock.advance(timedelta(microseconds=1))
    assert await worker.run_once() == DispatchReport(claimed=1, delivered=1)

    assert [n.key for n in ops.sent] == ["ntf-0001", "ntf-0001"]
    with catalog.transaction() as tx:
        log = tx.deliveries.list(record.id, tenant="acme")
    assert [(a.number, a.outcome, a.status_code) for a in log] == [
        (1, "retry", 503),
        (2, "delivered", 200),
    ]


async def test_retry_after_delays_the_next_attempt_at_least_that_long(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443", retry(retry_after_s=500.0))
    [record] = add(catalog, notification())

    await dispatcher(catalog, clock, ops).run_once()

    assert stored(catalog, record).next_attempt_at == START + timedelta(seconds=500)


async def test_when_the_attempts_run_out_the_notification_is_dead(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    ops.default = retry()
    [record] = add(catalog, notification())
    worker = dispatcher(catalog, clock, ops)

    reports = []
    for _ in range(POLICY.max_attempts):
        reports.append(await worker.run_once())
        clock.advance(timedelta(seconds=POLICY.cap_s))

    assert reports == [DispatchReport(claimed=1, retried=1)] * (POLICY.max_attempts - 1) + [
        DispatchReport(claimed=1, dead=1)
    ]
    after = stored(catalog, record)
    assert (after.status, after.attempts, after.next_attempt_at) == ("dead", 4, None)
    assert len(ops.sent) == POLICY.max_attempts
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == DispatchReport()


async def test_a_permanent_failure_is_not_retried(catalog: Catalog, clock: FixedClock) -> None:
    refused = Attempt(outcome="failed", status_code=400, error="the receiver answered 400")
    ops = ScriptedChannel("ops", "https://ops.example:443", refused)
    [record] = add(catalog, notification())
    worker = dispatcher(catalog, clock, ops)

    assert await worker.run_once() == DispatchReport(claimed=1, failed=1)
    clock.advance(timedelta(days=1))
    assert await worker.run_once() == DispatchReport()

    after = stored(catalog, record)
    assert (after.status, after.attempts, after.last_error) == (
        "failed",
        1,
        "the receiver answered 400",
    )


async def test_an_unknown_channel_fails_at_once_naming_the_known_ones(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    pager = ScriptedChannel("pager", "https://pager.example:443")
    [record] = add(catalog, notification(channel="opps"))

    report = await dispatcher(catalog, clock, ops, pager).run_once()

    assert report == DispatchReport(claimed=1, failed=1)
    assert ops.sent == pager.sent == []
    after = stored(catalog, record)
    assert after.status == "failed"
    assert after.last_error is not None
    assert "No channel named 'opps'" in after.last_error
    assert "known channels: ops, pager" in after.last_error
    with catalog.transaction() as tx:
        [attempt] = tx.deliveries.list(record.id, tenant="acme")
    assert (attempt.outcome, attempt.error) == ("failed", after.last_error)


async def test_an_unreadable_payload_fails_without_a_send(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    with catalog.transaction() as tx:
        record = tx.notifications.add(
            tenant="acme",
            key="k",
            channel="ops",
            rule="r",
            fingerprint="f",
            state="firing",
            payload={"title": "no severity, summary or time"},
        )

    assert await dispatcher(catalog, clock, ops).run_once() == DispatchReport(claimed=1, failed=1)

    assert ops.sent == []
    last_error = stored(catalog, record).last_error
    assert last_error is not None
    assert "cannot be read" in last_error


async def test_an_open_breaker_defers_without_counting_an_attempt(
    catalog: Catalog, clock: FixedClock
) -> None:
    # Every retry asks for an hour, so only the deferred notifications are due after the
    # breaker's cool-down.
    ops = ScriptedChannel("ops", "https://ops.example:443", retry(retry_after_s=3600.0))
    ops.default = retry(retry_after_s=3600.0)
    records = add(catalog, *(notification(key=f"k{i}") for i in range(4)))
    breaker = CircuitBreaker(clock=clock, failure_threshold=2, cool_down=timedelta(seconds=60))
    worker = dispatcher(catalog, clock, ops, breaker=breaker, per_endpoint=1)

    first = await worker.run_once()

    assert first == DispatchReport(claimed=4, retried=2, deferred=2)
    assert [n.key for n in ops.sent] == ["k0", "k1"]
    held_back = [stored(catalog, r) for r in records[2:]]
    assert [(n.status, n.attempts) for n in held_back] == [("pending", 0), ("pending", 0)]
    assert [n.next_attempt_at for n in held_back] == [START + timedelta(seconds=60)] * 2

    ops.default = DELIVERED
    clock.advance(timedelta(seconds=60))
    second = await worker.run_once()

    # The first is the half-open breaker's probe; its answer closes the breaker for the next.
    assert second == DispatchReport(claimed=2, delivered=2)
    assert [n.key for n in ops.sent] == ["k0", "k1", "k2", "k3"]
    assert [stored(catalog, r).attempts for r in records] == [1, 1, 1, 1]


async def test_a_channel_that_raises_is_retried_and_the_round_goes_on(
    catalog: Catalog, clock: FixedClock
) -> None:
    broken = ScriptedChannel("broken", "https://broken.example:443", RuntimeError("plugin bug"))
    ops = ScriptedChannel("ops", "https://ops.example:443")
    bad, good = add(catalog, notification(key="a", channel="broken"), notification(key="b"))

    report = await dispatcher(catalog, clock, broken, ops).run_once()

    assert report == DispatchReport(claimed=2, retried=1, delivered=1)
    after = stored(catalog, bad)
    assert (after.status, after.attempts) == ("pending", 1)
    assert after.last_error == "The channel 'broken' raised RuntimeError: plugin bug"
    assert stored(catalog, good).status == "delivered"


async def test_a_malformed_attempt_from_a_plugin_is_stored_sanely(
    catalog: Catalog, clock: FixedClock
) -> None:
    odd = Attempt(outcome="sent", status_code=202)  # type: ignore[arg-type]
    nan = Attempt(outcome="delivered", status_code=200, latency_ms=float("nan"))
    plugin = ScriptedChannel("plugin", "https://plugin.example:443", odd, nan)
    first, second = add(
        catalog, notification(key="a", channel="plugin"), notification(key="b", channel="plugin")
    )

    report = await dispatcher(catalog, clock, plugin, per_endpoint=1).run_once()

    assert report == DispatchReport(claimed=2, retried=1, delivered=1)
    odd_after = stored(catalog, first)
    assert odd_after.status == "pending"
    assert odd_after.last_error is not None
    assert "unknown outcome 'sent'" in odd_after.last_error
    with catalog.transaction() as tx:
        [delivered] = tx.deliveries.list(second.id, tenant="acme")
    assert (delivered.outcome, delivered.latency_ms) == ("delivered", None)


async def test_sends_to_different_endpoints_are_in_flight_together(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    pager = ScriptedChannel("pager", "https://pager.example:443")
    started = {"ops": asyncio.Event(), "pager": asyncio.Event()}

    def meet(mine: str, other: str) -> Callable[[Notification], Awaitable[None]]:
        async def hook(_: Notification) -> None:
            started[mine].set()
            await started[other].wait()

        return hook

    ops.hook, pager.hook = meet("ops", "pager"), meet("pager", "ops")
    add(catalog, notification(key="a"), notification(key="b", channel="pager"))

    # Each send waits until the other has started: sent one after the other, they would hang.
    async with asyncio.timeout(30):
        report = await dispatcher(catalog, clock, ops, pager).run_once()

    assert report == DispatchReport(claimed=2, delivered=2)


async def test_sends_in_flight_are_bounded_per_endpoint_and_overall(
    catalog: Catalog, clock: FixedClock
) -> None:
    in_flight = {"total": 0}
    peaks: dict[str, int] = {}

    def track(endpoint: str) -> Callable[[Notification], Awaitable[None]]:
        async def hook(__: Notification) -> None:
            in_flight[endpoint] = in_flight.get(endpoint, 0) + 1
            in_flight["total"] += 1
            for key in (endpoint, "total"):
                peaks[key] = max(peaks.get(key, 0), in_flight[key])
            for _ in range(5):
                await asyncio.sleep(0)
            in_flight[endpoint] -= 1
            in_flight["total"] -= 1

        return hook

    channels = [ScriptedChannel(f"c{i}", f"https://e{i}.example:443") for i in range(3)]
    for channel in channels:
        channel.hook = track(channel.endpoint)
    add(catalog, *(notification(key=f"k{i}", channel=f"c{i % 3}") for i in range(12)))

    report = await dispatcher(catalog, clock, *channels, per_endpoint=2, concurrency=5).run_once()

    assert report == DispatchReport(claimed=12, delivered=12)
    assert [peaks[c.endpoint] for c in channels] == [2, 2, 2]
    assert peaks["total"] == 5


async def test_an_abandoned_claim_is_taken_over_once_its_lease_expires(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")
    [record] = add(catalog, notification())
    with catalog.transaction() as tx:
        tx.notifications.claim(owner="crashed", lease=LEASE, now=START)
    worker = dispatcher(catalog, clock, ops, owner="d2")

    assert await worker.run_once() == DispatchReport()
    clock.advance(LEASE)
    assert await worker.run_once() == DispatchReport(claimed=1, delivered=1)

    with catalog.transaction() as tx:
        log = tx.deliveries.list(record.id, tenant="acme")
    assert [(a.number, a.owner, a.outcome) for a in log] == [
        (1, "crashed", "retry"),
        (2, "d2", "delivered"),
    ]
    assert [n.key for n in ops.sent] == ["ntf-0001"]


async def test_an_attempt_after_losing_the_claim_leaves_the_status_to_the_new_holder(
    catalog: Catalog, clock: FixedClock
) -> None:
    release = asyncio.Event()
    slow = ScriptedChannel("ops", "https://ops.example:443", retry())

    async def hold(_: Notification) -> None:
        await release.wait()

    slow.hook = hold
    fast = ScriptedChannel("ops", "https://ops.example:443")
    [record] = add(catalog, notification())
    stalled = dispatcher(catalog, clock, slow, owner="stalled")
    taking_over = dispatcher(catalog, clock, fast, owner="d2")

    first = asyncio.create_task(stalled.run_once())
    await eventually(lambda: bool(slow.sent))
    clock.advance(LEASE)
    assert await taking_over.run_once() == DispatchReport(claimed=1, delivered=1)
    release.set()

    assert await first == DispatchReport(claimed=1, superseded=1)
    after = stored(catalog, record)
    assert (after.status, after.attempts) == ("delivered", 3)
    with catalog.transaction() as tx:
        log = tx.deliveries.list(record.id, tenant="acme")
    assert [(a.owner, a.outcome) for a in log] == [
        ("stalled", "retry"),
        ("d2", "delivered"),
        ("stalled", "retry"),
    ]


async def test_run_renews_the_leases_of_sends_in_flight_until_stopped(
    catalog: Catalog, clock: FixedClock
) -> None:
    release = asyncio.Event()
    ops = ScriptedChannel("ops", "https://ops.example:443")

    async def hold(_: Notification) -> None:
        await release.wait()

    ops.hook = hold
    [record] = add(catalog, notification())
    lease = timedelta(seconds=0.3)
    worker = dispatcher(catalog, clock, ops, lease=lease)
    rival = dispatcher(catalog, clock, ScriptedChannel("ops", "x"), owner="rival", lease=lease)
    stop = asyncio.Event()

    running = asyncio.create_task(worker.run(stop, poll_interval=0.05))
    await eventually(lambda: bool(ops.sent))
    later = clock.advance(timedelta(hours=1))
    await eventually(lambda: stored(catalog, record).lease_expires_at == later + lease)
    assert await rival.run_once() == DispatchReport()
    release.set()
    await eventually(lambda: stored(catalog, record).status == "delivered")
    stop.set()

    assert await running == DispatchReport(claimed=1, delivered=1)
    assert len(ops.sent) == 1


async def test_a_cancelled_round_hands_its_claims_back_without_an_attempt(
    catalog: Catalog, clock: FixedClock
) -> None:
    ops = ScriptedChannel("ops", "https://ops.example:443")

    async def never(_: Notification) -> None:
        await asyncio.Event().wait()

    ops.hook = never
    records = add(catalog, notification(key="a"), notification(key="b"))
    round_ = asyncio.create_task(dispatcher(catalog, clock, ops, per_endpoint=1).run_once())
    await eventually(lambda: bool(ops.sent))

    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_

    after = [stored(catalog, r) for r in records]
    assert [(n.status, n.attempts, n.lease_owner) for n in after] == [("pending", 0, None)] * 2


async def test_an_enqueued_notification_reads_back_as_it_was(catalog: Catalog) -> None:
    original = notification(labels={"region": "EU"}, data={"value": 1.5, "links": []})
    [record] = add(catalog, original)
    [again] = add(catalog, notification(title="changed"))

    assert notification_from(record) == original
    assert again.id == record.id
    assert notification_from(again) == original
