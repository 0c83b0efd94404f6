"""Errors of the semantic layer: each names the file, the key and the fix."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gnomon.errors import InvalidInput, NotFound
from gnomon.specfiles import SpecIssue

__all__ = ["DefinitionError", "DefinitionIssue", "MetricQueryError", "UnknownMetric"]


@dataclass(frozen=True, slots=True)
class DefinitionIssue:
    """One problem in the definitions, located in its file."""

    file: str
    issue: SpecIssue

    def __str__(self) -> str:
        line = f":{self.issue.line}" if self.issue.line else ""
        return f"{self.file}{line}: {self.issue}"

    def to_dict(self) -> dict[str, Any]:
        """The issue as plain data, for the API and the CLI's JSON output."""
        return {"file": self.file, **self.issue.to_dict()}


class DefinitionError(InvalidInput):
    """Metric definitions cannot be applied as written; every problem found is listed."""

    def __init__(self, issues: Sequence[DefinitionIssue]) -> None:
        self.issues = tuple(issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        listed = "; ".join(str(issue) for issue in self.issues)
        valid = [
            f"{i.issue.path or '(top level)'} takes {', '.join(i.issue.valid)}"
            for i in self.issues
            if i.issue.valid
        ]
        hint = "Fix the definitions and apply them again (see docs/metrics.md)."
        if valid:
            hint = f"Valid values: {'; '.join(valid)}. {hint}"
        super().__init__(
            f"Invalid metric definitions, {len(self.issues)} {noun}: {listed}.",
            hint=hint,
            issues=[issue.to_dict() for issue in self.issues],
        )


class UnknownMetric(NotFound):
    """A query or definition names a metric that is not defined."""


class MetricQueryError(InvalidInput):
    """A metric query asks for something the definitions cannot answer."""
