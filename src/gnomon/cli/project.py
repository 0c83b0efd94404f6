"""``gnomon init``: scaffold a project folder."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._render import console
from gnomon.errors import InvalidInput
from gnomon.project import scaffold

__all__ = ["register"]


def init(
    directory: Annotated[
        Path | None, typer.Argument(help="The folder to create (or complete).")
    ] = None,
    project: Annotated[
        Path | None,
        typer.Option("--project", "-p", help="The same as DIR.", file_okay=False),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Add missing example files to an existing project.")
    ] = False,
) -> None:
    """Create a project: gnomon.yaml and sources/, contracts/, models/ with commented examples."""
    if directory is not None and project is not None and directory != project:
        raise InvalidInput(
            f"Two different folders were given: {directory} and --project {project}.",
            hint="Give the folder once.",
        )
    directory = directory or project or Path()
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
