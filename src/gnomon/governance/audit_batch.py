"""Group commit for the audit log: many requests' entries in one catalog transaction.

Every read through the API is audited, and an entry is a hash-chained write: one transaction per
entry would serialise concurrent requests on the catalog's write lock. Entries are queued to
one writer thread, which appends whatever has gathered since its last commit in a single
transaction. A caller's future completes only once its entry has committed, so an answered
request is always in the log, and a crash loses only entries whose requests were never answered.

When a batch fails as a whole (say, one entry is invalid), each of its entries is retried in a
transaction of its own, so one bad entry fails only its own caller.
"""

import threading
from collections import deque
from concurrent.futures import Future

from gnomon.catalog import AuditRecord, Catalog, NewAuditEntry
from gnomon.errors import Conflict

__all__ = ["AuditWriter"]


_MAX_BATCH = 256
"""Entries per transaction at most: a long transaction would hold the write lock too long."""
_CONFLICT_RETRIES = 5
"""Another process may append to the same chain between our read and insert."""


_Pending = tuple[NewAuditEntry, "Future[AuditRecord]"]


class AuditWriter:
    """Appends queued entries in batches on one background thread."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, entry: NewAuditEntry) -> "Future[AuditRecord]":
        """Queue ``entry``; the future gives its record once committed, or the error."""
        future: Future[AuditRecord] = Future()
        with self._wake:
            # A private in-memory catalog is one connection for one thread, and a closed
            # writer has no thread: the caller writes its entry itself.
            alone = self._catalog.is_in_memory or self._closed
            if not alone:
                self._queue.append((entry, future))
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="gnomon-audit-writer", daemon=True
                    )
                    self._thread.start()
                self._wake.notify()
        if alone:
            self._write_alone(entry, future)
        return future

    def close(self) -> None:
        """Write what is queued, then stop the thread (idempotent)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._closed:
                    self._wake.wait()
                if not self._queue and self._closed:
                    return
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), _MAX_BATCH))]
            self._write(batch)

    def _write(self, batch: list[_Pending]) -> None:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._catalog.transaction() as tx:
                    records = tx.audit.append_many([entry for entry, _ in batch])
            except Conflict:
                if attempt + 1 < _CONFLICT_RETRIES:
                    continue
                break
            except BaseException:  # noqa: BLE001 - each entry is retried alone below
                break
            for (_, future), record in zip(batch, records, strict=True):
                future.set_result(record)
            return
        for entry, future in batch:
            self._write_alone(entry, future)

    def _write_alone(self, entry: NewAuditEntry, future: "Future[AuditRecord]") -> None:
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with self._catalog.transaction() as tx:
                    [record] = tx.audit.append_many([entry])
            except Conflict as exc:
                if attempt + 1 < _CONFLICT_RETRIES:
                    continue
                future.set_exception(exc)
                return
            except BaseException as exc:  # noqa: BLE001 - handed to the caller waiting on it
                future.set_exception(exc)
                return
            future.set_result(record)
            return
