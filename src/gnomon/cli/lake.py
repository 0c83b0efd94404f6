"""``gnomon lake``: tables, history, vacuum and compaction."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import FormatOption, ProjectOption, open_project
from gnomon.cli._render import OutputFormat, console, render

__all__ = ["register"]

TablesArgument = Annotated[
    list[str] | None,
    typer.Argument(help="Tables as layer.name (default: every published table)."),
]


def tables(project: ProjectOption = Path(), fmt: FormatOption = OutputFormat.table) -> None:
    """List published lake tables and their versions."""
    with open_project(project) as app:
        rows = [
            {
                "table": f"{t.layer}.{t.name}",
                "version": t.version,
                "updated_at": t.updated_at,
                "run_id": t.run_id,
                "uri": t.uri,
            }
            for t in app.tables()
        ]
        render(rows, fmt, title="Lake tables", empty="The lake is empty.")


def history(
    table: Annotated[str, typer.Argument(help="layer.name, e.g. silver.orders")],
    limit: Annotated[int, typer.Option(min=1, help="At most this many commits.")] = 20,
    project: ProjectOption = Path(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a table's commits, newest first (versions you can read with gnomon sql --version)."""
    with open_project(project) as app:
        rows = [
            {
                "version": c.version,
                "timestamp": c.timestamp,
                "operation": c.operation,
                "gnomon_operation": c.gnomon_operation,
                "batch_id": c.batch_id,
                "run_id": c.run_id,
                "published": c.published,
            }
            for c in app.maintenance.history(table, limit=limit)
        ]
        render(rows, fmt, title=f"History of {table}")


def vacuum(
    names: TablesArgument = None,
    retention_hours: Annotated[
        int, typer.Option(min=1, help="Keep files needed to time-travel this far back.")
    ] = 168,
    apply: Annotated[
        bool, typer.Option("--apply", help="Delete the files (default: only list them).")
    ] = False,
    project: ProjectOption = Path(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Delete data files no version within the retention period needs (dry run by default)."""
    with open_project(project) as app:
        rows = [
            {"table": r.table, "files": r.files, "deleted": r.deleted}
            for r in app.maintenance.vacuum(
                names, retention_hours=retention_hours, dry_run=not apply
            )
        ]
        render(rows, fmt, title="Vacuum" + ("" if apply else " (dry run: add --apply)"))


def compact(
    names: TablesArgument = None,
    project: ProjectOption = Path(),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Rewrite small files into larger ones; the data and its meaning do not change."""
    with open_project(project) as app:
        results = app.maintenance.compact(names)
        rows = [
            {
                "table": r.table,
                "files_removed": r.files_removed,
                "files_added": r.files_added,
                "version": r.version,
            }
            for r in results
        ]
        render(rows, fmt, title="Compaction")
        if fmt is OutputFormat.table and not rows:
            console.print("Nothing to compact.")


def register(app: typer.Typer) -> None:
    """Add the command group to the root app."""
    group = typer.Typer(help="Lake tables and their maintenance.", no_args_is_help=True)
    group.command("tables")(tables)
    group.command("history")(history)
    group.command("vacuum")(vacuum)
    group.command("compact")(compact)
    app.add_typer(group, name="lake")
