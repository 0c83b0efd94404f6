"""gnomon's metadata on Delta commits, and reading it back from a table's history.

Each write carries ``gnomon.batch_id``, ``gnomon.operation`` and ``gnomon.run_id`` in the commit
itself, so whether a step of a load committed is answered by the table, atomically with the data,
rather than by a separate record that a crash could leave out of step.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from deltalake import CommitProperties

from gnomon.lake.models import CommitInfo

BATCH_KEY = "gnomon.batch_id"
OPERATION_KEY = "gnomon.operation"
RUN_KEY = "gnomon.run_id"


def commit_properties(
    operation: str,
    *,
    batch_id: str | None = None,
    run_id: str | None = None,
    metrics: Mapping[str, int] | None = None,
) -> CommitProperties:
    """The commit properties that label one gnomon commit.

    ``metrics`` become the commit's ``operationMetrics``, for commits of files gnomon wrote
    itself, so that their history reads like that of delta-rs's own writes.
    """
    labels: dict[str, Any] = {OPERATION_KEY: operation, BATCH_KEY: batch_id, RUN_KEY: run_id}
    if metrics is not None:
        labels["operationMetrics"] = dict(metrics)
    return CommitProperties(custom_metadata=labels)


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def commit_info(raw: Mapping[str, Any]) -> CommitInfo:
    """A :class:`CommitInfo` from one entry of ``DeltaTable.history()``."""
    metrics = raw.get("operationMetrics")
    return CommitInfo(
        version=int(raw["version"]),
        timestamp=datetime.fromtimestamp(int(raw["timestamp"]) / 1000, tz=UTC),
        operation=str(raw.get("operation", "UNKNOWN")),
        batch_id=_text(raw, BATCH_KEY),
        run_id=_text(raw, RUN_KEY),
        gnomon_operation=_text(raw, OPERATION_KEY),
        metrics=dict(metrics) if isinstance(metrics, Mapping) else {},
    )


def matches(raw: Mapping[str, Any], *, batch_id: str, operation: str | None) -> bool:
    """Whether a history entry is the commit of ``batch_id`` (and ``operation`` when given)."""
    if raw.get(BATCH_KEY) != batch_id:
        return False
    return operation is None or raw.get(OPERATION_KEY) == operation
