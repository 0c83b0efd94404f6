"""One M4 series through gnomon's forecaster, in a worker process."""

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.insights.forecast import Grain, Series, forecast

_STEPS = {"hour": np.timedelta64(1, "h"), "week": np.timedelta64(7, "D")}


@dataclass(frozen=True)
class Task:
    index: int
    values: np.ndarray
    grain: Grain
    start: str
    horizon: int


def series_of(task: Task) -> Series:
    """The M4 values on a regular grid of timestamps (M4 gives none for these files)."""
    step = _STEPS[task.grain].astype("timedelta64[us]")
    times = np.datetime64(task.start, "us") + step * np.arange(len(task.values))
    return Series(times, task.values, task.grain)


def warm_up(grain: Grain, start: str, horizon: int) -> None:
    """Load the model libraries once per worker, before the timed series."""
    rng = np.random.default_rng(0)
    n = 400
    values = 100 + np.sin(np.arange(n) * 2 * np.pi / 24) * 10 + rng.normal(0, 1, n)
    forecast(series_of(Task(-1, values, grain, start, horizon)), horizon)


def run(task: Task) -> dict[str, Any]:
    """gnomon's automatic forecast of one series, with its intervals and the time it took."""
    started = time.perf_counter()
    result = forecast(series_of(task), task.horizon)
    return {
        "index": task.index,
        "mean": result.mean,
        "intervals": result.intervals,
        "model": result.model,
        "members": result.members,
        "seconds": time.perf_counter() - started,
    }
