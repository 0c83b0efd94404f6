"""The catalog's tables as SQLAlchemy 2 ORM classes: private to the package.

Every row belongs to a tenant (``tenant_id`` references ``tenants``), with one exception:
``table_versions``. Physical lake tables are shared by all tenants, whose rows they tell apart by
the ``_tenant_id`` column, so the published Delta version of a table is a fact about the table, not
about a tenant. ``leases`` names system-wide locks and carries no tenant either.

Repositories turn these objects into frozen records before they leave the package; nothing outside
``gnomon.catalog`` sees an ORM object or a session. The migration in ``migrations/versions`` must
describe exactly these tables: a test compares the two on SQLite and PostgreSQL.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gnomon.catalog._columns import UtcDateTime

__all__ = [
    "AccessPolicy",
    "Anomaly",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Change",
    "ContractVersion",
    "Dataset",
    "Definition",
    "DeliveryAttempt",
    "IngestedFile",
    "InsightModel",
    "Lease",
    "Notification",
    "OutboxMessage",
    "Role",
    "Rollup",
    "Run",
    "Source",
    "TableVersion",
    "Tenant",
    "User",
]

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_JSON = JSON()
_NULLABLE_JSON = JSON(none_as_null=True)
_TENANT_FK = "tenants.id"


class Base(DeclarativeBase):
    """Declarative base holding the catalog's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Tenant(Base):
    """An isolated customer or workspace."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Source(Base):
    """A configured origin of data that loads into one dataset."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    dataset: Mapped[str] = mapped_column(String)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Dataset(Base):
    """A logical table: its current schema and the contract version it is checked against."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    schema_: Mapped[list[dict[str, Any]]] = mapped_column("schema", _JSON)
    contract_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ContractVersion(Base):
    """One immutable version of a dataset's contract, identified by its fingerprint."""

    __tablename__ = "contract_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "dataset", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    dataset: Mapped[str] = mapped_column(String)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Definition(Base):
    """One immutable version of a semantic model, metric or calendar, as applied.

    The unique constraint doubles as the index of "latest version per name" lookups: they fix
    tenant, kind and name and take the highest version, which is a scan of that index backwards.
    """

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("tenant_id", "kind", "name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    kind: Mapped[str] = mapped_column(String)
    name: Mapped[str] = mapped_column(String)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    source: Mapped[str | None] = mapped_column(String, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String, nullable=True)


class Rollup(Base):
    """What one rollup of a tenant was last refreshed from, and where its rows are.

    Rollup tables are physical gold tables shared by all tenants, like every lake table, so the
    Delta version is a fact about the table; what this row records per tenant is the version that
    holds this tenant's rows as last refreshed (``table_version``) and the version of the source
    table they were computed from (``source_version``). A changed ``fingerprint`` means the
    rollup's definition changed and its rows must be rebuilt, not refreshed.
    """

    __tablename__ = "rollups"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    model: Mapped[str] = mapped_column(String)
    grain: Mapped[str] = mapped_column(String)
    fingerprint: Mapped[str] = mapped_column(String)
    source_table: Mapped[str] = mapped_column(String)
    source_version: Mapped[int] = mapped_column(BigInteger)
    table_version: Mapped[int] = mapped_column(BigInteger)
    rows: Mapped[int] = mapped_column(BigInteger)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    refreshed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Run(Base):
    """One execution of an ingest, build or maintenance job, and what it did."""

    __tablename__ = "runs"
    __table_args__ = (
        Index(None, "tenant_id", "started_at"),
        Index(None, "tenant_id", "dataset", "status"),
        Index(None, "tenant_id", "batch_id"),
        # incomplete() looks across tenants for running runs of a dataset.
        Index(None, "status", "dataset"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    kind: Mapped[str] = mapped_column(String)
    source: Mapped[str | None] = mapped_column(String, nullable=True)
    dataset: Mapped[str | None] = mapped_column(String, nullable=True)
    batch_id: Mapped[str | None] = mapped_column(String, nullable=True)
    status: Mapped[str] = mapped_column(String)
    stage: Mapped[str | None] = mapped_column(String, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    rows_read: Mapped[int] = mapped_column(BigInteger)
    rows_written: Mapped[int] = mapped_column(BigInteger)
    rows_quarantined: Mapped[int] = mapped_column(BigInteger)
    bytes_read: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float | None] = mapped_column(Double, nullable=True)
    watermark: Mapped[str | None] = mapped_column(String, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(_NULLABLE_JSON, nullable=True)
    drift: Mapped[dict[str, Any] | None] = mapped_column(_NULLABLE_JSON, nullable=True)
    checks: Mapped[list[Any] | dict[str, Any] | None] = mapped_column(_NULLABLE_JSON, nullable=True)
    files: Mapped[list[Any] | None] = mapped_column(_NULLABLE_JSON, nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String, nullable=True)


class IngestedFile(Base):
    """A file a source has loaded, remembered by content fingerprint so it is loaded once."""

    __tablename__ = "ingested_files"
    __table_args__ = (UniqueConstraint("tenant_id", "source", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    source: Mapped[str] = mapped_column(String)
    fingerprint: Mapped[str] = mapped_column(String)
    path: Mapped[str] = mapped_column(String)
    size: Mapped[int] = mapped_column(BigInteger)
    batch_id: Mapped[str] = mapped_column(String)
    run_id: Mapped[str] = mapped_column(String, index=True)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TableVersion(Base):
    """The published Delta version of one physical lake table (system-wide, no tenant)."""

    __tablename__ = "table_versions"

    layer: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    run_id: Mapped[str | None] = mapped_column(String, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Change(Base):
    """The generation of one scope (a tenant id, or ``:lake``), moved by every write to it."""

    __tablename__ = "changes"

    scope: Mapped[str] = mapped_column(String, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Lease(Base):
    """A named exclusive lease, held by one owner until it is released or expires."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    owner: Mapped[str] = mapped_column(String)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OutboxMessage(Base):
    """A CloudEvents-style envelope written with the state change it announces."""

    __tablename__ = "outbox"
    __table_args__ = (Index(None, "published_at", "time"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    type: Mapped[str] = mapped_column(String)
    source: Mapped[str] = mapped_column(String)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    correlation_id: Mapped[str | None] = mapped_column(String, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(_JSON)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer)


class User(Base):
    """A person or service account of a tenant, with its roles and attributes."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    display_name: Mapped[str | None] = mapped_column(String, nullable=True)
    roles: Mapped[list[str]] = mapped_column(_JSON)
    attributes: Mapped[dict[str, Any]] = mapped_column(_JSON)
    disabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Role(Base):
    """A custom role of a tenant: a named set of permissions (built-in roles live in code)."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    permissions: Mapped[list[str]] = mapped_column(_JSON)
    description: Mapped[str | None] = mapped_column(String, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiKey(Base):
    """An API key of a user, stored as the SHA-256 of the key; removed with its user.

    ``key_hash`` is unique across tenants: authentication finds the key, and through it the
    tenant, from the hash alone.
    """

    __tablename__ = "api_keys"
    __table_args__ = (Index(None, "tenant_id", "user_id"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    user_id: Mapped[str] = mapped_column(String, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String)
    prefix: Mapped[str] = mapped_column(String)
    key_hash: Mapped[str] = mapped_column(String, unique=True)
    roles: Mapped[list[str]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class AccessPolicy(Base):
    """A row-level security or masking policy on one lake table (``layer.name``)."""

    __tablename__ = "access_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index(None, "tenant_id", "table_name"),
    )

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    name: Mapped[str] = mapped_column(String)
    kind: Mapped[str] = mapped_column(String)
    table_name: Mapped[str] = mapped_column(String)
    roles: Mapped[list[str]] = mapped_column(_JSON)
    spec: Mapped[dict[str, Any]] = mapped_column(_JSON)
    enabled: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AuditEntry(Base):
    """One entry of a tenant's hash-chained audit log; rows are only ever inserted.

    The unique (tenant, seq) constraint is what keeps a tenant's chain linear: two appends that
    read the same last entry cannot both add the next one. It is also the index of every read,
    which walks one tenant's entries in ``seq`` order.
    """

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("tenant_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    principal: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str | None] = mapped_column(String, nullable=True)
    correlation_id: Mapped[str | None] = mapped_column(String, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(_JSON)
    prev_hash: Mapped[str] = mapped_column(String)
    hash: Mapped[str] = mapped_column(String)


class InsightModel(Base):
    """One registered version of a fitted detector or forecaster configuration for one series.

    The series is (metric, segment); ``segment_key`` is the segment's canonical JSON, so equal
    segments compare equal in SQL whatever the key order they were given in. The unique
    constraint keeps version numbers of a series unique and serves "latest version" lookups.
    """

    __tablename__ = "insight_models"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "metric", "segment_key", "version"),
        Index(None, "tenant_id", "kind", "metric"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    kind: Mapped[str] = mapped_column(String)
    metric: Mapped[str] = mapped_column(String)
    segment: Mapped[dict[str, Any]] = mapped_column(_JSON)
    segment_key: Mapped[str] = mapped_column(String)
    version: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(_JSON)
    fingerprint: Mapped[str] = mapped_column(String)
    training_start: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    training_end: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(_JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    run_id: Mapped[str | None] = mapped_column(String, nullable=True)


class Anomaly(Base):
    """A point of a series that a scan found anomalous, and the feedback people gave on it.

    One row per (tenant, scope, metric, segment, bucket): ``scope`` names the view of the data
    the scan saw, so a reader is shown only what was found in data they may see.
    """

    __tablename__ = "anomalies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "scope", "metric", "segment_key", "time"),
        Index(None, "tenant_id", "scope", "metric", "time"),
        Index(None, "tenant_id", "scope", "detected_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    scope: Mapped[str] = mapped_column(String)
    metric: Mapped[str] = mapped_column(String)
    grain: Mapped[str] = mapped_column(String)
    segment: Mapped[dict[str, Any]] = mapped_column(_JSON)
    segment_key: Mapped[str] = mapped_column(String)
    time: Mapped[datetime] = mapped_column(UtcDateTime())
    actual: Mapped[float] = mapped_column(Double)
    expected: Mapped[float | None] = mapped_column(Double, nullable=True)
    lower: Mapped[float | None] = mapped_column(Double, nullable=True)
    upper: Mapped[float | None] = mapped_column(Double, nullable=True)
    score: Mapped[float] = mapped_column(Double)
    severity: Mapped[str] = mapped_column(String)
    direction: Mapped[str] = mapped_column(String)
    detector: Mapped[str] = mapped_column(String)
    model_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("insight_models.id"), nullable=True
    )
    run_id: Mapped[str | None] = mapped_column(String, nullable=True)
    evidence: Mapped[dict[str, Any]] = mapped_column(_JSON)
    status: Mapped[str] = mapped_column(String, server_default="open")
    feedback_by: Mapped[str | None] = mapped_column(String, nullable=True)
    feedback_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    detected_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """One alert notification to deliver to one channel: the actions outbox.

    Added in the transaction that changes the alert, so a notification exists exactly when the
    change does. ``(tenant_id, key)`` is unique: the idempotency key names the notification,
    and adding it again finds the row already there. Dispatchers claim due rows through the
    ``(status, next_attempt_at)`` index; the other two serve listings by alert and by rule.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index(None, "status", "next_attempt_at"),
        Index(None, "tenant_id", "fingerprint"),
        Index(None, "tenant_id", "rule"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    key: Mapped[str] = mapped_column(String)
    channel: Mapped[str] = mapped_column(String)
    rule: Mapped[str] = mapped_column(String)
    fingerprint: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    payload: Mapped[dict[str, Any]] = mapped_column(_JSON)
    status: Mapped[str] = mapped_column(String)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String, nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String, nullable=True)


class DeliveryAttempt(Base):
    """One delivery attempt of a notification; rows are only ever inserted.

    ``(notification_id, number)`` is unique, so two dispatchers recording at once cannot give
    two attempts one number.
    """

    __tablename__ = "delivery_attempts"
    __table_args__ = (UniqueConstraint("notification_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(Integer, ForeignKey("notifications.id"))
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    number: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Double, nullable=True)
    response_excerpt: Mapped[str] = mapped_column(String)
    error: Mapped[str | None] = mapped_column(String, nullable=True)
    reference: Mapped[str | None] = mapped_column(String, nullable=True)


class Alert(Base):
    """One life of a trigger rule's alert for one key: from pending or firing to resolved.

    The fingerprint (tenant, rule, key values) names the alert across its lives: when a resolved
    alert's condition holds again, a new row starts with the same fingerprint, so the history of
    how often and how long it fired stays. Evaluators find the open rows of a rule through the
    ``(tenant_id, rule, state)`` index; listings and acknowledgements go by id or fingerprint.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index(None, "tenant_id", "rule", "state"),
        Index(None, "tenant_id", "fingerprint"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    fingerprint: Mapped[str] = mapped_column(String)
    rule: Mapped[str] = mapped_column(String)
    key: Mapped[list[str]] = mapped_column(_JSON)
    labels: Mapped[dict[str, Any]] = mapped_column(_JSON)
    severity: Mapped[str] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_active_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String, nullable=True)
    last_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TriggerState(Base):
    """What a trigger rule remembers between evaluations: its windows and notification groups.

    Kept as one JSON document per (tenant, rule), written in the transaction that stores the
    alerts it led to, so a restart resumes exactly where the last committed evaluation stopped.
    """

    __tablename__ = "trigger_states"

    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK), primary_key=True)
    rule: Mapped[str] = mapped_column(String, primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(_JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Silence(Base):
    """A silence: alerts whose labels match all its matchers are not told while it lasts."""

    __tablename__ = "silences"
    __table_args__ = (Index(None, "tenant_id", "ends_at"),)

    id: Mapped[str] = mapped_column(String, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String, ForeignKey(_TENANT_FK))
    matchers: Mapped[list[str]] = mapped_column(_JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str | None] = mapped_column(String, nullable=True)
    comment: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
