"""Keeping catalog reads in memory, safely: change generations and the memo built on them.

A request reads the same things over and over (its API key, the tenant's roles, definitions and
policies, the published table versions) while they change rarely. Every write to them moves its
scope's generation in the same transaction (:meth:`Repository._changed`). :class:`ChangeWatch`
reads all generations in one statement at most once per ``interval_s``, and at once after this
process commits a change, so:

* a change made by this process is seen by the next read, and
* a change made by another process (a CLI command, another server) within ``interval_s``.

:class:`CatalogMemo` keeps a value per key together with the generation it was read at and
serves it while that generation stands.

Code that must not wait on the database (the API's event loop answering from caches) runs
inside :func:`memory_only`: any read or write a memo or a cache would need instead raises
:class:`NotInMemory`, and the caller does the work in a thread the ordinary way.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Generic, TypeVar

from gnomon.catalog.store import Catalog

__all__ = [
    "DEFAULT_INTERVAL_S",
    "CatalogMemo",
    "ChangeWatch",
    "NotInMemory",
    "memory_only",
    "require_io",
]

DEFAULT_INTERVAL_S = 1.0
"""How stale another process's change may be seen: one small read per interval at most."""

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MEMORY_ONLY: ContextVar[bool] = ContextVar("gnomon_memory_only", default=False)


class NotInMemory(Exception):
    """Raised inside :func:`memory_only` where the answer needs a read or a write."""


class memory_only:
    """Run the block from memory alone: anything that needs I/O raises :class:`NotInMemory`.

    A class rather than a generator-based context manager: it is entered several times on
    every cached request.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = _MEMORY_ONLY.set(True)

    def __exit__(self, *exc_info: object) -> None:
        _MEMORY_ONLY.reset(self._token)


def require_io(what: str) -> None:
    """Call before doing I/O that memory-only code must not wait for."""
    if _MEMORY_ONLY.get():
        raise NotInMemory(what)


class ChangeWatch:
    """The catalog's change generations, re-read at most once per interval."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._interval_s = interval_s
        self._monotonic = monotonic
        self._generations: dict[str, int] = {}
        self._read_at: float | None = None
        self._lock = threading.Lock()
        catalog.on_change(self._heard)

    def generation(self, scope: str) -> int:
        """The scope's generation, read from the catalog when the last read is too old."""
        return self.generations().get(scope, 0)

    def generations(self) -> dict[str, int]:
        """Every scope's generation (absent: 0), read when the last read is too old."""
        read_at = self._read_at
        if read_at is None or self._monotonic() - read_at >= self._interval_s:
            self.refresh()
        return self._generations

    def refresh(self) -> None:
        """Read every generation now (one statement)."""
        require_io("read the catalog's change generations")
        with self._lock:
            started = self._monotonic()
            with self._catalog.transaction(read_only=True) as tx:
                generations = tx.changes.generations()
            self._generations = generations
            # Stamped with the time the read began: a change committed during it is re-read
            # within the interval, never missed for longer.
            self._read_at = started

    def _heard(self, scopes: frozenset[str]) -> None:
        """This process committed a change: the next use reads the generations again."""
        del scopes  # every scope is re-read in the same statement
        self._read_at = None


class CatalogMemo(Generic[K, V]):
    """Values read from the catalog, kept while their scope's generation stands.

    ``load`` reads the value (in its own transaction); ``scope`` names the generation it depends
    on, given the key and the value (an API key's tenant is known only once it is read), or
    ``None`` for a value not to keep (an unknown key). At most ``size`` keys are kept, the
    longest kept first out (a hit takes no lock: it is on every request's path).
    """

    def __init__(
        self,
        watch: ChangeWatch,
        *,
        load: Callable[[K], V],
        scope: Callable[[K, V], str | None],
        size: int = 1024,
    ) -> None:
        self._watch = watch
        self._load = load
        self._scope = scope
        self._size = size
        self._entries: OrderedDict[K, tuple[str, int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V:
        """The value, from memory while its generation stands, else read (and kept).

        Raises:
            NotInMemory: inside :func:`memory_only`, when the value would have to be read.
        """
        found = self._entries.get(key)
        if found is not None:
            scope, generation, value = found
            if self._watch.generations().get(scope, 0) == generation:
                return value
        require_io("read the catalog")
        # The generations are taken before the value is read: a change committed in between
        # makes the entry look stale at its next use (a needless re-read), never current when
        # it is not.
        generations = self._watch.generations()
        value = self._load(key)
        kept = self._scope(key, value)
        if kept is not None:
            self._put(key, (kept, generations.get(kept, 0), value))
        return value

    def _put(self, key: K, entry: tuple[str, int, V]) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
