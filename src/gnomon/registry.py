"""Named implementations of a protocol: built-ins imported lazily, plugins by entry point.

Why lazy: importing every engine, bus and channel at start-up would pull in heavy libraries the
user never configured. A built-in is registered as ``"module:attribute"`` and imported on first use.
"""

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from gnomon.errors import InvalidInput

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories of ``T``.

    >>> r: Registry[int] = Registry("numbers")
    >>> r.add("one", lambda: 1)
    >>> r.get("one")()
    1
    >>> r.get("two")
    Traceback (most recent call last):
    ...
    gnomon.errors.InvalidInput: Unknown numbers 'two'. Use one of: one.
    """

    def __init__(self, kind: str, *, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self._group = entry_point_group
        self._factories: dict[str, Callable[..., T]] = {}
        self._lazy: dict[str, str] = {}
        self._loaded_plugins = False

    def add(self, name: str, factory: Callable[..., T]) -> None:
        """Register a factory under ``name``."""
        self._factories[name] = factory

    def add_lazy(self, name: str, target: str) -> None:
        """Register ``"package.module:attribute"``, imported when first asked for."""
        self._lazy[name] = target

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        self._load_plugins()
        return sorted({*self._factories, *self._lazy})

    def get(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``.

        Raises:
            InvalidInput: nothing is registered under that name; the message lists the names.
        """
        if name in self._factories:
            return self._factories[name]
        if name in self._lazy:
            module_name, _, attribute = self._lazy[name].partition(":")
            factory: Callable[..., T] = getattr(importlib.import_module(module_name), attribute)
            self._factories[name] = factory
            return factory
        self._load_plugins()
        if name in self._factories:
            return self._factories[name]
        raise InvalidInput(f"Unknown {self.kind} {name!r}. Use one of: {', '.join(self.names())}.")

    def _load_plugins(self) -> None:
        if self._loaded_plugins or self._group is None:
            return
        self._loaded_plugins = True
        for ep in entry_points(group=self._group):
            self._factories.setdefault(ep.name, ep.load())
