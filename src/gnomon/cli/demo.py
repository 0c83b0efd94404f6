"""``gnomon demo``: build and run the example retail project end to end."""

import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gnomon.cli._render import OutputFormat, console, err_console, render
from gnomon.cli.ingest import progress_bar
from gnomon.demo import DemoReport, run_demo
from gnomon.insights.narrate import narrate
from gnomon.insights.service import forecast_rows

__all__ = ["register"]

_NARRATIVE_LANGUAGES = ("en", "de")


def demo(
    project: Annotated[
        Path, typer.Option("--project", "-p", help="Folder for the demo project.", file_okay=False)
    ] = Path("demo-project"),
    rows: Annotated[int, typer.Option(min=1_000, help="How many orders to generate.")] = 1_000_000,
    seed: Annotated[
        int, typer.Option(help="Another seed gives another reproducible data set.")
    ] = 0,
) -> None:
    """Generate retail data, load it through a contract, build gold marts, show the results."""
    interactive = sys.stderr.isatty()

    def stage(text: str) -> None:
        err_console.print(f"[bold cyan]>[/] {text}")

    if interactive:
        with (
            Progress(
                TextColumn("generating"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            ) as gen_progress,
            progress_bar(True) as listener,
        ):
            task = gen_progress.add_task("generate", total=rows)
            report = run_demo(
                project,
                rows=rows,
                seed=seed,
                on_stage=stage,
                on_rows=lambda n: gen_progress.update(task, completed=n),
                on_progress=listener,
            )
    else:
        report = run_demo(project, rows=rows, seed=seed, on_stage=stage)

    gen = report.generation
    console.print()
    console.print(
        f"[bold]Generated[/] {gen.rows:,} orders from {gen.start} to "
        f"{gen.end - timedelta(days=1)} in "
        f"{len(gen.files)} files, {gen.updates:,} status updates, "
        f"{sum(gen.broken.values())} deliberately broken rows "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(gen.broken.items()))})."
    )
    render(
        [
            {
                "source": r.source,
                "status": r.status,
                "rows_read": r.rows_read,
                "rows_written": r.rows_written,
                "rows_quarantined": r.rows_quarantined,
                "seconds": round(r.duration_s, 2),
            }
            for r in report.loads
        ],
        OutputFormat.table,
        title="Loads",
    )
    render(report.quarantine, OutputFormat.table, title="Quarantined rows by rule")
    render(report.latest_wins, OutputFormat.table, title="Status updates merged (latest wins)")
    render(
        [{"model": b.model, "status": b.status, "rows": b.rows} for b in report.builds],
        OutputFormat.table,
        title="Gold models",
    )
    render(report.tables, OutputFormat.table, title="Lake tables")
    render(report.by_region, OutputFormat.table, title="Revenue by year and region (gold)")
    render(
        report.kpis_by_month,
        OutputFormat.table,
        title=f"KPIs by month, last 12 months ({report.metrics_applied} definitions applied)",
    )
    render(
        [{k: r[k] for k in ("name", "mode", "rows", "elapsed_s")} for r in report.rollups],
        OutputFormat.table,
        title="Metric rollups (gold)",
    )
    render(report.kpis_by_region, OutputFormat.table, title="KPIs by region, all time")
    render(report.recent_days, OutputFormat.table, title="Last 7 days")
    render(report.tenants, OutputFormat.table, title="Tenants (each sees only its own orders)")
    for who, table in report.same_query:
        render(table, OutputFormat.table, title=f"Revenue by region, as {who}")
    render(
        [
            {"kind": i.kind, "start": i.start, "end": i.end, "segment": i.segment}
            for i in gen.incidents
        ],
        OutputFormat.table,
        title=f"Injected incidents (ground truth in {gen.incidents_file})",
    )
    _insights(report)
    _explained(report)
    _feed(report)
    _alerting(report)
    console.print(
        f"\nProject: [bold]{report.project}[/]. Try:\n"
        f'  gnomon sql --project {project} "SELECT region, SUM(revenue) FROM gold.daily_sales '
        f'GROUP BY ALL"\n'
        f"  gnomon metrics query revenue average_order_value --by channel --grain month "
        f"--project {project}\n"
        f"  gnomon metrics show revenue_yoy --project {project}\n"
        f"  gnomon token create --tenant acme --user emea@acme --project {project}\n"
        f"  gnomon anomalies --severity high --project {project}\n"
        f"  gnomon forecast orders --horizon 14 --segment region=EMEA --project {project}\n"
        f"  gnomon alerts --project {project}\n"
        f"  gnomon runs list --project {project}\n"
        f"  gnomon lake history silver.orders --project {project}"
    )


def _insights(report: DemoReport) -> None:
    """The scan against the injected incidents, the forecast, and where the charts are."""
    scan, card = report.scan, report.scorecard
    console.print(
        f"\n[bold]Anomaly scan[/]: {len(scan.metrics)} metrics, {scan.series} series, "
        f"{scan.points:,} points in {scan.elapsed_s:.1f} s; {len(scan.new)} anomalies found."
    )
    rows = []
    for match in card.matches:
        incident, first = match.incident, match.first
        rows.append(
            {
                "incident": incident.kind,
                "days": f"{incident.start} … {incident.end - timedelta(days=1)}",
                "true segment": ", ".join(f"{k}={v}" for k, v in incident.segment.items()),
                "found": "yes" if match.found else "MISSED",
                "first flagged": first.start.date() if first else None,
                "where": first.label if first else None,
                "score": round(first.score, 4) if first else None,
                "detections": len(match.detections),
            }
        )
    render(
        rows,
        OutputFormat.table,
        title=f"Injected incidents found by the scan: {sum(m.found for m in card.matches)} of "
        f"{len(card.matches)} (recall {card.recall:.0%}, precision {card.precision:.0%})",
    )
    console.print(
        f"Other detections (not injected incidents): {len(card.unexplained)}; "
        "see `gnomon anomalies`."
    )
    made = report.forecast.forecast
    render(
        [
            {
                "day": str(r["time"])[:10],
                "revenue": round(r["forecast"], 2),
                "80 % interval": f"{r['lower_80']:,.0f} … {r['upper_80']:,.0f}",
                "95 % interval": f"{r['lower_95']:,.0f} … {r['upper_95']:,.0f}",
            }
            for r in forecast_rows(report.forecast)
        ],
        OutputFormat.table,
        title=f"Revenue forecast, next {len(made.mean)} days (model: {made.model}"
        + (f" of {', '.join(made.members)}" if made.model == "ensemble" else "")
        + ")",
    )
    console.print("Charts: " + ", ".join(str(p) for p in report.plots))


def _explained(report: DemoReport) -> None:
    """Each incident's true segment next to the top root cause found, then narratives."""
    rows = []
    for item in report.explained:
        found = item.explanation.causes[0] if item.explanation.causes else None
        rows.append(
            {
                "incident": item.incident.kind,
                "days": f"{item.incident.start} … {item.incident.end - timedelta(days=1)}",
                "metric": item.explanation.metric.name,
                "true segment": _segment_text(item.incident.segment),
                "top cause found": "—" if found is None else _segment_text(found.segment),
                "share": None if found is None else f"{found.contribution:.0%}",
                "hit": "yes" if item.hit else ("listed" if item.listed else "no"),
            }
        )
    hits = sum(item.hit for item in report.explained)
    render(
        rows,
        OutputFormat.table,
        title=f"Root causes: {hits} of {len(rows)} incidents named exactly",
        empty="No incidents were injected.",
    )
    for item in report.explained:
        console.print(f"[bold]{item.incident.kind}[/]")
        for lang in _NARRATIVE_LANGUAGES:
            text = narrate(item.explanation, lang=lang, tone="executive", fmt="text")
            console.print(f"  {lang}: ", end="")
            console.print(text, markup=False, highlight=False)


def _feed(report: DemoReport) -> None:
    console.print(
        f"\n[bold]The insight feed[/] (top {len(report.feed)} for an executive; "
        "`gnomon insights` for all):"
    )
    for rank, one in enumerate(report.feed, start=1):
        text = narrate(one, lang="en", tone="executive", fmt="text")
        console.print(f"  {rank}. ", end="")
        console.print(text, markup=False, highlight=False)


def _segment_text(segment: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "(all)"


def _alerting(report: DemoReport) -> None:
    """The trigger rules' alerts, and what the local webhook and mail server received."""
    done = report.alerting
    console.print(
        f"\n[bold]Alerting[/]: {len(done.rules)} rules (triggers/orders.yaml) raised "
        f"{len(done.alerts)} alerts; {done.delivered} notifications delivered, "
        f"{done.failed} failed."
    )
    render(
        [
            {
                "rule": a["rule"],
                "state": a["state"],
                "severity": a["severity"],
                "key": ", ".join(a["key"])[:60],
                "reason": a["reason"][:60],
                "told": ", ".join(sorted({d["channel"] for d in a["deliveries"]})),
            }
            for a in done.alerts[:15]
        ],
        OutputFormat.table,
        title="Alerts" + (f" (15 of {len(done.alerts)})" if len(done.alerts) > 15 else ""),
        empty="No alerts.",
    )
    render(
        [
            {
                "title": w["body"].get("title") if isinstance(w["body"], dict) else w["body"],
                "idempotency key": w["headers"].get("idempotency-key"),
            }
            for w in done.webhooks
        ],
        OutputFormat.table,
        title=f"The webhook receiver got {len(done.webhooks)} requests",
        empty="The webhook receiver got nothing.",
    )
    render(
        [{"to": ", ".join(m.recipients), "subject": m.subject} for m in done.mails],
        OutputFormat.table,
        title=f"The mail server got {len(done.mails)} messages",
        empty="The mail server got nothing.",
    )


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("demo")(demo)
