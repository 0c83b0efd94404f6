"""Demo projects with injected incidents, built once per (rows, seed) and reused.

``run_demo`` builds the whole project and, as the demo does, scans it once with the detector
configuration of the day. A benchmark scan must start from a catalog that has never seen a scan:
anomalies already recorded would not be new, and a detector configuration already registered for
a metric would be reused instead of the current defaults. So the cached project is kept with its
insights state removed, and every benchmark scan runs in a fresh copy of it.
"""

import shutil
import sqlite3
import time
from pathlib import Path

from benchmarks._setup import WORK
from gnomon.demo import run_demo

READY = ".bench-ready"
"""Written last: a folder without it is a build that did not finish."""


def cached_project(rows: int, seed: int, *, log: bool = True) -> Path:
    """The demo project for ``rows`` and ``seed``, built on first use, without insights state."""
    project = WORK / f"incidents-{rows}-{seed}"
    if (project / READY).exists():
        return project
    if project.exists():
        shutil.rmtree(project)
    started = time.perf_counter()
    run_demo(project, rows=rows, seed=seed)
    forget_insights(project)
    seconds = time.perf_counter() - started
    (project / READY).write_text(f"built in {seconds:.0f} s\n", encoding="utf-8")
    if log:
        print(f"built {project.name} in {seconds:.0f} s", flush=True)
    return project


def forget_insights(project: Path) -> None:
    """Remove the anomalies and detector versions that earlier scans left in the catalog.

    The catalog has no operation for this (a product never forgets its findings), so the rows
    are deleted in the project's SQLite catalog directly; forecaster versions stay.
    """
    with sqlite3.connect(project / ".gnomon" / "catalog.db") as db:
        db.execute("DELETE FROM anomalies")
        db.execute("DELETE FROM insight_models WHERE kind = 'detector'")
    db.close()


def scratch_copy(project: Path, scratch: Path) -> Path:
    """A copy of ``project`` under ``scratch`` (replacing an earlier one) to scan and discard."""
    target = scratch / project.name
    if target.exists():
        shutil.rmtree(target)
    scratch.mkdir(parents=True, exist_ok=True)
    shutil.copytree(project, target, symlinks=True)
    return target
