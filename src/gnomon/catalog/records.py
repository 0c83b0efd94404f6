"""What the catalog hands out: frozen snapshots of rows, detached from any session.

Why not ORM objects: an ORM object is bound to a session, lazy-loads on attribute access and writes
back whatever is assigned to it. A record is a value: safe to cache, pass between threads and
return after the transaction is gone, and a change to it cannot reach the database by accident.
All timestamps are timezone-aware UTC.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = [
    "DEFINITION_KINDS",
    "FINISHED_RUN_STATUSES",
    "POLICY_KINDS",
    "RUN_KINDS",
    "RUN_STATUSES",
    "ApiKeyRecord",
    "AuditCheck",
    "AuditRecord",
    "ContractVersionRecord",
    "DatasetRecord",
    "DefinitionKind",
    "DefinitionRecord",
    "IngestedFileRecord",
    "LeaseRecord",
    "OutboxRecord",
    "PolicyKind",
    "PolicyRecord",
    "RoleRecord",
    "RollupRecord",
    "RunKind",
    "RunRecord",
    "RunStatus",
    "SourceRecord",
    "TableVersionRecord",
    "TenantRecord",
    "UserRecord",
]

RunKind = Literal["ingest", "build", "maintenance"]
RunStatus = Literal["running", "succeeded", "failed", "blocked", "skipped"]

RUN_KINDS: tuple[RunKind, ...] = ("ingest", "build", "maintenance")
RUN_STATUSES: tuple[RunStatus, ...] = ("running", "succeeded", "failed", "blocked", "skipped")
FINISHED_RUN_STATUSES: tuple[RunStatus, ...] = ("succeeded", "failed", "blocked", "skipped")

DefinitionKind = Literal["semantic_model", "metric", "calendar"]

DEFINITION_KINDS: tuple[DefinitionKind, ...] = ("semantic_model", "metric", "calendar")

PolicyKind = Literal["row", "mask"]

POLICY_KINDS: tuple[PolicyKind, ...] = ("row", "mask")


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
