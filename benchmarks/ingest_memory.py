"""Peak memory while ingesting a CSV of at least 3 GB (target: under 1.5 GB).

    python benchmarks/ingest_memory.py [--gigabytes 3.1]

Runs ``gnomon ingest`` in a child process and reads the child's peak resident set size from
the kernel (``getrusage(RUSAGE_CHILDREN)``), so the generator and this script do not count.
For comparison it also measures, the same way, ``pyarrow.csv.read_csv`` of the same file, which
holds the whole file in memory.
"""

import argparse
import resource
import subprocess
import sys
import time

from benchmarks._setup import benchmark_csv, project_for, report

BYTES_PER_ROW = 115  # measured on the generator's output


def peak_of(command: list[str]) -> tuple[float, float, str]:
    """Run a command; its peak RSS in GB, its duration, and its output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{proc.stdout}\n{proc.stderr}")
    if peak <= before:
        raise SystemExit(
            "the child did not raise the peak; run each measurement in a fresh process"
        )
    return peak / 1024 / 1024, elapsed, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=3.1)
    parser.add_argument("--what", choices=["gnomon", "baseline"], default="gnomon")
    args = parser.parse_args()
    rows = int(args.gigabytes * 1e9 / BYTES_PER_ROW)
    csv_path = benchmark_csv(rows)
    if args.what == "baseline":
        code = f"import pyarrow.csv as c; t = c.read_csv({str(csv_path)!r}); print(t.num_rows)"
        peak, seconds, _ = peak_of([sys.executable, "-c", code])
        report(
            "ingest_memory_baseline",
            {"rows": rows, "peak_rss_gb": round(peak, 2), "seconds": round(seconds, 1)},
        )
        return
    project = project_for(csv_path, "memory-project")
    peak, seconds, output = peak_of(
        [
            sys.executable,
            "-m",
            "gnomon.cli",
            "ingest",
            "orders",
            "--project",
            str(project),
            "--format",
            "json",
        ]
    )
    report(
        "ingest_memory",
        {
            "rows": rows,
            "file_gb": round(csv_path.stat().st_size / 1e9, 2),
            "peak_rss_gb": round(peak, 2),
            "target": "< 1.5 GB",
            "seconds": round(seconds, 1),
            "result": output[-2000:],
        },
    )


if __name__ == "__main__":
    main()
