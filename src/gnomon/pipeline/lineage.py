"""Dataset-level lineage of the gold models: which lake table feeds which gold table."""

from collections.abc import Iterable

from gnomon.pipeline.models import ModelSpec

__all__ = ["model_lineage"]


def model_lineage(models: Iterable[ModelSpec]) -> list[tuple[str, str]]:
    """Every ``("layer.name", "gold.model")`` edge, sorted, one per table a model reads.

    Dependencies declared only in the front matter are included: they are real reads the SQL
    does not show (through a view or a macro), and lineage must not hide them.
    """
    return sorted(
        {(f"{layer}.{name}", model.table) for model in models for layer, name in model.depends_on}
    )
