"""Keeping lake tables healthy: history, compaction and vacuum, coordinated with loads.

Maintenance takes the same lease as the loads of a table, so it never races a load's commits;
a compaction's new version is published at once because it holds exactly the same rows.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from gnomon.catalog import Catalog, hold_lease, process_owner
from gnomon.clock import Clock
from gnomon.errors import InvalidInput, NotFound
from gnomon.lake import Lake, Layer
from gnomon.pipeline.service import BUILD_LEASE

__all__ = ["CompactResult", "HistoryEntry", "MaintenanceService", "VacuumResult"]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One commit of a table; `published` says whether readers can see it."""

    version: int
    timestamp: datetime
    operation: str
    gnomon_operation: str | None
    batch_id: str | None
    run_id: str | None
    published: bool


@dataclass(frozen=True, slots=True)
class VacuumResult:
    """Files a vacuum removed (or would remove, on a dry run)."""

    table: str
    files: int
    deleted: bool


@dataclass(frozen=True, slots=True)
class CompactResult:
    """What a compaction rewrote."""

    table: str
    files_removed: int
    files_added: int
    version: int


class MaintenanceService:
    """Maintenance of published lake tables."""

    def __init__(self, *, catalog: Catalog, lake: Lake, clock: Clock) -> None:
        self._catalog = catalog
        self._lake = lake
        self._clock = clock
        self._owner = process_owner()

    def _parse(self, table: str) -> tuple[Layer, str]:
        layer, _, name = table.partition(".")
        try:
            parsed = Layer(layer)
        except ValueError:
            parsed = None
        if parsed is None or not name:
            raise InvalidInput(
                f"{table!r} is not a lake table name.",
                hint="Write it as layer.name, e.g. silver.orders.",
            )
        return parsed, name

    def _selected(self, names: Sequence[str] | None) -> list[tuple[Layer, str, int]]:
        with self._catalog.transaction() as tx:
            published = {(r.layer, r.name): r.version for r in tx.tables.all()}
        if not names:
            return [(Layer(layer), name, v) for (layer, name), v in sorted(published.items())]
        chosen = []
        for table in names:
            layer, name = self._parse(table)
            if (layer.value, name) not in published:
                known = ", ".join(f"{a}.{b}" for a, b in sorted(published)) or "none"
                raise NotFound(f"There is no table {table} (tables: {known}).")
            chosen.append((layer, name, published[(layer.value, name)]))
        return chosen

    def _lease_name(self, layer: Layer, name: str) -> str:
        return BUILD_LEASE if layer is Layer.GOLD else f"load:{name}"

    def history(self, table: str, *, limit: int = 20) -> list[HistoryEntry]:
        """A table's commits, newest first."""
        [(layer, name, published)] = self._selected([table])
        return [
            HistoryEntry(
                version=c.version,
                timestamp=c.timestamp,
                operation=c.operation,
                gnomon_operation=c.gnomon_operation,
                batch_id=c.batch_id,
                run_id=c.run_id,
                published=c.version <= published,
            )
            for c in self._lake.history(layer, name, limit=limit)
        ]

    def vacuum(
        self,
        names: Sequence[str] | None = None,
        *,
        retention_hours: int = 168,
        dry_run: bool = True,
    ) -> list[VacuumResult]:
        """Remove files that no version within ``retention_hours`` needs.

        A vacuum that deletes files commits (``VACUUM START``/``END``) without changing a row, so
        its head is published at once, as a compaction's is; left unpublished, it would look like
        a crashed load to the next load (rolled back) and to compaction (skipped).
        """
        results = []
        for layer, name, published in self._selected(names):
            with hold_lease(
                self._catalog,
                self._lease_name(layer, name),
                owner=self._owner,
                ttl=timedelta(minutes=5),
                clock=self._clock,
            ):
                head = self._lake.head_version(layer, name)
                removed = self._lake.vacuum(
                    layer, name, retention_hours=retention_hours, dry_run=dry_run
                )
                version = self._lake.head_version(layer, name)
                if head == published and version is not None and version != published:
                    with self._catalog.transaction() as tx:
                        tx.tables.publish({(layer.value, name): version}, run_id=None)
            results.append(VacuumResult(f"{layer.value}.{name}", len(removed), not dry_run))
        return results

    def compact(self, names: Sequence[str] | None = None) -> list[CompactResult]:
        """Merge small files; the new version is published as it holds the same rows."""
        results = []
        for layer, name, published in self._selected(names):
            with hold_lease(
                self._catalog,
                self._lease_name(layer, name),
                owner=self._owner,
                ttl=timedelta(minutes=5),
                clock=self._clock,
            ):
                if self._lake.head_version(layer, name) != published:
                    continue
                metrics = self._lake.compact(layer, name)
                version = self._lake.head_version(layer, name)
                if version is not None and version != published:
                    with self._catalog.transaction() as tx:
                        tx.tables.publish({(layer.value, name): version}, run_id=None)
                results.append(
                    CompactResult(
                        table=f"{layer.value}.{name}",
                        files_removed=int(metrics.get("numFilesRemoved", 0)),
                        files_added=int(metrics.get("numFilesAdded", 0)),
                        version=version if version is not None else published,
                    )
                )
        return results
