"""The dispatcher: delivers the notification outbox through the channels, at least once.

Policy, and why:

- **Nothing is lost.** Notifications are rows in the catalog, added in the transaction that
  changes their alert (:func:`enqueue`). A dispatcher claims due rows under a lease, sends
  each through its channel and records the attempt in a transaction of its own, so a crash
  loses at most the outcome of the attempts in flight, never a notification.
- **At least once, with one idempotency key.** A notification is marked delivered only after
  the receiver accepted it. A dispatcher that dies between sending and recording leaves its
  claims to expire; another dispatcher takes them over and sends again with the same key
  (``Idempotency-Key``; an e-mail's Message-ID), by which receivers drop the repeat. The
  takeover records the unknown attempt, which counts towards the attempts allowed, so a
  notification whose sending kills its dispatcher every time ends ``dead``.
- **Retries are scheduled, not slept.** A transient failure (``retry``) sets the next attempt
  time from :func:`gnomon.actions.backoff.next_delay`; any dispatcher claims it when it comes.
  A permanent failure (``failed``: a 4xx, a template that does not render, a channel name
  nobody configured) is not retried. When the attempts run out the notification is ``dead``.
- **A receiver that is down is left alone.** Sends to one endpoint pass the
  :class:`gnomon.actions.breaker.CircuitBreaker`; while it is open, the notification is handed
  back for when it lets a probe through, without counting an attempt.
- **Bounded concurrency.** Each endpoint takes ``per_endpoint`` sends at a time, in the order
  claimed (oldest due first), and all endpoints together ``concurrency``: a slow receiver does
  not hold up the others, and a fast one is not flooded.

The catalog is synchronous; its calls run in worker threads so that sends keep going while a
transaction waits for a lock.
"""

import asyncio
import logging
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from gnomon.actions.backoff import DEFAULT_BACKOFF, BackoffPolicy, next_delay
from gnomon.actions.breaker import CircuitBreaker
from gnomon.actions.models import AlertState, Attempt, AttemptOutcome, Notification
from gnomon.catalog import DeliveryAttemptInput, process_owner
from gnomon.errors import Unavailable

if TYPE_CHECKING:
    from gnomon.actions.protocols import Channel
    from gnomon.catalog import Catalog, CatalogTransaction, NotificationRecord
    from gnomon.clock import Clock

__all__ = ["DispatchReport", "Dispatcher", "enqueue", "notification_from"]

logger = logging.getLogger(__name__)

_OUTCOMES: tuple[str, ...] = get_args(AttemptOutcome)

_Result = Literal["delivered", "retried", "failed", "dead", "deferred", "superseded", "unrecorded"]


def enqueue(
    tx: "CatalogTransaction", notification: Notification, *, not_before: datetime | None = None
) -> "NotificationRecord":
    """Put a notification in the outbox, in the caller's transaction.

    Call it in the transaction that changes the alert, so the notification is stored exactly
    when the change is. A key the tenant already has is not added again: the stored
    notification is returned, whatever became of it.

    Raises:
        InvalidInput: a field cannot be stored (see ``tx.notifications.add``).
        TenantNotFound: the notification's tenant does not exist.
    """
    return tx.notifications.add(
        tenant=notification.tenant,
        key=notification.key,
        channel=notification.channel,
        rule=notification.rule,
        fingerprint=notification.fingerprint,
        state=notification.state,
        payload=notification.to_dict(),
        not_before=not_before,
    )


def notification_from(record: "NotificationRecord") -> Notification:
    """The notification an outbox record holds; key, channel, rule and tenant from the row.

    Raises:
        KeyError, TypeError, ValueError: the payload is not a notification's fields.
    """
    payload = record.payload
    created_at = payload["created_at"]
    if not isinstance(created_at, str):
        raise TypeError(f"created_at must be an ISO 8601 string, got {created_at!r}")
    return Notification(
        key=record.key,
        channel=record.channel,
        rule=record.rule,
        fingerprint=record.fingerprint,
        state=cast(AlertState, record.state),
        severity=_text(payload, "severity"),
        title=_text(payload, "title"),
        summary=_text(payload, "summary"),
        labels={str(k): str(v) for k, v in _mapping(payload, "labels").items()},
        data=dict(_mapping(payload, "data")),
        created_at=datetime.fromisoformat(created_at),
        tenant=record.tenant,
    )


def _text(payload: Mapping[str, Any], name: str) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    return value


def _mapping(payload: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = payload.get(name, {})
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping, got {value!r}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatchReport:
    """What one round (or a whole run) of dispatching did, in notifications.

    Attributes:
        claimed: taken from the outbox.
        delivered: accepted by their receiver.
        retried: failed transiently and scheduled again.
        failed: failed permanently (refused, unknown channel, unreadable); not retried.
        dead: failed transiently with no attempt left.
        deferred: held back by an open circuit breaker; no attempt counted.
        superseded: attempted, but another dispatcher had taken the claim over meanwhile;
            the attempt is logged and the status left to the new holder.
        unrecorded: attempted, but the catalog could not be reached to record it; the claim
            expires and the notification is sent again.
    """

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0
    superseded: int = 0
    unrecorded: int = 0

    def __add__(self, other: "DispatchReport") -> "DispatchReport":
        return DispatchReport(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


class Dispatcher:
    """Claims due notifications from the outbox and delivers each through its channel.

    Several dispatchers, in one process or many, may serve one catalog: claims never overlap
    while their leases run, and an expired lease is taken over.

    Args:
        catalog: where the outbox is.
        channels: the configured channels by name; a notification to a name not here fails
            permanently, naming the known ones.
        clock: the time source for claims, leases and schedules; the catalog's by default.
        owner: names this dispatcher in leases and attempts; unique per process
            (``host:pid:nonce``) by default.
        policy: the retry schedule and the attempts allowed.
        breaker: the circuit breaker per endpoint; one with default settings by default.
        lease: how long a claim lasts; :meth:`run` renews the claims of sends in flight every
            third of it, :meth:`run_once` alone does not, so give it longer than a round takes.
        concurrency: sends in flight at once, over all endpoints.
        per_endpoint: sends in flight at once to one endpoint.
        rng: the source of backoff jitter; seed it to reproduce a schedule.
    """

    def __init__(
        self,
        catalog: "Catalog",
        channels: Mapping[str, "Channel"],
        *,
        clock: "Clock | None" = None,
        owner: str | None = None,
        policy: BackoffPolicy = DEFAULT_BACKOFF,
        breaker: CircuitBreaker | None = None,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 16,
        per_endpoint: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        if lease <= timedelta(0):
            raise ValueError("Dispatcher lease must be positive")
        if concurrency < 1 or per_endpoint < 1:
            raise ValueError("Dispatcher concurrency and per_endpoint must be at least 1")
        self._catalog = catalog
        self._channels = dict(channels)
        self._clock: Clock = clock or catalog.clock
        self.owner = owner or process_owner()
        self._policy = policy
        self._breaker = breaker or CircuitBreaker(clock=self._clock)
        self._lease = lease
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy
        self._in_flight: set[int] = set()

    def __repr__(self) -> str:
        return f"Dispatcher(owner={self.owner!r}, channels={sorted(self._channels)!r})"

    async def run_once(self, limit: int = 100) -> DispatchReport:
        """Claim up to ``limit`` due notifications, send them, and record every attempt.

        Returns when every claimed notification has been attempted (or deferred). Cancelled,
        it hands back the claims it has not recorded, without counting an attempt.

        Raises:
            CatalogUnavailable: the catalog could not be reached to claim.
        """
        claimed = await asyncio.to_thread(self._claim, limit)
        if not claimed:
            return DispatchReport()
        ids = [record.id for record in claimed]
        self._in_flight.update(ids)
        slots = asyncio.Semaphore(self._concurrency)
        lanes: dict[str, asyncio.Semaphore] = {}
        tasks = [asyncio.create_task(self._dispatch(r, slots, lanes)) for r in claimed]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(self._release, ids, None)
            raise
        finally:
            self._in_flight.difference_update(ids)
        tally = {name: results.count(name) for name in set(results)}
        return DispatchReport(claimed=len(claimed), **tally)

    async def run(
        self,
        stop_event: asyncio.Event,
        *,
        poll_interval: float = 1.0,
        limit: int = 100,
        wake: asyncio.Event | None = None,
    ) -> DispatchReport:
        """Dispatch until ``stop_event`` is set; returns what the whole run did.

        Claims again at once after a full round (more may be due), otherwise after
        ``poll_interval`` seconds, or as soon as ``wake`` is set (by whoever just queued a
        notification). Meanwhile it renews the leases of the sends in flight. A catalog that
        cannot be reached is logged and tried again at the next poll. On stop it finishes the
        round in flight first.
        """
        keeper = asyncio.create_task(self._keep_leases())
        total = DispatchReport()
        try:
            while not stop_event.is_set():
                try:
                    report = await self.run_once(limit)
                except Unavailable as exc:
                    logger.warning("dispatcher %s cannot claim: %s", self.owner, exc)
                    report = DispatchReport()
                total += report
                if report.claimed >= limit:
                    continue
                await _pause(stop_event, wake, poll_interval)
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
        return total

    async def _dispatch(
        self,
        record: "NotificationRecord",
        slots: asyncio.Semaphore,
        lanes: dict[str, asyncio.Semaphore],
    ) -> _Result:
        channel = self._channels.get(record.channel)
        if channel is None:
            return await self._finish(record, self._unknown_channel(record.channel))
        try:
            notification = notification_from(record)
        except (KeyError, TypeError, ValueError) as exc:
            unreadable = Attempt(
                outcome="failed",
                error=f"The stored notification cannot be read ({type(exc).__name__}: {exc});"
                " it was not added through gnomon.actions.enqueue.",
            )
            return await self._finish(record, unreadable)
        endpoint = channel.endpoint
        lane = lanes.setdefault(endpoint, asyncio.Semaphore(self._per_endpoint))
        async with lane, slots:
            if not self._breaker.allow(endpoint):
                await asyncio.to_thread(self._release, [record.id], self._deferral(endpoint))
                self._in_flight.discard(record.id)
                return "deferred"
            started = self._clock.now()
            attempt = await self._send(channel, notification)
            finished = self._clock.now()
        self._breaker.record(endpoint, attempt)
        return await self._finish(record, attempt, started=started, finished=finished)

    async def _send(self, channel: "Channel", notification: Notification) -> Attempt:
        # A channel must not raise (Channel.send). One that does, a plugin's bug, must not sink
        # the round: the error is logged and recorded, and the notification retried.
        try:
            attempt = await channel.send(notification)
        except Exception as exc:
            logger.exception(
                "channel %s raised instead of reporting an attempt",
                channel.name,
                extra={"tenant": notification.tenant, "idempotency_key": notification.key},
            )
            return Attempt(
                outcome="retry",
                error=f"The channel {channel.name!r} raised {type(exc).__name__}: {exc}",
            )
        return _storable(attempt, channel.name)

    async def _finish(
        self,
        record: "NotificationRecord",
        attempt: Attempt,
        *,
        started: datetime | None = None,
        finished: datetime | None = None,
    ) -> _Result:
        now = self._clock.now()
        started = started or now
        finished = finished or now
        retry_at: datetime | None = None
        if attempt.outcome == "retry":
            delay = next_delay(
                record.attempts + 1, attempt.retry_after_s, self._rng, policy=self._policy
            )
            retry_at = None if delay is None else finished + timedelta(seconds=delay)
        stored = DeliveryAttemptInput(
            outcome=attempt.outcome,
            started_at=started,
            finished_at=finished,
            status_code=attempt.status_code,
            latency_ms=_latency(attempt.latency_ms),
            response_excerpt=attempt.response_excerpt,
            error=attempt.error,
            reference=attempt.reference,
        )
        try:
            after = await asyncio.to_thread(self._store, record.id, stored, retry_at)
        except Unavailable as exc:
            logger.warning(
                "could not record the attempt of notification %s; it will be sent again: %s",
                record.id,
                exc,
                extra={"tenant": record.tenant, "idempotency_key": record.key},
            )
            return "unrecorded"
        finally:
            self._in_flight.discard(record.id)
        return _result(attempt, after)

    def _unknown_channel(self, name: str) -> Attempt:
        known = ", ".join(sorted(self._channels)) or "none"
        return Attempt(
            outcome="failed",
            error=f"No channel named {name!r} is configured (known channels: {known}). Declare it"
            " under channels:, or fix the rule's notify list.",
        )

    def _deferral(self, endpoint: str) -> datetime:
        """When to try an endpoint whose breaker is open: when it lets a probe through.

        While a probe is already in flight (half-open), the breaker names a time that has
        passed; wait the policy's base delay rather than claiming the notification in a loop.
        """
        now = self._clock.now()
        until = self._breaker.opens_until(endpoint)
        if until is None or until <= now:
            return now + timedelta(seconds=self._policy.base_s)
        return until

    async def _keep_leases(self) -> None:
        interval = self._lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            held = sorted(self._in_flight)
            if not held:
                continue
            try:
                kept = await asyncio.to_thread(self._renew, held)
            except Unavailable as exc:
                logger.warning("dispatcher %s could not renew its leases: %s", self.owner, exc)
                continue
            lost = (set(held) - set(kept)) & self._in_flight
            if lost:
                logger.warning(
                    "dispatcher %s lost its claim on notifications %s to another dispatcher",
                    self.owner,
                    sorted(lost),
                )

    # Catalog calls, each one short transaction, run in worker threads.

    def _claim(self, limit: int) -> list["NotificationRecord"]:
        with self._catalog.transaction() as tx:
            return tx.notifications.claim(
                owner=self.owner,
                lease=self._lease,
                limit=limit,
                now=self._clock.now(),
                max_attempts=self._policy.max_attempts,
            )

    def _renew(self, ids: list[int]) -> list[int]:
        with self._catalog.transaction() as tx:
            return tx.notifications.renew(
                ids, owner=self.owner, lease=self._lease, now=self._clock.now()
            )

    def _release(self, ids: Iterable[int], until: datetime | None) -> None:
        with self._catalog.transaction() as tx:
            tx.notifications.release(ids, owner=self.owner, next_attempt_at=until)

    def _store(
        self, id: int, attempt: DeliveryAttemptInput, retry_at: datetime | None
    ) -> "NotificationRecord":
        with self._catalog.transaction() as tx:
            return tx.notifications.record_attempt(id, attempt, owner=self.owner, retry_at=retry_at)


async def _pause(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Wait until ``stop`` or ``wake`` is set, or ``seconds`` pass; ``wake`` is cleared."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
        if wake is not None:
            wake.clear()


def _storable(attempt: Attempt, channel: str) -> Attempt:
    """The attempt as the outbox can store it, whatever a plugin channel returned.

    An outcome that is not one of the three is a transient failure: retried, within the
    attempts allowed.
    """
    if attempt.outcome in _OUTCOMES:
        return attempt
    return Attempt(
        outcome="retry",
        error=f"The channel {channel!r} reported an unknown outcome {attempt.outcome!r};"
        f" a channel reports one of {', '.join(_OUTCOMES)}.",
    )


def _latency(value: object) -> float | None:
    """A latency to store: a finite, non-negative number of milliseconds, else unknown."""
    if isinstance(value, int | float) and math.isfinite(value) and value >= 0:
        return float(value)
    return None


def _result(attempt: Attempt, after: "NotificationRecord") -> _Result:
    """What became of the notification through this attempt; ``superseded`` if not ours."""
    if attempt.outcome == "delivered":
        return "delivered"
    if attempt.outcome == "failed":
        return "failed" if after.status == "failed" else "superseded"
    if after.status == "pending":
        return "retried"
    return "dead" if after.status == "dead" else "superseded"
