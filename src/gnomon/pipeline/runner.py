"""Building the gold tables: run each model's query and write its result, in dependency order.

The lake and engine are injected as two callables, so this module only decides what to build,
in which order, and what to do when a model fails: record it, skip everything that reads it
(directly or not), and carry on with the branches that do not.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence

import pyarrow as pa

from gnomon.errors import GnomonError
from gnomon.pipeline.dag import build_order
from gnomon.pipeline.models import GOLD, ModelRunResult, ModelSpec

__all__ = ["QueryRunner", "ResultWriter", "RunListener", "build_models"]

logger = logging.getLogger(__name__)

QueryRunner = Callable[[ModelSpec], pa.Table | pa.RecordBatchReader]
ResultWriter = Callable[[ModelSpec, pa.Table | pa.RecordBatchReader], int]
RunListener = Callable[[ModelRunResult], None]


def build_models(
    models: Sequence[ModelSpec],
    *,
    run_query: QueryRunner,
    write: ResultWriter,
    on_event: RunListener | None = None,
) -> list[ModelRunResult]:
    """Build every model in :func:`build_order`, isolating failures.

    Args:
        models: the models to build, closed under gold dependencies (as :func:`build_order`
            returns for a selection).
        run_query: runs a model's query and returns its rows, as a table or a stream.
        write: replaces the model's gold table with those rows and returns the new version.
        on_event: called with each result as soon as it is known, in build order.

    Returns:
        One result per model, in build order.

    Raises:
        ModelCycleError, ModelDependencyError, ModelError: the models cannot be ordered; nothing
            was built.
        Exception: anything that is not a :class:`~gnomon.errors.GnomonError` raised by the
            callables is a bug and propagates, ending the build.
    """
    failed_upstream: dict[str, frozenset[str]] = {}
    results: list[ModelRunResult] = []
    for model in build_order(models):
        causes = frozenset().union(
            *(failed_upstream[name] for name in model.upstream_models if name in failed_upstream)
        )
        if causes:
            result = _skipped(model, causes)
            failed_upstream[model.name] = causes
        else:
            result = _build_one(model, run_query=run_query, write=write)
            if result.status == "failed":
                failed_upstream[model.name] = frozenset({model.name})
        results.append(result)
        if on_event is not None:
            on_event(result)
    return results


def _skipped(model: ModelSpec, causes: frozenset[str]) -> ModelRunResult:
    names = ", ".join(f"{GOLD}.{name}" for name in sorted(causes))
    return ModelRunResult(
        model=model.name,
        status="skipped",
        rows=None,
        version=None,
        error=f"Not built because an upstream model failed: {names}.",
        duration_s=0.0,
    )


def _build_one(model: ModelSpec, *, run_query: QueryRunner, write: ResultWriter) -> ModelRunResult:
    started = time.perf_counter()
    counter = _RowCounter()
    try:
        version = write(model, counter.wrap(run_query(model)))
    except GnomonError as exc:
        logger.warning("Model %s failed: %s", model.name, exc, extra={"model": model.name})
        return ModelRunResult(
            model=model.name,
            status="failed",
            rows=None,
            version=None,
            error=str(exc),
            duration_s=time.perf_counter() - started,
        )
    return ModelRunResult(
        model=model.name,
        status="succeeded",
        rows=counter.rows,
        version=version,
        error=None,
        duration_s=time.perf_counter() - started,
    )


class _RowCounter:
    """Counts the rows ``write`` takes from a stream without holding the stream in memory."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows = 0

    def wrap(self, data: "pa.Table | pa.RecordBatchReader") -> "pa.Table | pa.RecordBatchReader":
        if isinstance(data, pa.Table):
            self.rows = data.num_rows
            return data
        return pa.RecordBatchReader.from_batches(data.schema, self._count(data))

    def _count(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self.rows += batch.num_rows
            yield batch
