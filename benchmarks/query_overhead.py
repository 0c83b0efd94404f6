"""Query overhead: a group-by over silver through gnomon vs. DuckDB on the same Parquet files.

    python benchmarks/query_overhead.py [--rows 5000000] [--repeat 15]

gnomon: ``Gnomon.sql`` (read-only parse, tenant scoping, published snapshot, view over the Delta
version's files). Baseline: a bare DuckDB connection running the same SQL over
``read_parquet`` of the same table version's files. Reported: the median of per-round ratios
(gnomon time / baseline time), rounds interleaved; target ≤ 1.2. Uses the silver table that
``ingest_throughput.py`` built, or loads the CSV first.
"""

import argparse
import statistics
import time

import duckdb

from benchmarks._setup import WORK, benchmark_csv, project_for, report
from gnomon.app import Gnomon

QUERY = """
SELECT region, channel, category,
       COUNT(*) AS orders,
       SUM(quantity * unit_price * (1 - discount)) AS revenue,
       AVG(unit_price) AS avg_price
FROM {table}
GROUP BY ALL
ORDER BY revenue DESC
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    project = WORK / "throughput-project"
    if not (project / ".gnomon").exists():
        project = project_for(benchmark_csv(args.rows), "throughput-project")
        with Gnomon.open(project) as app:
            app.ingest.ingest("orders", ctx=app.context())
    with Gnomon.open(project) as app:
        snapshot = app.snapshot("silver", "orders")
        files = list(snapshot.files)
        rows = app.sql("SELECT COUNT(*) AS n FROM silver.orders").column(0)[0].as_py()
        baseline = duckdb.connect()
        source = f"read_parquet({files!r}, hive_partitioning = true)"
        gnomon_sql = QUERY.format(table="silver.orders")
        base_sql = QUERY.format(table=source)
        expected = baseline.sql(base_sql).to_arrow_table()
        got = app.sql(gnomon_sql)
        assert got.num_rows == expected.num_rows, "both must give the same answer"
        ratios, ours, theirs = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            app.sql(gnomon_sql)
            mid = time.perf_counter()
            baseline.sql(base_sql).to_arrow_table()
            done = time.perf_counter()
            ours.append(mid - started)
            theirs.append(done - mid)
            ratios.append((mid - started) / (done - mid))
    report(
        "query_overhead",
        {
            "rows": rows,
            "files": len(files),
            "gnomon_median_s": round(statistics.median(ours), 4),
            "baseline_median_s": round(statistics.median(theirs), 4),
            "median_ratio": round(statistics.median(ratios), 3),
            "target": "<= 1.2",
            "repeat": args.repeat,
        },
    )


if __name__ == "__main__":
    main()
