"""Gold SQL models: load them from ``models/``, order them by what they read, and build them.

A model is one ``models/<name>.sql`` file holding one read-only DuckDB query over ``silver.x`` and
``gold.y`` tables; it builds ``gold.<name>``. The lake and engine are injected into
:func:`build_models` by the composition root, so this package holds no I/O besides reading files.
"""

from gnomon.pipeline.dag import build_order
from gnomon.pipeline.errors import ModelCycleError, ModelDependencyError, ModelError, ModelNotFound
from gnomon.pipeline.lineage import model_lineage
from gnomon.pipeline.loader import load_models
from gnomon.pipeline.maintenance import (
    CompactResult,
    HistoryEntry,
    MaintenanceService,
    VacuumResult,
)
from gnomon.pipeline.models import ModelRunResult, ModelSpec, RunStatus
from gnomon.pipeline.runner import QueryRunner, ResultWriter, RunListener, build_models
from gnomon.pipeline.service import BUILD_LEASE, ModelService

__all__ = [
    "BUILD_LEASE",
    "CompactResult",
    "HistoryEntry",
    "MaintenanceService",
    "ModelCycleError",
    "ModelDependencyError",
    "ModelError",
    "ModelNotFound",
    "ModelRunResult",
    "ModelService",
    "ModelSpec",
    "QueryRunner",
    "ResultWriter",
    "RunListener",
    "RunStatus",
    "VacuumResult",
    "build_models",
    "build_order",
    "load_models",
    "model_lineage",
]
