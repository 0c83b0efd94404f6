"""The notification outbox: alert notifications to deliver, claimed by dispatchers under leases.

A notification is added in the transaction that changes its alert, so it exists exactly when
the change does; its idempotency key is unique per tenant, and adding the same key again
returns the row already there. From then on it moves through these statuses::

    pending ──claim──▶ delivering ──attempt──▶ delivered | failed | dead
       ▲                   │
       └──retry / defer────┘      (an expired lease lets another dispatcher claim it again)

**Claims.** :meth:`NotificationRepository.claim` takes due ``pending`` notifications, and
``delivering`` ones whose lease has expired (their dispatcher died or hung), and marks them
``delivering`` under the caller's lease, in one transaction. On PostgreSQL it reads with
``FOR UPDATE SKIP LOCKED``, so two dispatchers claiming at once take disjoint rows and neither
waits for the other; on SQLite every write transaction holds the database's write lock from its
start, which serialises claims.

**Abandoned attempts.** Whoever takes over an expired lease cannot know whether the previous
dispatcher reached the receiver, so the takeover records an attempt for it (outcome ``retry``,
the error saying so). It counts towards the attempts allowed: a notification whose sending
kills the dispatcher every time ends ``dead`` instead of taking down every dispatcher in turn.

**Attempts.** :meth:`NotificationRepository.record_attempt` stores an attempt and moves the
notification on. Only the lease's owner moves it, except that a ``delivered`` outcome always
wins (the receiver has it, whoever sent it) and a finished notification never moves again.
"""

import builtins
import copy
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, or_, select, update

from gnomon.catalog.errors import NotificationNotFound
from gnomon.catalog.models import DeliveryAttempt, Notification
from gnomon.catalog.records import (
    DELIVERY_OUTCOMES,
    FINISHED_NOTIFICATION_STATUSES,
    NOTIFICATION_STATUSES,
    DeliveryAttemptInput,
    DeliveryAttemptRecord,
    DeliveryOutcome,
    NotificationRecord,
    NotificationStatus,
)
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_choice,
    require_json_object,
    require_limit,
    require_name,
)
from gnomon.errors import InternalError, InvalidInput

__all__ = ["DeliveryRepository", "NotificationRepository"]

_MAX_FINGERPRINT = 1024


def _record(row: Notification) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        tenant=row.tenant_id,
        key=row.key,
        channel=row.channel,
        rule=row.rule,
        fingerprint=row.fingerprint,
        state=row.state,
        payload=copy.deepcopy(row.payload),
        status=cast(NotificationStatus, row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        claimed_at=row.claimed_at,
        created_at=row.created_at,
        delivered_at=row.delivered_at,
        last_error=row.last_error,
    )


def _attempt_record(row: DeliveryAttempt) -> DeliveryAttemptRecord:
    return DeliveryAttemptRecord(
        id=row.id,
        notification_id=row.notification_id,
        tenant=row.tenant_id,
        number=row.number,
        owner=row.owner,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=cast(DeliveryOutcome, row.outcome),
        status_code=row.status_code,
        latency_ms=row.latency_ms,
        response_excerpt=row.response_excerpt,
        error=row.error,
        reference=row.reference,
    )


def _require_fingerprint(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_FINGERPRINT:
        raise InvalidInput(
            f"Invalid fingerprint {value!r}: it must be a non-empty string of at most"
            f" {_MAX_FINGERPRINT} characters.",
            hint="Pass the alert's fingerprint, e.g. a hash of its rule and key labels.",
            field="fingerprint",
        )
    return value


def _require_lease(lease: timedelta) -> timedelta:
    if lease <= timedelta(0):
        raise InvalidInput(
            f"Invalid lease: {lease} is not positive.",
            hint="Pass a positive timedelta, longer than a delivery attempt takes,"
            " e.g. timedelta(minutes=2).",
        )
    return lease


def _checked_attempt(attempt: DeliveryAttemptInput) -> DeliveryAttemptInput:
    require_choice(attempt.outcome, field="delivery outcome", choices=DELIVERY_OUTCOMES)
    require_aware(attempt.started_at, field="started_at")
    require_aware(attempt.finished_at, field="finished_at")
    if attempt.latency_ms is not None and not attempt.latency_ms >= 0:
        raise InvalidInput(
            f"Invalid latency_ms {attempt.latency_ms!r}: it must be a non-negative number.",
            hint="Pass the attempt's duration in milliseconds, or None when unknown.",
            field="latency_ms",
        )
    return attempt


class NotificationRepository(Repository):
    """Notifications to deliver. Reads are per tenant; claims serve every tenant at once."""

    __slots__ = ()

    def add(
        self,
        *,
        tenant: str,
        key: str,
        channel: str,
        rule: str,
        fingerprint: str,
        state: str,
        payload: dict[str, Any],
        not_before: datetime | None = None,
    ) -> NotificationRecord:
        """Queue a notification, due at once (or at ``not_before``), unless its key is known.

        Call it in the transaction that changes the alert: the notification is committed or
        rolled back with the change. Adding a key the tenant already has changes nothing and
        returns the stored notification, whatever its status, so a retried transaction or a
        re-evaluated rule cannot send an alert's notification twice.

        Args:
            tenant: the alert's tenant.
            key: the idempotency key, sent with every attempt so that receivers deduplicate.
            channel: the name of the channel to deliver through.
            rule: the trigger rule that fired.
            fingerprint: the alert's identity across its states.
            state: the alert's state the notification announces (``firing``, ``resolved`` …).
            payload: the notification's fields as a JSON object (the channel's input).
            not_before: the earliest time to send; now when ``None``.

        Raises:
            InvalidInput: a name is empty or malformed, the payload is not a JSON object, or
                ``not_before`` is naive.
            TenantNotFound: the tenant does not exist.
        """
        require_name(key, field="idempotency key", example="alert-7f3a:firing:ops-slack")
        require_name(channel, field="channel", example="ops-slack")
        require_name(rule, field="rule", example="revenue_drop")
        _require_fingerprint(fingerprint)
        require_name(state, field="state", example="firing")
        body = require_json_object(payload, field="payload", example='{"title": "Revenue down"}')
        self._require_tenant(tenant)
        now = self._now()
        due = now if not_before is None else require_aware(not_before, field="not_before")
        statement = (
            self._insert(Notification)
            .values(
                tenant_id=tenant,
                key=key,
                channel=channel,
                rule=rule,
                fingerprint=fingerprint,
                state=state,
                payload=body,
                status="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[Notification.tenant_id, Notification.key])
        )
        self._session.execute(statement)
        row = self._fresh(Notification, Notification.tenant_id == tenant, Notification.key == key)
        if row is None:
            raise InternalError(
                f"Notification {key!r} of tenant {tenant!r} was neither added nor found.",
                hint="This is a bug in gnomon; please report it.",
                tenant=tenant,
                key=key,
            )
        return _record(row)

    def claim(
        self,
        *,
        owner: str,
        lease: timedelta,
        limit: int = 100,
        now: datetime | None = None,
        max_attempts: int | None = None,
    ) -> builtins.list[NotificationRecord]:
        """Take up to ``limit`` due notifications of every tenant for ``owner``, oldest due first.

        Due are ``pending`` notifications whose ``next_attempt_at`` has come, and
        ``delivering`` ones whose lease has expired. Each is returned ``delivering``, with
        ``lease_owner`` ``owner`` until ``now + lease``. Taking over an expired lease records an
        abandoned attempt for the previous owner (see the module docstring); when that uses up
        ``max_attempts``, the notification becomes ``dead`` instead of being claimed.

        Commit soon: on PostgreSQL the claimed rows stay locked until then (others skip them).

        Args:
            owner: the dispatcher, unique to its process (``host:pid:nonce``).
            lease: how long the claim lasts unless renewed; longer than an attempt takes.
            limit: the most notifications to take.
            now: the current time; the injected clock's when ``None``.
            max_attempts: attempts allowed in all; ``None`` for no limit here.

        Raises:
            InvalidInput: the lease is not positive, the limit below 1, or ``now`` naive.
        """
        require_name(owner, field="owner", example="host:1234:5f2a")
        _require_lease(lease)
        require_limit(limit)
        at = self._now() if now is None else require_aware(now, field="now")
        due = or_(
            and_(Notification.status == "pending", Notification.next_attempt_at <= at),
            and_(Notification.status == "delivering", Notification.lease_expires_at <= at),
        )
        rows = self._session.scalars(
            select(Notification)
            .where(due)
            .order_by(Notification.next_attempt_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        claimed: builtins.list[Notification] = []
        for row in rows:
            if row.status == "delivering" and self._abandon(row, at, max_attempts):
                continue
            row.status = "delivering"
            row.lease_owner = owner
            row.lease_expires_at = at + lease
            row.claimed_at = at
            claimed.append(row)
        self._session.flush()
        return [_record(row) for row in claimed]

    def _abandon(self, row: Notification, at: datetime, max_attempts: int | None) -> bool:
        """Record the expired claim's unknown attempt; ``True`` when that was the last allowed."""
        previous = row.lease_owner or "an unknown dispatcher"
        expired = row.lease_expires_at or at
        row.attempts += 1
        error = (
            f"abandoned: {previous} claimed it and stopped renewing its lease (expired"
            f" {expired.isoformat()}) before recording an outcome; the receiver may or may not"
            " have it"
        )
        self._session.add(
            DeliveryAttempt(
                notification_id=row.id,
                tenant_id=row.tenant_id,
                number=row.attempts,
                owner=previous,
                started_at=row.claimed_at or expired,
                finished_at=expired,
                outcome="retry",
                status_code=None,
                latency_ms=None,
                response_excerpt="",
                error=error,
                reference=None,
            )
        )
        row.last_error = error
        if max_attempts is None or row.attempts < max_attempts:
            return False
        row.status = "dead"
        row.next_attempt_at = None
        row.lease_owner = None
        row.lease_expires_at = None
        return True

    def renew(
        self,
        ids: Iterable[int],
        *,
        owner: str,
        lease: timedelta,
        now: datetime | None = None,
    ) -> builtins.list[int]:
        """Extend ``owner``'s claims on these notifications to ``now + lease``.

        Returns:
            The ids ``owner`` still holds, in ascending order; one missing was taken over by
            another dispatcher after its lease expired, or is finished.

        Raises:
            InvalidInput: the lease is not positive or ``now`` naive.
        """
        _require_lease(lease)
        at = self._now() if now is None else require_aware(now, field="now")
        wanted = sorted(set(ids))
        if not wanted:
            return []
        renewed = self._session.scalars(
            update(Notification)
            .where(
                Notification.id.in_(wanted),
                Notification.status == "delivering",
                Notification.lease_owner == owner,
            )
            .values(lease_expires_at=at + lease)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).all()
        return sorted(renewed)

    def release(
        self,
        ids: Iterable[int],
        *,
        owner: str,
        next_attempt_at: datetime | None = None,
    ) -> int:
        """Give ``owner``'s claims back without counting an attempt: they are ``pending`` again.

        For notifications a dispatcher holds back (an open circuit breaker) or did not get to
        (it is stopping). Due again at ``next_attempt_at``, or when they were due before.

        Returns:
            How many were released; one that ``owner`` no longer holds is left alone.

        Raises:
            InvalidInput: ``next_attempt_at`` is naive.
        """
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        values: dict[str, Any] = {
            "status": "pending",
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if next_attempt_at is not None:
            values["next_attempt_at"] = require_aware(next_attempt_at, field="next_attempt_at")
        released = self._session.execute(
            update(Notification)
            .where(
                Notification.id.in_(wanted),
                Notification.status == "delivering",
                Notification.lease_owner == owner,
            )
            .values(values)
            .returning(Notification.id)
            .execution_options(synchronize_session=False)
        ).all()
        return len(released)

    def record_attempt(
        self,
        id: int,
        attempt: DeliveryAttemptInput,
        *,
        owner: str,
        retry_at: datetime | None = None,
    ) -> NotificationRecord:
        """Store one delivery attempt and move the notification on; returns it afterwards.

        The attempt is stored as number ``attempts + 1`` whoever made it. Then, if ``owner``
        holds the claim: ``delivered`` → delivered; ``failed`` → failed; ``retry`` → pending
        again, due at ``retry_at``, or ``dead`` when ``retry_at`` is ``None`` (no attempt
        left). A ``delivered`` outcome finishes the notification even if ``owner`` lost the
        claim meanwhile. Otherwise the status is left to whoever holds it now, and a finished
        notification is never moved.

        Args:
            id: the notification.
            attempt: how the attempt went.
            owner: the dispatcher that made it.
            retry_at: when to try again after a ``retry``; ``None`` when attempts are used up.

        Raises:
            NotificationNotFound: no notification has that id.
            InvalidInput: the outcome is unknown or a time naive.
        """
        _checked_attempt(attempt)
        retry = None if retry_at is None else require_aware(retry_at, field="retry_at")
        row = self._session.scalars(
            select(Notification)
            .where(Notification.id == id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            raise NotificationNotFound(
                f"Unknown notification {id!r}.",
                hint="Check the notification id; it may have been removed.",
                notification_id=id,
            )
        row.attempts += 1
        self._session.add(
            DeliveryAttempt(
                notification_id=row.id,
                tenant_id=row.tenant_id,
                number=row.attempts,
                owner=owner,
                started_at=attempt.started_at,
                finished_at=attempt.finished_at,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                response_excerpt=attempt.response_excerpt,
                error=attempt.error,
                reference=attempt.reference,
            )
        )
        status = self._next_status(row, attempt.outcome, owner=owner, retry=retry)
        if status is not None:
            row.status = status
            row.last_error = attempt.error
            row.lease_owner = None
            row.lease_expires_at = None
            row.next_attempt_at = retry if status == "pending" else None
            if status == "delivered":
                row.delivered_at = attempt.finished_at
        self._session.flush()
        return _record(row)

    @staticmethod
    def _next_status(
        row: Notification, outcome: str, *, owner: str, retry: datetime | None
    ) -> NotificationStatus | None:
        """The status an attempt moves the notification to; ``None`` to leave it."""
        if row.status in FINISHED_NOTIFICATION_STATUSES:
            return None
        if outcome == "delivered":
            return "delivered"
        if row.status != "delivering" or row.lease_owner != owner:
            return None
        if outcome == "failed":
            return "failed"
        return "dead" if retry is None else "pending"

    def get(self, id: int, *, tenant: str) -> NotificationRecord:
        """One notification by id.

        Raises:
            NotificationNotFound: the tenant has none with that id (another tenant's counts as
                missing).
        """
        row = self._fresh(Notification, Notification.id == id, Notification.tenant_id == tenant)
        if row is None:
            raise NotificationNotFound(
                f"Unknown notification {id!r} for tenant {tenant!r}.",
                hint="Check the id and the tenant; list the alert's notifications to find it.",
                notification_id=id,
                tenant=tenant,
            )
        return _record(row)

    def by_key(self, key: str, *, tenant: str) -> NotificationRecord | None:
        """The tenant's notification with this idempotency key, or ``None``."""
        row = self._fresh(Notification, Notification.tenant_id == tenant, Notification.key == key)
        return None if row is None else _record(row)

    def list(
        self,
        *,
        tenant: str,
        fingerprint: str | None = None,
        rule: str | None = None,
        channel: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> builtins.list[NotificationRecord]:
        """The tenant's notifications, oldest first, optionally of one alert, rule or channel.

        Args:
            tenant: the tenant.
            fingerprint: only this alert's.
            rule: only this rule's.
            channel: only those to this channel.
            status: only those with this status (``pending``, ``delivering``, ``delivered``,
                ``failed``, ``dead``).
            limit: at most this many.

        Raises:
            InvalidInput: the status is unknown or the limit below 1.
        """
        require_limit(limit)
        criteria = [Notification.tenant_id == tenant]
        if fingerprint is not None:
            criteria.append(Notification.fingerprint == fingerprint)
        if rule is not None:
            criteria.append(Notification.rule == rule)
        if channel is not None:
            criteria.append(Notification.channel == channel)
        if status is not None:
            require_choice(status, field="notification status", choices=NOTIFICATION_STATUSES)
            criteria.append(Notification.status == status)
        rows = self._session.scalars(
            select(Notification)
            .where(*criteria)
            .order_by(Notification.created_at, Notification.id)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]


class DeliveryRepository(Repository):
    """The log of delivery attempts; written by :meth:`NotificationRepository.record_attempt`."""

    __slots__ = ()

    def list(self, notification_id: int, *, tenant: str) -> builtins.list[DeliveryAttemptRecord]:
        """A notification's attempts in the order they were recorded (``number`` 1, 2, 3 …).

        A notification of another tenant, or none, has no attempts here.
        """
        rows = self._session.scalars(
            select(DeliveryAttempt)
            .where(
                DeliveryAttempt.notification_id == notification_id,
                DeliveryAttempt.tenant_id == tenant,
            )
            .order_by(DeliveryAttempt.number)
        )
        return [_attempt_record(row) for row in rows]
