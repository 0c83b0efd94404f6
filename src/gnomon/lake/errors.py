"""Errors of the lake, each a subclass of a kind in :mod:`gnomon.errors`.

Bad table names, versions and data are plain :class:`gnomon.errors.InvalidInput`; a commit that
lost a race with another writer is :class:`gnomon.errors.Conflict`.
"""

from typing import Any

from gnomon.errors import NotFound, Unavailable

__all__ = ["LakeUnavailable", "TableNotFound"]


class TableNotFound(NotFound):
    """No Delta table exists at the address asked for.

    Attributes:
        layer: the layer that was searched.
        name: the table name that was asked for.
        tables: the names of the tables that do exist in that layer, sorted.
    """

    def __init__(
        self,
        message: str,
        *,
        layer: str,
        name: str,
        tables: list[str],
        hint: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, hint=hint, layer=layer, name=name, tables=tables, **details)
        self.layer = layer
        self.name = name
        self.tables = tables


class LakeUnavailable(Unavailable):
    """The lake's storage cannot be reached, read or written now (network, permissions, disk).

    Attributes:
        uri: the location that failed.
    """

    def __init__(self, message: str, *, uri: str, hint: str | None = None, **details: Any) -> None:
        super().__init__(message, hint=hint, uri=uri, **details)
        self.uri = uri
