"""The nouns of the pipeline: a parsed model file and the outcome of building it."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlglot import exp

__all__ = ["GOLD", "ModelRunResult", "ModelSpec", "RunStatus"]

GOLD = "gold"

RunStatus = Literal["succeeded", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One ``models/<name>.sql`` file: the query that builds ``gold.<name>``.

    Attributes:
        name: the file stem, which is also the gold table's name.
        path: the file it was read from, so errors and lineage can point at it.
        sql: the file's text as written, front matter included, so positions match the file.
        query: the parsed, read-only query.
        description: what the table holds, from the front matter.
        owner: who answers for it, from the front matter.
        depends_on: every lake table the model reads, as sorted ``(layer, name)`` pairs: those
            named in the SQL plus those declared in the front matter.
    """

    name: str
    path: Path
    sql: str
    query: exp.Query
    description: str | None
    owner: str | None
    depends_on: tuple[tuple[str, str], ...]

    @property
    def table(self) -> str:
        """The lake table the model builds, as ``"gold.<name>"``."""
        return f"{GOLD}.{self.name}"

    @property
    def upstream_models(self) -> tuple[str, ...]:
        """Names of the gold tables this model reads, i.e. the models that must be built first."""
        return tuple(name for layer, name in self.depends_on if layer == GOLD)


@dataclass(frozen=True, slots=True)
class ModelRunResult:
    """What happened to one model in a build.

    Attributes:
        model: the model's name.
        status: ``succeeded``; ``failed`` (its query or write raised a gnomon error); or
            ``skipped`` (not attempted because a model it reads failed or was skipped).
        rows: rows written, when it succeeded.
        version: the gold table's new version, when it succeeded.
        error: why it failed or was skipped.
        duration_s: wall time spent on the model, in seconds; 0 when skipped.
    """

    model: str
    status: RunStatus
    rows: int | None
    version: int | None
    error: str | None
    duration_s: float
