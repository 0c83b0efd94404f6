"""``gnomon sql``: read-only SQL over the lake, for the current tenant."""

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from gnomon.cli._common import FormatOption, ProjectOption, TenantOption, open_project
from gnomon.cli._render import OutputFormat, console, err_console, render
from gnomon.errors import InvalidInput

__all__ = ["register"]


def _parse_versions(pins: list[str]) -> dict[str, int]:
    versions: dict[str, int] = {}
    for pin in pins:
        table, sep, number = pin.partition("=")
        if not sep or "." not in table or not number.isdigit():
            raise InvalidInput(
                f"--version {pin!r} is not of the form layer.table=N.",
                hint="For example: --version silver.orders=3",
            )
        versions[table] = int(number)
    return versions


def _parse_as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            f"--as-of {text!r} is not an ISO 8601 timestamp.",
            hint="For example: --as-of 2026-01-31T12:00:00Z",
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"--as-of {text!r} has no time zone.", hint="Add one, e.g. Z or +01:00.")
    return moment


def sql(
    query: Annotated[str, typer.Argument(help='One SELECT (or WITH …), or "-" to read stdin.')],
    limit: Annotated[int | None, typer.Option(min=1, help="Return at most this many rows.")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Read every table as it was at this time.")
    ] = None,
    version: Annotated[
        list[str] | None,
        typer.Option("--version", help="Read a table at a version: layer.table=N (repeatable)."),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Print the SQL as it will run, do not run it.")
    ] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Run read-only SQL: tables are bronze.x, silver.x, gold.x, quarantine.x."""
    text = sys.stdin.read() if query == "-" else query
    with open_project(project) as app:
        ctx = app.context(tenant)
        service = app.queries(as_of=_parse_as_of(as_of), versions=_parse_versions(version or []))
        if explain:
            console.print(service.explain(text, ctx=ctx), highlight=False)
            return
        result = service.sql(text, ctx=ctx, limit=limit)
        render(result.table, fmt)
        if result.truncated and limit is None:
            err_console.print(
                f"[yellow]note:[/] result truncated to {result.table.num_rows:,} rows "
                "(use --limit or aggregate)."
            )


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("sql")(sql)
