"""Contract versions: the immutable history of each dataset's contract."""

import builtins
import copy
from typing import Any

from sqlalchemy import select

from gnomon.catalog.models import ContractVersion
from gnomon.catalog.records import ContractVersionRecord
from gnomon.catalog.repositories._base import Repository
from gnomon.errors import Conflict, InternalError, InvalidInput

__all__ = ["ContractRepository"]


def _record(row: ContractVersion) -> ContractVersionRecord:
    return ContractVersionRecord(
        id=row.id,
        tenant=row.tenant_id,
        dataset=row.dataset,
        version=row.version,
        fingerprint=row.fingerprint,
        spec=copy.deepcopy(row.spec),
        created_at=row.created_at,
    )


class ContractRepository(Repository):
    """Versions of a dataset's contract; a version, once added, never changes."""

    __slots__ = ()

    def latest(self, *, tenant: str, dataset: str) -> ContractVersionRecord | None:
        """The highest version of the dataset's contract, or ``None`` before the first."""
        row = self._session.scalars(
            select(ContractVersion)
            .where(ContractVersion.tenant_id == tenant, ContractVersion.dataset == dataset)
            .order_by(ContractVersion.version.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        return None if row is None else _record(row)

    def add(
        self,
        *,
        tenant: str,
        dataset: str,
        version: int,
        fingerprint: str,
        spec: dict[str, Any],
    ) -> ContractVersionRecord:
        """Record a contract version.

        Adding the same version with the same fingerprint again returns the stored one, so
        re-applying a project is harmless.

        Raises:
            InvalidInput: the version is below 1.
            Conflict: that version exists with another fingerprint: its content changed without
                a new version number.
            TenantNotFound: the tenant does not exist.
        """
        if version < 1:
            raise InvalidInput(
                f"Invalid contract version for dataset {dataset!r}: {version} is below 1.",
                hint="Number contract versions 1, 2, 3 …",
                dataset=dataset,
                version=version,
            )
        self._require_tenant(tenant)
        statement = (
            self._insert(ContractVersion)
            .values(
                tenant_id=tenant,
                dataset=dataset,
                version=version,
                fingerprint=fingerprint,
                spec=spec,
                created_at=self._now(),
            )
            .on_conflict_do_nothing(
                index_elements=[
                    ContractVersion.tenant_id,
                    ContractVersion.dataset,
                    ContractVersion.version,
                ]
            )
        )
        self._session.execute(statement)
        row = self._fresh(
            ContractVersion,
            ContractVersion.tenant_id == tenant,
            ContractVersion.dataset == dataset,
            ContractVersion.version == version,
        )
        if row is None:
            raise InternalError(
                f"Contract version {version} of dataset {dataset!r} is missing right after"
                " being written."
            )
        if row.fingerprint != fingerprint:
            raise Conflict(
                f"Contract version {version} of dataset {dataset!r} already exists with another"
                f" fingerprint: stored {row.fingerprint}, given {fingerprint}.",
                hint="A changed contract needs a new version number; bump the version.",
                tenant=tenant,
                dataset=dataset,
                version=version,
            )
        return _record(row)

    def list(self, *, tenant: str, dataset: str) -> builtins.list[ContractVersionRecord]:
        """All versions of the dataset's contract, oldest first."""
        rows = self._session.scalars(
            select(ContractVersion)
            .where(ContractVersion.tenant_id == tenant, ContractVersion.dataset == dataset)
            .order_by(ContractVersion.version)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]
