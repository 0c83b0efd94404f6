"""Errors of the semantic layer: each names the file, the key and the fix."""

from collections.abc import Sequence

from gnomon.errors import InvalidInput, NotFound
from gnomon.specfiles import FileIssue, SpecFilesError

__all__ = ["DefinitionError", "DefinitionIssue", "MetricQueryError", "UnknownMetric"]


DefinitionIssue = FileIssue
"""One problem in the definitions, located in its file."""


class DefinitionError(SpecFilesError):
    """Metric definitions cannot be applied as written; every problem found is listed."""

    def __init__(self, issues: Sequence[FileIssue]) -> None:
        super().__init__(
            issues, subject="metric definitions", fix="definitions", doc="docs/metrics.md"
        )


class UnknownMetric(NotFound):
    """A query or definition names a metric that is not defined."""


class MetricQueryError(InvalidInput):
    """A metric query asks for something the definitions cannot answer."""
