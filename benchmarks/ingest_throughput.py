"""Ingestion throughput: gnomon vs. the bare baseline, on the same CSV, in the same run.

    python benchmarks/ingest_throughput.py [--rows 5000000] [--repeat 2]

gnomon: `gnomon ingest` of the file: read → bronze (Delta) → contract checks in DuckDB →
quarantine → silver, plus the catalog run record. Baseline: `pyarrow.csv.read_csv` +
`deltalake.write_deltalake` of the same file, no checks. The figure is the ratio of rows per
second (target ≥ 0.5). The best of ``--repeat`` runs of each is kept, runs interleaved, because
the machine is shared and noisy.
"""

import argparse
import shutil
import time

import pyarrow.csv as pacsv
from deltalake import write_deltalake

from benchmarks._setup import WORK, benchmark_csv, project_for, report
from gnomon.app import Gnomon


def baseline(csv_path, target) -> float:  # type: ignore[no-untyped-def]
    if target.exists():
        shutil.rmtree(target)
    started = time.perf_counter()
    table = pacsv.read_csv(csv_path)
    write_deltalake(str(target), table)
    return time.perf_counter() - started


def gnomon(csv_path) -> tuple[float, int, int]:  # type: ignore[no-untyped-def]
    project = project_for(csv_path, "throughput-project")
    started = time.perf_counter()
    with Gnomon.open(project) as app:
        [result] = app.ingest.ingest("orders", ctx=app.context())
    elapsed = time.perf_counter() - started
    assert result.status == "succeeded", result
    return elapsed, result.rows_read, result.rows_written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    csv_path = benchmark_csv(args.rows)
    base_times, gnomon_times = [], []
    rows_read = rows_written = 0
    for attempt in range(args.repeat):
        base_times.append(baseline(csv_path, WORK / "throughput-baseline"))
        seconds, rows_read, rows_written = gnomon(csv_path)
        gnomon_times.append(seconds)
        print(f"run {attempt + 1}: baseline {base_times[-1]:.1f} s, gnomon {seconds:.1f} s")
    base, ours = min(base_times), min(gnomon_times)
    report(
        "ingest_throughput",
        {
            "rows": args.rows,
            "file_bytes": csv_path.stat().st_size,
            "baseline_seconds": round(base, 2),
            "baseline_rows_per_s": round(args.rows / base),
            "gnomon_seconds": round(ours, 2),
            "gnomon_rows_per_s": round(args.rows / ours),
            "gnomon_rows_written": rows_written,
            "gnomon_rows_read": rows_read,
            "ratio": round(base / ours, 3),
            "target": ">= 0.5",
            "all_baseline_seconds": [round(t, 2) for t in base_times],
            "all_gnomon_seconds": [round(t, 2) for t in gnomon_times],
        },
    )


if __name__ == "__main__":
    main()
