"""``gnomon ingest``: load sources into the lake, with a progress bar on a terminal."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, console, err_console, render
from gnomon.errors import InvalidInput
from gnomon.ingest import IngestProgress, IngestResult, ProgressListener

__all__ = ["register", "result_rows"]


@contextmanager
def progress_bar(enabled: bool) -> Iterator[ProgressListener | None]:
    """A rich progress bar on stderr that follows bytes read, then the later stages."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<10}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("reading", total=None)

        def listener(event: IngestProgress) -> None:
            if event.stage == "read":
                progress.update(
                    task, description="reading", completed=event.done, total=event.total
                )
            else:
                progress.update(task, description=event.stage)

        yield listener


def result_rows(results: list[IngestResult]) -> list[dict[str, Any]]:
    """One row per batch, as ``--format json`` prints it."""
    return [
        {
            "run_id": r.run_id,
            "source": r.source,
            "dataset": r.dataset,
            "status": r.status,
            "rows_read": r.rows_read,
            "rows_written": r.rows_written,
            "rows_quarantined": r.rows_quarantined,
            "bytes_read": r.bytes_read,
            "duration_s": round(r.duration_s, 3),
            "files_loaded": sum(1 for f in r.files if f.status == "loaded"),
            "files_skipped": sum(1 for f in r.files if f.status == "skipped"),
            "resumed": r.resumed,
            "checks": list(r.checks),
            "warnings": dict(r.warnings),
            "drift": r.drift,
            "versions": dict(r.versions),
            "error": r.error,
        }
        for r in results
    ]


def _explain(results: list[IngestResult]) -> None:
    for r in results:
        drift = r.drift or {}
        for kind in ("new", "missing", "retyped"):
            if drift.get(kind):
                console.print(f"[yellow]schema drift[/] in {r.dataset}: {kind} {drift[kind]}")
        for check in r.checks:
            if not check.get("passed"):
                color = "red" if check.get("severity") == "block" else "yellow"
                console.print(f"[{color}]{check.get('severity')}[/] {check.get('message')}")
        for rule, count in r.warnings.items():
            console.print(f"[yellow]warn[/] {rule}: {count:,} rows")
        if r.rows_quarantined:
            console.print(
                f"{r.rows_quarantined:,} rows quarantined: "
                f'gnomon sql "SELECT _rule, _reason, COUNT(*) FROM quarantine.{r.dataset} '
                f'GROUP BY ALL"'
            )
        if r.error and r.status != "succeeded":
            console.print(f"[red]{r.status}:[/] {r.error.get('message')}")


def ingest(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source names (files in sources/). Omit with --all.")
    ] = None,
    all_sources: Annotated[bool, typer.Option("--all", help="Load every defined source.")] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Load sources: files → bronze → contract checks → quarantine / silver, as one run each."""
    with open_project(project) as app:
        names = list(sources or [])
        if all_sources:
            names = [s.name for s in app.ingest.sources()]
            if not names:
                raise InvalidInput(
                    "There is nothing to load: no sources are defined.",
                    hint=f"Describe a source in {app.layout.sources_dir / 'NAME.yaml'} "
                    "(see docs/sources.md).",
                )
        if not names:
            raise InvalidInput(
                "Name at least one source, or pass --all.",
                hint="List the defined sources with: gnomon sources list",
            )
        ctx = app.context(tenant)
        results: list[IngestResult] = []
        interactive = fmt is OutputFormat.table and sys.stderr.isatty()
        for name in names:
            with progress_bar(interactive) as listener:
                results.extend(app.ingest.ingest(name, ctx=ctx, on_progress=listener))
        rows = result_rows(results)
        if fmt is OutputFormat.table:
            columns = [
                "source",
                "status",
                "rows_read",
                "rows_written",
                "rows_quarantined",
                "files_loaded",
                "files_skipped",
                "duration_s",
                "run_id",
            ]
            render([{c: r[c] for c in columns} for r in rows], fmt, title="Loads")
            _explain(results)
        else:
            render(rows, fmt)
        if not all(r.ok for r in results):
            raise typer.Exit(1)


def sources_list(
    project: ProjectOption = Path(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the sources defined in sources/."""
    with open_project(project) as app:
        rows = [
            {
                "name": s.name,
                "kind": s.kind,
                "dataset": s.dataset,
                "format": s.format,
                "path": ", ".join(s.path),
            }
            for s in app.ingest.sources()
        ]
        render(rows, fmt, title="Sources", empty="No sources defined (see sources/).")


def register(app: typer.Typer) -> None:
    """Add the commands to the root app."""
    app.command("ingest")(ingest)
    group = typer.Typer(help="Defined sources.", no_args_is_help=True)
    group.command("list")(sources_list)
    app.add_typer(group, name="sources")
