"""Root causes of the demo's injected incidents: how often the top cause is the true segment.

    python -m benchmarks.rca_demo [--rows 1000000] [--seeds 0-19]

For each seed, the demo's data (``gnomon demo``'s generator: orders with four injected incidents
— an outage in one country and channel, a pricing error in one category, a one-day spike in one
channel and category, a gradual decline in one region — listed in ``data/incidents.json``) is
loaded into a demo project (contract, status updates, metric definitions; no scans), built once
per (rows, seed) and cached under ``bench-data/``. Each incident is then explained exactly as the
demo explains it (``gnomon.examples.retail.explaining.incident_request``: the incident's metric
over its days, against the explainer's default baseline; a decline's last two weeks against the
four weeks before it, adjusted for the shared season).

Reported per incident kind and over all: the **hit rate** (the top-ranked cause is exactly the
incident's segment), the share where the segment is among the causes at all, and the time per
explanation (the semantic-layer queries included).
"""

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks._setup import WORK, report
from benchmarks.scan_incidents import seeds_of
from gnomon.app import Gnomon
from gnomon.demo import prepare_project
from gnomon.examples.retail import generate, read_incidents
from gnomon.examples.retail.explaining import IncidentExplanation, incident_request

READY = ".explain-ready"


def built(rows: int, seed: int) -> Path:
    """The loaded demo project for ``rows`` and ``seed``, built on first use."""
    project = WORK / f"explain-{rows}-{seed}"
    if (project / READY).exists():
        return project
    started = time.perf_counter()
    prepare_project(project)
    generate(project / "data", rows=rows, seed=seed)
    with Gnomon.open(project) as app:
        ctx = app.context()
        app.ingest.ingest("orders", ctx=ctx)
        app.ingest.ingest("order_updates", ctx=ctx)
        app.semantic.apply(ctx=ctx)
    (project / READY).write_text(f"built in {time.perf_counter() - started:.0f} s\n")
    return project


def explain_seed(rows: int, seed: int) -> list[tuple[IncidentExplanation, float]]:
    """Each incident of the seed's data with its explanation and the seconds it took."""
    project = built(rows, seed)
    incidents = read_incidents(project / "data" / "incidents.json")
    found = []
    with Gnomon.open(project) as app:
        ctx = app.context()
        for incident in incidents:
            started = time.perf_counter()
            explanation = app.insights.explain(incident_request(incident), ctx=ctx)
            found.append(
                (IncidentExplanation(incident, explanation), time.perf_counter() - started)
            )
    return found


def main() -> None:
    """Explain every incident of every seed and print the hit rates."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seeds", default="0-19")
    args = parser.parse_args()
    by_kind: dict[str, list[IncidentExplanation]] = defaultdict(list)
    seconds: list[float] = []
    misses: list[dict[str, Any]] = []
    seeds = seeds_of(args.seeds)
    for position, seed in enumerate(seeds, start=1):
        print(f"seed {seed} ({position}/{len(seeds)})", file=sys.stderr, flush=True)
        for item, spent in explain_seed(args.rows, seed):
            by_kind[item.incident.kind].append(item)
            seconds.append(spent)
            if not item.hit:
                misses.append(
                    {
                        "seed": seed,
                        "kind": item.incident.kind,
                        "truth": dict(item.incident.segment),
                        "found": None if item.found is None else dict(item.found),
                        "listed": item.listed,
                    }
                )
    everything = [item for items in by_kind.values() for item in items]
    kinds = {
        kind: {
            "incidents": len(items),
            "hit_rate": round(sum(i.hit for i in items) / len(items), 3),
            "listed_rate": round(sum(i.listed for i in items) / len(items), 3),
        }
        for kind, items in sorted(by_kind.items())
    }
    report(
        "rca_demo",
        {
            "rows": args.rows,
            "seeds": seeds,
            "incidents": len(everything),
            "hit_rate": round(sum(i.hit for i in everything) / len(everything), 3),
            "listed_rate": round(sum(i.listed for i in everything) / len(everything), 3),
            "by_kind": kinds,
            "seconds_per_explanation": {
                "median": round(statistics.median(seconds), 3),
                "max": round(max(seconds), 3),
            },
            "misses": misses,
        },
    )


if __name__ == "__main__":
    main()
