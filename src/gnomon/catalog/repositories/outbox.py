"""The transactional outbox: events written with the state change they announce.

An event added in the same catalog transaction as its change is committed or rolled back with it,
so no event announces a change that did not happen and no change goes unannounced. A relay reads
:meth:`OutboxRepository.pending`, publishes to the bus after the fact and marks what it sent;
delivery is at least once, so consumers deduplicate by event id.
"""

import builtins
import copy
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update

from gnomon.catalog.models import OutboxMessage
from gnomon.catalog.records import OutboxRecord
from gnomon.catalog.repositories._base import Repository, require_limit

__all__ = ["OutboxRepository"]


def _record(row: OutboxMessage) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        tenant=row.tenant_id,
        type=row.type,
        source=row.source,
        time=row.time,
        correlation_id=row.correlation_id,
        data=copy.deepcopy(row.data),
        published_at=row.published_at,
        attempts=row.attempts,
    )


class OutboxRepository(Repository):
    """Outgoing event envelopes, in the order they were written."""

    __slots__ = ()

    def add(
        self,
        *,
        tenant: str,
        type: str,
        source: str,
        data: dict[str, Any],
        correlation_id: str | None = None,
    ) -> OutboxRecord:
        """Queue an event; it is published only if this transaction commits.

        Args:
            tenant: the tenant the event concerns.
            type: the CloudEvents type, e.g. ``"gnomon.ingest.run.finished"``.
            source: the CloudEvents source, e.g. ``"gnomon/ingest"``.
            data: the JSON payload.
            correlation_id: the id of the request or run that caused the event.

        Raises:
            TenantNotFound: the tenant does not exist.
        """
        self._require_tenant(tenant)
        row = OutboxMessage(
            id=uuid.uuid4().hex,
            tenant_id=tenant,
            type=type,
            source=source,
            time=self._now(),
            correlation_id=correlation_id,
            data=copy.deepcopy(data),
            published_at=None,
            attempts=0,
        )
        self._session.add(row)
        self._session.flush()
        return _record(row)

    def add_many(
        self,
        *,
        tenant: str,
        events: Iterable[tuple[str, str, dict[str, Any]]],
        correlation_id: str | None = None,
    ) -> builtins.list[OutboxRecord]:
        """Queue several events of one tenant, each ``(type, source, data)``, in one flush.

        They are published in the order given.

        Raises:
            TenantNotFound: the tenant does not exist.
        """
        self._require_tenant(tenant)
        now = self._now()
        # One time for the lot; ids that sort in the order given keep the events in order.
        prefix = uuid.uuid4().hex[:24]
        rows = [
            OutboxMessage(
                id=f"{prefix}{position:08x}",
                tenant_id=tenant,
                type=type_,
                source=source,
                time=now,
                correlation_id=correlation_id,
                data=copy.deepcopy(data),
                published_at=None,
                attempts=0,
            )
            for position, (type_, source, data) in enumerate(events)
        ]
        self._session.add_all(rows)
        self._session.flush()
        return [_record(row) for row in rows]

    def pending(self, limit: int = 100) -> builtins.list[OutboxRecord]:
        """Unpublished events of every tenant, oldest first.

        On PostgreSQL the rows stay locked until the transaction ends and rows locked by another
        relay are skipped, so relays running side by side do not send the same event twice.

        Raises:
            InvalidInput: the limit is below 1.
        """
        require_limit(limit)
        rows = self._session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.published_at.is_(None))
            .order_by(OutboxMessage.time, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def mark_published(self, ids: Iterable[str]) -> int:
        """Record that these events reached the bus; returns how many were still pending."""
        return self._count_attempt(ids, published=True)

    def mark_failed(self, ids: Iterable[str]) -> int:
        """Count a failed delivery of these events, which stay pending; returns how many."""
        return self._count_attempt(ids, published=False)

    def _count_attempt(self, ids: Iterable[str], *, published: bool) -> int:
        wanted = sorted(set(ids))
        if not wanted:
            return 0
        values: dict[str, Any] = {"attempts": OutboxMessage.attempts + 1}
        if published:
            values["published_at"] = self._now()
        changed = self._session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(wanted), OutboxMessage.published_at.is_(None))
            .values(values)
            .returning(OutboxMessage.id)
            .execution_options(synchronize_session=False)
        ).all()
        return len(changed)
