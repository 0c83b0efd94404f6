"""Shared set-up for the benchmarks: generated data (cached outside git) and a project around it."""

import json
import os
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from gnomon.examples.retail import write_benchmark_csv

ROOT = Path(__file__).resolve().parent.parent
WORK = Path(os.environ.get("GNOMON_BENCH_DIR", ROOT / "bench-data"))

SOURCE = """\
name: orders
kind: file
path: {path}
format: csv
dataset: orders
"""


def benchmark_csv(rows: int) -> Path:
    """A plain CSV of ``rows`` generated orders, written once and reused."""
    path = WORK / f"orders-{rows}.csv"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        started = time.perf_counter()
        size = write_benchmark_csv(partial, rows=rows, seed=0)
        partial.rename(path)
        print(
            f"generated {path.name}: {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s"
        )
    return path


def project_for(csv_path: Path, name: str) -> Path:
    """A fresh project whose source `orders` reads ``csv_path`` through the demo's contract."""
    project = WORK / name
    if project.exists():
        shutil.rmtree(project)
    (project / "sources").mkdir(parents=True)
    (project / "contracts").mkdir()
    (project / "gnomon.yaml").write_text("tenant: default\n", encoding="utf-8")
    (project / "sources" / "orders.yaml").write_text(SOURCE.format(path=csv_path), encoding="utf-8")
    contract = files("gnomon") / "templates" / "demo" / "contracts" / "orders.yaml"
    (project / "contracts" / "orders.yaml").write_text(contract.read_text(), encoding="utf-8")
    return project


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = int(line.split()[1]) // 1024 // 1024
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory,
        "python": platform.python_version(),
        "commit": commit,
    }


def report(name: str, result: dict[str, Any]) -> None:
    """Print the result and keep it as JSON next to the data."""
    result = {"benchmark": name, "machine": machine(), **result}
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / f"{name}.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
