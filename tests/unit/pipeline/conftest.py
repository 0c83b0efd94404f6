"""Helpers for the pipeline tests: model specs built in memory, without files."""

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlglot import exp

from gnomon.pipeline import ModelSpec

MakeModel = Callable[..., ModelSpec]


def _make_model(name: str, *reads: str, silver: tuple[str, ...] = ("orders",)) -> ModelSpec:
    """A model called ``name`` reading the gold models ``reads`` plus some silver tables."""
    depends_on = sorted({("gold", read) for read in reads} | {("silver", s) for s in silver})
    return ModelSpec(
        name=name,
        path=Path("models") / f"{name}.sql",
        sql="SELECT 1",
        query=exp.select("1"),
        description=None,
        owner=None,
        depends_on=tuple(depends_on),
    )


@pytest.fixture(scope="session")
def make_model() -> MakeModel:
    """Session-scoped so that hypothesis tests can use it too."""
    return _make_model
