"""``gnomon init``: scaffold a project folder."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._render import console
from gnomon.project import scaffold

__all__ = ["register"]


def init(
    directory: Annotated[Path, typer.Argument(help="The folder to create (or complete).")] = Path(),
    force: Annotated[
        bool, typer.Option("--force", help="Add missing example files to an existing project.")
    ] = False,
) -> None:
    """Create a project: gnomon.yaml and sources/, contracts/, models/ with commented examples."""
    written = scaffold(directory, force=force)
    console.print(
        f"Project ready in [bold]{directory.resolve()}[/] ({len(written)} files written)."
    )
    console.print(
        "Next: describe a source in sources/, its contract in contracts/, then "
        "[bold]gnomon ingest NAME[/]."
    )


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("init")(init)
