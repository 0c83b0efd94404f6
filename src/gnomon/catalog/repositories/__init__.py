"""One repository per catalog table, each bound to the session of one transaction."""

from gnomon.catalog.repositories._base import LAKE_SCOPE
from gnomon.catalog.repositories.alerts import (
    AlertRepository,
    SilenceRepository,
    TriggerStateRepository,
)
from gnomon.catalog.repositories.anomalies import AnomalyRepository
from gnomon.catalog.repositories.api_keys import ApiKeyRepository
from gnomon.catalog.repositories.audit import AuditRepository
from gnomon.catalog.repositories.changes import ChangeRepository
from gnomon.catalog.repositories.contracts import ContractRepository
from gnomon.catalog.repositories.datasets import DatasetRepository
from gnomon.catalog.repositories.definitions import DELETED_FINGERPRINT, DefinitionRepository
from gnomon.catalog.repositories.files import IngestedFileRepository
from gnomon.catalog.repositories.insight_models import InsightModelRepository
from gnomon.catalog.repositories.leases import LeaseRepository
from gnomon.catalog.repositories.notifications import DeliveryRepository, NotificationRepository
from gnomon.catalog.repositories.outbox import OutboxRepository
from gnomon.catalog.repositories.policies import AccessPolicyRepository
from gnomon.catalog.repositories.roles import RoleRepository
from gnomon.catalog.repositories.rollups import RollupRepository
from gnomon.catalog.repositories.runs import UPDATABLE_RUN_FIELDS, RunRepository
from gnomon.catalog.repositories.sources import SourceRepository
from gnomon.catalog.repositories.tables import TableVersionRepository
from gnomon.catalog.repositories.tenants import TenantRepository
from gnomon.catalog.repositories.users import UserRepository

__all__ = [
    "DELETED_FINGERPRINT",
    "LAKE_SCOPE",
    "UPDATABLE_RUN_FIELDS",
    "AccessPolicyRepository",
    "AlertRepository",
    "AnomalyRepository",
    "ApiKeyRepository",
    "AuditRepository",
    "ChangeRepository",
    "ContractRepository",
    "DatasetRepository",
    "DefinitionRepository",
    "DeliveryRepository",
    "IngestedFileRepository",
    "InsightModelRepository",
    "LeaseRepository",
    "NotificationRepository",
    "OutboxRepository",
    "RoleRepository",
    "RollupRepository",
    "RunRepository",
    "SilenceRepository",
    "SourceRepository",
    "TableVersionRepository",
    "TenantRepository",
    "TriggerStateRepository",
    "UserRepository",
]
