"""``gnomon runs``: the record of every load and build."""

from pathlib import Path
from typing import Annotated, Any

import typer

from gnomon.catalog import RunRecord
from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, render

__all__ = ["register"]


def _row(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "source": run.source,
        "dataset": run.dataset,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_s": None if run.duration_s is None else round(run.duration_s, 3),
        "rows_read": run.rows_read,
        "rows_written": run.rows_written,
        "rows_quarantined": run.rows_quarantined,
        "bytes_read": run.bytes_read,
        "watermark": run.watermark,
        "batch_id": run.batch_id,
        "error": run.error,
    }


def runs_list(
    source: Annotated[str | None, typer.Option(help="Only runs of this source.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Only runs of this dataset.")] = None,
    status: Annotated[
        str | None, typer.Option(help="running, succeeded, failed, blocked or skipped.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 20,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List recent runs, newest first."""
    with open_project(project) as app:
        runs = app.runs(
            ctx=app.context(tenant), source=source, dataset=dataset, status=status, limit=limit
        )
        rows = [_row(r) for r in runs]
        if fmt is OutputFormat.table:
            keep = [
                "id",
                "kind",
                "source",
                "status",
                "started_at",
                "duration_s",
                "rows_read",
                "rows_written",
                "rows_quarantined",
            ]
            rows = [{k: r[k] for k in keep} for r in rows]
        render(rows, fmt, title="Runs", empty="No runs yet.")


def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id (from gnomon runs list).")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one run with its checks, drift, files and error."""
    with open_project(project) as app:
        run = app.run(run_id, ctx=app.context(tenant))
        row = {
            **_row(run),
            "stage": run.stage,
            "checks": run.checks,
            "drift": run.drift,
            "files": run.files,
            "correlation_id": run.correlation_id,
        }
        if fmt is OutputFormat.table:
            render([{"field": k, "value": v} for k, v in row.items()], fmt, title=f"Run {run_id}")
        else:
            render([row], fmt)


def register(app: typer.Typer) -> None:
    """Add the command group to the root app."""
    group = typer.Typer(help="Runs of loads and builds.", no_args_is_help=True)
    group.command("list")(runs_list)
    group.command("show")(runs_show)
    app.add_typer(group, name="runs")
