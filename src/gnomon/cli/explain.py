"""``gnomon explain``, ``drivers``, ``impact`` and ``insights``: why metrics move, in words."""

import sys
from dataclasses import asdict
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import (
    FormatOption,
    ProjectOption,
    TenantOption,
    open_project,
    parse_segment,
)
from gnomon.cli._render import OutputFormat, console, render
from gnomon.errors import InvalidInput
from gnomon.insights.explain.metric import ExplainRequest, cause_rows
from gnomon.insights.feed import insight_rows
from gnomon.insights.findings import Explanation, Moment
from gnomon.insights.narrate import chart_for, narrate, narrate_feed
from gnomon.insights.relations import driver_rows

__all__ = ["register"]


class ReportFormat(StrEnum):
    """Rows (table, json, csv) or a narrative (text, md, html)."""

    table = "table"
    json = "json"
    csv = "csv"
    text = "text"
    md = "md"
    html = "html"


_NARRATIVE = (ReportFormat.text, ReportFormat.md, ReportFormat.html)

ReportOption = Annotated[
    ReportFormat,
    typer.Option(
        "--format",
        "-f",
        help="table, json (array of row objects) or csv; text, md or html for a narrative.",
    ),
]
LangOption = Annotated[
    str,
    typer.Option("--lang", "-l", help="Language of narratives: en, de or es (or a locale, de_CH)."),
]
ToneOption = Annotated[
    str,
    typer.Option("--tone", help="executive (short, impact first), casual, or technical."),
]


def explain(
    metric: Annotated[str | None, typer.Argument(help="The metric (omit with --anomaly).")] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="The day (or time) to explain: the focus window's first bucket."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="The focus window's last bucket (default: just --at)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Compare with START..END (or one day). Default: the same weekdays of the four "
            "weeks before.",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Search only these dimensions (repeat, or comma-separated)."),
    ] = None,
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", help="Explain within dimension=value only (repeatable)."),
    ] = None,
    adjust: Annotated[
        bool,
        typer.Option(
            "--adjust/--no-adjust",
            help="Scale the baseline by the change most segments shared (a season, a trend), "
            "so only departures from it are explained.",
        ),
    ] = False,
    anomaly: Annotated[
        int | None,
        typer.Option("--anomaly", help="Explain this anomaly (see `gnomon anomalies`) instead."),
    ] = None,
    lang: LangOption = "en",
    tone: ToneOption = "executive",
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: ReportOption = ReportFormat.table,
) -> None:
    """Find the segments that explain a metric's change, ranked by their share of it.

    The metric's value in the focus window is compared with a baseline, leaf by leaf (every
    combination of its dimensions' values), and the dimension values or combinations that
    explain the change are named with their contribution, before/after values and a confidence.
    Only rows you may see are used.
    """
    dimensions = tuple(d.strip() for item in by or () for d in item.split(",") if d.strip())
    with open_project(project) as app:
        ctx = app.context(tenant)
        if anomaly is not None:
            if metric is not None or at is not None:
                raise InvalidInput(
                    "--anomaly explains the anomaly's own metric and time.",
                    hint="Give either --anomaly ID, or METRIC with --at.",
                )
            found = app.insights.explain_anomaly(anomaly, ctx=ctx, by=dimensions or None)
        else:
            if metric is None or at is None:
                raise InvalidInput(
                    "explain needs a metric and the day to explain.",
                    hint="For example: gnomon explain revenue --at 2025-03-04",
                )
            request = ExplainRequest(
                metric=metric,
                at=_moment(at, "--at"),
                until=None if until is None else _moment(until, "--until"),
                baseline=None if baseline is None else _window(baseline),
                by=dimensions or None,
                segment=parse_segment(segment or []),
                adjust=adjust,
            )
            found = app.insights.explain(request, ctx=ctx)
    _print(found, fmt, lang=lang, tone=tone)


def _print(found: Explanation, fmt: ReportFormat, *, lang: str, tone: str) -> None:
    if fmt in _NARRATIVE:
        chart = chart_for(found, lang=lang) if fmt is ReportFormat.html else None
        text = narrate(found, lang=lang, tone=tone, fmt=fmt.value, chart=chart)
        sys.stdout.write(text.rstrip() + "\n")
        return
    rows = cause_rows(found)
    if fmt is ReportFormat.table:
        console.print(narrate(found, lang=lang, tone=tone, fmt="text"), markup=False)
    render(
        rows,
        OutputFormat(fmt.value),
        title=f"Why {found.metric.name} moved",
        empty="No segment stands out: the change is spread over the data.",
    )


def _moment(text: str, option: str) -> Moment:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is not a date or time.",
            hint=f"For example: {option} 2025-03-04 or {option} 2025-03-04T08:00",
        ) from None


def _window(text: str) -> tuple[Moment, Moment]:
    first, sep, last = text.partition("..")
    start = _moment(first.strip(), "--baseline")
    return start, _moment(last.strip(), "--baseline") if sep else start


def drivers(
    metric: Annotated[str, typer.Argument(help="The metric whose drivers to look for.")],
    candidates: Annotated[
        list[str] | None,
        typer.Option(
            "--with",
            help="Compare with these metrics (repeatable). Default: every metric not computed "
            "from the same measure.",
        ),
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="From this day on.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Up to this day.")] = None,
    max_lag: Annotated[
        int, typer.Option("--max-lag", min=0, max=365, help="Leads and lags tried, in buckets.")
    ] = 7,
    with_importance: Annotated[
        bool,
        typer.Option(
            "--importance/--no-importance",
            help="Also fit a model of the metric and rank drivers by permutation importance.",
        ),
    ] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Which other metrics move with a metric, lead it, or Granger-cause it.

    Pearson and Spearman correlation, the best lead/lag, and a Granger test per candidate, with
    p-values corrected (Benjamini-Hochberg) over everything tested; strongest first.
    """
    with open_project(project) as app:
        report = app.insights.drivers(
            metric,
            ctx=app.context(tenant),
            candidates=candidates or None,
            start=None if since is None else _moment(since, "--since"),
            end=None if until is None else _moment(until, "--until"),
            max_lag=max_lag,
            with_importance=with_importance,
        )
    render(
        driver_rows(report),
        fmt,
        title=f"Drivers of {metric} ({report.buckets} {report.grain} buckets)",
        empty="No candidates.",
    )


def impact(
    metric: Annotated[str, typer.Argument(help="The metric the change may have moved.")],
    change: Annotated[str, typer.Option("--change", help="The day the change took effect.")],
    treated: Annotated[
        list[str], typer.Option("--treated", help="dimension=value the change hit (repeatable).")
    ],
    control: Annotated[
        list[str],
        typer.Option("--control", help="dimension=value it did not hit (repeatable)."),
    ],
    since: Annotated[
        str | None, typer.Option("--since", help="From this day on (default: 8 weeks before).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this day (default: 4 weeks after).")
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The effect of a dated change, by difference-in-differences against a control segment."""
    with open_project(project) as app:
        report = app.insights.impact(
            metric,
            change=_moment(change, "--change"),
            treated=parse_segment(treated),
            control=parse_segment(control),
            ctx=app.context(tenant),
            start=None if since is None else _moment(since, "--since"),
            end=None if until is None else _moment(until, "--until"),
        )
    row = {
        "metric": report.metric,
        "change": report.change,
        "treated": dict(report.treated),
        "control": dict(report.control),
        **asdict(report.result),
    }
    render([row], fmt, title=f"Effect on {metric}")


def insights(
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric", "-m", help="Only this metric (repeatable); default: monitored ones."
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="Personalise for executive, manager or analyst (default: from your roles).",
        ),
    ] = None,
    segments: Annotated[
        bool,
        typer.Option("--segments/--no-segments", help="Also look at each metric's segments."),
    ] = True,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many insights.")] = None,
    lang: LangOption = "en",
    tone: ToneOption = "executive",
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: ReportOption = ReportFormat.table,
) -> None:
    """What stands out in the metrics: trends, spikes, drops, shifts, records, correlations.

    Each pattern is tested for significance (p-values corrected over the whole feed), scored
    by magnitude, recency and business impact, merged when several tests see one event, and
    ordered for the reader (their role, the metrics they own first).
    """
    with open_project(project) as app:
        found = app.insights.feed(
            ctx=app.context(tenant), metrics=metric or None, role=role, segments=segments
        )
    found = found[:limit] if limit is not None else found
    if fmt in _NARRATIVE:
        text = narrate_feed(found, lang=lang, tone=tone, fmt=fmt.value)
        sys.stdout.write(text.rstrip() + "\n")
        return
    rows = insight_rows(found)
    for row, one in zip(rows, found, strict=True):
        row["narrative"] = narrate(one, lang=lang, tone=tone, fmt="text")
    if fmt is ReportFormat.table:
        # A person reads the sentence; the figures behind it are in json and csv.
        rows = [{"#": r["rank"], "insight": r["narrative"], "score": r["score"]} for r in rows]
    render(
        rows,
        OutputFormat(fmt.value),
        title="Insights",
        empty="Nothing stands out: no significant pattern in the metrics you may see.",
    )


def register(app: typer.Typer) -> None:
    """Add the commands to the root app."""
    app.command("explain")(explain)
    app.command("drivers")(drivers)
    app.command("impact")(impact)
    app.command("insights")(insights)
