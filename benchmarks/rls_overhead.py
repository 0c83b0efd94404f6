"""Row-policy overhead: the 20 dashboard queries as a regional analyst vs. an admin.

    python -m benchmarks.rls_overhead [--rows 1000000] [--repeat 7]

Three variants of each query in ``DASHBOARD_QUERIES``, through one semantic service of the demo
project (no result cache, rollups off), in the same run with interleaved rounds:

- ``policy``: an analyst principal whose ``region`` attribute is EMEA; the row policy
  ``region = {{ user.region }}`` on ``silver.orders`` applies to its role.
- ``admin``: an admin principal (no policy applies), the query as written. This is what the
  issue's target compares against, but it reads every region, so it does more work.
- ``where``: the admin again, with the same filter written into the query
  (``region = 'EMEA'``): the same rows read as under the policy, so the difference is only the
  policy's resolution and rewriting. This is the like-for-like comparison.

Before anything is timed, each query's ``policy`` and ``where`` answers are checked equal. The
work happens on a scratch copy of the cached demo project, with the demo's column mask removed,
so only the row policy is measured. Reported: per query the median of the rounds, and the
median of the per-query ratios ``policy / admin`` and ``policy / where`` (target <= 1.15).
"""

import argparse
import time
from typing import Any

from benchmarks._metrics import (
    copy_project,
    dashboard,
    demo_project,
    differences,
    median,
    metric_query,
    ms,
)
from benchmarks._setup import report
from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.semantic import MetricQuery, SemanticService

REGION = "EMEA"
ROW_POLICY = "analysts_see_their_region"
DEMO_MASK = "analysts_see_masked_customers"
VARIANTS = ("policy", "admin", "where")


def prepare(app: Gnomon) -> str:
    """Leave exactly one policy for analysts: the row policy on their region; the tenant.

    The project's own tenant is used (``acme`` in today's demo, ``default`` in older builds).
    """
    ctx = app.context()
    if any(p.name == DEMO_MASK for p in app.policies.list(ctx=ctx)):
        app.policies.delete(DEMO_MASK, ctx=ctx)
    app.policies.save(
        ctx=ctx,
        name=ROW_POLICY,
        kind="row",
        table="silver.orders",
        roles=["analyst"],
        spec={"predicate": "region = {{ user.region }}"},
        columns=app.snapshot("silver", "orders").schema.names,
    )
    left = sorted((p.name, p.kind) for p in app.policies.list(ctx=ctx))
    if left != [(ROW_POLICY, "row")]:
        raise SystemExit(f"expected only the row policy, found {left}")
    return ctx.tenant


def with_region(spec: dict[str, Any]) -> dict[str, Any]:
    """The query with the policy's filter written into its ``where``."""
    condition = f"region = '{REGION}'"
    where = spec.get("where")
    return {**spec, "where": condition if where is None else f"({where}) AND {condition}"}


def contexts(tenant: str) -> dict[str, RequestContext]:
    """The principal each variant runs as."""
    analyst = Principal(
        tenant=tenant,
        user="regional-analyst",
        roles=frozenset({"analyst"}),
        attributes={"region": REGION},
    )
    admin = Principal(tenant=tenant, user="admin", roles=frozenset({"admin"}))
    return {
        "policy": RequestContext(analyst),
        "admin": RequestContext(admin),
        "where": RequestContext(admin),
    }


def plans() -> list[tuple[str, dict[str, MetricQuery]]]:
    """Per dashboard query, the query each variant runs."""
    return [
        (
            spec["name"],
            {
                "policy": metric_query(spec),
                "admin": metric_query(spec),
                "where": metric_query(with_region(spec)),
            },
        )
        for spec in dashboard()
    ]


def check(service: SemanticService, tenant: str) -> tuple[dict[str, list[str]], list[str]]:
    """Where the policy and explicit-where answers differ; and the queries the policy changed."""
    ctxs = contexts(tenant)
    problems: dict[str, list[str]] = {}
    filtered = []
    for name, queries in plans():
        answers = {
            variant: service.query(
                queries[variant], ctx=ctxs[variant], use_rollups=False
            ).table.to_pylist()
            for variant in VARIANTS
        }
        diff = differences(answers["where"], answers["policy"])
        if diff:
            problems[name] = diff
        if differences(answers["admin"], answers["policy"], limit=1):
            filtered.append(name)
    return problems, filtered


def rounds(service: SemanticService, tenant: str, repeat: int) -> dict[str, dict[str, float]]:
    """Per query and variant: the median seconds over ``repeat`` rounds (order rotates)."""
    ctxs = contexts(tenant)
    queries = plans()
    times: dict[str, dict[str, list[float]]] = {
        name: {v: [] for v in VARIANTS} for name, _ in queries
    }
    for round_ in range(repeat):
        order = VARIANTS[round_ % 3 :] + VARIANTS[: round_ % 3]
        for name, variants in queries:
            for variant in order:
                started = time.perf_counter()
                service.query(variants[variant], ctx=ctxs[variant], use_rollups=False)
                times[name][variant].append(time.perf_counter() - started)
    return {name: {v: median(t) for v, t in per.items()} for name, per in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    project = copy_project(demo_project(args.rows), f"rls-project-{args.rows}")
    with Gnomon.open(project) as app:
        tenant = prepare(app)
        service = app.semantic_service(cache_entries=0)
        problems, filtered = check(service, tenant)
        if problems:
            for name, diff in problems.items():
                print(f"{name}: the row policy and the explicit where differ")
                for line in diff:
                    print(f"    {line}")
            raise SystemExit(f"{len(problems)} of 20 queries differ; nothing was timed")
        timed = rounds(service, tenant, args.repeat)
    vs_admin = {name: t["policy"] / t["admin"] for name, t in timed.items()}
    vs_where = {name: t["policy"] / t["where"] for name, t in timed.items()}
    report(
        "rls_overhead",
        {
            "rows": args.rows,
            "repeat": args.repeat,
            "tenant": tenant,
            "policy": "region = {{ user.region }} for role analyst; analyst's region EMEA",
            "results_policy_equal_where": True,
            "queries_changed_by_policy": len(filtered),
            "queries": {
                name: {
                    "policy_ms": ms(t["policy"]),
                    "admin_ms": ms(t["admin"]),
                    "where_ms": ms(t["where"]),
                    "policy_vs_admin": round(vs_admin[name], 3),
                    "policy_vs_where": round(vs_where[name], 3),
                }
                for name, t in timed.items()
            },
            "policy_total_ms": ms(sum(t["policy"] for t in timed.values())),
            "admin_total_ms": ms(sum(t["admin"] for t in timed.values())),
            "where_total_ms": ms(sum(t["where"] for t in timed.values())),
            "median_ratio_vs_admin": round(median(list(vs_admin.values())), 3),
            "median_ratio_vs_where": round(median(list(vs_where.values())), 3),
            "target_ratio": "<= 1.15",
        },
    )


if __name__ == "__main__":
    main()
