"""The table-version views an engine keeps: found or made, pinned while used, evicted when idle.

DuckDB and Spark both turn a table version into a view once and reuse it; a view in use by a
query (pinned) is never dropped, and beyond the cache size the least recently used idle ones go.
Callers hold their own lock around both functions.
"""

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from gnomon.engine.protocols import TableSource

if TYPE_CHECKING:
    from collections import OrderedDict

__all__ = ["SourceKey", "acquire_views", "evict_views"]

SourceKey = tuple[str, int, tuple[str, ...]]
"""A table version as its views are cached: uri, version and file list."""


class _Pinned(Protocol):
    pins: int


_V = TypeVar("_V", bound=_Pinned)


def acquire_views(
    views: "OrderedDict[SourceKey, _V]",
    needed: Mapping[tuple[str, str], TableSource],
    create: Callable[[tuple[str, str], TableSource], _V],
) -> dict[tuple[str, str], _V]:
    """The view of each needed table version, made if missing, each pinned once."""
    acquired: dict[tuple[str, str], _V] = {}
    try:
        for key, source in sorted(needed.items()):
            cache_key = (source.uri, source.version, tuple(source.files))
            view = views.get(cache_key)
            if view is None:
                view = create(key, source)
                views[cache_key] = view
            else:
                views.move_to_end(cache_key)
            view.pins += 1
            acquired[key] = view
    except BaseException:
        for view in acquired.values():
            view.pins -= 1
        raise
    return acquired


def evict_views(
    views: "OrderedDict[SourceKey, _V]", max_views: int, drop: Callable[[_V], None]
) -> None:
    """Drop the least recently used unpinned views beyond ``max_views``."""
    while len(views) > max_views:
        victim = next((key for key, view in views.items() if view.pins == 0), None)
        if victim is None:
            return
        drop(views.pop(victim))
