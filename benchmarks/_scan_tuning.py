"""Offline replay of a scan, for tuning detectors: series extracted once, scored many times.

A real scan spends most of its time in queries and the catalog; tuning needs the scoring and the
matching only. Each seed's series are extracted once through the scan's own path (``extract_series``
with a superset monitor: every dimension, the pairs the incidents need, no share floor) and cached
as ``.npz``; :func:`replay` then applies a monitor's filters, scores with a detector configuration
and matches the flags against the incidents exactly as ``score_scan`` matches a scan's anomalies.
The figures the benchmark reports come from real scans (``benchmarks/scan_incidents.py``).

The ``kpi`` detector was settled this way on seeds 0-9 only (seeds 10-19 held out), with the
plan a scan without ``monitor`` blocks follows, ``Plan(detector, pairs={})``: every dimension, no
pairs, the 2 % share floor. :data:`ECHOES` (a filtered copy of revenue and the metrics computed
over time) are not extracted, so a replay judges fewer series than a scan.
"""

import json
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._setup import WORK
from gnomon.examples.retail import Incident, read_incidents
from gnomon.examples.retail.matching import Scorecard, score_scan
from gnomon.insights.detect import Scored
from gnomon.insights.scoring import build_detector

PAIRS = (("country", "channel"), ("channel", "category"))
ECHOES = ("web_revenue", "revenue_7d", "revenue_ytd", "revenue_yoy", "revenue_mom")


@dataclass(frozen=True, slots=True)
class SeedSeries:
    """Every candidate series of one data set."""

    times: np.ndarray
    metrics: tuple[str, ...]
    segments: tuple[dict[str, Any], ...]
    shares: np.ndarray
    values: np.ndarray
    incidents: tuple[Incident, ...]


def seed_series(rows: int, seed: int) -> SeedSeries:
    """The cached superset of series for one seed (extracted on first use)."""
    path = WORK / f"scan-series-{rows}-{seed}.npz"
    if not path.exists():
        from benchmarks._scan_data import cached_project

        _extract(cached_project(rows, seed), path)
    data = np.load(path, allow_pickle=False)
    header = json.loads(str(data["header"]))
    project = WORK / f"incidents-{rows}-{seed}"
    return SeedSeries(
        times=data["times"],
        metrics=tuple(header["metrics"]),
        segments=tuple(header["segments"]),
        shares=data["shares"],
        values=data["values"],
        incidents=read_incidents(project / "data" / "incidents.json"),
    )


def _extract(project: Path, path: Path) -> None:
    # The app is imported here only: replays (and their worker processes) need none of it.
    from gnomon.app import Gnomon
    from gnomon.insights.series import SeriesRequest, extract_series
    from gnomon.semantic.definitions import MonitorSpec

    metrics: list[str] = []
    segments: list[dict[str, Any]] = []
    shares: list[float] = []
    values: list[np.ndarray] = []
    times = None
    with Gnomon.open(project) as app:
        ctx = app.context()
        layer = app.semantic.layer(ctx=ctx)
        monitor = MonitorSpec(pairs=list(PAIRS), min_share=0.0, min_points=28)
        for name in sorted(layer.metrics):
            if name in ECHOES:
                continue
            found = extract_series(
                app.semantic,
                SeriesRequest(name, monitor, max_points=1000),
                ctx=ctx,
                now=datetime.now(UTC),
            )
            for one in found:
                times = one.times
                metrics.append(name)
                segments.append({str(k): str(v) for k, v in one.segment.items()})
                shares.append(np.nan if one.share is None else one.share)
                values.append(one.values)
    header = json.dumps({"metrics": metrics, "segments": segments})
    np.savez_compressed(
        path,
        header=np.array(header),
        times=np.asarray(times),
        shares=np.array(shares),
        values=np.vstack(values),
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """What a scan would watch: per metric, whether, which segments and with what detector."""

    detector: Mapping[str, Any]
    metrics: Sequence[str] | None = None
    """Metrics watched; ``None``: every extracted one."""
    min_share: float = 0.02
    pairs: Mapping[str, Sequence[tuple[str, str]]] | None = None
    """Pairs watched per metric; ``None``: every extracted pair for every metric."""
    overall_only: Sequence[str] = ()
    """Metrics watched without segments (``dimensions: []``)."""


def selected(data: SeedSeries, plan: Plan) -> list[int]:
    """Indexes of the series the plan watches."""
    keep = []
    for i, (metric, segment) in enumerate(zip(data.metrics, data.segments, strict=True)):
        if plan.metrics is not None and metric not in plan.metrics:
            continue
        if segment and metric in plan.overall_only:
            continue
        share = data.shares[i]
        if np.isfinite(share) and share < plan.min_share:
            continue
        if len(segment) == 2:
            pairs = None if plan.pairs is None else plan.pairs.get(metric, ())
            if pairs is not None and tuple(segment) not in {tuple(p) for p in pairs}:
                continue
        keep.append(i)
    return keep


def replay(
    data: SeedSeries, plan: Plan, *, workers: int = 1
) -> tuple[Scorecard, list[dict[str, Any]]]:
    """Score the plan's series and match the flags against the incidents, as a scan would."""
    chosen = selected(data, plan)
    scored = score_full(dict(plan.detector), [data.values[i] for i in chosen], workers=workers)
    rows: list[dict[str, Any]] = []
    for i, marks in zip(chosen, scored, strict=True):
        for index in np.flatnonzero(marks.flagged & np.isfinite(data.values[i])).tolist():
            moment = data.times[index].astype("datetime64[us]").astype(datetime)
            rows.append(
                {
                    "id": len(rows) + 1,
                    "metric": data.metrics[i],
                    "segment": data.segments[i],
                    "time": moment.replace(tzinfo=UTC).isoformat(),
                    "score": float(marks.score[index]),
                    "actual": float(data.values[i][index]),
                    "expected": float(marks.expected[index]),
                    "series": i,
                    "position": int(index),
                }
            )
    return score_scan(data.incidents, rows, gap=timedelta(days=1)), rows


def _score_chunk(config: dict[str, Any], chunk: list[np.ndarray]) -> list[Scored]:
    return [build_detector(config).score_series(v) for v in chunk]


def score_full(config: dict[str, Any], series: list[np.ndarray], *, workers: int) -> list[Scored]:
    """Every point's verdict (not only the flagged ones), in ``workers`` processes."""
    if workers <= 1:
        return _score_chunk(config, series)
    size = max(1, -(-len(series) // (workers * 4)))
    chunks = [series[i : i + size] for i in range(0, len(series), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = pool.map(_score_chunk, [config] * len(chunks), chunks)
        return [one for part in parts for one in part]
