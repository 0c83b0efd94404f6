"""Options every command shares, and opening the project they name."""

from pathlib import Path
from typing import Annotated

import typer

from gnomon.app import Gnomon
from gnomon.cli._render import OutputFormat
from gnomon.errors import InvalidInput

__all__ = ["FormatOption", "ProjectOption", "TenantOption", "open_project", "parse_segment"]

ProjectOption = Annotated[
    Path,
    typer.Option(
        "--project",
        "-p",
        help="The project folder (holds gnomon.yaml).",
        envvar="GNOMON_PROJECT",
        file_okay=False,
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="table for people; json (array of row objects) or csv."),
]
TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", "-t", help="Act for this tenant (default: the project's tenant)."),
]


def open_project(project: Path) -> Gnomon:
    """Open the project folder, creating its catalog schema on first use."""
    return Gnomon.open(project)


def parse_segment(items: list[str]) -> dict[str, str]:
    """``--segment dimension=value`` options as a mapping."""
    wanted: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InvalidInput(
                f"--segment {item!r} is not dimension=value.",
                hint="For example: --segment region=EMEA --segment channel=web",
            )
        wanted[name.strip()] = value.strip()
    return wanted
