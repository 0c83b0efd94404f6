"""The nouns of the lake: layers, snapshots of a table version, commits and merge outcomes."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake.fs import DeltaStorageHandler

from gnomon.lake._files import WrittenFile
from gnomon.lake._uris import is_remote

__all__ = ["CommitInfo", "Layer", "MergeResult", "StagedFiles", "TableSnapshot"]

if TYPE_CHECKING:
    import pyarrow.dataset as pads


class Layer(StrEnum):
    """The zones data moves through, each a folder under the lake root.

    ``bronze`` holds data as it arrived and is append-only; ``silver`` holds it checked and merged
    by key; ``gold`` holds the output of SQL models; ``quarantine`` holds rows that failed checks.
    """

    BRONZE = "bronze"
    SILVER = "silver"
    GOLD = "gold"
    QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class TableSnapshot:
    """Everything a reader needs to read one version of a table, pinned so it cannot move.

    Attributes:
        layer: the table's layer.
        name: the table's name.
        uri: the table's root location (a local absolute path or an object-store URI).
        version: the Delta version described.
        schema: the table's schema at that version, partition columns included.
        partition_columns: the Hive-style partition columns (always ``("_tenant_id",)`` for
            tables gnomon wrote); their values live in the file paths, not in the files.
        files: absolute URIs of the Parquet files of that version, sorted. Local files are plain
            absolute paths without ``file://``.
        storage_options: the options needed to open object-store files; never shown in repr.
    """

    layer: Layer
    name: str
    uri: str
    version: int
    schema: pa.Schema
    partition_columns: tuple[str, ...]
    files: tuple[str, ...]
    storage_options: dict[str, str] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    def to_dataset(self) -> "pads.Dataset":
        """A pyarrow dataset over exactly :attr:`files`, partition columns filled in.

        Reads only the files listed, so a snapshot narrowed with ``dataclasses.replace`` (say,
        to the files one commit added) reads only those. Partition values are decoded from the
        Hive-style paths; files written before a column was added read it as null. Reading
        raises ``FileNotFoundError`` if a vacuum has since deleted some of the files.
        """
        import pyarrow.dataset as pads

        partitioning = None
        if self.partition_columns:
            fields = [self.schema.field(column) for column in self.partition_columns]
            partitioning = pads.partitioning(pa.schema(fields), flavor="hive")
        if not is_remote(self.uri):
            return pads.dataset(
                list(self.files),
                schema=self.schema,
                format="parquet",
                partitioning=partitioning,
                partition_base_dir=self.uri,
            )
        handler = DeltaStorageHandler(self.uri, dict(self.storage_options) or None)
        prefix = self.uri.rstrip("/") + "/"
        return pads.dataset(
            [path.removeprefix(prefix) for path in self.files],
            schema=self.schema,
            format="parquet",
            filesystem=pafs.PyFileSystem(handler),
            partitioning=partitioning,
            partition_base_dir="",
        )


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One commit in a table's history, with gnomon's own commit metadata picked out.

    Attributes:
        version: the Delta version the commit created.
        timestamp: when it was committed, timezone-aware UTC, millisecond precision.
        operation: Delta's name for it (``WRITE``, ``MERGE``, ``RESTORE``, ``OPTIMIZE`` …).
        batch_id: the ``gnomon.batch_id`` it carries, or ``None`` (maintenance, foreign writers).
        run_id: the ``gnomon.run_id`` it carries, or ``None``.
        gnomon_operation: the ``gnomon.operation`` it carries (``append``, ``merge``,
            ``overwrite_partition``, ``restore``, ``compact``, ``vacuum`` or a caller's name).
        metrics: Delta's operation metrics (rows and files added, removed …).
    """

    version: int
    timestamp: datetime
    operation: str
    batch_id: str | None
    run_id: str | None
    gnomon_operation: str | None
    metrics: dict[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class MergeResult:
    """What a merge did.

    Attributes:
        version: the version the merge committed.
        inserted: rows whose key was new.
        updated: existing rows replaced because the source row was at least as recent.
    """

    version: int
    inserted: int
    updated: int


@dataclass(frozen=True, slots=True)
class StagedFiles:
    """Data files written for one table and batch, not yet committed (see ``Lake.stage``).

    Readers of the table never see them: no version references them. A query can still read
    them, since :attr:`snapshot` is a table source like any version's, so a load can judge
    its rows before deciding to publish them. ``Lake.commit_staged`` adds them in one commit
    and ``Lake.discard_staged`` deletes them; the files of a process that died before either
    stay unreferenced and are removed by a vacuum.

    Attributes:
        snapshot: the files as a readable source; its version is -1, as no version holds them.
        rows: how many rows the files hold.
        batch_id: the batch the rows were stamped with (``_batch_id``).
        written: the files as written, relative to the table, for the commit.
    """

    snapshot: TableSnapshot
    rows: int
    batch_id: str
    written: tuple[WrittenFile, ...] = field(default=(), repr=False, compare=False, hash=False)
