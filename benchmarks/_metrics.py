"""Shared set-up for the semantic-layer benchmarks: the demo project, the queries, comparisons.

The data is the demo's (``run_demo``: generated orders, contract checks, latest-wins updates,
metrics applied), built once per row count under ``bench-data/metrics-demo-<rows>`` and reused;
a marker file written last says the build finished.
"""

import math
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks._setup import WORK
from gnomon.app import Gnomon
from gnomon.demo import run_demo
from gnomon.engine import Engine
from gnomon.examples.retail.queries import DASHBOARD_QUERIES
from gnomon.semantic import MetricQuery, SemanticService

READY = ".bench-ready"


def demo_project(rows: int) -> Path:
    """The demo project with ``rows`` generated orders, built on first use and then reused."""
    project = WORK / f"metrics-demo-{rows}"
    if (project / READY).exists():
        return project
    if project.exists():
        shutil.rmtree(project)
    started = time.perf_counter()
    run_demo(project, rows=rows, seed=0, on_stage=lambda text: print(f"  {text}", flush=True))
    elapsed = time.perf_counter() - started
    (project / READY).write_text(f"built in {elapsed:.0f} s\n", encoding="utf-8")
    print(f"built {project.name} in {elapsed:.0f} s", flush=True)
    return project


def copy_project(source: Path, name: str) -> Path:
    """A scratch copy of a built project (settings, definitions and the lake; not the data files).

    Benchmarks that load more data work on a copy, so the cached project stays as built. The
    generated order files are left out: a later ingest only sees the files written into the copy.
    """
    target = WORK / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("data"))
    (target / "data" / "orders").mkdir(parents=True)
    (target / "data" / "updates").mkdir(parents=True)
    return target


def metric_query(spec: dict[str, Any]) -> MetricQuery:
    """A dashboard query (from ``DASHBOARD_QUERIES``) as a MetricQuery."""
    return MetricQuery.build(
        spec["metrics"],
        by=spec.get("by", ()),
        grain=spec.get("grain"),
        start=date.fromisoformat(spec["start"]),
        end=date.fromisoformat(spec["end"]),
        where=spec.get("where"),
        order=spec.get("order", ()),
        limit=spec.get("limit"),
    )


def dashboard(names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The dashboard queries, all or those named, in their order."""
    if names is None:
        return list(DASHBOARD_QUERIES)
    by_name = {q["name"]: q for q in DASHBOARD_QUERIES}
    return [by_name[name] for name in names]


def uncached_service(app: Gnomon, engines: dict[str, Engine] | None = None) -> SemanticService:
    """A semantic service of ``app`` without a result cache (every query reads tables).

    ``engines`` replaces the app's engines (e.g. one Spark engine shared by the run).
    """
    if engines is None:
        return app.semantic_service(cache_entries=0)
    factories = {name: _given(engine) for name, engine in engines.items()}
    return SemanticService(
        catalog=app.catalog,
        resolve=app.snapshot,
        engines=factories,
        default_engine="duckdb",
        metrics_dir=app.layout.metrics_dir,
        project_dir=app.layout.root,
        cache_entries=0,
        access=app.policies.access,
        policy_stamp=app.policies.stamp,
        on_read=app._audit_read,  # noqa: SLF001 - audited like the app's own service
    )


def _given(engine: Engine) -> Callable[[], Engine]:
    return lambda: engine


def same(left: Any, right: Any, *, rel: float = 1e-9, abs_: float = 1e-6) -> bool:
    """Equal, or close for floats (sums of decimals may be added in another order)."""
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None:
            return left is right
        if math.isnan(float(left)) and math.isnan(float(right)):
            return True
        return math.isclose(float(left), float(right), rel_tol=rel, abs_tol=abs_)
    return bool(left == right)


def differences(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], *, limit: int = 5
) -> list[str]:
    """Up to ``limit`` lines saying where two results differ (none when they are equal)."""
    if len(expected) != len(actual):
        return [f"{len(expected)} rows expected, {len(actual)} rows given"]
    out = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if list(want) != list(got):
            return [f"columns {list(want)} expected, {list(got)} given"]
        wrong = {k: (want[k], got[k]) for k in want if not same(want[k], got[k])}
        if wrong:
            out.append(f"row {index} {want}: (expected, given) {wrong}")
            if len(out) >= limit:
                break
    return out


def ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded for the report."""
    return round(seconds * 1000, 2)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    """The median (kept here so the benchmarks read alike)."""
    return statistics.median(values)
