"""The two shapes other packages program against: a table version to read, and an engine.

``TableSource`` is structural so that the lake's snapshot dataclass satisfies it without the
engine importing the lake; any object with these read-only attributes will do (tests use a tiny
dataclass of their own).
"""

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

import pyarrow as pa
from sqlglot import exp

__all__ = ["Engine", "TableSource"]


class TableSource(Protocol):
    """One version of one lake table, pinned: everything needed to read it and nothing more."""

    @property
    def uri(self) -> str:
        """The table's root location; with ``version`` it identifies what is read."""
        ...

    @property
    def version(self) -> int:
        """The Delta version the file list belongs to."""
        ...

    @property
    def schema(self) -> pa.Schema:
        """The table's columns at that version, partition columns included.

        Columns missing from every file (added after those files were written) read as NULL,
        and a table with no files at all still has these columns.
        """
        ...

    @property
    def partition_columns(self) -> tuple[str, ...]:
        """Hive-style partition columns, whose values live in the file paths, not the files."""
        ...

    @property
    def files(self) -> tuple[str, ...]:
        """Absolute paths (or ``file://`` URIs) of the Parquet files making up the version."""
        ...


class Engine(Protocol):
    """Runs sqlglot trees over lake tables and returns Arrow.

    Trees reach an engine already checked and scoped (see :class:`gnomon.engine.QueryService`);
    an engine only binds ``layer.name`` references to the given table versions and renders the
    tree in its own dialect. It never reads a table it was not given.
    """

    name: str
    dialect: str

    def execute(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        limit: int | None = None,
    ) -> pa.Table:
        """Run the query and return its rows, at most ``limit`` of them.

        Args:
            tree: the query; lake tables are referenced as ``layer.name``.
            tables: the version to read for each ``"layer.name"`` the tree references.
            relations: in-memory tables the tree may reference by their plain names.
            limit: stop reading after this many rows; ``None`` reads all.

        Raises:
            UnboundTable: the tree references a lake table missing from ``tables``.
            QueryError: the engine refused the query (unknown column, bad cast …).
            EngineUnavailable: the engine ran out of memory.
        """
        ...

    def stream(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        relations: Mapping[str, pa.Table] | None = None,
        batch_rows: int = 100_000,
    ) -> pa.RecordBatchReader:
        """Run the query and hand back its rows batch by batch, holding one batch at a time.

        The reader stays valid until it is exhausted or closed, even after the call returns.
        """
        ...

    def materialize(
        self,
        tree: exp.Expr,
        *,
        tables: Mapping[str, TableSource],
        name: str = "result",
    ) -> AbstractContextManager[exp.Table]:
        """Run the query once into a scratch table that later trees read until the block ends."""
        ...

    def close(self) -> None:
        """Release the engine's connections and caches; later calls fail."""
        ...
