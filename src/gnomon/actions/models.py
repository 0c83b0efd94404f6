"""The nouns of delivery: the notification a channel carries and the record of one attempt.

A channel makes one attempt per ``send`` and describes it; the dispatcher owns the schedule,
the idempotency key and the stored attempt records, so these values are all it needs.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

__all__ = [
    "EXCERPT_CHARS",
    "AlertState",
    "Attempt",
    "AttemptOutcome",
    "Notification",
]

AlertState = Literal["firing", "resolved", "acknowledged"]
"""Where the alert stands: ``firing`` opens it, ``acknowledged`` and ``resolved`` follow."""

_STATES: Final = get_args(AlertState)

AttemptOutcome = Literal["delivered", "retry", "failed"]
"""``delivered``: the receiver took it. ``retry``: a transient failure, the same attempt may work
later. ``failed``: permanent, retrying the same notification cannot help."""

EXCERPT_CHARS = 500
"""How much of a receiver's answer an attempt keeps: enough to debug, small enough to store."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """One alert notification addressed to one channel.

    Attributes:
        key: the idempotency key; the same notification sent twice carries the same key, and
            every HTTP channel sends it as ``Idempotency-Key`` (e-mail derives its Message-ID).
        channel: the name of the channel it is addressed to.
        rule: the name of the trigger rule that fired.
        fingerprint: identifies the alert across its states (PagerDuty's ``dedup_key``).
        state: ``firing``, ``acknowledged`` or ``resolved``.
        severity: the rule's severity (``critical``, ``error``, ``warning``, ``info`` …).
        title: one line for subjects and headers.
        summary: a few sentences for the body.
        labels: short key-value facts (``metric``, ``region``), shown as fields.
        data: JSON-able details: the alert's values, and ``links`` (label → URL).
        created_at: when the alert changed state; timezone-aware.
        tenant: the tenant the alert belongs to.
    """

    key: str
    channel: str
    rule: str
    fingerprint: str
    state: AlertState
    severity: str
    title: str
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime
    tenant: str = "default"

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            raise ValueError("Notification.created_at must be timezone-aware")
        if self.state not in _STATES:
            raise ValueError(f"Notification.state must be one of {', '.join(_STATES)}")

    def to_dict(self) -> dict[str, Any]:
        """The notification as JSON-able data; ``created_at`` in ISO 8601, UTC."""
        return {
            "key": self.key,
            "channel": self.channel,
            "rule": self.rule,
            "fingerprint": self.fingerprint,
            "state": self.state,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "labels": dict(self.labels),
            "data": dict(self.data),
            "created_at": self.created_at.astimezone(UTC).isoformat(),
            "tenant": self.tenant,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """How one delivery attempt went.

    Attributes:
        outcome: ``delivered``, ``retry`` (transient) or ``failed`` (permanent).
        status_code: the receiver's HTTP status or SMTP reply code, when it answered.
        latency_ms: from the start of the attempt to its end, including a token fetch.
        response_excerpt: the start of the receiver's answer, at most ``EXCERPT_CHARS``.
        error: what went wrong, with no secrets in it; ``None`` when delivered cleanly.
        retry_after_s: the receiver's ``Retry-After``, in seconds, when it sent one.
        reference: what the receiver calls the delivery, when it says (Slack's message
            ``ts``, PagerDuty's ``dedup_key``, the e-mail's Message-ID); for threading.
    """

    outcome: AttemptOutcome
    status_code: int | None = None
    latency_ms: float = 0.0
    response_excerpt: str = ""
    error: str | None = None
    retry_after_s: float | None = None
    reference: str | None = None

    @property
    def transient(self) -> bool:
        """True when the receiver or the way to it failed in a way that may pass."""
        return self.outcome == "retry"
