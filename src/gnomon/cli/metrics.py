"""``gnomon apply`` and ``gnomon metrics``: governed KPI definitions and their values."""

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, console, render, to_jsonable
from gnomon.errors import InvalidInput
from gnomon.semantic import GRAINS, MetricQuery

__all__ = ["register"]

EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine", "-e", help="duckdb, spark or postgres (default: engine.name in gnomon.yaml)."
    ),
]


def apply(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would change; store nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            "--prune/--no-prune",
            help="Retire stored definitions no longer in metrics/*.yaml or triggers/*.yaml.",
        ),
    ] = True,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Check metrics/*.yaml and triggers/*.yaml; store every changed definition as a new version.

    Each folder is checked as a whole (every problem reported at once, with its file and line)
    before anything of it is stored.
    """
    with open_project(project) as app:
        context = app.context(tenant)
        result = app.semantic.apply(ctx=context, prune=prune, dry_run=dry_run)
        rows = result.rows() + app.triggers.apply(ctx=context, prune=prune, dry_run=dry_run)
        title = "Would apply (dry run)" if dry_run else "Applied"
        render(rows, fmt, title=title, empty="No definitions in metrics/ or triggers/.")


def metrics_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the applied metrics with their type, unit and dimensions."""
    with open_project(project) as app:
        rows = app.semantic.metrics(ctx=app.context(tenant))
        if fmt is OutputFormat.table:
            rows = [
                {
                    "name": r["name"],
                    "type": r["type"],
                    "unit": r["unit"],
                    "description": r["description"],
                    "dimensions": ", ".join(r["dimensions"]),
                }
                for r in rows
            ]
        render(rows, fmt, title="Metrics", empty="No metrics applied yet.")


def metrics_show(
    name: Annotated[str, typer.Argument(help="The metric.")],
    engine: EngineOption = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a metric's definition and the SQL that computes its series."""
    with open_project(project) as app:
        info = app.semantic.describe(name, ctx=app.context(tenant), engine=engine)
        if fmt is not OutputFormat.table:
            render([info], fmt)
            return
        sql = info.pop("sql")
        definition = info.pop("definition")
        rows = [{"key": k, "value": to_jsonable(v)} for k, v in info.items()]
        rows.append({"key": "definition", "value": definition})
        render(rows, fmt, title=f"Metric {name}")
        console.print(f"\n[bold]SQL ({info['sql_engine']}), last 30 days:[/]")
        console.print(sql, highlight=False, soft_wrap=True)


def _moment(text: str | None, option: str) -> date | datetime | None:
    if text is None:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is not a date or time.",
            hint=f"For example: {option} 2025-01-31 or {option} 2025-01-31T08:00",
        ) from None


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def metrics_query(
    metrics: Annotated[list[str], typer.Argument(help="One or more metrics.")],
    by: Annotated[
        list[str] | None,
        typer.Option("--by", "-b", help="Dimensions to break down by (repeat, or a,b)."),
    ] = None,
    grain: Annotated[
        str | None, typer.Option("--grain", "-g", help=f"Time grain: {', '.join(GRAINS)}.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First day (or time) of the range.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last day of the range (included), or an end time.")
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", "-w", help="Filter over dimensions, e.g. \"channel = 'web'\"."),
    ] = None,
    order: Annotated[
        list[str] | None,
        typer.Option("--order", "-o", help="Sort by these columns; -name for descending."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=0, help="Return at most this many rows.")] = None,
    engine: EngineOption = None,
    no_rollup: Annotated[
        bool, typer.Option("--no-rollup", help="Read the raw tables even where a rollup could.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Show the engine, tables, rollups used (or why not) and SQL; do not run.",
        ),
    ] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Metric values by dimensions and time: one governed definition, any engine."""
    try:
        query = MetricQuery.build(
            _split(metrics),
            by=_split(by),
            grain=grain,
            start=_moment(start, "--start"),
            end=_moment(end, "--end"),
            where=where,
            order=_split(order),
            limit=limit,
        )
    except ValueError as exc:
        raise InvalidInput(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from exc
    with open_project(project) as app:
        ctx = app.context(tenant)
        if explain:
            plan = app.semantic.explain(query, ctx=ctx, engine=engine, use_rollups=not no_rollup)
            if fmt is not OutputFormat.table:
                render([plan], fmt)
                return
            sql = plan.pop("sql")
            render(
                [{"key": k, "value": to_jsonable(v)} for k, v in plan.items()], fmt, title="Plan"
            )
            console.print(sql, highlight=False, soft_wrap=True)
            return
        result = app.semantic.query(query, ctx=ctx, engine=engine, use_rollups=not no_rollup)
        render(result.table, fmt, empty="No rows: nothing matches the range and filter.")


def metrics_refresh(
    full: Annotated[
        bool, typer.Option("--full", help="Recompute everything, not only changed periods.")
    ] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Bring the metric rollups up to date (only the periods whose data changed)."""
    with open_project(project) as app:
        rows = app.semantic.refresh(ctx=app.context(tenant), full=full)
        render(rows, fmt, title="Rollups refreshed", empty="No metric can be rolled up.")


def metrics_rollups(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the rollups the definitions call for and whether each is fresh."""
    with open_project(project) as app:
        rows = app.semantic.rollup_status(ctx=app.context(tenant))
        if fmt is OutputFormat.table:
            rows = [{**r, "metrics": ", ".join(r["metrics"])} for r in rows]
        render(rows, fmt, title="Rollups", empty="No metric can be rolled up.")


def register(app: typer.Typer) -> None:
    """Add the commands to the root app."""
    app.command("apply")(apply)
    group = typer.Typer(help="Governed metrics (KPIs): list, show, query.", no_args_is_help=True)
    group.command("list")(metrics_list)
    group.command("show")(metrics_show)
    group.command("query")(metrics_query)
    group.command("refresh")(metrics_refresh)
    group.command("rollups")(metrics_rollups)
    app.add_typer(group, name="metrics")
