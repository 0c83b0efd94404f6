"""M4 accuracy of gnomon's automatic forecaster on the Hourly and Weekly series.

    python -m benchmarks.m4 [--data ../shared/benchmarks/m4] [--freq Hourly,Weekly] [--workers 2]

First recomputes the organisers' Naive, sNaive and Naive2 with gnomon's metric code and checks
them against the published figures (they must match to 3 decimals), then forecasts every series
with ``gnomon.insights.forecast.forecast`` (automatic selection, default settings: what the
product runs) in a process pool, and reports sMAPE, MASE and OWA (against Naive2) next to the
published benchmarks and the best submissions. ``--every k`` keeps every k-th series for a quick
look; published rows then do not compare.
"""

import argparse
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._m4_data import (
    CHECKED,
    COMPARED,
    DEFAULT_DATA,
    FREQUENCIES,
    M4Set,
    accuracy,
    benchmark_forecasts,
    best_entries,
    load,
    owa,
    published,
    published_row,
)
from benchmarks._m4_run import Task, run, warm_up
from benchmarks._setup import report
from gnomon.insights.forecast import coverage


def check_benchmarks(m4: M4Set, table: dict[str, dict[str, str]]) -> tuple[dict[str, Any], bool]:
    """Our Naive, sNaive and Naive2 against the published figures."""
    name = m4.frequency.name
    per_method: dict[str, list[np.ndarray]] = {method: [] for method in CHECKED}
    for train in m4.train:
        for method, values in benchmark_forecasts(train, m4.frequency).items():
            per_method[method].append(values)
    rows: dict[str, Any] = {}
    passed = True
    for method in CHECKED:
        ours = accuracy(m4, per_method[method])
        theirs = published_row(table, method, name)
        same = all(round(ours[k], 3) == round(theirs[k], 3) for k in ("smape", "mase"))
        passed = passed and same
        rows[method] = {**ours, "published": theirs, "match": same}
        print(
            f"  check {method:7s} sMAPE {ours['smape']:7.3f} MASE {ours['mase']:6.3f}   "
            f"published {theirs['smape']:7.3f} / {theirs['mase']:6.3f}   "
            f"{'match' if same else 'MISMATCH'}"
        )
    return rows, passed


def forecast_all(m4: M4Set, workers: int) -> tuple[list[dict[str, Any]], float]:
    """Every series through gnomon, longest first so that the pool ends evenly."""
    f = m4.frequency
    tasks = [Task(i, y, f.grain, f.start, f.horizon) for i, y in enumerate(m4.train)]
    tasks.sort(key=lambda t: -len(t.values))
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(
        max_workers=workers, initializer=warm_up, initargs=(f.grain, f.start, f.horizon)
    ) as pool:
        for done, result in enumerate(pool.map(run, tasks, chunksize=2), start=1):
            results.append(result)
            if done % 50 == 0 or done == len(tasks):
                elapsed = time.perf_counter() - started
                print(f"  {done}/{len(tasks)} series, {elapsed:.0f} s", flush=True)
    results.sort(key=lambda r: r["index"])
    return results, time.perf_counter() - started


def evaluate(
    m4: M4Set, table: dict[str, dict[str, str]], workers: int, subset: bool
) -> dict[str, Any]:
    name = m4.frequency.name
    print(f"{name}: {len(m4.ids)} series, h={m4.frequency.horizon}, m={m4.frequency.period}")
    checks, passed = check_benchmarks(m4, table) if not subset else ({}, True)
    naive2 = accuracy(m4, [benchmark_forecasts(x, m4.frequency)["Naive2"] for x in m4.train])
    results, seconds = forecast_all(m4, workers)
    ours = accuracy(m4, [r["mean"] for r in results])
    ours["owa"] = owa(ours, naive2)
    covered = {
        level: float(
            np.mean(
                [
                    coverage(y, r["intervals"][level][0], r["intervals"][level][1])
                    for y, r in zip(m4.test, results, strict=True)
                ]
            )
        )
        for level in (80, 95)
    }
    alone = Counter(r["model"] for r in results if r["model"] != "ensemble")
    averaged = Counter(len(r["members"]) for r in results if r["model"] == "ensemble")
    members = Counter(m for r in results for m in r["members"])
    rows = {"gnomon": ours}
    if not subset:
        for method in dict.fromkeys((*COMPARED, *best_entries(table, name, 3))):
            team = table[method]["team"]
            label = method if team == "The M4 Team" else f"{method} {team[:28]}"
            rows[label] = published_row(table, method, name)
    print(f"\n  {'method':42s} {'sMAPE':>8s} {'MASE':>7s} {'OWA':>7s}")
    for label, row in rows.items():
        print(f"  {label:42s} {row['smape']:8.3f} {row['mase']:7.3f} {row['owa']:7.3f}")
    print(
        f"\n  interval coverage on the test values: 80 % → {covered[80]:.3f}, "
        f"95 % → {covered[95]:.3f}"
    )
    print(f"  one model alone: {dict(alone.most_common())}")
    print(f"  ensembles by size: {dict(sorted(averaged.items()))}")
    print(f"  series each model forecast (alone or averaged): {dict(members.most_common())}")
    per_series = [r["seconds"] for r in results]
    print(
        f"  {seconds:.0f} s wall for {len(results)} series on {workers} worker(s); "
        f"per series median {np.median(per_series):.2f} s, max {max(per_series):.1f} s\n"
    )
    return {
        "series": len(m4.ids),
        "horizon": m4.frequency.horizon,
        "mase_period": m4.frequency.period,
        "check": checks,
        "check_passed": passed,
        "naive2": naive2,
        "gnomon": ours,
        "comparison": {k: v for k, v in rows.items() if k != "gnomon"},
        "coverage": {str(k): v for k, v in covered.items()},
        "models_alone": dict(alone),
        "ensemble_sizes": {str(k): v for k, v in sorted(averaged.items())},
        "model_use": dict(members),
        "seconds": seconds,
        "seconds_per_series_median": float(np.median(per_series)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--freq", default="Hourly,Weekly")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--every", type=int, default=1, help="keep every k-th series")
    args = parser.parse_args()
    table = published(args.data)
    started = time.perf_counter()
    result: dict[str, Any] = {"workers": args.workers, "every": args.every}
    passed = True
    for name in [n.strip() for n in args.freq.split(",") if n.strip()]:
        if name not in FREQUENCIES:
            raise SystemExit(f"unknown frequency {name!r}; use {', '.join(FREQUENCIES)}")
        m4 = load(args.data, FREQUENCIES[name])
        if args.every > 1:
            m4 = M4Set(
                m4.frequency, m4.ids[:: args.every], m4.train[:: args.every], m4.test[:: args.every]
            )
        result[name] = evaluate(m4, table, args.workers, subset=args.every > 1)
        passed = passed and result[name]["check_passed"]
    result["seconds"] = time.perf_counter() - started
    print(f"total {result['seconds']:.0f} s")
    report("m4" if args.every == 1 else f"m4-every{args.every}", result)
    if not passed:
        raise SystemExit("the recomputed M4 benchmarks do not match the published figures")


if __name__ == "__main__":
    main()
