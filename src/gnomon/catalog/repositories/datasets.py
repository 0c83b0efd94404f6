"""Datasets: a tenant's logical tables, their current schema and contract version."""

import builtins
import copy
from typing import Any

from sqlalchemy import select

from gnomon.catalog.errors import DatasetNotFound
from gnomon.catalog.models import Dataset
from gnomon.catalog.records import DatasetRecord
from gnomon.catalog.repositories._base import Repository, known_names
from gnomon.errors import InvalidInput

__all__ = ["DatasetRepository"]

_COLUMN_KEYS = ("name", "type", "nullable")


def _record(row: Dataset) -> DatasetRecord:
    return DatasetRecord(
        id=row.id,
        tenant=row.tenant_id,
        name=row.name,
        schema=copy.deepcopy(row.schema_),
        contract_version=row.contract_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _check_schema(dataset: str, schema: builtins.list[dict[str, Any]]) -> None:
    """Every reader of ``schema`` relies on these three keys having these types."""
    for position, column in enumerate(schema):
        valid = (
            isinstance(column, dict)
            and isinstance(column.get("name"), str)
            and isinstance(column.get("type"), str)
            and isinstance(column.get("nullable"), bool)
        )
        if not valid:
            raise InvalidInput(
                f"Invalid schema for dataset {dataset!r}: column {position} is {column!r}.",
                hint='Give each column as {"name": str, "type": str, "nullable": bool}.',
                dataset=dataset,
                column=position,
                required_keys=list(_COLUMN_KEYS),
            )


class DatasetRepository(Repository):
    """Datasets of one tenant, unique by name."""

    __slots__ = ()

    def upsert(
        self,
        *,
        tenant: str,
        name: str,
        schema: builtins.list[dict[str, Any]],
        contract_version: int | None,
    ) -> DatasetRecord:
        """Create the dataset or replace its schema and contract version.

        ``updated_at`` moves only when something changed.

        Raises:
            InvalidInput: a schema column lacks ``name``/``type`` strings or a ``nullable`` bool.
            TenantNotFound: the tenant does not exist.
        """
        _check_schema(name, schema)
        self._require_tenant(tenant)
        existing = self._fresh(Dataset, Dataset.tenant_id == tenant, Dataset.name == name)
        if existing is not None and (existing.schema_, existing.contract_version) == (
            schema,
            contract_version,
        ):
            return _record(existing)
        now = self._now()
        statement = self._insert(Dataset).values(
            tenant_id=tenant,
            name=name,
            schema=schema,
            contract_version=contract_version,
            created_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Dataset.tenant_id, Dataset.name],
            set_={
                "schema": statement.excluded.schema,
                "contract_version": statement.excluded.contract_version,
                "updated_at": statement.excluded.updated_at,
            },
        )
        row = self._session.scalars(
            statement.returning(Dataset), execution_options={"populate_existing": True}
        ).one()
        return _record(row)

    def get(self, *, tenant: str, name: str) -> DatasetRecord:
        """The tenant's dataset of that name.

        Raises:
            DatasetNotFound: the tenant has no such dataset; the message lists the ones it has.
        """
        record = self.find(tenant=tenant, name=name)
        if record is None:
            names = sorted(
                self._session.scalars(select(Dataset.name).where(Dataset.tenant_id == tenant))
            )
            raise DatasetNotFound(
                f"Unknown dataset {name!r} for tenant {tenant!r}: known datasets are"
                f" {known_names(names)}.",
                hint="Use one of the known dataset names, or load the dataset first.",
                tenant=tenant,
                dataset=name,
                known=names,
            )
        return record

    def find(self, *, tenant: str, name: str) -> DatasetRecord | None:
        """The tenant's dataset of that name, or ``None`` when there is none."""
        row = self._fresh(Dataset, Dataset.tenant_id == tenant, Dataset.name == name)
        return None if row is None else _record(row)

    def list(self, *, tenant: str) -> builtins.list[DatasetRecord]:
        """The tenant's datasets, ordered by name."""
        rows = self._session.scalars(
            select(Dataset)
            .where(Dataset.tenant_id == tenant)
            .order_by(Dataset.name)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]
