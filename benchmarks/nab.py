"""NAB: gnomon's anomaly detectors on the Numenta Anomaly Benchmark, next to the published scores.

    python -m benchmarks.nab [--data ../shared/benchmarks/nab] [--detectors novelty,robust_z]

First the scorer (``benchmarks/_nab_scoring.py``, written from the rules in the data's README)
is checked against the published results: the null detector and the random detector (its
outputs regenerated: Python's ``random`` seeded with 42 per file) scored at the thresholds in
``config/thresholds.json`` must give the published scores, and the published raw totals of
every detector must normalise to ``final_results.json``. (The other detectors' per-record
outputs are not part of the data, so they cannot be rescored.)

Then each gnomon detector streams through all 58 files (``score_series`` is ``update`` in a
loop: no point sees a later one), one configuration for the whole corpus, and its scores are
swept for the best threshold per profile, as NAB does. ``novelty`` with its default parameters
is the configuration the product ships.
"""

import argparse
import csv
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._nab_corpus import PROFILES, NabFile, Profile, load_corpus, load_profiles
from benchmarks._nab_scoring import FileWeights, file_weights, normalise, score_file, sweep
from benchmarks._setup import ROOT, report
from gnomon.insights.detect import detector

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "nab"
DEFAULT_DETECTORS = "novelty"
SHORT = {"standard": "standard", "reward_low_FP_rate": "low FP", "reward_low_FN_rate": "low FN"}


def random_outputs(nab: NabFile) -> np.ndarray:
    """What NAB's random detector wrote for a file: a fresh seed of 42, one draw per record."""
    rng = random.Random(42)
    return np.array([rng.uniform(0, 1) for _ in range(len(nab.values))])


def check_scorer(
    root: Path,
    corpus: list[NabFile],
    profiles: dict[str, Profile],
    weights: dict[str, list[FileWeights]],
) -> dict[str, Any]:
    """Reproduce the published scores that the data allows; exit if any differs."""
    published = json.loads((root / "results" / "final_results.json").read_text(encoding="utf-8"))
    thresholds = json.loads((root / "config" / "thresholds.json").read_text(encoding="utf-8"))
    windows = sum(len(f.windows) for f in corpus)
    checks: dict[str, Any] = {"windows": windows, "files": len(corpus)}
    failures: list[str] = []

    # 1. Every published detector's raw corpus total normalises to its published score.
    worst = 0.0
    for name in sorted(published):
        for profile in PROFILES:
            path = root / "results" / name / f"{name}_{profile}_scores.csv"
            if not path.exists() or name == "random":  # random's csv is from an older run
                continue
            with path.open(encoding="utf-8", newline="") as handle:
                total = next(r for r in csv.DictReader(handle) if r["Detector"] == "Totals")
            ours = normalise(float(total["Score"]), windows, profiles[profile])
            worst = max(worst, abs(ours - published[name][profile]))
    checks["normalisation_max_abs_diff"] = worst
    if worst > 1e-6:
        failures.append(f"normalised published totals differ by up to {worst}")

    # 2. Null and random, rescored from their outputs at the published thresholds.
    outputs = {
        "null": [np.full(len(f.values), 0.5) for f in corpus],
        "random": [random_outputs(f) for f in corpus],
    }
    for name, scores in outputs.items():
        for profile in PROFILES:
            threshold = thresholds[name][profile]["threshold"]
            raw = sum(
                score_file(f.name, w, s, threshold, profiles[profile]).score
                for f, w, s in zip(corpus, weights[profile], scores, strict=True)
            )
            ours = normalise(raw, windows, profiles[profile])
            best = sweep(weights[profile], scores, profiles[profile])
            checks[f"{name}_{profile}"] = {
                "ours": round(ours, 4),
                "published": round(published[name][profile], 4),
                "swept": round(best.normalised, 4),
            }
            if abs(ours - published[name][profile]) > 1e-6:
                failures.append(f"{name} {profile}: {ours} != {published[name][profile]}")

    # 3. The null detector's per-file scores and counts.
    per_file: list[str] = []
    for profile in PROFILES:
        path = root / "results" / "null" / f"null_{profile}_scores.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            rows = {r["File"]: r for r in csv.DictReader(handle) if r["File"]}
        for f, w, s in zip(corpus, weights[profile], outputs["null"], strict=True):
            mine = score_file(f.name, w, s, 0.6, profiles[profile])
            theirs = rows[f.name]
            if (mine.fn, mine.tn) != (int(theirs["FN"]), int(theirs["TN"])) or abs(
                mine.score - float(theirs["Score"])
            ) > 1e-9:
                per_file.append(f"null {profile} {f.name}: {mine} vs {theirs}")
    checks["null_per_file"] = "differ" if per_file else "match"
    failures += per_file
    if failures:
        raise SystemExit(
            "The NAB scorer does not reproduce the published results:\n  " + "\n  ".join(failures)
        )
    return checks


def run_detector(
    name: str, params: dict[str, Any], corpus: list[NabFile]
) -> tuple[list[np.ndarray], float]:
    started = time.perf_counter()
    scores = []
    for f in corpus:
        made = detector(name, **params)
        scores.append(made.score_series(f.values).score)  # type: ignore[union-attr]
    return scores, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the NAB data folder")
    parser.add_argument(
        "--detectors", default=DEFAULT_DETECTORS, help="comma-separated detector names"
    )
    parser.add_argument(
        "--params", default="{}", help='JSON params for the first detector, e.g. {"memory": 4000}'
    )
    args = parser.parse_args(argv)
    root = args.data.resolve()
    corpus = load_corpus(root)
    profiles = load_profiles(root)
    weights = {p: [file_weights(f, profiles[p]) for f in corpus] for p in PROFILES}

    checks = check_scorer(root, corpus, profiles, weights)
    print(f"scorer check: {len(corpus)} files, {checks['windows']} windows")
    print(
        f"  published raw totals normalise to final_results.json (max |diff| "
        f"{checks['normalisation_max_abs_diff']:.1e})"
    )
    for name in ("null", "random"):
        for profile in PROFILES:
            c = checks[f"{name}_{profile}"]
            print(
                f"  {name:<7}{SHORT[profile]:<9} at published threshold {c['ours']:8.4f} "
                f"(published {c['published']:8.4f}); best swept {c['swept']:8.4f}"
            )
    print(f"  null per-file scores and counts: {checks['null_per_file']}")

    results: dict[str, Any] = {}
    names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    for i, name in enumerate(names):
        params = json.loads(args.params) if i == 0 else {}
        scores, seconds = run_detector(name, params, corpus)
        entry: dict[str, Any] = {"params": detector(name, **params).params(), "seconds": seconds}
        for profile in PROFILES:
            best = sweep(weights[profile], scores, profiles[profile])
            entry[profile] = {"score": round(best.normalised, 2), "threshold": best.threshold}
        results[name] = entry
        print(
            f"{name:<18} "
            + "  ".join(f"{SHORT[p]} {entry[p]['score']:6.2f}" for p in PROFILES)
            + f"   ({seconds:.1f} s, {sum(len(f.values) for f in corpus)} records)"
        )

    published = json.loads((root / "results" / "final_results.json").read_text(encoding="utf-8"))
    table = {f"gnomon {n}": {p: results[n][p]["score"] for p in PROFILES} for n in results}
    table.update({k: {p: round(v[p], 2) for p in PROFILES} for k, v in published.items()})
    print("\ndetector                     standard   low FP   low FN")
    for name, row in sorted(table.items(), key=lambda kv: -kv[1]["standard"]):
        print(
            f"{name:<28} {row['standard']:8.2f} {row['reward_low_FP_rate']:8.2f} "
            f"{row['reward_low_FN_rate']:8.2f}"
        )
    report("nab", {"scorer_check": checks, "detectors": results, "published": published})


if __name__ == "__main__":
    main()
