"""The audit log: per tenant, an append-only chain of who did what, and when.

Entries are numbered 1, 2, 3 … per tenant, and each one's hash covers the previous entry's hash
(see :mod:`gnomon.catalog.audit_chain`), so :meth:`AuditRepository.verify` detects an entry that
was changed or removed behind the catalog's back. The repository offers no way to change or
remove an entry.

Appending reads the tenant's last entry and adds the next one. Two appends for one tenant must
not both read the same last entry: on SQLite every transaction holds the write lock from its
start, and on PostgreSQL an append takes a transaction-level advisory lock on the tenant's log,
so appends of one tenant take turns (until their transactions end) while other tenants' appends
and every other write go on. The unique (tenant, seq) constraint backs both up: an entry that
slipped in anyway turns the append into a :class:`~gnomon.errors.Conflict`, never a fork.
"""

import builtins
import copy
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any, cast

from sqlalchemy import Row, Table, select, text

from gnomon.catalog.audit_chain import GENESIS_HASH, audit_hash, canonical_json
from gnomon.catalog.models import AuditEntry
from gnomon.catalog.records import AuditCheck, AuditRecord, NewAuditEntry
from gnomon.catalog.repositories._base import (
    Repository,
    require_json_object,
    require_limit,
    require_name,
)
from gnomon.errors import Conflict, GnomonError, InvalidInput

__all__ = ["AuditRepository"]

VERIFY_BATCH = 1000
"""How many entries :meth:`AuditRepository.verify` holds in memory at a time."""

_CHAIN_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.principal,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.correlation_id,
    AuditEntry.details,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        id=row.id,
        tenant=row.tenant_id,
        seq=row.seq,
        at=row.at,
        principal=row.principal,
        action=row.action,
        target=row.target,
        correlation_id=row.correlation_id,
        details=copy.deepcopy(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _lock_key(tenant: str) -> int:
    """The advisory lock of a tenant's log: 64 bits of a digest, as PostgreSQL's signed bigint."""
    digest = hashlib.sha256(f"gnomon.audit_log:{tenant}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _optional_text(value: str | None, *, field: str) -> str | None:
    """Free text, but not an empty string: ``None`` already says "none"."""
    if value is None or (isinstance(value, str) and value):
        return value
    raise InvalidInput(
        f"Invalid audit {field} {value!r}: it must be a non-empty string or None.",
        hint=f"Pass the {field} as text, or leave it out.",
        field=field,
    )


class AuditRepository(Repository):
    """One hash chain of entries per tenant: append, read in order, verify."""

    __slots__ = ()

    def append(
        self,
        *,
        tenant: str,
        principal: str,
        action: str,
        target: str | None = None,
        correlation_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditRecord:
        """Add the tenant's next entry, stamped now and chained to the last one.

        The entry commits with the transaction it was appended in: an action and its audit
        entry are written together or not at all.

        Args:
            tenant: whose log.
            principal: who acted, e.g. ``user:emea@acme`` or ``key:3f2a…``.
            action: what was done, e.g. ``sql.query``, ``metrics.query``, ``user.create``.
            target: what it was done to, e.g. a dataset, user or policy name.
            correlation_id: the request or run the action belongs to.
            details: facts of the action as a JSON object (the query, rows returned …).

        Raises:
            InvalidInput: the principal or action is not a valid name, the target or
                correlation id is empty, or ``details`` is not a JSON object.
            Conflict: another entry took the same place in the chain; retrying is safe.
            TenantNotFound: the tenant does not exist.
        """
        [record] = self.append_many(
            [NewAuditEntry(tenant, principal, action, target, correlation_id, details)]
        )
        return record

    def append_many(self, entries: Sequence[NewAuditEntry]) -> builtins.list[AuditRecord]:
        """Add several entries in order, each chained to the one before it in its tenant's log.

        One read of each tenant's last entry and one insert for all: the audit writer appends
        the entries of many concurrent requests this way, in one transaction.

        Raises:
            InvalidInput, Conflict, TenantNotFound: as :meth:`append`, for any entry (nothing
                is appended then).
        """
        checked = [
            NewAuditEntry(
                tenant=entry.tenant,
                principal=require_name(
                    entry.principal, field="principal", example="user:emea@acme"
                ),
                action=require_name(entry.action, field="action", example="metrics.query"),
                target=_optional_text(entry.target, field="target"),
                correlation_id=_optional_text(entry.correlation_id, field="correlation id"),
                # Stored as its canonical JSON reads back, so the hash covers what is kept.
                details=_json_object(entry.details),
            )
            for entry in entries
        ]
        if not checked:
            return []
        heads: dict[str, tuple[int, str]] = {}
        for tenant in sorted({entry.tenant for entry in checked}):
            self._lock_log(tenant)
            last = self._session.execute(
                select(AuditEntry.seq, AuditEntry.hash)
                .where(AuditEntry.tenant_id == tenant)
                .order_by(AuditEntry.seq.desc())
                .limit(1)
            ).one_or_none()
            if last is None:
                # A log with entries belongs to a tenant (tenants are never deleted); only a
                # first entry needs the check, for a clear error instead of a foreign key's.
                self._require_tenant(tenant)
            heads[tenant] = (0, GENESIS_HASH) if last is None else (last.seq, last.hash)
        rows: builtins.list[dict[str, Any]] = []
        for entry in checked:
            last_seq, prev_hash = heads[entry.tenant]
            fields = {
                "tenant": entry.tenant,
                "seq": last_seq + 1,
                "at": self._now(),
                "principal": entry.principal,
                "action": entry.action,
                "target": entry.target,
                "correlation_id": entry.correlation_id,
                "details": entry.details,
            }
            digest = audit_hash(prev_hash, fields)
            heads[entry.tenant] = (last_seq + 1, digest)
            rows.append(fields | {"prev_hash": prev_hash, "hash": digest})
        # A Core insert of the table (not the ORM entity): every read is audited, and the
        # ORM's bulk path costs more than the rows.
        table = cast(Table, AuditEntry.__table__)
        statement = (
            self._insert_into(table)
            .on_conflict_do_nothing(index_elements=[table.c.tenant_id, table.c.seq])
            .returning(table.c.id, table.c.tenant_id, table.c.seq)
        )
        inserted = (
            self._session.connection()
            .execute(
                statement,
                [
                    {
                        "tenant_id": row["tenant"],
                        **{k: v for k, v in row.items() if k != "tenant"},
                    }
                    for row in rows
                ],
            )
            .all()
        )
        ids = {(tenant, seq): entry_id for entry_id, tenant, seq in inserted}
        missing = [row for row in rows if (row["tenant"], row["seq"]) not in ids]
        if missing:
            tenant, seq = missing[0]["tenant"], missing[0]["seq"]
            raise Conflict(
                f"Audit entry {seq} of tenant {tenant!r} was written by another transaction at"
                " the same time.",
                hint="Retry the transaction: the retry appends after that entry.",
                tenant=tenant,
                seq=seq,
            )
        return [
            AuditRecord(
                id=ids[(row["tenant"], row["seq"])],
                tenant=row["tenant"],
                seq=row["seq"],
                at=row["at"],
                principal=row["principal"],
                action=row["action"],
                target=row["target"],
                correlation_id=row["correlation_id"],
                details=row["details"],
                prev_hash=row["prev_hash"],
                hash=row["hash"],
            )
            for row in rows
        ]

    def list(
        self,
        *,
        tenant: str,
        after_seq: int | None = None,
        limit: int = 100,
        action: str | None = None,
    ) -> builtins.list[AuditRecord]:
        """One page of the tenant's entries in chain order.

        Args:
            tenant: whose log.
            after_seq: the ``seq`` of the last entry of the previous page; ``None`` to start
                at the first entry.
            limit: at most this many entries; a shorter page is the last one.
            action: only entries of this action.

        Raises:
            InvalidInput: the limit is below 1.
        """
        require_limit(limit)
        statement = select(AuditEntry).where(AuditEntry.tenant_id == tenant)
        if after_seq is not None:
            statement = statement.where(AuditEntry.seq > after_seq)
        if action is not None:
            statement = statement.where(AuditEntry.action == action)
        rows = self._session.scalars(
            statement.order_by(AuditEntry.seq)
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def verify(self, *, tenant: str) -> AuditCheck:
        """Recompute the tenant's chain from the first entry and report the first broken link.

        An entry is bad when its hash does not match its fields, when its ``prev_hash`` is not
        the hash of the entry before it, or when it is missing: the chain jumps from ``seq`` n
        to more than n + 1 (then ``first_bad_seq`` is n + 1, the missing one). Entries removed
        from the end of the log cannot be told from entries never written.

        Reads :data:`VERIFY_BATCH` entries at a time, so memory stays bounded on any log size.
        """
        prev_hash, expected = GENESIS_HASH, 1
        for entry in self._chain(tenant):
            problem = _problem(tenant, entry, expected=expected, prev_hash=prev_hash)
            if problem is not None:
                bad_seq, reason = problem
                return AuditCheck(
                    ok=False, entries=expected - 1, first_bad_seq=bad_seq, reason=reason
                )
            prev_hash, expected = entry.hash, expected + 1
        return AuditCheck(ok=True, entries=expected - 1, first_bad_seq=None, reason=None)

    def _chain(self, tenant: str) -> Iterator[Row[Any]]:
        """The tenant's entries in ``seq`` order, as plain rows, fetched in batches."""
        after: int | None = None
        while True:
            statement = select(*_CHAIN_COLUMNS).where(AuditEntry.tenant_id == tenant)
            if after is not None:
                statement = statement.where(AuditEntry.seq > after)
            batch = self._session.execute(
                statement.order_by(AuditEntry.seq).limit(VERIFY_BATCH)
            ).all()
            yield from batch
            if len(batch) < VERIFY_BATCH:
                return
            after = batch[-1].seq

    def _lock_log(self, tenant: str) -> None:
        """Make appends to the tenant's log take turns (PostgreSQL; SQLite already does)."""
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(tenant)}
            )


def _json_object(details: dict[str, Any] | None) -> dict[str, Any]:
    """The details as they read back from the database: canonical JSON, parsed (a new dict).

    Every read is audited, so the common case is checked with one encode and one decode; a
    value that does not read back equal gets :func:`require_json_object`'s error.
    """
    value = {} if details is None else details
    try:
        parsed: Any = json.loads(canonical_json(value))
    except InvalidInput:
        parsed = None
    # Equal after the round trip also means string keys: JSON turns any other key into a string.
    if isinstance(value, dict) and parsed == value:
        return dict(parsed)
    require_json_object(value, field="audit details", example='{"rows": 12}')
    raise InvalidInput(  # pragma: no cover - require_json_object refuses such a value first
        f"Invalid audit details: {value!r} is not a JSON object.", field="audit details"
    )


def _problem(
    tenant: str, entry: Row[Any], *, expected: int, prev_hash: str
) -> tuple[int, str] | None:
    """What is wrong with the entry that should be ``expected`` in the chain, if anything."""
    if entry.seq != expected:
        return expected, (
            f"entry {expected} is missing: the entry after {expected - 1} is {entry.seq}"
            if entry.seq > expected
            else f"entry {entry.seq} appears where entry {expected} was expected"
        )
    if entry.prev_hash != prev_hash:
        return entry.seq, (
            f"entry {entry.seq} does not follow the entry before it: its prev_hash is not"
            f" {'the genesis hash' if expected == 1 else f'the hash of entry {expected - 1}'}"
        )
    fields = {
        "tenant": tenant,
        "seq": entry.seq,
        "at": entry.at,
        "principal": entry.principal,
        "action": entry.action,
        "target": entry.target,
        "correlation_id": entry.correlation_id,
        "details": entry.details,
    }
    try:
        recomputed = audit_hash(entry.prev_hash, fields)
    except GnomonError as exc:
        return entry.seq, f"entry {entry.seq} cannot be hashed: {exc.message}"
    if recomputed != entry.hash:
        return entry.seq, f"entry {entry.seq} was changed: its hash does not match its content"
    return None
