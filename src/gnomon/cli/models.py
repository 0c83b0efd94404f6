"""``gnomon build`` and ``gnomon models``: gold tables from SQL models."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, render

__all__ = ["register"]


def build(
    select: Annotated[
        list[str] | None,
        typer.Argument(help="Models to build, with what they depend on (default: all)."),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Build gold tables from models/*.sql in dependency order."""
    with open_project(project) as app:
        results = app.build(select, ctx=app.context(tenant))
        rows = [
            {
                "model": r.model,
                "status": r.status,
                "rows": r.rows,
                "version": r.version,
                "duration_s": round(r.duration_s, 3),
                "error": r.error,
            }
            for r in results
        ]
        render(rows, fmt, title="Build", empty="No models in models/.")
        if any(r.status != "succeeded" for r in results):
            raise typer.Exit(1)


def models_list(project: ProjectOption = Path(), fmt: FormatOption = OutputFormat.table) -> None:
    """List models in build order with what they read."""
    with open_project(project) as app:
        rows = [
            {
                "model": m.name,
                "depends_on": ", ".join(f"{a}.{b}" for a, b in m.depends_on),
                "description": m.description,
                "path": str(m.path),
            }
            for m in app.models.ordered()
        ]
        render(rows, fmt, title="Models", empty="No models in models/.")


def register(app: typer.Typer) -> None:
    """Add the commands to the root app."""
    app.command("build")(build)
    group = typer.Typer(help="Gold SQL models.", no_args_is_help=True)
    group.command("list")(models_list)
    app.add_typer(group, name="models")
