"""Holding a lease for as long as a job runs.

:func:`hold_lease` takes the lease or fails at once, renews it from a background thread every third
of its ttl, so a job that outlasts the ttl keeps it, and releases it when the job ends. If the
process dies, renewal stops and the lease expires: the next job takes it over after at most one
ttl, or at once when the owner names a process on this host that no longer exists (owners are
written ``host:pid:nonce``, see :func:`process_owner`). Each acquire, renew and release is its
own short transaction, committed immediately, so the lease is visible to other processes while
the job's own transactions come and go.
"""

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from gnomon.catalog.errors import CatalogUnavailable, LeaseHeld
from gnomon.catalog.records import LeaseRecord
from gnomon.catalog.store import Catalog
from gnomon.clock import Clock

__all__ = ["HeldLease", "hold_lease", "owner_is_dead", "process_owner"]

logger = logging.getLogger(__name__)


class HeldLease:
    """A lease held by :func:`hold_lease`, renewed in the background until the block ends.

    Attributes:
        record: the lease as acquired.
    """

    def __init__(
        self, catalog: Catalog, record: LeaseRecord, *, ttl: timedelta, clock: Clock
    ) -> None:
        self.record = record
        self._catalog = catalog
        self._ttl = ttl
        self._clock = clock
        self._lost = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        """The lease's name."""
        return self.record.name

    @property
    def owner(self) -> str:
        """The owner holding it."""
        return self.record.owner

    @property
    def lost(self) -> bool:
        """Whether a renewal found the lease taken over: the guarded work must stop."""
        return self._lost.is_set()

    def check(self) -> None:
        """Raise if the lease was lost; call between steps of a long job.

        Raises:
            LeaseHeld: another owner took the lease over.
        """
        if self.lost:
            raise LeaseHeld(
                f"Lease {self.name!r} was lost: another owner took it over after {self.owner}"
                " failed to renew it in time.",
                hint="Stop this job; the new holder carries on. Raise the lease ttl if the"
                " catalog is often slow to answer.",
                lease=self.name,
                owner=self.owner,
            )

    def renew(self) -> bool:
        """Extend the lease by its ttl now; ``False`` (and :attr:`lost` set) if it was lost.

        A catalog that cannot be reached is logged and counts as kept: the next renewal may
        succeed before the lease runs out.
        """
        try:
            with self._catalog.transaction() as tx:
                kept = tx.leases.renew(
                    self.name, owner=self.owner, ttl=self._ttl, now=self._clock.now()
                )
        except CatalogUnavailable as exc:
            logger.warning("could not renew lease %s of %s: %s", self.name, self.owner, exc)
            return True
        if not kept:
            logger.error("lease %s of %s was lost to another owner", self.name, self.owner)
            self._lost.set()
        return kept

    def __enter__(self) -> "HeldLease":
        if not self._catalog.is_in_memory:
            # An in-memory catalog's one connection cannot serve a second thread's transactions.
            interval = self._ttl.total_seconds() / 3

            def keep_renewing() -> None:
                while not self._stopped.wait(interval):
                    if not self.renew():
                        return

            self._thread = threading.Thread(
                target=keep_renewing, name=f"lease:{self.name}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        self._release()

    def _release(self) -> None:
        try:
            with self._catalog.transaction() as tx:
                tx.leases.release(self.name, owner=self.owner)
        except CatalogUnavailable as exc:
            logger.warning(
                "could not release lease %s of %s; it expires by itself: %s",
                self.name,
                self.owner,
                exc,
            )


def process_owner() -> str:
    """A lease owner naming this process: ``host:pid:nonce``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str) -> bool:
    """True only when ``owner`` ran on this host and its process no longer exists.

    An owner from another host, or not of the ``host:pid:nonce`` form, is never presumed dead:
    its lease is left to expire.
    """
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@contextmanager
def hold_lease(
    catalog: Catalog,
    name: str,
    *,
    owner: str,
    ttl: timedelta,
    clock: Clock | None = None,
) -> Iterator[HeldLease]:
    """Hold the lease ``name`` for the duration of the ``with`` block.

    Args:
        catalog: where the lease lives.
        name: the lease, e.g. ``"load:orders"``.
        owner: unique to this process and job (host, pid, run), so a restarted process is a
            new owner and waits for its predecessor's lease to expire.
        ttl: how long the lease outlives a holder that stops renewing it.
        clock: the time source; the catalog's clock when ``None``.

    Raises:
        LeaseHeld: another owner holds an unexpired lease; the message names it and the expiry.
        CatalogUnavailable: the catalog cannot be reached to take the lease.
    """
    clock = clock or catalog.clock
    with catalog.transaction() as tx:
        granted = tx.leases.acquire(name, owner=owner, ttl=ttl, now=clock.now())
        record = tx.leases.get(name)
    if not granted and record is not None and owner_is_dead(record.owner):
        logger.warning("taking over lease %s from %s, whose process is gone", name, record.owner)
        with catalog.transaction() as tx:
            tx.leases.release(name, owner=record.owner)
            granted = tx.leases.acquire(name, owner=owner, ttl=ttl, now=clock.now())
            record = tx.leases.get(name)
    if not granted or record is None:
        holder = record.owner if record else "another owner"
        until = record.expires_at.isoformat() if record else "unknown"
        raise LeaseHeld(
            f"Lease {name!r} is held by {holder} until {until}: the work it guards is running"
            " elsewhere.",
            hint="Wait for that job to finish, or for the lease to expire if its process died.",
            lease=name,
            owner=holder,
            expires_at=until,
        )
    with HeldLease(catalog, record, ttl=ttl, clock=clock) as held:
        yield held
