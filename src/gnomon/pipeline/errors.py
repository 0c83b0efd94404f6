"""Errors of the SQL models: each names the model file (and position) so the user can fix it."""

from pathlib import Path
from typing import Any

from gnomon.errors import InvalidInput, NotFound

__all__ = ["ModelCycleError", "ModelDependencyError", "ModelError", "ModelNotFound"]


class ModelError(InvalidInput):
    """A model file cannot be used as written.

    Attributes:
        file: the model file, when one is to blame.
        line: 1-based line in that file, when known.
        column: 1-based column in that line, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: Path | str | None = None,
        line: int | None = None,
        column: int | None = None,
        **details: Any,
    ) -> None:
        super().__init__(
            message,
            hint=hint,
            file=None if file is None else str(file),
            line=line,
            column=column,
            **details,
        )
        self.file = None if file is None else str(file)
        self.line = line
        self.column = column


class ModelDependencyError(ModelError):
    """A model reads ``gold.x`` but no model builds ``x``, so it could never be built.

    Attributes:
        model: the model that holds the reference.
        missing: the gold table nobody builds, as ``"gold.x"``.
    """

    def __init__(
        self, message: str, *, model: str, missing: str, hint: str | None = None, **details: Any
    ) -> None:
        super().__init__(message, hint=hint, model=model, missing=missing, **details)
        self.model = model
        self.missing = missing


class ModelCycleError(InvalidInput):
    """Models read each other in a loop, so none of them can be built first.

    Attributes:
        cycle: model names in the order each reads the next, first name repeated at the end.
    """

    def __init__(self, message: str, *, cycle: tuple[str, ...], hint: str | None = None) -> None:
        super().__init__(message, hint=hint, cycle=list(cycle))
        self.cycle = cycle


class ModelNotFound(NotFound):
    """A model was asked for by name and no model file defines it."""
