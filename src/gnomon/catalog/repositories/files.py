"""Ingested files: what each source has already loaded, so a file is loaded once."""

from sqlalchemy import select

from gnomon.catalog.models import IngestedFile
from gnomon.catalog.records import IngestedFileRecord
from gnomon.catalog.repositories._base import Repository
from gnomon.errors import Conflict, InvalidInput

__all__ = ["IngestedFileRepository"]


def _record(row: IngestedFile) -> IngestedFileRecord:
    return IngestedFileRecord(
        id=row.id,
        tenant=row.tenant_id,
        source=row.source,
        fingerprint=row.fingerprint,
        path=row.path,
        size=row.size,
        batch_id=row.batch_id,
        run_id=row.run_id,
        ingested_at=row.ingested_at,
    )


class IngestedFileRepository(Repository):
    """Files keyed by (tenant, source, content fingerprint): a renamed copy is still a duplicate."""

    __slots__ = ()

    def get(self, *, tenant: str, source: str, fingerprint: str) -> IngestedFileRecord | None:
        """The earlier load of a file with this fingerprint by this source, or ``None``."""
        row = self._session.scalars(
            select(IngestedFile)
            .where(
                IngestedFile.tenant_id == tenant,
                IngestedFile.source == source,
                IngestedFile.fingerprint == fingerprint,
            )
            .execution_options(populate_existing=True)
        ).one_or_none()
        return None if row is None else _record(row)

    def record(
        self,
        *,
        tenant: str,
        source: str,
        fingerprint: str,
        path: str,
        size: int,
        batch_id: str,
        run_id: str,
    ) -> IngestedFileRecord:
        """Remember that ``run_id`` loaded this file as part of ``batch_id``.

        Write it in the transaction that publishes the load, so a crashed load leaves the file
        to be loaded again.

        Raises:
            InvalidInput: the size is negative.
            Conflict: the source already loaded a file with this fingerprint.
            TenantNotFound: the tenant does not exist.
        """
        if size < 0:
            raise InvalidInput(
                f"Invalid size for file {path!r}: {size} bytes.",
                hint="Pass the file's size in bytes.",
                path=path,
            )
        self._require_tenant(tenant)
        statement = (
            self._insert(IngestedFile)
            .values(
                tenant_id=tenant,
                source=source,
                fingerprint=fingerprint,
                path=path,
                size=size,
                batch_id=batch_id,
                run_id=run_id,
                ingested_at=self._now(),
            )
            .on_conflict_do_nothing(
                index_elements=[
                    IngestedFile.tenant_id,
                    IngestedFile.source,
                    IngestedFile.fingerprint,
                ]
            )
        )
        row = self._session.scalars(
            statement.returning(IngestedFile), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            earlier = self.get(tenant=tenant, source=source, fingerprint=fingerprint)
            earlier_path = earlier.path if earlier else "?"
            earlier_run = earlier.run_id if earlier else "?"
            raise Conflict(
                f"File {path!r} was already loaded by source {source!r}: the same content was"
                f" loaded from {earlier_path!r} by run {earlier_run}.",
                hint="Check files.get() before loading; a file is loaded once per source.",
                tenant=tenant,
                source=source,
                fingerprint=fingerprint,
            )
        return _record(row)
