"""Generated retail orders with known incidents: the data behind ``gnomon demo``.

Later features (KPIs, anomaly detection, root-cause analysis) are scored against this data, so the
generator is realistic (trend, weekly and yearly seasonality, holidays, time of day, Poisson
noise), reproducible (same seed, same bytes) and honest: every incident it injects is returned and
written to ``incidents.json`` with the exact multipliers applied, and every broken line is counted
by kind. See ``docs/demo-data.md`` for the data model.
"""

from gnomon.examples.retail.generator import generate, write_benchmark_csv
from gnomon.examples.retail.incidents import HISTORY_DAYS, read_incidents
from gnomon.examples.retail.models import (
    BROKEN_KINDS,
    COLUMNS,
    INCIDENT_KINDS,
    SEGMENT_KEYS,
    STATUSES,
    BrokenKind,
    GenerationResult,
    Incident,
    IncidentKind,
)

__all__ = [
    "BROKEN_KINDS",
    "COLUMNS",
    "HISTORY_DAYS",
    "INCIDENT_KINDS",
    "SEGMENT_KEYS",
    "STATUSES",
    "BrokenKind",
    "GenerationResult",
    "Incident",
    "IncidentKind",
    "generate",
    "read_incidents",
    "write_benchmark_csv",
]
