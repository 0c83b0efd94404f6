"""The lake: gnomon's data as Delta tables at ``<root>/<layer>/<name>``, partitioned by tenant.

Policy, in one place:

* Every write (append, partition overwrite, merge) is exactly one Delta commit labelled with
  ``gnomon.batch_id``, ``gnomon.operation`` and ``gnomon.run_id``. A crash before the commit leaves
  only unreferenced Parquet files, which readers never see and :meth:`Lake.vacuum` removes; a
  resumed load asks :meth:`Lake.find_commit` which of its steps already landed.
* A write of empty input still commits (an empty commit with the labels), so "did this batch
  commit?" has the same answer whether or not the batch had rows.
* A write can be split in two (:meth:`Lake.stage`, then :meth:`Lake.commit_staged` or
  :meth:`Lake.discard_staged`), so rows can be judged in their final files before anyone can
  see them; the commit is still one labelled commit, and staged files nothing commits are
  unreferenced like those of a crashed write.
* Bronze is append-only: the lake refuses to merge or overwrite it.
* Errors from delta-rs and storage surface as gnomon's kinds (see ``_delta_errors``).
"""

import logging
import shutil
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
from deltalake import DeltaTable, WriterProperties, write_deltalake
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import DeltaError, TableNotFoundError
from deltalake.fs import DeltaStorageHandler
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

from gnomon.clock import Clock, SystemClock
from gnomon.errors import InvalidInput
from gnomon.lake._commits import commit_info, commit_properties, matches
from gnomon.lake._delta_errors import delta_errors
from gnomon.lake._files import (
    PartitionedFiles,
    WrittenFile,
    delta_schema,
    modified_now,
    plain_type,
    write_stream,
)
from gnomon.lake._location import check_name, coerce_layer
from gnomon.lake._merge import (
    SOURCE_ALIAS,
    TARGET_ALIAS,
    check_source,
    check_target,
    clauses,
    join_columns,
    literal,
    quote,
)
from gnomon.lake._uris import is_remote, join, normalize_root
from gnomon.lake.columns import (
    BATCH_COLUMN,
    INGESTED_AT_COLUMN,
    TENANT_COLUMN,
    StampedStream,
    stamp_batch,
    stamped_schema,
)
from gnomon.lake.errors import TableNotFound
from gnomon.lake.models import CommitInfo, Layer, MergeResult, StagedFiles, TableSnapshot

__all__ = ["Lake"]

logger = logging.getLogger(__name__)

_MIN_RETENTION_HOURS = 1
_WRITER = WriterProperties(max_row_group_size=131_072)
"""A Parquet writer holds one row group per open file in memory: smaller groups bound a load's
memory (the library's default of about a million rows costs hundreds of MB on wide text rows)."""
_FIRST_HISTORY_PAGE = 32
_FILE_ROWS = 2_000_000
"""Rows per data file that gnomon writes itself (about 100 to 250 MB of Parquet)."""
_ROW_GROUP_ROWS = 131_072


def _as_reader(data: Any) -> pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatchReader):
        return data
    raise InvalidInput(
        f"Unsupported data for a lake write: {type(data).__name__}.",
        hint="Pass a pyarrow.Table or a pyarrow.RecordBatchReader.",
    )


def _as_table(data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return _as_reader(data).read_all()


def _check_label(value: str, *, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(
            f"Missing {what}: got {value!r}.",
            hint=f"Pass a non-empty string as {what}.",
        )


class Lake:
    """Reads, writes and maintains the Delta tables of one lake root.

    Args:
        root: a local folder (made absolute) or an object-store URI such as ``s3://bucket/lake``.
        storage_options: passed to delta-rs for object stores (endpoint, region, credentials).
        clock: the source of ``_ingested_at``; the wall clock unless a test fixes it.
    """

    def __init__(
        self,
        root: str,
        *,
        storage_options: Mapping[str, str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._root = normalize_root(root)
        self._storage_options = dict(storage_options or {})
        self._clock: Clock = clock if clock is not None else SystemClock()

    def __repr__(self) -> str:
        return f"Lake({self._root!r})"

    @property
    def root(self) -> str:
        """The lake root: an absolute local path or an object-store URI without trailing slash."""
        return self._root

    # ------------------------------------------------------------------ addressing

    def uri(self, layer: Layer | str, name: str) -> str:
        """Where the table lives: ``<root>/<layer>/<name>``.

        Raises:
            InvalidInput: unknown layer or invalid name.
        """
        layer, name = self._address(layer, name)
        return join(self._root, layer.value, name)

    def exists(self, layer: Layer | str, name: str) -> bool:
        """Whether a Delta table exists at the address.

        Raises:
            InvalidInput: unknown layer or invalid name.
            LakeUnavailable: the storage cannot be reached.
        """
        uri = self.uri(layer, name)
        with delta_errors(uri, action="checking for the table"):
            return DeltaTable.is_deltatable(uri, self._options())

    def tables(self) -> list[tuple[Layer, str]]:
        """Every table in the lake, by layer (bronze, silver, gold, quarantine) then name.

        Raises:
            LakeUnavailable: the storage cannot be listed.
        """
        return [(layer, name) for layer in Layer for name in self._layer_tables(layer)]

    # ------------------------------------------------------------------ reading

    def head_version(self, layer: Layer | str, name: str) -> int | None:
        """The table's latest version, or ``None`` when the table does not exist.

        Raises:
            InvalidInput: unknown layer or invalid name.
            LakeUnavailable: the storage cannot be reached.
        """
        uri = self.uri(layer, name)
        with delta_errors(uri, action="reading the head version"):
            table = self._try_open(uri)
        return None if table is None else table.version()

    def snapshot(
        self,
        layer: Layer | str,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
    ) -> TableSnapshot:
        """Pin one version of a table: the head, a version number, or the state at an instant.

        ``as_of`` selects the last version committed at or before that instant, by the commit
        timestamps :meth:`history` reports.

        Raises:
            TableNotFound: no such table; the error lists the tables of that layer.
            InvalidInput: both selectors given, a naive ``as_of``, a version outside the kept
                range, or an instant before the first kept commit; the message names the range.
            LakeUnavailable: the storage cannot be reached.
        """
        layer, name = self._address(layer, name)
        if version is not None and as_of is not None:
            raise InvalidInput(
                "Conflicting snapshot selectors: both version and as_of were given.",
                hint="Pass either version=... or as_of=..., not both.",
            )
        if as_of is not None:
            version = self._version_at(layer, name, as_of)
        table = self._open(layer, name, version=version)
        return self._snapshot_of(layer, name, table)

    def history(
        self, layer: Layer | str, name: str, *, limit: int | None = None
    ) -> list[CommitInfo]:
        """The table's commits, newest first, at most ``limit`` of them.

        Raises:
            TableNotFound: no such table.
            InvalidInput: ``limit`` below 1.
            LakeUnavailable: the storage cannot be reached.
        """
        layer, name = self._address(layer, name)
        if limit is not None and limit < 1:
            raise InvalidInput(
                f"Invalid history limit: {limit}.", hint="Pass a limit of 1 or more, or None."
            )
        table = self._open(layer, name)
        with delta_errors(self.uri(layer, name), action="reading the history"):
            return [commit_info(raw) for raw in table.history(limit)]

    def find_commit(
        self, layer: Layer | str, name: str, *, batch_id: str, operation: str | None = None
    ) -> CommitInfo | None:
        """The newest commit labelled with ``batch_id`` (and ``operation`` when given).

        ``None`` when no commit carries the label, including when the table does not exist yet:
        to a resumed load both mean "this step has not committed". The history is read newest
        first in growing pages, so a recent batch costs a few commit files, not the whole log.

        Raises:
            InvalidInput: unknown layer, invalid name or empty ``batch_id``.
            LakeUnavailable: the storage cannot be reached.
        """
        _check_label(batch_id, what="batch_id")
        uri = self.uri(layer, name)
        with delta_errors(uri, action="searching the history"):
            table = self._try_open(uri)
            if table is None:
                return None
            raw = self._find(table, batch_id=batch_id, operation=operation)
        return None if raw is None else commit_info(raw)

    def files_added_in(self, layer: Layer | str, name: str, *, version: int) -> tuple[str, ...]:
        """Absolute URIs of the data files the commit of ``version`` added, sorted.

        Incremental readers use it to read only what one commit brought. A merge or partition
        overwrite also rewrites the files it touched, so those count as added too.

        Raises:
            TableNotFound: no such table.
            InvalidInput: the version (or, for the diff, the one before it) is not kept.
            LakeUnavailable: the storage cannot be reached.
        """
        layer, name = self._address(layer, name)
        current = self._open(layer, name, version=version)
        uri = self.uri(layer, name)
        with delta_errors(uri, action=f"listing the files of version {version}"):
            added = set(current.file_uris())
            if version > 0:
                previous = self._open(layer, name, version=version - 1)
                added -= set(previous.file_uris())
        return tuple(sorted(added))

    # ------------------------------------------------------------------ writing

    def append(
        self,
        layer: Layer | str,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        batch_id: str,
        run_id: str | None = None,
        operation: str = "append",
        schema_mode: Literal["merge"] | None = "merge",
    ) -> int:
        """Add rows in one commit and return the version it created.

        The first write creates the table, partitioned by ``_tenant_id``. A reader is streamed
        batch by batch, so memory is bounded by the batch size, not the input size. The lake sets
        ``_batch_id`` and ``_ingested_at`` on every row (see :mod:`gnomon.lake.columns`). With
        ``schema_mode="merge"`` new columns are added to the table and missing ones are null;
        with ``None`` the columns must match the table's.

        Raises:
            InvalidInput: bad address, empty ``batch_id`` or ``operation``, missing or null
                ``_tenant_id``, or data that does not fit the table's schema.
            Conflict: another writer's commit made this one impossible.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        _check_label(batch_id, what="batch_id")
        _check_label(operation, what="operation")
        if schema_mode not in ("merge", None):
            raise InvalidInput(
                f"Unknown schema_mode: {schema_mode!r}.", hint="Use 'merge' or None."
            )
        return self._write(
            layer,
            name,
            data,
            batch_id=batch_id,
            run_id=run_id,
            operation=operation,
            schema_mode=schema_mode,
        )

    def overwrite_partition(
        self,
        layer: Layer | str,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        tenant: str,
        batch_id: str,
        run_id: str | None = None,
    ) -> int:
        """Replace exactly one tenant's rows in one commit; other tenants are untouched.

        Rows without ``_tenant_id`` get ``tenant``; rows naming another tenant are refused.
        Empty data deletes the tenant's rows. Creates the table when missing. Not for bronze.

        Raises:
            InvalidInput: bronze, bad address, empty ``tenant`` or ``batch_id``, rows of another
                tenant, or data that does not fit the table's schema.
            Conflict: another writer changed the table concurrently.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        self._refuse_bronze(layer, name, action="overwrite")
        _check_label(tenant, what="tenant")
        _check_label(batch_id, what="batch_id")
        return self._write(
            layer,
            name,
            data,
            batch_id=batch_id,
            run_id=run_id,
            operation="overwrite_partition",
            schema_mode="merge",
            tenant=tenant,
        )

    def replace_batch(
        self,
        layer: Layer | str,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        batch_id: str,
        run_id: str | None = None,
        operation: str = "replace_batch",
    ) -> int:
        """Replace every row an earlier write of ``batch_id`` made with ``data``, in one commit.

        Re-checking a batch (say, after its contract was fixed) must not leave the rows of the
        first check behind; rows of other batches are untouched. Creates the table when missing.
        Not for bronze.

        Raises:
            InvalidInput: bronze, bad address or labels, or data that does not fit the table.
            Conflict: another writer changed the table concurrently.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        self._refuse_bronze(layer, name, action="replace rows of")
        _check_label(batch_id, what="batch_id")
        _check_label(operation, what="operation")
        return self._write(
            layer,
            name,
            data,
            batch_id=batch_id,
            run_id=run_id,
            operation=operation,
            schema_mode="merge",
            replace_batch=True,
        )

    def stage(
        self,
        layer: Layer | str,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        batch_id: str,
        text_statistics: bool | Collection[str] = True,
    ) -> StagedFiles:
        """Write rows as data files of the table without committing them.

        The rows are stamped as :meth:`append` stamps them and streamed batch by batch into
        Parquet files in the table's folder, so memory stays bounded by a few batches. Nothing
        references the files until :meth:`commit_staged`: readers of the table do not see them,
        but a query can read them through :attr:`StagedFiles.snapshot` (checks before a
        publish). Pass the result to :meth:`commit_staged` or :meth:`discard_staged`.
        ``text_statistics`` names the text columns whose files record their minimum and
        maximum (``True``: all, ``False``: none); a reader can skip row groups on a filter of
        those, where the values run in order.

        Raises:
            InvalidInput: bad address, empty ``batch_id``, missing or null ``_tenant_id``, or a
                lake on an object store (staging writes local files).
            LakeUnavailable: the files cannot be written.
        """
        layer, name = self._address(layer, name)
        _check_label(batch_id, what="batch_id")
        uri = self.uri(layer, name)
        if is_remote(uri):
            raise InvalidInput(
                f"Cannot stage files for {layer}.{name} on an object store.",
                hint="Keep the lake on a local or mounted file system to load files into it.",
            )
        source = _as_reader(data)
        schema = stamped_schema(source.schema)
        ingested_at = self._clock.now()
        stream = StampedStream(
            source,
            schema,
            lambda batch: stamp_batch(batch, schema, batch_id=batch_id, ingested_at=ingested_at),
        )
        files = PartitionedFiles(
            Path(uri),
            schema,
            partition_column=TENANT_COLUMN,
            file_rows=_FILE_ROWS,
            row_group_rows=_ROW_GROUP_ROWS,
            text_statistics=text_statistics,
        )
        try:
            with delta_errors(uri, action=f"staging files of {layer}.{name}"):
                written = write_stream(stream.reader, files)
        except Exception:
            if stream.failure is None:
                raise
            raise stream.failure from None
        pa.default_memory_pool().release_unused()
        snapshot = TableSnapshot(
            layer=layer,
            name=name,
            uri=uri,
            version=-1,
            schema=delta_schema(schema),
            partition_columns=(TENANT_COLUMN,),
            files=tuple(sorted(str(Path(uri) / item.path) for item in written)),
        )
        logger.info(
            "Staged %d rows in %d files for %s.%s (batch %s).",
            stream.rows,
            len(written),
            layer,
            name,
            batch_id,
        )
        return StagedFiles(
            snapshot=snapshot, rows=stream.rows, batch_id=batch_id, written=tuple(written)
        )

    def commit_staged(
        self,
        staged: StagedFiles,
        *,
        run_id: str | None = None,
        operation: str = "append",
        keys: Sequence[str] = (),
        order_by: str | None = None,
    ) -> int:
        """Publish staged files to the table in one commit; returns the version it created.

        Without ``keys``, or when the table does not exist yet, the rows are appended: the
        files themselves are added when they fit the table as they are (a local table, the same
        columns and types), otherwise delta-rs writes them anew (say, to add a column). With
        ``keys`` the rows are merged as :meth:`merge` does, latest by ``order_by`` wins. Files
        the commit does not keep are deleted, also when it fails.

        Raises:
            InvalidInput: bad labels or keys, or rows that do not fit the table.
            Conflict: another writer's commit made this one impossible.
            LakeUnavailable: the storage cannot be reached or written.
        """
        snapshot = staged.snapshot
        layer, name = snapshot.layer, snapshot.name
        _check_label(operation, what="operation")
        uri = snapshot.uri
        label = f"{layer}.{name}"
        root = Path(uri)
        try:
            merging = bool(keys) and self.exists(layer, name)
            target = (
                None
                if merging
                else self._file_target(uri, snapshot.schema, schema_mode="merge", predicate=None)
            )
        except BaseException:
            _remove(root, staged.written)
            raise
        if target is not None:
            # The files are the commit's own; it deletes them if it fails.
            version = self._add_files(
                uri,
                snapshot.schema,
                staged.written,
                target.table,
                label=label,
                batch_id=staged.batch_id,
                run_id=run_id,
                operation=operation,
                elapsed_ms=0,
            )
        else:
            # delta-rs writes files of its own, so the staged ones go whatever happens.
            try:
                if merging:
                    version = self.merge(
                        layer,
                        name,
                        snapshot.to_dataset().to_table(),
                        keys=keys,
                        order_by=order_by,
                        batch_id=staged.batch_id,
                        run_id=run_id,
                        operation=operation,
                    ).version
                else:
                    version = self._commit(
                        uri,
                        snapshot.to_dataset().scanner().to_reader(),
                        label=label,
                        batch_id=staged.batch_id,
                        run_id=run_id,
                        operation=operation,
                        schema_mode="merge",
                        predicate=None,
                    )
            finally:
                _remove(root, staged.written)
        logger.info(
            "Committed %s of %d staged rows to %s at version %d (batch %s, run %s).",
            operation,
            staged.rows,
            label,
            version,
            staged.batch_id,
            run_id,
        )
        return version

    def discard_staged(self, staged: StagedFiles) -> None:
        """Delete staged files that will not be committed; deleting them twice is harmless."""
        _remove(Path(staged.snapshot.uri), staged.written)

    def drop(self, layer: Layer | str, name: str) -> None:
        """Delete a table and all its files; for tables no reader can see (never published).

        Raises:
            InvalidInput: the lake is on an object store, where gnomon does not delete tables.
        """
        layer, name = self._address(layer, name)
        uri = self.uri(layer, name)
        if is_remote(uri):
            raise InvalidInput(
                f"Cannot drop {layer}.{name} on an object store.",
                hint=f"Delete {uri} with the store's own tools.",
            )
        if Path(uri).exists():
            shutil.rmtree(uri)
            logger.warning("Dropped %s.%s (%s).", layer, name, uri)

    def merge(
        self,
        layer: Layer | str,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        keys: Sequence[str],
        order_by: str | None,
        batch_id: str,
        run_id: str | None = None,
        operation: str = "merge",
    ) -> MergeResult:
        """Upsert rows by key within each tenant, latest wins, in one commit.

        A source row matches a target row with the same ``_tenant_id`` and ``keys``. A match is
        updated when the source's ``order_by`` is greater than or equal to the target's (so a
        replay of the same row is applied again, and an older row is ignored); with ``order_by``
        None the source always wins. Unmatched rows are inserted. New source columns are added to
        the table. The source is held in memory (the caller's batch bounds it) because it is
        checked for null and duplicate keys first. The first merge creates the table.
        ``operation`` labels the commit (``gnomon.operation``) for :meth:`find_commit`.

        Raises:
            InvalidInput: bronze, bad address or keys, a key or ``order_by`` column missing, null
                or duplicated keys, or data that does not fit the table's schema.
            Conflict: another writer changed the table concurrently; run the merge again.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        self._refuse_bronze(layer, name, action="merge into")
        _check_label(batch_id, what="batch_id")
        _check_label(operation, what="operation")
        on = join_columns(keys)
        if order_by in (BATCH_COLUMN, INGESTED_AT_COLUMN, TENANT_COLUMN):
            raise InvalidInput(
                f"Invalid order_by: {order_by!r} is set by the lake, not by the data.",
                hint="Order by a column of the data, such as updated_at, or pass None.",
            )
        label = f"{layer}.{name}"
        source = _as_table(data)
        schema = stamped_schema(source.schema)
        ingested_at = self._clock.now()
        stamped = pa.Table.from_batches(
            [
                stamp_batch(batch, schema, batch_id=batch_id, ingested_at=ingested_at)
                for batch in source.to_batches()
            ],
            schema=schema,
        )
        check_source(stamped, on=on, order_by=order_by, table=label)
        props = commit_properties(operation, batch_id=batch_id, run_id=run_id)
        uri = self.uri(layer, name)
        with delta_errors(uri, action=f"merging into {label}"):
            table = self._try_open(uri)
            if table is None or stamped.num_rows == 0:
                version = self._write(
                    layer,
                    name,
                    stamped,
                    batch_id=batch_id,
                    run_id=run_id,
                    operation=operation,
                    schema_mode="merge",
                    stamped=True,
                )
                return MergeResult(version=version, inserted=stamped.num_rows, updated=0)
            check_target(
                pa.schema(table.schema().to_arrow()), on=on, order_by=order_by, table=label
            )
            sql = clauses(stamped.column_names, on=on, order_by=order_by)
            merger = table.merge(
                stamped,
                sql.predicate,
                source_alias=SOURCE_ALIAS,
                target_alias=TARGET_ALIAS,
                merge_schema=True,
                streamed_exec=False,
                commit_properties=props,
            )
            if sql.updates:
                merger = merger.when_matched_update(sql.updates, predicate=sql.update_when)
            metrics = merger.when_not_matched_insert(sql.inserts).execute()
            result = MergeResult(
                version=table.version(),
                inserted=int(metrics.get("num_target_rows_inserted", 0)),
                updated=int(metrics.get("num_target_rows_updated", 0)),
            )
        logger.info(
            "Merged into %s at version %d: %d inserted, %d updated (batch %s, run %s).",
            label,
            result.version,
            result.inserted,
            result.updated,
            batch_id,
            run_id,
        )
        return result

    # ------------------------------------------------------------------ maintenance

    def restore(self, layer: Layer | str, name: str, *, version: int) -> int:
        """Make an earlier version the head again, in a new commit; returns the new version.

        Restoring the head itself changes nothing and returns the head version. The files of
        ``version`` must still exist (not vacuumed).

        Raises:
            TableNotFound: no such table.
            InvalidInput: the version is not kept.
            Conflict: another writer committed concurrently.
            LakeUnavailable: the storage cannot be reached or the files are gone.
        """
        layer, name = self._address(layer, name)
        self._open(layer, name, version=version)
        table = self._open(layer, name)
        if version == table.version():
            return version
        with delta_errors(self.uri(layer, name), action=f"restoring version {version}"):
            table.restore(version, commit_properties=commit_properties("restore"))
        logger.info("Restored %s.%s to version %d as %d.", layer, name, version, table.version())
        return table.version()

    def vacuum(
        self,
        layer: Layer | str,
        name: str,
        *,
        retention_hours: int = 168,
        dry_run: bool = True,
        force: bool = False,
    ) -> list[str]:
        """Delete data files the table no longer references, once older than the retention.

        Two kinds of files go: files removed from the table (by merges, overwrites, compaction)
        more than ``retention_hours`` ago, and files the log never referenced (left by a write
        that crashed before committing) last modified more than ``retention_hours`` ago. Returns
        the absolute URIs of the files deleted (or, with ``dry_run``, that would be), sorted.

        Time travel to versions whose files were removed stops working, and so do readers still
        holding snapshots of them; a write in progress also has files not yet in the log. Hence
        the default of a week and the refusal of less than an hour unless ``force=True``. The
        whole table folder is listed, so on object stores the cost grows with the file count. A
        run that deletes files adds two commits (``VACUUM START``/``VACUUM END``) labelled
        ``gnomon.operation=vacuum``; a run with nothing to delete commits nothing.

        Raises:
            TableNotFound: no such table.
            InvalidInput: negative retention, or under an hour without ``force``.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        if retention_hours < 0 or (retention_hours < _MIN_RETENTION_HOURS and not force):
            raise InvalidInput(
                f"Retention too short: {retention_hours} hours.",
                hint=f"Keep at least {_MIN_RETENTION_HOURS} hour so running readers keep their "
                "files, or pass force=True (never negative) when no reader can be running.",
                retention_hours=retention_hours,
            )
        table = self._open(layer, name)
        uri = self.uri(layer, name)
        with delta_errors(uri, action="vacuuming"):
            candidates = table.vacuum(
                retention_hours=retention_hours,
                dry_run=True,
                enforce_retention_duration=False,
                full=True,
            )
            present = self._existing(uri, candidates)
            if present and not dry_run:
                table.vacuum(
                    retention_hours=retention_hours,
                    dry_run=False,
                    enforce_retention_duration=False,
                    full=True,
                    commit_properties=commit_properties("vacuum"),
                )
        files = sorted(join(uri, path) for path in present)
        if not dry_run:
            logger.info("Vacuumed %s.%s: %d files deleted.", layer, name, len(files))
        return files

    def compact(
        self, layer: Layer | str, name: str, *, target_size: int | None = None
    ) -> dict[str, Any]:
        """Rewrite small files into fewer large ones, per tenant partition, in one commit.

        Rows and versions before the compaction are unchanged; the old files stay until a
        vacuum. When nothing needs compacting no commit is made. Returns Delta's metrics
        (``numFilesAdded``, ``numFilesRemoved`` …) plus ``version``, the head afterwards.

        Raises:
            TableNotFound: no such table.
            InvalidInput: ``target_size`` below 1 byte.
            Conflict: another writer rewrote the same files concurrently.
            LakeUnavailable: the storage cannot be reached or written.
        """
        layer, name = self._address(layer, name)
        if target_size is not None and target_size < 1:
            raise InvalidInput(
                f"Invalid target_size: {target_size}.",
                hint="Pass a file size in bytes (e.g. 134217728), or None for the default.",
            )
        table = self._open(layer, name)
        with delta_errors(self.uri(layer, name), action="compacting"):
            metrics = table.optimize.compact(
                target_size=target_size, commit_properties=commit_properties("compact")
            )
        return {**metrics, "version": table.version()}

    # ------------------------------------------------------------------ internals

    def _options(self) -> dict[str, str] | None:
        return dict(self._storage_options) or None

    def _address(self, layer: Layer | str, name: str) -> tuple[Layer, str]:
        return coerce_layer(layer), check_name(name)

    def _refuse_bronze(self, layer: Layer, name: str, *, action: str) -> None:
        if layer is Layer.BRONZE:
            raise InvalidInput(
                f"Bronze is append-only: cannot {action} bronze.{name}.",
                hint="Append to bronze; merge or overwrite in silver, gold or quarantine.",
                layer=layer.value,
                name=name,
            )

    def _layer_tables(self, layer: Layer) -> list[str]:
        with delta_errors(self._root, action=f"listing the {layer} layer"):
            try:
                handler = DeltaStorageHandler(self._root, self._options())
            except TableNotFoundError:
                return []
            selector = pafs.FileSelector(layer.value, allow_not_found=True)
            entries = pafs.PyFileSystem(handler).get_file_info(selector)
            names = sorted(
                entry.base_name for entry in entries if entry.type == pafs.FileType.Directory
            )
            return [
                name
                for name in names
                if self._is_name(name)
                and DeltaTable.is_deltatable(join(self._root, layer.value, name), self._options())
            ]

    def _existing(self, uri: str, paths: list[str]) -> list[str]:
        """The ``paths`` (relative to the table) that are still stored.

        delta-rs keeps listing removed files until their tombstones expire, even after an earlier
        vacuum deleted them; reporting those again would claim deletions that did not happen.
        """
        if not paths:
            return []
        storage = pafs.PyFileSystem(DeltaStorageHandler(uri, self._options()))
        infos = storage.get_file_info(list(paths))
        return [info.path for info in infos if info.type != pafs.FileType.NotFound]

    @staticmethod
    def _is_name(name: str) -> bool:
        try:
            check_name(name)
        except InvalidInput:
            return False
        return True

    def _try_open(self, uri: str) -> DeltaTable | None:
        try:
            return DeltaTable(uri, storage_options=self._options())
        except TableNotFoundError:
            return None

    def _open(self, layer: Layer, name: str, *, version: int | None = None) -> DeltaTable:
        uri = self.uri(layer, name)
        if version is not None and (isinstance(version, bool) or version < 0):
            raise self._bad_version(layer, name, version)
        with delta_errors(uri, action="opening the table"):
            try:
                return DeltaTable(uri, version=version, storage_options=self._options())
            except TableNotFoundError:
                raise self._not_found(layer, name) from None
            except DeltaError:
                if version is None:
                    raise
        raise self._bad_version(layer, name, version)

    def _not_found(self, layer: Layer, name: str) -> TableNotFound:
        existing = self._layer_tables(layer)
        hint = (
            f"Existing {layer} tables: {', '.join(existing)}."
            if existing
            else f"The {layer} layer has no tables yet; write to it first."
        )
        return TableNotFound(
            f"Unknown lake table: {layer}.{name} does not exist at {self.uri(layer, name)}.",
            hint=hint,
            layer=layer.value,
            name=name,
            tables=existing,
        )

    def _bad_version(self, layer: Layer, name: str, version: int) -> InvalidInput:
        table = self._open(layer, name)
        with delta_errors(self.uri(layer, name), action="reading the history"):
            kept = [int(raw["version"]) for raw in table.history()]
        earliest, head = min(kept, default=table.version()), table.version()
        return InvalidInput(
            f"Version {version} of {layer}.{name} is not available: "
            f"the kept versions are {earliest} to {head}.",
            hint=f"Pick a version from {earliest} to {head}; history() lists them with times.",
            version=version,
            earliest=earliest,
            head=head,
        )

    def _version_at(self, layer: Layer, name: str, as_of: datetime) -> int:
        if as_of.tzinfo is None or as_of.utcoffset() is None:
            raise InvalidInput(
                f"Naive as_of: {as_of.isoformat()} has no time zone.",
                hint="Pass an aware datetime, e.g. datetime(2025, 1, 1, tzinfo=UTC).",
            )
        commits = self.history(layer, name)
        eligible = [commit.version for commit in commits if commit.timestamp <= as_of]
        if not eligible:
            first = min(commits, key=lambda commit: commit.version)
            raise InvalidInput(
                f"No version of {layer}.{name} existed at {as_of.isoformat()}: the earliest "
                f"kept commit is version {first.version} at {first.timestamp.isoformat()}.",
                hint=f"Pick an instant at or after {first.timestamp.isoformat()}.",
                as_of=as_of.isoformat(),
                earliest=first.version,
            )
        return max(eligible)

    def _find(
        self, table: DeltaTable, *, batch_id: str, operation: str | None
    ) -> dict[str, Any] | None:
        limit = _FIRST_HISTORY_PAGE
        while True:
            page = table.history(limit)
            for raw in page:
                if matches(raw, batch_id=batch_id, operation=operation):
                    return raw
            if len(page) < limit:
                return None
            limit *= 4

    def _snapshot_of(self, layer: Layer, name: str, table: DeltaTable) -> TableSnapshot:
        uri = self.uri(layer, name)
        with delta_errors(uri, action="describing the table"):
            return TableSnapshot(
                layer=layer,
                name=name,
                uri=uri,
                version=table.version(),
                schema=pa.schema(table.schema().to_arrow()),
                partition_columns=tuple(table.metadata().partition_columns),
                files=tuple(sorted(table.file_uris())),
                storage_options=dict(self._storage_options),
            )

    def _commit(
        self,
        uri: str,
        reader: pa.RecordBatchReader,
        *,
        label: str,
        batch_id: str,
        run_id: str | None,
        operation: str,
        schema_mode: Literal["merge"] | None,
        predicate: str | None,
    ) -> int:
        """Write ``reader`` as one labelled commit; a ``predicate`` replaces the rows it matches."""
        props = commit_properties(operation, batch_id=batch_id, run_id=run_id)
        with delta_errors(uri, action=f"writing {label}"):
            table = self._try_open(uri)
            target: DeltaTable | str = uri if table is None else table
            if predicate is None:
                write_deltalake(
                    target,
                    reader,
                    partition_by=[TENANT_COLUMN],
                    mode="append",
                    schema_mode=schema_mode,
                    storage_options=self._options(),
                    commit_properties=props,
                    writer_properties=_WRITER,
                )
            else:
                write_deltalake(
                    target,
                    reader,
                    partition_by=[TENANT_COLUMN],
                    mode="overwrite",
                    predicate=predicate,
                    schema_mode=schema_mode,
                    storage_options=self._options(),
                    commit_properties=props,
                    writer_properties=_WRITER,
                )
            if table is not None:
                return table.version()
            # The table was created by this write; find the commit rather than assume version 0,
            # since a concurrent writer may have committed right after it.
            created = DeltaTable(uri, storage_options=self._options())
            raw = self._find(created, batch_id=batch_id, operation=operation)
            return 0 if raw is None else int(raw["version"])

    def _file_target(
        self,
        uri: str,
        schema: pa.Schema,
        *,
        schema_mode: Literal["merge"] | None,
        predicate: str | None,
    ) -> "_FileTarget | None":
        """Where gnomon can write the Parquet files itself, or ``None`` to leave it to delta-rs.

        Only plain appends qualify: a local table (or none yet), types Delta stores as they are,
        and columns the table already has with the same types. Anything that needs a schema
        change, a rewrite of existing files or a conversion goes through delta-rs, which
        does those in the same single commit.
        """
        if predicate is not None or is_remote(uri):
            return None
        if not all(plain_type(field.type) for field in schema):
            return None
        with delta_errors(uri, action="opening the table"):
            table = self._try_open(uri)
            if table is None:
                return _FileTarget(None)
            if list(table.metadata().partition_columns) != [TENANT_COLUMN]:
                return None
            protocol = table.protocol()
            if protocol.min_reader_version != 1 or protocol.min_writer_version > 2:
                return None
            if any(key.startswith("delta.") for key in table.metadata().configuration):
                return None
            current = {f.name: f.type for f in pa.schema(table.schema().to_arrow())}
        if any(current.get(field.name) != field.type for field in delta_schema(schema)):
            return None
        if schema_mode is None and set(current) != set(schema.names):
            return None
        return _FileTarget(table)

    def _commit_files(
        self,
        uri: str,
        reader: pa.RecordBatchReader,
        table: DeltaTable | None,
        *,
        label: str,
        batch_id: str,
        run_id: str | None,
        operation: str,
        text_statistics: bool,
    ) -> int:
        """Write ``reader`` as Parquet files, then add them all in one labelled commit."""
        files = PartitionedFiles(
            Path(uri),
            reader.schema,
            partition_column=TENANT_COLUMN,
            file_rows=_FILE_ROWS,
            row_group_rows=_ROW_GROUP_ROWS,
            text_statistics=text_statistics,
        )
        started = time.monotonic()
        with delta_errors(uri, action=f"writing {label}"):
            written = write_stream(reader, files)
        pa.default_memory_pool().release_unused()
        return self._add_files(
            uri,
            reader.schema,
            written,
            table,
            label=label,
            batch_id=batch_id,
            run_id=run_id,
            operation=operation,
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )

    def _add_files(
        self,
        uri: str,
        schema: pa.Schema,
        written: Sequence[WrittenFile],
        table: DeltaTable | None,
        *,
        label: str,
        batch_id: str,
        run_id: str | None,
        operation: str,
        elapsed_ms: int,
    ) -> int:
        """Add written files in one labelled commit (creating the table when ``table`` is None).

        The files are deleted when the commit fails: no version references them.
        """
        started = time.monotonic()
        modified = modified_now()
        adds = [item.action(modified_ms=modified) for item in written]
        metrics = {
            "num_added_files": len(written),
            "num_removed_files": 0,
            "num_partitions": len({item.partition for item in written}),
            "num_added_rows": sum(item.rows for item in written),
            "execution_time_ms": elapsed_ms + int((time.monotonic() - started) * 1000),
            "num_retries": 0,
        }
        props = commit_properties(operation, batch_id=batch_id, run_id=run_id, metrics=metrics)
        try:
            with delta_errors(uri, action=f"writing {label}"):
                if table is None:
                    create_table_with_add_actions(
                        uri,
                        DeltaSchema.from_arrow(_nullable(delta_schema(schema))),
                        adds,
                        mode="error",
                        partition_by=[TENANT_COLUMN],
                        storage_options=self._options(),
                        commit_properties=props,
                    )
                else:
                    actions: list[AddAction | RemoveAction] = [*adds]
                    table.create_write_transaction(
                        actions,
                        mode="append",
                        schema=table.schema(),
                        partition_by=[TENANT_COLUMN],
                        commit_properties=props,
                    )
        except BaseException:
            _remove(Path(uri), written)
            raise
        with delta_errors(uri, action=f"writing {label}"):
            committed = DeltaTable(uri, storage_options=self._options())
            raw = self._find(committed, batch_id=batch_id, operation=operation)
        return committed.version() if raw is None else int(raw["version"])

    def _write(
        self,
        layer: Layer,
        name: str,
        data: pa.Table | pa.RecordBatchReader,
        *,
        batch_id: str,
        run_id: str | None,
        operation: str,
        schema_mode: Literal["merge"] | None,
        tenant: str | None = None,
        stamped: bool = False,
        replace_batch: bool = False,
    ) -> int:
        """One streamed write, or an overwrite of a tenant's partition or of a batch's rows."""
        uri = self.uri(layer, name)
        label = f"{layer}.{name}"
        source = _as_reader(data)
        if stamped:
            schema = source.schema
            stream = StampedStream(source, schema, lambda batch: batch)
        else:
            schema = stamped_schema(source.schema, tenant=tenant)
            ingested_at = self._clock.now()
            stream = StampedStream(
                source,
                schema,
                lambda batch: stamp_batch(
                    batch, schema, batch_id=batch_id, ingested_at=ingested_at, tenant=tenant
                ),
            )
        predicate = _predicate(tenant=tenant, batch_id=batch_id if replace_batch else None)
        try:
            target = self._file_target(uri, schema, schema_mode=schema_mode, predicate=predicate)
            if target is not None:
                version = self._commit_files(
                    uri,
                    stream.reader,
                    target.table,
                    label=label,
                    batch_id=batch_id,
                    run_id=run_id,
                    operation=operation,
                    # Bronze's text is the raw values as read: nothing filters on their
                    # ranges, so their minimum and maximum are not worth computing.
                    text_statistics=layer != Layer.BRONZE,
                )
            else:
                version = self._commit(
                    uri,
                    stream.reader,
                    label=label,
                    batch_id=batch_id,
                    run_id=run_id,
                    operation=operation,
                    schema_mode=schema_mode,
                    predicate=predicate,
                )
        except Exception:
            # The writer wraps an error raised inside the stream (a bad tenant, a broken source)
            # in its own; the original says what was actually wrong.
            if stream.failure is None:
                raise
            raise stream.failure from None
        logger.info(
            "Committed %s of %d rows to %s at version %d (batch %s, run %s).",
            operation,
            stream.rows,
            label,
            version,
            batch_id,
            run_id,
        )
        return version


@dataclass(frozen=True, slots=True)
class _FileTarget:
    """A table gnomon may add its own files to; ``None`` when the write creates it."""

    table: DeltaTable | None


def _nullable(schema: pa.Schema) -> pa.Schema:
    """Every field nullable, as delta-rs declares the columns of the tables it creates."""
    return pa.schema([field.with_nullable(True) for field in schema])


def _remove(root: Path, written: Sequence[WrittenFile]) -> None:
    """Delete files whose commit failed: no version references them."""
    for item in written:
        (root / item.path).unlink(missing_ok=True)


def _predicate(*, tenant: str | None, batch_id: str | None) -> str | None:
    """The rows an overwrite replaces: a tenant's partition, or an earlier write of a batch."""
    if tenant is not None:
        return f"{quote(TENANT_COLUMN)} = {literal(tenant)}"
    if batch_id is not None:
        return f"{quote(BATCH_COLUMN)} = {literal(batch_id)}"
    return None
