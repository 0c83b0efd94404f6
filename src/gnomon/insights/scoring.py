"""Scoring many series with one detector configuration, in this process or in a pool of them.

Why a module of its own: the process pool pickles the function it runs, so it must be a plain
top-level function of a module that imports nothing heavy; and a scan hands over arrays and a
JSON-able configuration, never detector objects, so that every worker rebuilds the detector the
registry describes and the result does not depend on where a series was scored.
"""

import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.insights.detect import Detector, Scored, detector

__all__ = ["Flagged", "build_detector", "score_many", "score_one"]


@dataclass(frozen=True, slots=True)
class Flagged:
    """The flagged points of one series: positions and the detector's verdict at each."""

    index: np.ndarray
    score: np.ndarray
    direction: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    severity: np.ndarray

    @classmethod
    def of(cls, scored: Scored, values: np.ndarray) -> "Flagged":
        """The points ``scored`` flagged, leaving out buckets without a value."""
        index = np.flatnonzero(scored.flagged & ~np.isnan(values))
        return cls(
            index=index,
            score=scored.score[index],
            direction=scored.direction[index],
            expected=scored.expected[index],
            lower=scored.lower[index],
            upper=scored.upper[index],
            severity=scored.severity[index],
        )


def build_detector(config: Mapping[str, Any]) -> Detector:
    """The univariate detector a stored configuration (``Detector.params()``) describes."""
    options = dict(config)
    name = str(options.pop("name"))
    built = detector(name, **options)
    if not hasattr(built, "score_series"):
        from gnomon.errors import InvalidInput

        raise InvalidInput(
            f"{name!r} scores several series at once, not one: it cannot watch a metric.",
            hint="Pick a univariate detector in the metric's monitor block.",
        )
    return built  # type: ignore[return-value]


def score_one(config: Mapping[str, Any], values: np.ndarray) -> Flagged:
    """Score one series with a fresh detector built from ``config``."""
    scored = build_detector(config).score_series(values)
    return Flagged.of(scored, values)


def _score_chunk(config: Mapping[str, Any], chunk: Sequence[np.ndarray]) -> list[Flagged]:
    return [score_one(config, values) for values in chunk]


def score_many(
    config: Mapping[str, Any],
    series: Sequence[np.ndarray],
    *,
    workers: int,
    parallel_from: int,
) -> list[Flagged]:
    """Score every series, in worker processes when there are at least ``parallel_from``.

    The workers are started fresh (``spawn``): a forked copy of a process holding database
    connections and engine threads is not safe to use.
    """
    if workers <= 1 or len(series) < parallel_from:
        return _score_chunk(config, series)
    size = max(1, -(-len(series) // (workers * 4)))
    chunks = [series[i : i + size] for i in range(0, len(series), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = pool.map(_score_chunk, [config] * len(chunks), chunks)
        return [flagged for part in parts for flagged in part]
