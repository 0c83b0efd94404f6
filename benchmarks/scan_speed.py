"""Scan scoring speed: 10,000 daily KPI series judged by the default detector vs. AutoETS fits.

    python -m benchmarks.scan_speed [--series 10000] [--points 730] [--sample 50] [--seed 0]

The series are generated here (seeded): positive daily KPIs of sizes from tens to hundreds of
thousands a day, each with its own weekly profile, a yearly curve, a trend, and noise (Poisson
counts for small ones, log-normal for the rest), with a few spikes and drops.

gnomon: every series is judged in full (every point, as a first scan of a metric judges it) by
``gnomon.insights.scoring.score_many``, the function a scan calls, with the configuration a scan
registers for a daily metric without a ``monitor`` block (``MonitorSpec``'s detector and
sensitivity, season 7, as ``Detector.params()`` stores it) and the scan's parallelism: one
worker process per core (``insights.workers`` unset), started fresh for the call and timed with
it.

Baseline: statsforecast's ``AutoETS(season_length=7).fit`` one series at a time in a Python
loop in this process, as a script that fits a model per series would. A whole loop over 10,000
series would take hours, so ``--sample`` series are fitted (after one untimed fit that compiles
the model) and the per-series rate is extrapolated to all of them. Reported: series per second
both ways and the ratio (target >= 20x).
"""

import argparse
import os
import time
from typing import Any

import numpy as np

from benchmarks._setup import report
from gnomon.config import InsightsConfig
from gnomon.insights.scoring import build_detector, score_many
from gnomon.insights.series import season_of
from gnomon.semantic.definitions import MonitorSpec

TARGET = 20.0


def kpi_series(count: int, points: int, seed: int) -> list[np.ndarray]:
    """``count`` positive daily series with weekly and yearly cycles, trend, noise, incidents."""
    rng = np.random.default_rng(seed)
    t = np.arange(points)
    size = np.exp(rng.uniform(np.log(20.0), np.log(200_000.0), count))
    weekly = rng.uniform(0.7, 1.3, (count, 7))
    weekly /= weekly.mean(axis=1, keepdims=True)
    yearly = 1.0 + rng.uniform(0.0, 0.3, (count, 1)) * np.sin(
        2 * np.pi * (t[None, :] / 365.25 + rng.uniform(0, 1, (count, 1)))
    )
    trend = np.exp(rng.normal(0.1, 0.15, (count, 1)) * t[None, :] / 365.25)
    mean = size[:, None] * weekly[:, t % 7] * yearly * trend
    counts = mean < 500.0
    noisy = np.where(
        counts,
        rng.poisson(np.minimum(mean, 500.0)),
        mean * np.exp(rng.normal(0.0, rng.uniform(0.03, 0.15, (count, 1)), (count, points))),
    )
    for row in range(count):
        for at in rng.integers(60, points, size=int(rng.integers(0, 3))):
            noisy[row, at] *= rng.choice([0.2, 3.0])
    return [np.ascontiguousarray(row, dtype=np.float64) for row in noisy]


def scan_config() -> dict[str, Any]:
    """The detector configuration a scan registers for a daily metric with no monitor block."""
    monitor = MonitorSpec()
    base = {
        "name": monitor.detector,
        "sensitivity": monitor.sensitivity,
        "season": season_of("day"),
    }
    return build_detector(base).params()


def ets_rate(series: list[np.ndarray]) -> tuple[float, float]:
    """Series per second of AutoETS fits in a loop, and the seconds the loop took."""
    from statsforecast.models import AutoETS

    AutoETS(season_length=7).fit(series[0])  # compiles the model; not timed
    started = time.perf_counter()
    for values in series:
        AutoETS(season_length=7).fit(values)
    seconds = time.perf_counter() - started
    return len(series) / seconds, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=730)
    parser.add_argument("--sample", type=int, default=50, help="series fitted by AutoETS")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    series = kpi_series(args.series, args.points, args.seed)
    config = scan_config()
    settings = InsightsConfig()
    workers = settings.workers or os.cpu_count() or 1
    started = time.perf_counter()
    flagged = score_many(config, series, workers=workers, parallel_from=settings.parallel_from)
    gnomon_s = time.perf_counter() - started
    gnomon_rate = len(series) / gnomon_s
    print(f"gnomon: {len(series)} series in {gnomon_s:.1f} s ({gnomon_rate:.0f}/s)", flush=True)
    rate, ets_s = ets_rate(series[1 : args.sample + 1])
    print(f"AutoETS: {args.sample} series in {ets_s:.1f} s ({rate:.2f}/s)", flush=True)
    report(
        "scan_speed",
        {
            "series": len(series),
            "points": args.points,
            "detector": config,
            "workers": workers,
            "gnomon_s": round(gnomon_s, 2),
            "gnomon_series_per_s": round(gnomon_rate, 1),
            "points_per_s": round(len(series) * args.points / gnomon_s),
            "flagged_points": int(sum(f.index.size for f in flagged)),
            "autoets_sample": args.sample,
            "autoets_sample_s": round(ets_s, 2),
            "autoets_series_per_s": round(rate, 3),
            "autoets_extrapolated_s": round(len(series) / rate, 0),
            "speedup": round(gnomon_rate / rate, 1),
            "target": f">= {TARGET:.0f}x",
        },
    )


if __name__ == "__main__":
    main()
