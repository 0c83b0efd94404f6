"""Published versions of the lake's physical tables: the one catalog table without a tenant.

A load commits to Delta first and publishes afterwards. Readers read a table at its published
version, never at the Delta head, so the commits of a load that crashed before publishing stay
invisible. A run publishes every table it wrote in one catalog transaction, together with its
ingested files and outbox events, so its effects become visible together or not at all.
"""

import builtins
from collections.abc import Mapping

from sqlalchemy import delete, select

from gnomon.catalog.models import TableVersion
from gnomon.catalog.records import TableVersionRecord
from gnomon.catalog.repositories._base import LAKE_SCOPE, Repository
from gnomon.errors import Conflict, InvalidInput

__all__ = ["TableVersionRepository"]


def _record(row: TableVersion) -> TableVersionRecord:
    return TableVersionRecord(
        layer=row.layer,
        name=row.name,
        version=row.version,
        run_id=row.run_id,
        updated_at=row.updated_at,
    )


class TableVersionRepository(Repository):
    """The published Delta version of each physical table, keyed by (layer, name)."""

    __slots__ = ()

    def get(self, layer: str, name: str) -> TableVersionRecord | None:
        """The published version of the table, or ``None`` if it was never published."""
        row = self._fresh(TableVersion, TableVersion.layer == layer, TableVersion.name == name)
        return None if row is None else _record(row)

    def all(self) -> builtins.list[TableVersionRecord]:
        """Every published table, ordered by layer and name."""
        rows = self._session.scalars(
            select(TableVersion)
            .order_by(TableVersion.layer, TableVersion.name)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def publish(self, versions: Mapping[tuple[str, str], int], *, run_id: str | None) -> None:
        """Make these Delta versions the ones readers see, as part of this transaction.

        A published version only moves forward: a run that lost its lease and publishes late
        must not hide a newer load. To start a table over (e.g. after recreating it at version
        0), :meth:`remove` it first in the same transaction.

        Args:
            versions: ``{(layer, name): delta_version}`` for every table the run wrote.
            run_id: the run publishing them, for lineage; ``None`` for maintenance by hand.

        Raises:
            InvalidInput: a version is negative.
            Conflict: a table already has a higher published version; nothing is published
                once the transaction rolls back.
        """
        for (layer, name), version in versions.items():
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise InvalidInput(
                    f"Invalid Delta version for {layer}.{name}: {version!r}.",
                    hint="Pass the non-negative integer version returned by the Delta commit.",
                    layer=layer,
                    table=name,
                )
        now = self._now()
        # A fixed order, so two publishers on PostgreSQL lock rows in the same order.
        for layer, name in sorted(versions):
            version = versions[(layer, name)]
            statement = self._insert(TableVersion).values(
                layer=layer, name=name, version=version, run_id=run_id, updated_at=now
            )
            statement = statement.on_conflict_do_update(
                index_elements=[TableVersion.layer, TableVersion.name],
                set_={
                    "version": statement.excluded.version,
                    "run_id": statement.excluded.run_id,
                    "updated_at": statement.excluded.updated_at,
                },
                where=TableVersion.version <= statement.excluded.version,
            )
            published = self._session.execute(
                statement.returning(TableVersion.version)
            ).scalar_one_or_none()
            if published is None:
                current = self.get(layer, name)
                raise Conflict(
                    f"Cannot publish {layer}.{name} at version {version}: version"
                    f" {current.version if current else '?'} is already published"
                    f" (by run {current.run_id if current else '?'}).",
                    hint="Published versions only move forward; reload the table, or remove()"
                    " it first if it was recreated.",
                    layer=layer,
                    table=name,
                    version=version,
                )
        if versions:
            self._changed(LAKE_SCOPE)

    def remove(self, layer: str, name: str) -> None:
        """Forget the table's published version, e.g. when the table is dropped. Idempotent."""
        self._session.execute(
            delete(TableVersion).where(TableVersion.layer == layer, TableVersion.name == name)
        )
        self._changed(LAKE_SCOPE)
