"""Leases: named, expiring, exclusive locks held in the catalog.

Two loads of one table must never run at once, also when they run in different processes or on
different machines. A lease (e.g. ``"load:silver.orders"``) is granted by one atomic statement, an
``INSERT … ON CONFLICT DO UPDATE … WHERE`` that only takes over a row that is the caller's own or
expired, so of several callers racing for a free lease exactly one gets it. A holder that dies
loses the lease when its time runs out; a live holder renews it before then.
"""

from datetime import datetime, timedelta

from sqlalchemy import case, delete, or_, select, update

from gnomon.catalog.models import Lease
from gnomon.catalog.records import LeaseRecord
from gnomon.catalog.repositories._base import Repository, require_aware
from gnomon.errors import InvalidInput

__all__ = ["LeaseRepository"]


class LeaseRepository(Repository):
    """Exclusive leases by name. Commit soon after acquiring: the row lock is held until then."""

    __slots__ = ()

    def acquire(
        self, name: str, *, owner: str, ttl: timedelta, now: datetime | None = None
    ) -> bool:
        """Take the lease for ``ttl`` if it is free, expired, or already ``owner``'s.

        Args:
            name: the lease, e.g. ``"load:silver.orders"``.
            owner: a value unique to the holder (process and run), compared on renew/release.
            ttl: how long the lease lasts without renewal.
            now: the current time; the injected clock's when ``None``.

        Returns:
            ``True`` if ``owner`` holds the lease now (its expiry moved to ``now + ttl``),
            ``False`` if someone else holds an unexpired lease.

        Raises:
            InvalidInput: ``ttl`` is not positive or ``now`` is naive.
        """
        at = self._at(now, ttl)
        statement = self._insert(Lease).values(
            name=name, owner=owner, acquired_at=at, expires_at=at + ttl
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={
                "owner": statement.excluded.owner,
                "acquired_at": case(
                    (Lease.owner == statement.excluded.owner, Lease.acquired_at),
                    else_=statement.excluded.acquired_at,
                ),
                "expires_at": statement.excluded.expires_at,
            },
            where=or_(Lease.owner == statement.excluded.owner, Lease.expires_at <= at),
        )
        granted = self._session.execute(statement.returning(Lease.name)).scalar_one_or_none()
        return granted is not None

    def renew(self, name: str, *, owner: str, ttl: timedelta, now: datetime | None = None) -> bool:
        """Extend ``owner``'s lease to ``now + ttl``.

        Returns:
            ``False`` if ``owner`` no longer holds it (another owner took it over after it
            expired, or it was released): the caller must stop the work it guards.

        Raises:
            InvalidInput: ``ttl`` is not positive or ``now`` is naive.
        """
        at = self._at(now, ttl)
        renewed = self._session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.owner == owner)
            .values(expires_at=at + ttl)
            .returning(Lease.name)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        return renewed is not None

    def release(self, name: str, *, owner: str) -> bool:
        """Give the lease up; ``False`` (and no change) if ``owner`` does not hold it."""
        released = self._session.execute(
            delete(Lease)
            .where(Lease.name == name, Lease.owner == owner)
            .returning(Lease.name)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        return released is not None

    def get(self, name: str) -> LeaseRecord | None:
        """Who holds the lease and until when; ``None`` if nobody ever took it or it was released.

        An expired lease is still returned: compare ``expires_at`` with the current time.
        """
        row = self._session.scalars(
            select(Lease).where(Lease.name == name).execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            return None
        return LeaseRecord(
            name=row.name, owner=row.owner, acquired_at=row.acquired_at, expires_at=row.expires_at
        )

    def _at(self, now: datetime | None, ttl: timedelta) -> datetime:
        if ttl <= timedelta(0):
            raise InvalidInput(
                f"Invalid lease ttl: {ttl} is not positive.",
                hint="Pass a positive timedelta, e.g. timedelta(minutes=5).",
            )
        return self._now() if now is None else require_aware(now, field="now")
