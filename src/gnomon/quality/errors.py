"""Errors of data contracts: each says which file and key is wrong and what would be valid."""

from collections.abc import Sequence
from typing import Any

from gnomon.errors import Conflict, InvalidInput
from gnomon.specfiles import SpecIssue

__all__ = [
    "ColumnTypeError",
    "ContractError",
    "ContractIssue",
    "ContractVersionError",
    "SchemaDriftError",
]


class ColumnTypeError(InvalidInput):
    """A ``type:`` names no contract type; the hint lists the valid ones."""


ContractIssue = SpecIssue
"""One problem in a contract, with its key path (see :class:`gnomon.specfiles.SpecIssue`)."""


class ContractError(InvalidInput):
    """A contract cannot be used as written; every problem found is listed.

    Attributes:
        file: the contract file, or a label such as ``"<contract>"`` for in-memory input.
        issues: each problem with its key path.
    """

    def __init__(self, file: str, issues: Sequence[ContractIssue]) -> None:
        self.file = file
        self.issues = tuple(issues)
        listed = "; ".join(str(issue) for issue in self.issues)
        noun = "problem" if len(self.issues) == 1 else "problems"
        valid = [
            f"{issue.path or '(top level)'} takes {', '.join(issue.valid)}"
            for issue in self.issues
            if issue.valid
        ]
        hint = "Fix the contract and load it again (see docs/contracts.md)."
        if valid:
            hint = f"Valid values: {'; '.join(valid)}. {hint}"
        super().__init__(
            f"Invalid contract {file}, {len(self.issues)} {noun}: {listed}.",
            hint=hint,
            file=file,
            issues=[issue.to_dict() for issue in self.issues],
        )

    @property
    def paths(self) -> list[str]:
        """The key paths of the issues, in the order found."""
        return [issue.path for issue in self.issues]


class ContractVersionError(Conflict):
    """A contract's content changed but its ``version`` was not increased.

    Attributes:
        dataset: the contract's dataset.
        version: the version both the old and the new contract claim (or the lower new one).
        changes: the differences found, breaking ones first.
    """

    def __init__(self, message: str, *, dataset: str, version: int, changes: Sequence[str]) -> None:
        super().__init__(
            message,
            hint=f"Bump `version:` above {version} in the contract of {dataset!r}, so that "
            "loads and readers can tell the two contracts apart.",
            dataset=dataset,
            version=version,
            changes=list(changes),
        )
        self.dataset = dataset
        self.version = version
        self.changes = tuple(changes)


class SchemaDriftError(InvalidInput):
    """The file's columns differ from the contract and its ``schema_drift`` policy is ``fail``.

    Attributes:
        dataset: the contract's dataset.
        drift: the drift found, as :meth:`gnomon.quality.DriftReport.to_dict` gives it.
    """

    def __init__(self, message: str, *, dataset: str, drift: dict[str, Any]) -> None:
        super().__init__(
            message,
            hint="Update the contract to the new columns (and bump its version), or set "
            "`schema_drift:` to evolve or quarantine (valid: evolve, quarantine, fail).",
            dataset=dataset,
            drift=drift,
        )
        self.dataset = dataset
        self.drift = drift
