"""Group commit for the audit log: many requests' entries in one catalog transaction.

Every read through the API is audited, and an entry is a hash-chained write: one transaction per
entry would serialise concurrent requests on the catalog's write lock. Entries are queued to
one writer thread, which appends whatever has gathered since its last commit in a single
transaction. A caller's future completes only once its entry has committed, so an answered
request is always in the log, and a crash loses only entries whose requests were never answered.

When a batch fails as a whole (say, one entry is invalid), each of its entries is retried in a
transaction of its own, so one bad entry fails only its own caller.
"""

import asyncio
import threading
from collections import deque
from concurrent.futures import Future
from typing import Union

from gnomon.catalog import AuditRecord, Catalog, NewAuditEntry
from gnomon.errors import Conflict

__all__ = ["AuditWriter"]


_MAX_BATCH = 256
"""Entries per transaction at most: a long transaction would hold the write lock too long."""
_CONFLICT_RETRIES = 5
"""Another process may append to the same chain between our read and insert."""


class _LoopWaiter:
    """An event loop's future for one entry; settled from the writer thread."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[AuditRecord] = loop.create_future()


_Waiter = Union["Future[AuditRecord]", _LoopWaiter]
_Pending = tuple[NewAuditEntry, _Waiter]
_Outcome = AuditRecord | BaseException


class AuditWriter:
    """Appends queued entries in batches on one background thread."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._gathering: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}

    def submit(self, entry: NewAuditEntry) -> "Future[AuditRecord]":
        """Queue ``entry``; the future gives its record once committed, or the error."""
        future: Future[AuditRecord] = Future()
        self._enqueue([(entry, future)])
        return future

    def submit_async(self, entry: NewAuditEntry) -> "asyncio.Future[AuditRecord]":
        """:meth:`submit` for the running event loop.

        The entries a loop submits while it runs its ready callbacks reach the writer together,
        after them, and the loop is woken once per batch: at a few thousand requests a second,
        a transaction and a wake-up per entry would cost more than the entries do. Nothing
        waits on a timer: a lone request is written at once.
        """
        loop = asyncio.get_running_loop()
        waiter = _LoopWaiter(loop)
        gathering = self._gathering.get(loop)
        if gathering is None:
            gathering = self._gathering[loop] = []
            loop.call_soon(self._hand_over, loop)
        gathering.append((entry, waiter))
        return waiter.future

    def close(self) -> None:
        """Write what is queued, then stop the thread (idempotent)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        self._enqueue(self._gathering.pop(loop, []))

    def _enqueue(self, pending: list[_Pending]) -> None:
        if not pending:
            return
        with self._wake:
            # A private in-memory catalog is one connection for one thread, and a closed
            # writer has no thread: the caller writes its entries itself.
            alone = self._catalog.is_in_memory or self._closed
            if not alone:
                self._queue.extend(pending)
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="gnomon-audit-writer", daemon=True
                    )
                    self._thread.start()
                self._wake.notify()
        if alone:
            _settle([(waiter, self._write_alone(entry)) for entry, waiter in pending])

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue and self._closed:
                    return
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), _MAX_BATCH))]
            _settle(list(zip([w for _, w in batch], self._write(batch), strict=True)))

    def _write(self, batch: list[_Pending]) -> list[_Outcome]:
        """Each entry's record, or the error that kept it out."""
        entries = [entry for entry, _ in batch]
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._catalog.transaction() as tx:
                    return list(tx.audit.append_many(entries))
            except Conflict:
                if attempt + 1 < _CONFLICT_RETRIES:
                    continue
                break
            except BaseException:  # noqa: BLE001 - each entry is retried alone below
                break
        return [self._write_alone(entry) for entry in entries]

    def _write_alone(self, entry: NewAuditEntry) -> _Outcome:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._catalog.transaction() as tx:
                    [record] = tx.audit.append_many([entry])
            except Conflict as exc:
                if attempt + 1 < _CONFLICT_RETRIES:
                    continue
                return exc
            except BaseException as exc:  # noqa: BLE001 - handed to the caller waiting on it
                return exc
            return record
        raise AssertionError("unreachable")  # pragma: no cover


def _settle(outcomes: list[tuple[_Waiter, _Outcome]]) -> None:
    """Complete the waiters: thread futures at once, each event loop's in one call."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_LoopWaiter, _Outcome]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter, outcome))
        elif isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)
    for loop, settled in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_in_loop, settled)
        except RuntimeError:  # the loop has closed: nobody is waiting any more
            continue


def _settle_in_loop(settled: list[tuple[_LoopWaiter, _Outcome]]) -> None:
    for waiter, outcome in settled:
        if waiter.future.done():  # cancelled: the request went away
            continue
        if isinstance(outcome, BaseException):
            waiter.future.set_exception(outcome)
        else:
            waiter.future.set_result(outcome)
