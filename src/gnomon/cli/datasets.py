"""``gnomon datasets``: what has been loaded, its schema and contract version."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, render

__all__ = ["register"]


def datasets_list(
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the tenant's datasets."""
    with open_project(project) as app:
        rows = [
            {
                "name": d.name,
                "columns": len(d.schema or []),
                "contract_version": d.contract_version,
                "updated_at": d.updated_at,
            }
            for d in app.datasets(ctx=app.context(tenant))
        ]
        render(rows, fmt, title="Datasets", empty="No datasets yet: run gnomon ingest.")


def datasets_show(
    name: Annotated[str, typer.Argument(help="The dataset name.")],
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show a dataset's columns (name, type, nullable) as its contract declares them."""
    with open_project(project) as app:
        dataset = app.dataset(name, ctx=app.context(tenant))
        render(
            list(dataset.schema or []), fmt, title=f"{name} (contract v{dataset.contract_version})"
        )


def register(app: typer.Typer) -> None:
    """Add the command group to the root app."""
    group = typer.Typer(help="Loaded datasets.", no_args_is_help=True)
    group.command("list")(datasets_list)
    group.command("show")(datasets_show)
    app.add_typer(group, name="datasets")
