"""Root-cause localisation: gnomon's ``localize`` on B0, S, L and RS, next to reference scores.

    python -m benchmarks.rca [--data ../shared/benchmarks/rca] [--sets B0,S,L,RS]
                             [--generated N] [--seed 2026] [--check-generator]

Each case is one anomalous moment: every leaf with its value and forecast (``_rca_data``).
``localize`` is called once per case with its default options, and only that call is timed
(reading and building the leaf table are not). The evaluation follows the protocol in the data's
``README.md``:

- exact element match on canonical elements (pairs sorted by their text, duplicates dropped on
  both sides): an ancestor or a descendant of a true element is wrong;
- per case TP = true elements predicted, FN = |truth| - TP, FP = |predicted| - TP. With both
  sides de-duplicated FP is never negative, so clipping it at 0 (as RiskLoc does) and counting
  the predictions outside the truth (as Squeeze does) give the same number; an empty prediction
  is TP = FP = 0, FN = |truth|;
- micro F1 per folder: TP, FP and FN summed over its cases, F1 = 2TP / (2TP + FP + FN), and
  precision and recall from the same sums. "B0 all 9" is micro over all 108 B0 cases.

A case whose ``localize`` raises counts as an empty prediction and is listed; it does not stop
the run. ``--generated N`` adds N fresh instances of S and of L from our generator
(``_rca_generator``) at seeds ``--seed`` and ``--seed + 1``, which differ from the published
121 and 122, so no method can have been tuned on them. ``--check-generator`` only verifies that
the generator reproduces the shipped S and L instances, and exits 0 or 1.

The reference rows were not measured here: they come from running the authors' public code
(``shaido987/riskloc@08cd777``, default parameters) on the same files, as recorded in the data's
``README.md``; *n* is the number of cases a method finished within its time cap.
"""

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._rca_data import (
    DEFAULT_DATA,
    Case,
    generated_cases,
    load_rs,
    load_squeeze_folder,
    predicted_elements,
    read_leaves,
)
from benchmarks._rca_generator import generate
from benchmarks._setup import WORK, machine, report
from gnomon.insights.explain import localize

SETS = ("B0", "S", "L", "RS")
B0_SETTINGS = tuple(f"B_cuboid_layer_{lay}_n_ele_{ele}" for lay in (1, 2, 3) for ele in (1, 2, 3))
B0_ALL = "B0 all 9"
SHIPPED = {"S": 5, "L": 5}
"""Shipped instances of the synthetic sets, checked against the generator."""

NOT_RUN = "\N{EN DASH}"
"""A reference cell without a figure: not run, or no case finished in time."""

REFERENCE_COLUMNS = (
    *(f"B0 L{lay}E{ele}" for lay in (1, 2, 3) for ele in (1, 2, 3)),
    B0_ALL,
    "S",
    "L",
    "RS",
)
REFERENCE_F1: dict[str, tuple[str, ...]] = {
    "riskloc": (
        "1.000", "0.958", "0.986", "1.000", "0.979", "0.901", "0.957", "0.957", "0.941",
        "0.957", "0.789", "0.600", "0.025",
    ),
    "riskloc_rel": (NOT_RUN,) * 12 + ("0.026",),
    "autoroot": (
        "1.000", "0.957", "0.955", "1.000", "0.913", "0.844", "1.000", "0.933", "0.746",
        "0.907", "0.500", "0.353", "0.261",
    ),
    "squeeze": (
        "0.923", "0.960", "0.957", "0.960", "0.957", "0.899", "0.957 (n=11)", NOT_RUN, NOT_RUN,
        "0.942 (n=83)", "0.000 (n=4)", "0.400", NOT_RUN,
    ),
    "hotspot": (
        "1.000", "0.611", "0.426", "0.667", "0.444 (n=3)", NOT_RUN, NOT_RUN, NOT_RUN, NOT_RUN,
        "0.614 (n=51)", NOT_RUN, NOT_RUN, NOT_RUN,
    ),
    "adtributor": (
        "0.632", "0.583", "0.467", "0.000", "0.000", "0.000", "0.000", "0.000", "0.000",
        "0.160", "0.000", "0.000", "0.274",
    ),
    "r_adtributor": (
        "0.692", "0.143", "0.154", "0.000", "0.176", "0.085", "0.068", "0.038", "0.000",
        "0.108", "0.000", "0.000", "0.104",
    ),
    "robustspot": ("0.370 (n=6)",) + (NOT_RUN,) * 8 + ("0.370 (n=6)", NOT_RUN, NOT_RUN, "0.397"),
}  # fmt: skip
"""Micro F1 of the authors' public code (default parameters) on these files, per column of
:data:`REFERENCE_COLUMNS`, copied from the data's ``README.md``; not measured here."""

REFERENCE_SECONDS: dict[str, tuple[str, str, str, str]] = {
    "riskloc": ("1.14", "8.68", "3.79", "2.35"),
    "riskloc_rel": (NOT_RUN, NOT_RUN, NOT_RUN, "2.07"),
    "autoroot": ("0.56", "4.20", "0.56", "0.55"),
    "squeeze": ("14.12", "92.77", "24.82", NOT_RUN),
    "hotspot": ("8.51", NOT_RUN, NOT_RUN, NOT_RUN),
    "adtributor": ("0.05", "0.07", "0.06", "0.06"),
    "r_adtributor": ("0.29", "0.09", "0.11", "0.48"),
    "robustspot": ("72.31", NOT_RUN, NOT_RUN, "1.26"),
}
"""Mean localisation seconds per case of the same runs (B0, S, L, RS), from the same README;
two worker processes on two shared cores."""


@dataclass(frozen=True, slots=True)
class Counts:
    """True positives, false positives and false negatives, of one case or summed."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def f1(self) -> float:
        """``2TP / (2TP + FP + FN)``; 0 when nothing was true or predicted."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    @property
    def precision(self) -> float:
        """``TP / (TP + FP)``; 0 without predictions."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        """``TP / (TP + FN)``; 0 without true elements."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0


def count(truth: frozenset[str], predicted: frozenset[str]) -> Counts:
    """One case's counts under exact element match (both sides canonical and distinct)."""
    tp = len(truth & predicted)
    return Counts(tp=tp, fp=len(predicted) - tp, fn=len(truth) - tp)


def pooled(counts: Iterable[Counts]) -> Counts:
    """Counts summed over cases: the micro average's numerator and denominators."""
    return sum(counts, Counts())


@dataclass(frozen=True, slots=True)
class CaseResult:
    """What one case gave: the canonical predictions, its counts and the localisation time."""

    name: str
    folder: str
    truth: frozenset[str]
    predicted: frozenset[str]
    counts: Counts
    seconds: float
    error: str | None = None


def run_cases(
    cases: Iterable[Case],
    label: str,
    total: int,
    localizer: Callable[[Any], Sequence[Any]] = localize,
) -> list[CaseResult]:
    """Localise every case, timing only the call, with a progress line on stderr."""
    results: list[CaseResult] = []
    for case in cases:
        error = None
        started = time.perf_counter()
        try:
            causes = localizer(case.leaves)
        except Exception as exc:  # noqa: BLE001 - one failing case is recorded, not fatal
            causes, error = (), f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        predicted = predicted_elements(causes)
        results.append(
            CaseResult(
                case.name,
                case.folder,
                case.truth,
                predicted,
                count(case.truth, predicted),
                seconds,
                error,
            )
        )
        so_far = pooled(r.counts for r in results)
        print(
            f"\r  {label}: {len(results)}/{total} cases, F1 {so_far.f1:.3f}, "
            f"{np.mean([r.seconds for r in results]):.2f} s/case",
            end="",
            file=sys.stderr,
            flush=True,
        )
    print(file=sys.stderr, flush=True)
    return results


def summary(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Micro scores and mean time of a group of cases."""
    total = pooled(r.counts for r in results)
    return {
        "cases": len(results),
        "tp": total.tp,
        "fp": total.fp,
        "fn": total.fn,
        "precision": total.precision,
        "recall": total.recall,
        "f1": total.f1,
        "seconds_mean": float(np.mean([r.seconds for r in results])) if results else 0.0,
        "errors": sum(r.error is not None for r in results),
    }


def check_generator(data: Path) -> list[str]:
    """Regenerate the shipped S and L instances and compare; the list of differences."""
    problems: list[str] = []
    for name, count_ in SHIPPED.items():
        folder = data / name
        info_path = folder / "injection_info.csv"
        if not info_path.exists():
            raise SystemExit(f"missing {info_path}; pass --data with the RCA folder")
        with info_path.open(encoding="utf-8", newline="") as handle:
            info = {row["timestamp"]: row for row in csv.DictReader(handle)}
        for instance in generate(name, count_):
            where = f"{name}/{instance.id}"
            if instance.id not in info or not (folder / f"{instance.id}.csv").exists():
                problems.append(f"{where}: no such shipped instance")
                continue
            labels, real, predict = read_leaves(folder / f"{instance.id}.csv")
            if instance.label != info[instance.id]["set"]:
                problems.append(f"{where}: label {instance.label} != {info[instance.id]['set']}")
            if any(not np.array_equal(labels[a], instance.labels[a]) for a in instance.labels):
                problems.append(f"{where}: leaf labels differ")
            pairs = {"real": (instance.real, real), "predict": (instance.predict, predict)}
            for measure, (ours, theirs) in pairs.items():
                if not np.array_equal(ours, theirs):
                    worst = float(np.max(np.abs(ours - theirs)))
                    problems.append(f"{where}: {measure} differs, max |diff| {worst:.3g}")
            for key, value in instance.info().items():
                if key != "set" and str(value) != info[instance.id][key]:
                    problems.append(f"{where}: {key} {value} != {info[instance.id][key]}")
            state = "differs" if any(p.startswith(where) for p in problems) else "identical"
            elements = instance.label.count(";") + 1
            print(f"  {where}: {state} ({len(real)} leaves, {elements} root-cause elements)")
    return problems


def b0_column(folder: str) -> str:
    """``B_cuboid_layer_2_n_ele_3`` → ``B0 L2E3``."""
    parts = folder.split("_")
    return f"B0 L{parts[3]}E{parts[-1]}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the RCA data folder")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated: B0,S,L,RS")
    parser.add_argument(
        "--generated", type=int, default=0, help="also N fresh S and N fresh L instances"
    )
    parser.add_argument(
        "--seed", type=int, default=2026, help="seed of the fresh S instances; L uses seed + 1"
    )
    parser.add_argument(
        "--check-generator",
        action="store_true",
        help="only check the generator against the shipped S and L instances; exit 0 or 1",
    )
    args = parser.parse_args(argv)
    data = args.data.resolve()
    if args.check_generator:
        problems = check_generator(data)
        print("\n".join(problems) if problems else "generator: all shipped instances identical")
        raise SystemExit(1 if problems else 0)

    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    unknown = sorted(set(sets) - set(SETS))
    if unknown:
        raise SystemExit(f"unknown set {', '.join(unknown)}; use some of {', '.join(SETS)}")
    columns: dict[str, list[CaseResult]] = {}
    if "B0" in sets:
        for setting in B0_SETTINGS:
            cases = load_squeeze_folder(data / "B0" / setting)
            columns[b0_column(setting)] = run_cases(cases, b0_column(setting), len(cases))
        columns[B0_ALL] = [r for c in B0_SETTINGS for r in columns[b0_column(c)]]
    for name in ("S", "L"):
        if name in sets:
            cases = load_squeeze_folder(data / name)
            columns[name] = run_cases(cases, name, len(cases))
    if "RS" in sets:
        cases = load_rs(data / "RS")
        columns["RS"] = run_cases(cases, "RS", len(cases))
    if args.generated:
        for offset, name in enumerate(("S", "L")):
            label = f"{name} gen"
            stream = generated_cases(name, args.generated, seed=args.seed + offset)
            columns[label] = run_cases(stream, label, args.generated)

    summaries = {column: summary(results) for column, results in columns.items()}
    per_case = {
        column: [
            {
                "name": r.name,
                "truth": sorted(r.truth),
                "predicted": sorted(r.predicted),
                "tp": r.counts.tp,
                "fp": r.counts.fp,
                "fn": r.counts.fn,
                "seconds": r.seconds,
                "error": r.error,
            }
            for r in results
        ]
        for column, results in columns.items()
    }
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "rca-cases.json").write_text(json.dumps(per_case, indent=1), encoding="utf-8")
    report("rca", {"sets": sets, "generated": args.generated, "seed": args.seed, **summaries})
    print(markdown(summaries, generated=args.generated, seed=args.seed))
    failed = [r for results in columns.values() for r in results if r.error]
    for r in failed[:10]:
        print(f"localize failed on {r.folder}/{r.name}: {r.error}", file=sys.stderr)


def markdown(summaries: dict[str, dict[str, Any]], *, generated: int, seed: int) -> str:
    """The F1 table next to the reference rows, the detail of ours, the times, the machine."""
    generated_columns = [c for c in ("S gen", "L gen") if c in summaries]
    heads = [*REFERENCE_COLUMNS, *generated_columns]

    def title(column: str) -> str:
        if column in summaries:
            return f"{column} ({summaries[column]['cases']})"
        return column

    lines = [
        "| Method | " + " | ".join(title(c) for c in heads) + " |",
        "|---" * (len(heads) + 1) + "|",
        "| **gnomon** | "
        + " | ".join(f"**{summaries[c]['f1']:.3f}**" if c in summaries else NOT_RUN for c in heads)
        + " |",
    ]
    for method, row in REFERENCE_F1.items():
        lines.append(
            f"| {method} | " + " | ".join([*row, *(NOT_RUN for _ in generated_columns)]) + " |"
        )
    lines += [
        "",
        "| Set | cases | TP | FP | FN | precision | recall | F1 | mean s/case | errors |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for column, s in summaries.items():
        lines.append(
            f"| {column} | {s['cases']} | {s['tp']} | {s['fp']} | {s['fn']} | "
            f"{s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
            f"{s['seconds_mean']:.3f} | {s['errors']} |"
        )
    timed = {"B0": B0_ALL, "S": "S", "L": "L", "RS": "RS"}
    lines += [
        "",
        "| Method | mean s/case B0 | S | L | RS |",
        "|---|---|---|---|---|",
        "| **gnomon** | "
        + " | ".join(
            f"{summaries[c]['seconds_mean']:.2f}" if c in summaries else NOT_RUN
            for c in timed.values()
        )
        + " |",
        *(f"| {m} | " + " | ".join(row) + " |" for m, row in REFERENCE_SECONDS.items()),
        "",
    ]
    info = machine()
    note = f"; fresh instances at seeds {seed} (S) and {seed + 1} (L)" if generated else ""
    lines.append(
        f"Measured {info['date']} on {info['cpu']} ({info['cores']} cores, "
        f"{info['memory_gb']} GB), Python {info['python']}, commit {info['commit']}{note}. "
        "Reference rows: the authors' public code on the same files (data README), not "
        "measured here."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
