"""Entry point of the ``gnomon`` command: command groups and the mapping of errors to exit codes.

Exit codes: 0 success; 1 the work failed (a load failed or was blocked, a service is down);
2 the input was wrong (bad option, YAML, SQL, unknown name). Errors are printed as
"error: what was wrong" plus a hint, never as a stack trace; ``--format json`` commands print a
JSON error object on stdout as well, so scripts can parse failures.
"""

import json
import logging
import os
import sys

import typer

from gnomon import __version__
from gnomon.cli import (
    datasets,
    demo,
    explain,
    governance,
    ingest,
    insights,
    lake,
    metrics,
    models,
    project,
    runs,
    serve,
    sql,
    triggers,
)
from gnomon.cli._render import err_console
from gnomon.errors import GnomonError

__all__ = ["app", "main"]

app = typer.Typer(
    name="gnomon",
    help="Self-hosted augmented analytics over a governed Delta lakehouse.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"gnomon {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool =  # noqa: ARG001 - handled eagerly by its callback
    typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what gnomon does (stderr)."),
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


project.register(app)
ingest.register(app)
runs.register(app)
datasets.register(app)
sql.register(app)
lake.register(app)
models.register(app)
metrics.register(app)
insights.register(app)
explain.register(app)
triggers.register(app)
demo.register(app)
serve.register(app)
governance.register(app)


def _wants_json(args: list[str]) -> bool:
    for i, arg in enumerate(args):
        if arg in ("--format=json", "-fjson"):
            return True
        if arg in ("--format", "-f") and args[i + 1 : i + 2] == ["json"]:
            return True
    return False


def _report(error: GnomonError) -> int:
    err_console.print(f"[bold red]error:[/] {error.message}", highlight=False)
    if error.hint:
        err_console.print(f"[yellow]hint:[/] {error.hint}", highlight=False)
    if _wants_json(sys.argv[1:]):
        sys.stdout.write(json.dumps({"error": error.to_dict()}, default=str) + "\n")
    return error.exit_code


def main() -> None:
    """Run the CLI; never let an exception escape as a stack trace for a user mistake.

    Typer runs in standalone mode, so it reports usage errors (exit 2) and turns ``typer.Exit``
    into the process exit code itself; only gnomon's own errors and bugs are handled here.
    """
    try:
        app()
    except GnomonError as error:
        sys.exit(_report(error))
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception:
        if os.environ.get("GNOMON_DEBUG"):
            raise
        logging.getLogger("gnomon").exception("unexpected error")
        err_console.print(
            "[bold red]internal error:[/] this is a bug in gnomon. "
            "Run again with GNOMON_DEBUG=1 for the full traceback and report it."
        )
        sys.exit(1)
