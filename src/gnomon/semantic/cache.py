"""A small in-process cache of metric query results.

An entry is keyed by everything that decides the answer except the data: the tenant, the
principal's policy-relevant identity (roles and attributes, which row-level policies read), the
engine, the query, and the version stamp of the applied definitions. It stores the answer with
the version of every table it read. A hit is served only while each of those tables still has
that published version; when any table moves on, the entry is dropped and the query runs again.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ResultCache"]

_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[_V]):
    value: _V
    versions: Mapping[str, int]


class ResultCache(Generic[_V]):
    """Least-recently-used entries, each valid while its tables keep their versions.

    Thread-safe. ``max_entries`` bounds memory by count; results are small (aggregates).
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._entries: OrderedDict[Hashable, _Entry[_V]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, current: Callable[[str], int | None]) -> _V | None:
        """The cached value, if every table it read still has the version it was read at.

        ``current`` gives a table's published version now (``None`` if it is gone).
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None:
            self.misses += 1
            return None
        if any(current(table) != version for table, version in entry.versions.items()):
            with self._lock:
                self._entries.pop(key, None)
            self.misses += 1
            return None
        self.hits += 1
        return entry.value

    def put(self, key: Hashable, value: _V, versions: Mapping[str, int]) -> None:
        """Remember ``value``, computed from these table versions."""
        with self._lock:
            self._entries[key] = _Entry(value, dict(versions))
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
