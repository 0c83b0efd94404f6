"""The catalog: gnomon's metadata store on SQLite or PostgreSQL.

It holds tenants, sources, datasets, contract versions, the versions of semantic definitions,
the refresh state of rollups, runs, ingested files, the published versions of lake tables, leases
and the event outbox.

Use it through a transaction::

    catalog = Catalog("sqlite:///.gnomon/catalog.db")
    catalog.migrate()
    with catalog.transaction() as tx:
        run = tx.runs.start(tenant="default", kind="ingest", source="orders")

Every tenant-scoped method takes ``tenant`` as a keyword, and everything returned is a frozen
record, never a database object.
"""

from gnomon.catalog.errors import (
    CatalogNotMigrated,
    CatalogUnavailable,
    DatasetNotFound,
    LeaseHeld,
    RunNotFound,
    SourceNotFound,
    TenantNotFound,
)
from gnomon.catalog.leasing import HeldLease, hold_lease, owner_is_dead, process_owner
from gnomon.catalog.records import (
    DEFINITION_KINDS,
    FINISHED_RUN_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    ContractVersionRecord,
    DatasetRecord,
    DefinitionKind,
    DefinitionRecord,
    IngestedFileRecord,
    LeaseRecord,
    OutboxRecord,
    RollupRecord,
    RunKind,
    RunRecord,
    RunStatus,
    SourceRecord,
    TableVersionRecord,
    TenantRecord,
)
from gnomon.catalog.repositories import (
    DELETED_FINGERPRINT,
    UPDATABLE_RUN_FIELDS,
    ContractRepository,
    DatasetRepository,
    DefinitionRepository,
    IngestedFileRepository,
    LeaseRepository,
    OutboxRepository,
    RollupRepository,
    RunRepository,
    SourceRepository,
    TableVersionRepository,
    TenantRepository,
)
from gnomon.catalog.store import Catalog, CatalogTransaction

__all__ = [
    "DEFINITION_KINDS",
    "DELETED_FINGERPRINT",
    "FINISHED_RUN_STATUSES",
    "RUN_KINDS",
    "RUN_STATUSES",
    "UPDATABLE_RUN_FIELDS",
    "Catalog",
    "CatalogNotMigrated",
    "CatalogTransaction",
    "CatalogUnavailable",
    "ContractRepository",
    "ContractVersionRecord",
    "DatasetNotFound",
    "DatasetRecord",
    "DatasetRepository",
    "DefinitionKind",
    "DefinitionRecord",
    "DefinitionRepository",
    "HeldLease",
    "IngestedFileRecord",
    "IngestedFileRepository",
    "LeaseHeld",
    "LeaseRecord",
    "LeaseRepository",
    "OutboxRecord",
    "OutboxRepository",
    "RollupRecord",
    "RollupRepository",
    "RunKind",
    "RunNotFound",
    "RunRecord",
    "RunRepository",
    "RunStatus",
    "SourceNotFound",
    "SourceRecord",
    "SourceRepository",
    "TableVersionRecord",
    "TableVersionRepository",
    "TenantNotFound",
    "TenantRecord",
    "TenantRepository",
    "hold_lease",
    "owner_is_dead",
    "process_owner",
]
