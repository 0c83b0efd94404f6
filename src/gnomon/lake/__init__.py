"""The lake: gnomon's data as Delta Lake tables in layers, with time travel and maintenance.

Tables live at ``<root>/<layer>/<name>``, are partitioned by ``_tenant_id``, and each write is one
Delta commit labelled with the batch and run that made it. See ``docs/lake.md``.
"""

from gnomon.lake.columns import (
    BATCH_COLUMN,
    INGESTED_AT_COLUMN,
    INGESTED_AT_TYPE,
    METADATA_COLUMNS,
    SOURCE_COLUMN,
    TENANT_COLUMN,
    RowCounter,
)
from gnomon.lake.errors import LakeUnavailable, TableNotFound
from gnomon.lake.models import CommitInfo, Layer, MergeResult, StagedFiles, TableSnapshot
from gnomon.lake.service import Lake

__all__ = [
    "BATCH_COLUMN",
    "INGESTED_AT_COLUMN",
    "INGESTED_AT_TYPE",
    "METADATA_COLUMNS",
    "SOURCE_COLUMN",
    "TENANT_COLUMN",
    "CommitInfo",
    "Lake",
    "LakeUnavailable",
    "Layer",
    "MergeResult",
    "RowCounter",
    "StagedFiles",
    "TableNotFound",
    "TableSnapshot",
]
