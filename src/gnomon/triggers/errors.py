"""The errors of the trigger rules: a condition that does not parse, or does not fit the data."""

from collections.abc import Sequence

from gnomon.errors import InvalidInput
from gnomon.specfiles import FileIssue, SpecFilesError

__all__ = ["RuleDefinitionError", "RuleIssue", "RuleSyntaxError", "RuleTypeError"]


class RuleSyntaxError(InvalidInput):
    """A rule's condition is not valid in the rule language; ``line`` and ``column`` say where.

    Raised when the rule is applied, so a broken rule never reaches the evaluator.
    """

    code = "rule_syntax"

    def __init__(
        self, message: str, *, text: str, line: int, column: int, hint: str | None = None
    ) -> None:
        super().__init__(
            f"{message} (line {line}, column {column})",
            hint=hint,
            line=line,
            column=column,
            excerpt=excerpt(text, line, column),
        )
        self.line = line
        self.column = column


class RuleTypeError(InvalidInput):
    """A condition combines values of types that do not go together (text compared with a number).

    Types are known only against the data, so this is raised when a condition is compiled for
    a batch's schema; the evaluator records it per rule instead of failing the batch.
    """

    code = "rule_type"


def excerpt(text: str, line: int, column: int) -> str:
    """The line of ``text`` at ``line``, and a caret under ``column`` (both from 1)."""
    lines = text.splitlines() or [""]
    shown = lines[min(max(line, 1), len(lines)) - 1]
    return f"{shown}\n{' ' * max(column - 1, 0)}^"


RuleIssue = FileIssue
"""One problem in the trigger rules, located in its file (or the API request)."""


class RuleDefinitionError(SpecFilesError):
    """Trigger rules cannot be applied as written; every problem found is listed."""

    code = "rule_definition"

    def __init__(self, issues: Sequence[FileIssue]) -> None:
        super().__init__(issues, subject="trigger rules", fix="rules", doc="docs/triggers.md")
