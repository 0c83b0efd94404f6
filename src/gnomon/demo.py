"""``gnomon demo``: a complete project on generated retail data, end to end.

The demo is the product's running proof: it generates orders (with broken rows and injected
incidents whose ground truth is written to ``data/incidents.json``), loads them through a data
contract, quarantines what is broken, applies later status updates "latest wins", builds gold
marts and reads them back. Every capability added to gnomon shows itself here.
"""

import asyncio
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import yaml

from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.errors import Conflict
from gnomon.examples.receivers import MailReceiver, ReceivedMail, WebhookReceiver
from gnomon.examples.retail import GenerationResult, generate
from gnomon.examples.retail.explaining import IncidentExplanation, incident_request
from gnomon.examples.retail.matching import Scorecard, score_scan
from gnomon.ingest import IngestResult, ProgressListener
from gnomon.insights import ScanResult, anomaly_row
from gnomon.insights.findings import Insight
from gnomon.insights.plots import plot_anomalies, plot_forecast
from gnomon.insights.service import ForecastResult
from gnomon.pipeline import ModelRunResult
from gnomon.project import scaffold

__all__ = ["DEMO_MARKER", "AlertingDemo", "DemoReport", "prepare_project", "run_demo"]

_FEED_SHOWN = 5
ACME = "acme"
GLOBEX = "globex"
DEMO_MARKER = ".gnomon-demo"
"""A file marking a folder as a demo project, which ``gnomon demo`` may rebuild from scratch."""


@dataclass(frozen=True, slots=True)
class AlertingDemo:
    """What the demo's trigger rules raised, and what its webhook and mail server received."""

    rules: tuple[str, ...]
    alerts: tuple[dict[str, Any], ...]
    webhooks: tuple[dict[str, Any], ...]
    mails: tuple[ReceivedMail, ...]
    delivered: int
    failed: int


@dataclass(frozen=True, slots=True)
class DemoReport:
    """What the demo did, for the CLI to print."""

    project: Path
    generation: GenerationResult
    loads: tuple[IngestResult, ...]
    builds: tuple[ModelRunResult, ...]
    tables: pa.Table
    quarantine: pa.Table
    by_region: pa.Table
    latest_wins: pa.Table
    metrics_applied: int
    rollups: tuple[dict[str, Any], ...]
    kpis_by_month: pa.Table
    kpis_by_region: pa.Table
    recent_days: pa.Table
    tenants: pa.Table
    same_query: tuple[tuple[str, pa.Table], ...]
    """The same KPI query answered for each demo user."""
    scan: ScanResult
    scorecard: Scorecard
    """The scan's anomalies matched against the injected incidents."""
    explained: tuple[IncidentExplanation, ...]
    """Each incident with the root causes found for it."""
    feed: tuple[Insight, ...]
    """The top of the insight feed an executive sees."""
    forecast: ForecastResult
    plots: tuple[Path, ...]
    """PNG charts written to the project's ``reports/`` folder."""
    alerting: AlertingDemo


def prepare_project(project: Path) -> None:
    """Make ``project`` an empty demo project (its files, no data); refuse other folders."""
    if project.exists() and any(project.iterdir()) and not (project / DEMO_MARKER).exists():
        raise Conflict(
            f"{project} is not empty and is not a demo project; the demo will not overwrite it.",
            hint="Choose another folder with --project, or an empty one.",
        )
    for stale in (".gnomon", "data", "reports"):
        if (project / stale).exists():
            shutil.rmtree(project / stale)
    project.mkdir(parents=True, exist_ok=True)
    (project / DEMO_MARKER).write_text(
        "This folder was created by `gnomon demo`; running it again rebuilds it.\n",
        encoding="utf-8",
    )
    scaffold(project, force=True)
    with as_file(files("gnomon") / "templates" / "demo") as template_root:
        for source in sorted(template_root.rglob("*")):
            if source.is_file() and "__pycache__" not in source.parts:
                destination = project / source.relative_to(template_root)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)


def run_demo(
    project: Path,
    *,
    rows: int = 1_000_000,
    seed: int = 0,
    on_stage: Callable[[str], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
    on_progress: ProgressListener | None = None,
) -> DemoReport:
    """Build (or rebuild) the demo project in ``project`` and run it end to end.

    Raises:
        Conflict: ``project`` holds something other than a previous demo.
    """

    def stage(text: str) -> None:
        if on_stage is not None:
            on_stage(text)

    project = project.resolve()
    prepare_project(project)
    stage(f"Generating {rows:,} orders (seed {seed})")
    generation = generate(project / "data", rows=rows, seed=seed, on_progress=on_rows)
    stage(f"Generating {max(rows // 4, 1_000):,} orders for the second tenant, globex")
    generate(project / "data" / "globex", rows=max(rows // 4, 1_000), seed=seed + 1)
    with Gnomon.open(project) as app:
        ctx = app.context()
        stage("Loading orders: files → bronze → contract checks → quarantine / silver")
        loads = list(app.ingest.ingest("orders", ctx=ctx, on_progress=on_progress))
        before_updates = app.snapshot("silver", "orders").version
        stage("Loading status updates (latest wins by updated_at)")
        loads += app.ingest.ingest("order_updates", ctx=ctx, on_progress=on_progress)
        stage("Building gold models")
        builds = app.build(ctx=ctx)
        stage("Reading the results back")
        tables = app.sql(
            """
            SELECT 'bronze.orders' AS "table", COUNT(*) AS "rows" FROM bronze.orders
            UNION ALL SELECT 'quarantine.orders', COUNT(*) FROM quarantine.orders
            UNION ALL SELECT 'silver.orders', COUNT(*) FROM silver.orders
            UNION ALL SELECT 'gold.daily_sales', COUNT(*) FROM gold.daily_sales
            UNION ALL SELECT 'gold.monthly_region_sales', COUNT(*) FROM gold.monthly_region_sales
            """,
            ctx=ctx,
        )
        quarantine = app.sql(
            """
            SELECT _rule AS rule, COUNT(*) AS "rows", MIN(_reason) AS example
            FROM quarantine.orders GROUP BY ALL ORDER BY "rows" DESC, rule
            """,
            ctx=ctx,
        )
        by_region = app.sql(
            """
            SELECT YEAR(month) AS year, region, SUM(orders) AS orders,
                   ROUND(SUM(revenue), 2) AS revenue
            FROM gold.monthly_region_sales GROUP BY ALL ORDER BY year, region
            """,
            ctx=ctx,
        )
        status_sql = (
            "SELECT status, COUNT(*) AS orders FROM silver.orders GROUP BY ALL ORDER BY status"
        )
        before = app.sql(status_sql, ctx=ctx, versions={"silver.orders": before_updates})
        after = app.sql(status_sql, ctx=ctx)
        latest_wins = _side_by_side(before, after, before_updates)
        stage("Loading globex's orders into its own tenant")
        globex = app.context(GLOBEX)
        loads += app.ingest.ingest("globex_orders", ctx=globex, on_progress=on_progress)
        stage("Applying metric definitions (metrics/orders.yaml) and querying KPIs")
        applied = app.semantic.apply(ctx=ctx)
        app.semantic.apply(ctx=globex)
        stage("Refreshing metric rollups")
        rollups = app.semantic.refresh(ctx=ctx)
        app.semantic.refresh(ctx=globex)
        stage("Creating users and access policies (row policy on region, masked customer ids)")
        users = _users_and_policies(app)
        kpis_by_month = app.query(
            [
                "revenue",
                "orders",
                "average_order_value",
                "return_rate",
                "distinct_customers",
                "revenue_yoy",
            ],
            grain="month",
            order=["-time"],
            limit=12,
            ctx=ctx,
        ).table.sort_by("time")
        kpis_by_region = app.query(
            ["revenue", "orders", "average_order_value", "return_rate", "distinct_customers"],
            by=["region"],
            ctx=ctx,
        ).table
        recent_days = app.query(
            ["revenue", "revenue_7d", "web_revenue", "revenue_yoy"],
            grain="day",
            order=["-time"],
            limit=7,
            ctx=ctx,
        ).table.sort_by("time")
        same_query = tuple(
            (
                f"{principal.user} ({', '.join(sorted(principal.roles))})",
                app.query(["revenue", "orders", "average_order_value"], by=["region"],
                          ctx=RequestContext(principal)).table,
            )
            for principal in users
        )  # fmt: skip
        stage("Scanning every metric and segment for anomalies")
        scan = app.insights.scan(ctx=ctx)
        found = [anomaly_row(a) for a in app.insights.anomalies(ctx=ctx)]
        scorecard = score_scan(generation.incidents, found, gap=timedelta(days=1))
        stage("Explaining each incident: root causes found vs incidents.json, in words")
        explained = tuple(
            IncidentExplanation(incident, app.insights.explain(incident_request(incident), ctx=ctx))
            for incident in generation.incidents
        )
        stage("The insight feed: what stands out, for an executive")
        feed = tuple(app.insights.feed(ctx=ctx, role="executive")[:_FEED_SHOWN])
        stage("Forecasting revenue 30 days ahead (model chosen by backtest)")
        forecast = app.insights.forecast("revenue", ctx=ctx, horizon=30)
        stage("Drawing the incidents found and the forecast (reports/*.png)")
        plots = _plots(app, ctx, project / "reports", scorecard, found, forecast)
        stage("Alerting: rules on KPIs, anomalies, load checks and events → webhook and mail")
        alerting = asyncio.run(_alerting(app, ctx, project))
        tenants = app.sql("SELECT COUNT(*) AS orders FROM silver.orders", ctx=ctx).append_column(
            "tenant", pa.array([ACME])
        )
        tenants = pa.concat_tables(
            [
                tenants,
                app.sql("SELECT COUNT(*) AS orders FROM silver.orders", ctx=globex).append_column(
                    "tenant", pa.array([GLOBEX])
                ),
            ]
        ).select(["tenant", "orders"])
    return DemoReport(
        project=project,
        generation=generation,
        loads=tuple(loads),
        builds=tuple(builds),
        tables=tables,
        quarantine=quarantine,
        by_region=by_region,
        latest_wins=latest_wins,
        metrics_applied=len(applied.rows()),
        rollups=tuple(rollups),
        kpis_by_month=kpis_by_month,
        kpis_by_region=kpis_by_region,
        recent_days=recent_days,
        tenants=tenants,
        same_query=same_query,
        scan=scan,
        scorecard=scorecard,
        explained=explained,
        feed=feed,
        forecast=forecast,
        plots=plots,
        alerting=alerting,
    )


_ORDERS = (
    {"amount": 7200.0, "channel": "web", "country": "DE", "customer": "C-1001"},
    {"amount": 120.0, "channel": "web", "country": "FR", "customer": "C-1002"},
    {"amount": 9800.0, "channel": "store", "country": "US", "customer": "C-1003"},
    {"amount": 5400.0, "channel": "web", "country": "JP", "customer": "C-1004"},
)
"""Events the demo sends: two of them are big web orders."""


async def _alerting(app: Gnomon, ctx: RequestContext, project: Path) -> AlertingDemo:
    """Apply the demo's rules, judge what happened, and deliver to receivers started here.

    The loads' check results and the scan's anomalies are already waiting as events; the demo
    adds a few orders as events and judges everything once (the KPI rules on the latest day
    too, since data was loaded), then one dispatcher round delivers to a local webhook
    receiver and mail server.
    """
    webhook = await WebhookReceiver().start()
    mail = MailReceiver().start()
    try:
        channels = {
            "ops-webhook": {"kind": "webhook", "url": webhook.url},
            "ops-mail": {
                "kind": "email",
                "host": "127.0.0.1",
                "port": mail.port,
                "security": "none",
                "from": "gnomon@demo.invalid",
                "to": ["ops@demo.invalid"],
            },
        }
        (project / "channels.yaml").write_text(
            "# Written by gnomon demo: its local receivers.\n"
            + yaml.safe_dump({"channels": channels}, sort_keys=False),
            encoding="utf-8",
        )
        rules = await asyncio.to_thread(lambda: app.triggers.apply(ctx=ctx))
        events = [("shop.order.created", order) for order in _ORDERS]
        await asyncio.to_thread(lambda: app.triggers.publish_many(events, ctx=ctx))
        # Judging the loads' events also judges the KPI rules on the newly loaded data.
        await asyncio.to_thread(app.triggers.process)
        built = app.channels()
        try:
            sent = await app.dispatcher(built).run_once(limit=1000)
        finally:
            for channel in built.values():
                await channel.aclose()
    finally:
        await webhook.stop()
        await asyncio.to_thread(mail.stop)  # off the loop, which closes the client side
    alerts = await asyncio.to_thread(lambda: app.triggers.alerts(ctx=ctx, limit=1000))
    return AlertingDemo(
        rules=tuple(r["name"] for r in rules),
        alerts=tuple(alerts),
        webhooks=tuple(webhook.received),
        mails=tuple(mail.received),
        delivered=sent.delivered,
        failed=sent.failed + sent.dead,
    )


def _plots(
    app: Gnomon,
    ctx: RequestContext,
    folder: Path,
    scorecard: Scorecard,
    found: list[dict[str, Any]],
    forecast: ForecastResult,
) -> tuple[Path, ...]:
    """Charts: each incident found (a month either side) and the revenue forecast."""
    by_id = {row["id"]: row for row in found}
    written = []
    for match in scorecard.matches:
        first = match.best
        if first is None:
            continue
        incident = match.incident
        start = incident.start - timedelta(days=30)
        end = incident.end + timedelta(days=30)
        series = app.query(
            [first.metric], grain="day", start=start, end=end,
            where=_condition(first.segment), ctx=ctx,
        ).table  # fmt: skip
        times = np.asarray(series.column("time").to_numpy(zero_copy_only=False))
        values = np.asarray(series.column(first.metric).cast(pa.float64()).to_numpy(
            zero_copy_only=False))  # fmt: skip
        flagged = [
            (np.datetime64(by_id[i]["time"][:19]), by_id[i]["actual"], by_id[i]["lower"],
             by_id[i]["upper"])
            for d in match.detections
            if d.metric == first.metric and dict(d.segment) == dict(first.segment)
            for i in d.anomaly_ids
        ]  # fmt: skip
        written.append(
            plot_anomalies(
                folder / f"incident-{incident.kind}.png",
                title=f"{incident.kind} ({_describe(incident.segment)}, {incident.start}): "
                f"{first.label}",
                times=times,
                values=values,
                flagged=flagged,
                shade=(_day(incident.start), _day(incident.end)),
            )
        )
    made = forecast.forecast
    written.append(
        plot_forecast(
            folder / f"forecast-{forecast.metric}.png",
            title=f"{forecast.metric}: {len(made.mean)} {forecast.grain}s ahead ({made.model})",
            history_times=forecast.history_times[-90:],
            history=forecast.history[-90:],
            times=made.times,
            mean=made.mean,
            intervals=made.intervals,
        )
    )
    return tuple(written)


def _condition(segment: Mapping[str, Any]) -> str | None:
    """``region = 'EMEA' AND channel = 'web'`` for a segment (quotes doubled)."""
    parts = [f"{name} = '{str(value).replace(chr(39), chr(39) * 2)}'" for name, value in
             segment.items()]  # fmt: skip
    return " AND ".join(parts) or None


def _describe(segment: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "everything"


def _day(day: date) -> np.datetime64:
    return np.datetime64(day.isoformat(), "us")


def _users_and_policies(app: Gnomon) -> list[Principal]:
    """The demo's users (and the EMEA analyst's row policy and mask), as principals."""
    acme, globex = app.context(ACME), app.context(GLOBEX)
    app.policies.save(
        ctx=acme,
        name="analysts_see_their_region",
        kind="row",
        table="silver.orders",
        roles=["analyst"],
        spec={"predicate": "region = {{ user.region }}"},
    )
    app.policies.save(
        ctx=acme,
        name="analysts_see_masked_customers",
        kind="mask",
        table="silver.orders",
        roles=["analyst"],
        spec={"column": "customer_id", "strategy": "partial", "reveal": 3},
    )
    made = [
        app.identities.create_user(ctx=acme, name="admin@acme", roles=["admin"]),
        app.identities.create_user(
            ctx=acme, name="emea@acme", roles=["analyst"], attributes={"region": "EMEA"}
        ),
        app.identities.create_user(ctx=globex, name="admin@globex", roles=["admin"]),
    ]
    return [
        Principal(tenant=u.tenant, user=u.name, roles=frozenset(u.roles), attributes=u.attributes)
        for u in made
    ]


def _side_by_side(before: pa.Table, after: pa.Table, version: int) -> pa.Table:
    counts_before = dict(
        zip(before["status"].to_pylist(), before["orders"].to_pylist(), strict=True)
    )
    counts_after = dict(zip(after["status"].to_pylist(), after["orders"].to_pylist(), strict=True))
    statuses = sorted(set(counts_before) | set(counts_after))
    return pa.table(
        {
            "status": statuses,
            f"silver v{version} (before updates)": [counts_before.get(s, 0) for s in statuses],
            "silver now": [counts_after.get(s, 0) for s in statuses],
        }
    )
