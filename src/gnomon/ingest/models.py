"""What a load reports back: per-file outcomes, check results, drift and the run record."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["FileOutcome", "IngestProgress", "IngestResult", "ProgressListener"]


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """One progress report of a long load.

    ``stage`` is ``"read"`` (``done``/``total`` in bytes of the source files), ``"check"``,
    ``"quarantine"``, ``"silver"`` or ``"publish"`` (``done`` in rows, ``total`` unknown).
    """

    stage: str
    done: int
    total: int | None = None


ProgressListener = Callable[[IngestProgress], None]


@dataclass(frozen=True, slots=True)
class FileOutcome:
    """What happened to one source file in a load."""

    path: str
    fingerprint: str
    size: int
    status: Literal["loaded", "skipped", "failed"]
    error: str | None = None


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The outcome of ``gnomon ingest SOURCE``: the run plus what a person needs to act on it."""

    run_id: str
    source: str
    dataset: str
    status: str
    batch_id: str | None
    rows_read: int
    rows_written: int
    rows_quarantined: int
    bytes_read: int
    duration_s: float
    files: tuple[FileOutcome, ...] = ()
    checks: tuple[Mapping[str, Any], ...] = ()
    drift: Mapping[str, Any] | None = None
    warnings: Mapping[str, int] = field(default_factory=dict)
    versions: Mapping[str, int] = field(default_factory=dict)
    error: Mapping[str, Any] | None = None
    resumed: bool = False

    @property
    def ok(self) -> bool:
        """True when every file landed and nothing blocked the publish."""
        return self.status in {"succeeded", "skipped"} and all(
            f.status != "failed" for f in self.files
        )
