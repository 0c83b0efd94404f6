"""What the catalog hands out: frozen snapshots of rows, detached from any session.

Why not ORM objects: an ORM object is bound to a session, lazy-loads on attribute access and writes
back whatever is assigned to it. A record is a value: safe to cache, pass between threads and
return after the transaction is gone, and a change to it cannot reach the database by accident.
All timestamps are timezone-aware UTC.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "ALERT_STATES",
    "ANOMALY_DIRECTIONS",
    "ANOMALY_SEVERITIES",
    "ANOMALY_STATUSES",
    "DEFINITION_KINDS",
    "DELIVERY_OUTCOMES",
    "FINISHED_NOTIFICATION_STATUSES",
    "FINISHED_RUN_STATUSES",
    "INSIGHT_MODEL_KINDS",
    "NOTIFICATION_STATUSES",
    "POLICY_KINDS",
    "RUN_KINDS",
    "RUN_STATUSES",
    "AlertRecord",
    "AlertState",
    "AnomalyDirection",
    "AnomalyInput",
    "AnomalyRecord",
    "AnomalySeverity",
    "AnomalyStatus",
    "ApiKeyRecord",
    "AuditCheck",
    "AuditRecord",
    "ContractVersionRecord",
    "DatasetRecord",
    "DefinitionKind",
    "DefinitionRecord",
    "DeliveryAttemptInput",
    "DeliveryAttemptRecord",
    "DeliveryOutcome",
    "IngestedFileRecord",
    "InsightModelKind",
    "InsightModelRecord",
    "LeaseRecord",
    "OutboxRecord",
    "PolicyKind",
    "PolicyRecord",
    "RoleRecord",
    "RollupRecord",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "SegmentValue",
    "SilenceRecord",
    "SourceRecord",
    "TableVersionRecord",
    "TenantRecord",
    "UserRecord",
]

RunKind = Literal["ingest", "build", "maintenance", "scan"]
RunStatus = Literal["running", "succeeded", "failed", "blocked", "skipped"]

RUN_KINDS: tuple[RunKind, ...] = ("ingest", "build", "maintenance", "scan")
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "succeeded", "failed", "blocked", "skipped")
FINISHED_RUN_STATUSES: tuple[RunStatus, ...] = ("succeeded", "failed", "blocked", "skipped")

DefinitionKind = Literal["semantic_model", "metric", "calendar", "trigger"]

DEFINITION_KINDS: tuple[DefinitionKind, ...] = ("semantic_model", "metric", "calendar", "trigger")

PolicyKind = Literal["row", "mask"]

POLICY_KINDS: tuple[PolicyKind, ...] = ("row", "mask")

InsightModelKind = Literal["detector", "forecaster"]

INSIGHT_MODEL_KINDS: tuple[InsightModelKind, ...] = ("detector", "forecaster")

AnomalySeverity = Literal["low", "medium", "high", "critical"]
AnomalyDirection = Literal["up", "down"]
AnomalyStatus = Literal["open", "dismissed", "confirmed"]

ANOMALY_SEVERITIES: tuple[AnomalySeverity, ...] = ("low", "medium", "high", "critical")
"""The severities from least to most severe: ``min_severity`` filters keep this order."""
ANOMALY_DIRECTIONS: tuple[AnomalyDirection, ...] = ("up", "down")
ANOMALY_STATUSES: tuple[AnomalyStatus, ...] = ("open", "dismissed", "confirmed")

NotificationStatus = Literal["pending", "delivering", "delivered", "failed", "dead"]
"""Where a notification stands in the outbox: ``pending`` (due at ``next_attempt_at``),
``delivering`` (claimed by a dispatcher until its lease expires), or finished: ``delivered``
(the receiver took it), ``failed`` (a permanent failure) or ``dead`` (attempts exhausted)."""
NOTIFICATION_STATUSES: tuple[NotificationStatus, ...] = (
    "pending",
    "delivering",
    "delivered",
    "failed",
    "dead",
)
FINISHED_NOTIFICATION_STATUSES: tuple[NotificationStatus, ...] = ("delivered", "failed", "dead")

DeliveryOutcome = Literal["delivered", "retry", "failed"]
"""How one delivery attempt went: the same words as a channel's ``Attempt.outcome``."""
DELIVERY_OUTCOMES: tuple[DeliveryOutcome, ...] = ("delivered", "retry", "failed")

SegmentValue = str | int | float | bool | None
"""The value of one dimension in a segment (``{"region": "EMEA"}``)."""


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant: ``id`` is what every other record's ``tenant`` refers to."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A registered source; ``spec`` is its parsed configuration as plain JSON values."""

    id: int
    tenant: str
    name: str
    kind: str
    dataset: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A dataset and its current schema: a list of ``{"name", "type", "nullable"}`` columns."""

    id: int
    tenant: str
    name: str
    schema: list[dict[str, Any]]
    contract_version: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ContractVersionRecord:
    """One immutable contract version; the same version always has the same fingerprint."""

    id: int
    tenant: str
    dataset: str
    version: int
    fingerprint: str
    spec: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DefinitionRecord:
    """One immutable version of a semantic definition (a semantic model, a metric or the calendar).

    Versions of a (tenant, kind, name) are numbered 1, 2, 3 … in the order they were stored. A
    version with ``deleted`` set records that the definition was removed: it keeps the spec of
    the version before it, and its fingerprint is ``"deleted"``. ``source`` is the file the
    definition came from, and ``created_by`` the principal who stored it, when known.
    """

    id: int
    tenant: str
    kind: DefinitionKind
    name: str
    version: int
    fingerprint: str
    spec: dict[str, Any]
    source: str | None
    deleted: bool
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True, slots=True)
class RollupRecord:
    """What one rollup of a tenant was last refreshed from.

    ``source_table`` is the ``layer.name`` of the table the rollup aggregates and
    ``source_version`` the Delta version of it that was read; ``table_version`` is the Delta
    version of the rollup table holding this tenant's rows, and ``rows`` how many rows the tenant
    has in it. ``fingerprint`` identifies the rollup's definition, whose parts ``spec`` holds.
    """

    id: int
    tenant: str
    name: str
    model: str
    grain: str
    fingerprint: str
    source_table: str
    source_version: int
    table_version: int
    rows: int
    spec: dict[str, Any]
    refreshed_at: datetime


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A run as last written.

    ``duration_s`` is wall time in seconds from ``started_at`` to ``finished_at``, set when the
    run finishes. ``heartbeat_at`` moves on every update, so a running run whose heartbeat is old
    belongs to a process that died.
    """

    id: str
    tenant: str
    kind: RunKind
    source: str | None
    dataset: str | None
    batch_id: str | None
    status: RunStatus
    stage: str | None
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime | None
    rows_read: int
    rows_written: int
    rows_quarantined: int
    bytes_read: int
    duration_s: float | None
    watermark: str | None
    error: dict[str, Any] | None
    drift: dict[str, Any] | None
    checks: Any
    files: Any
    correlation_id: str | None

    @property
    def finished(self) -> bool:
        """Whether the run has reached a final status."""
        return self.status != "running"


@dataclass(frozen=True, slots=True)
class IngestedFileRecord:
    """A file already loaded by a source, identified by the fingerprint of its content."""

    id: int
    tenant: str
    source: str
    fingerprint: str
    path: str
    size: int
    batch_id: str
    run_id: str
    ingested_at: datetime


@dataclass(frozen=True, slots=True)
class TableVersionRecord:
    """The Delta version readers must use for one physical table (shared by all tenants)."""

    layer: str
    name: str
    version: int
    run_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """Who holds a named lease and until when."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A CloudEvents-style envelope waiting to be, or already, published."""

    id: str
    tenant: str
    type: str
    source: str
    time: datetime
    correlation_id: str | None
    data: dict[str, Any]
    published_at: datetime | None
    attempts: int


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user of a tenant, as the catalog stores it.

    ``name`` is the login name, unique in the tenant (e.g. ``emea@acme``). ``roles`` names
    built-in or custom roles; what they allow is decided by governance, not here. ``attributes``
    are the facts row policies and attribute conditions refer to (``{"region": "EMEA"}``). A
    ``disabled`` user keeps its rows but must not be let in.
    """

    id: str
    tenant: str
    name: str
    display_name: str | None
    roles: list[str]
    attributes: dict[str, Any]
    disabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class RoleRecord:
    """A custom role of a tenant: a named set of permissions such as ``metrics:read``."""

    id: int
    tenant: str
    name: str
    permissions: list[str]
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """An API key of a user; the key itself is never stored, only its SHA-256 ``key_hash``.

    ``prefix`` is the start of the key, shown in listings so people can tell their keys apart.
    ``roles`` limits the key to some of its user's roles; empty means all of them.
    """

    id: str
    tenant: str
    user_id: str
    name: str
    prefix: str
    key_hash: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked; a revoked key never works again."""
        return self.revoked_at is not None

    def usable_at(self, at: datetime) -> bool:
        """Whether the key may authenticate at ``at``: not revoked and not expired by then.

        A key expires at ``expires_at`` exactly, not a microsecond later.
        """
        return self.revoked_at is None and (self.expires_at is None or at < self.expires_at)


@dataclass(frozen=True, slots=True)
class PolicyRecord:
    """A row or masking policy on one lake table (``table_name`` is ``layer.name``).

    ``roles`` lists whom the policy applies to, as stored; what an empty list means is decided
    by the code that applies policies. ``spec`` holds the policy itself: ``{"predicate": …}``
    for a row policy, ``{"column": …, "strategy": …}`` and the strategy's options for a mask.
    """

    id: str
    tenant: str
    name: str
    kind: PolicyKind
    table_name: str
    roles: list[str]
    spec: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """An audit entry to append: the caller's part; the log adds ``seq``, ``at`` and hashes."""

    tenant: str
    principal: str
    action: str
    target: str | None = None
    correlation_id: str | None = None
    details: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One entry of a tenant's audit log, chained to the entry before it.

    ``seq`` numbers a tenant's entries 1, 2, 3 … without gaps. ``hash`` is
    :func:`gnomon.catalog.audit_chain.audit_hash` of ``prev_hash`` (the previous entry's hash,
    64 zeros for the first) and the entry's fields, so changing or removing an entry breaks the
    chain after it.
    """

    id: int
    tenant: str
    seq: int
    at: datetime
    principal: str
    action: str
    target: str | None
    correlation_id: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The outcome of checking a tenant's audit chain.

    Attributes:
        ok: whether every entry is intact and none is missing.
        entries: how many entries, from the first, were found intact: all of them when ``ok``.
        first_bad_seq: the first entry that was changed or is missing, ``None`` when ``ok``.
        reason: what is wrong with that entry, ``None`` when ``ok``.
    """

    ok: bool
    entries: int
    first_bad_seq: int | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class InsightModelRecord:
    """One fitted configuration of a detector or forecaster for one series, as registered.

    A series is a metric (and, for a segment, the dimension values in ``segment``; ``{}`` is the
    metric's overall series). Versions of a (tenant, kind, metric, segment) are numbered 1, 2,
    3 … in the order they were registered. ``segment_key`` is the canonical JSON of ``segment``
    (sorted keys, no spaces), the form lookups compare. ``fingerprint`` identifies ``params``:
    the first 32 hex digits of the SHA-256 of their canonical JSON. ``training_start`` and
    ``training_end`` bound the data it was fitted on when known; ``metrics`` holds what its
    backtest measured (``{}`` when none); ``run_id`` is the run that fitted it, when known.
    """

    id: int
    tenant: str
    kind: InsightModelKind
    metric: str
    segment: dict[str, Any]
    segment_key: str
    version: int
    params: dict[str, Any]
    fingerprint: str
    training_start: datetime | None
    training_end: datetime | None
    metrics: dict[str, Any]
    created_at: datetime
    run_id: str | None


@dataclass(frozen=True, slots=True)
class AnomalyInput:
    """An anomaly a scan found, to record: one point of one series that its detector flagged.

    ``time`` is the start of the bucket (an aware datetime) at the metric's ``grain``;
    ``actual`` is the observed value and ``expected`` (with the band ``lower`` … ``upper``)
    what the detector expected, when it has an expectation. ``score`` ranks how anomalous the
    point is (higher is more); ``severity`` is one of :data:`ANOMALY_SEVERITIES` and
    ``direction`` ``up`` or ``down``. ``model_id`` is the registered model the detector used,
    and ``evidence`` a JSON object of whatever explains the finding.
    """

    metric: str
    grain: str
    segment: Mapping[str, SegmentValue]
    time: datetime
    actual: float
    expected: float | None
    lower: float | None
    upper: float | None
    score: float
    severity: str
    direction: str
    detector: str
    model_id: int | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AnomalyRecord:
    """A recorded anomaly and what people said about it.

    One row per (tenant, scope, metric, segment, time): ``scope`` names whose view of the data
    the scan saw (``""`` for the unrestricted view), so findings on data one reader cannot see
    are never shown to that reader. ``status`` is ``open`` until someone confirms or dismisses
    it (``feedback_by`` and ``feedback_at`` say who and when). ``detected_at`` is when it was
    first recorded; a later scan that scores the point higher updates the score, severity,
    expectation and evidence but keeps ``detected_at``, ``status`` and feedback.
    """

    id: int
    tenant: str
    scope: str
    metric: str
    grain: str
    segment: dict[str, Any]
    segment_key: str
    time: datetime
    actual: float
    expected: float | None
    lower: float | None
    upper: float | None
    score: float
    severity: AnomalySeverity
    direction: AnomalyDirection
    detector: str
    model_id: int | None
    run_id: str | None
    evidence: dict[str, Any]
    status: AnomalyStatus
    feedback_by: str | None
    feedback_at: datetime | None
    detected_at: datetime


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """One notification in the outbox: what to send to which channel, and how far it got.

    ``key`` is the idempotency key, unique per tenant and the same on every attempt.
    ``payload`` holds the notification's fields as JSON (the channel's input). ``attempts``
    counts the attempts recorded, including one abandoned by a dispatcher that stopped before
    recording its outcome. ``next_attempt_at`` is when a ``pending`` notification is due
    (``None`` once it is finished); ``lease_owner`` and ``lease_expires_at`` name the
    dispatcher that claimed a ``delivering`` one and until when (``None`` otherwise), and
    ``claimed_at`` when it was last claimed. ``last_error`` is the error of the attempt that
    last changed the status.
    """

    id: int
    tenant: str
    key: str
    channel: str
    rule: str
    fingerprint: str
    state: str
    payload: dict[str, Any]
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    claimed_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAttemptInput:
    """One delivery attempt to record: how it went and when (aware datetimes).

    ``outcome`` is ``delivered``, ``retry`` (transient) or ``failed`` (permanent);
    ``status_code`` the receiver's HTTP status or SMTP reply code; ``latency_ms`` from start
    to end; ``response_excerpt`` the start of the answer; ``reference`` what the receiver
    calls the delivery (a Slack ``ts``, a Message-ID), when it says.
    """

    outcome: str
    started_at: datetime
    finished_at: datetime
    status_code: int | None = None
    latency_ms: float | None = None
    response_excerpt: str = ""
    error: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryAttemptRecord:
    """A recorded delivery attempt of a notification, numbered 1, 2, 3 … per notification.

    ``owner`` is the dispatcher that made it. An attempt its dispatcher abandoned (the lease
    ran out before an outcome was recorded; the receiver may or may not have it) is recorded
    by the dispatcher that takes over, as outcome ``retry`` with the error saying so and
    ``latency_ms`` ``None``.
    """

    id: int
    notification_id: int
    tenant: str
    number: int
    owner: str
    started_at: datetime
    finished_at: datetime
    outcome: DeliveryOutcome
    status_code: int | None
    latency_ms: float | None
    response_excerpt: str
    error: str | None
    reference: str | None


AlertState = Literal["pending", "firing", "resolved"]

ALERT_STATES: tuple[AlertState, ...] = ("pending", "firing", "resolved")


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One life of a rule's alert for a key, as stored.

    ``fingerprint`` names the alert across its lives (tenant, rule, key values); ``key`` holds
    the key values in the rule's key order; ``labels`` what notifications and silences match on.
    ``last_active_at`` is when the condition last held; ``fired_at`` when it started firing
    (``None`` while pending); ``escalation_level`` the escalation steps already taken.
    """

    id: int
    tenant: str
    fingerprint: str
    rule: str
    key: tuple[str, ...]
    labels: dict[str, str]
    severity: str
    state: AlertState
    started_at: datetime
    last_active_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    last_notified_at: datetime | None
    escalation_level: int
    reason: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """A stored silence: its matchers as written (``severity=critical``) and when it holds."""

    id: str
    tenant: str
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str | None
    comment: str
    created_at: datetime
