"""``gnomon serve``: the REST API over a project, with uvicorn.

The socket is bound before the server starts, so the address printed is the one really listened
on (``--port 0`` picks a free port) and a port in use is reported as an error, not a traceback.
SIGINT and SIGTERM stop the server gracefully: requests in flight finish (up to a limit), then
the project is closed and the command exits 0.
"""

import asyncio
import gc
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from gnomon.cli._common import ProjectOption, open_project
from gnomon.cli._render import console, err_console
from gnomon.errors import Unavailable

if TYPE_CHECKING:
    import uvicorn

    from gnomon.app import Gnomon

__all__ = ["register"]

_GRACE_S = 30
"""How long requests in flight may take to finish once a stop is asked for."""


def _bind(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise Unavailable(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Check --host: an address of this machine, e.g. 127.0.0.1 or 0.0.0.0.",
        ) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise Unavailable(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Another process may use the port: choose another with --port (0 picks one).",
        ) from exc
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: api.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="Port (default: api.port, 8080; 0 picks a free one)."),
    ] = None,
    alerting: Annotated[
        bool,
        typer.Option(
            "--alerting/--no-alerting",
            help="Also judge trigger rules and deliver notifications (channels.yaml).",
        ),
    ] = True,
    project: ProjectOption = Path(),
) -> None:
    """Serve the REST API (/api/v1, docs at /api/v1/docs) until stopped with Ctrl-C or SIGTERM.

    With alerting (the default), trigger rules judge events as they arrive and the dispatcher
    delivers notifications to the channels of channels.yaml, in the same process.
    """
    import uvicorn

    from gnomon.api.app import create_app

    with open_project(project) as app:
        settings = app.settings.api
        sock = _bind(host or settings.host, settings.port if port is None else port)
        config = uvicorn.Config(
            create_app(app),
            log_config=None,  # gnomon's logging (-v shows requests)
            timeout_graceful_shutdown=_GRACE_S,
            server_header=False,
        )
        server = uvicorn.Server(config)
        # What is loaded by now lives as long as the server: keep it out of the cyclic
        # collector's full passes, which would walk all of it again and again (pauses of tens
        # of milliseconds in the middle of requests).
        gc.collect()
        gc.freeze()
        url = _url(sock)
        console.print(f"gnomon API listening on {url}/api/v1", highlight=False)
        console.print(f"docs: {url}/api/v1/docs", highlight=False)
        stopped: list[int] = []

        def note(signum: int, _frame: FrameType | None) -> None:
            # uvicorn re-raises the signal it stopped for once it is done; this handler takes it.
            stopped.append(signum)

        previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            if alerting:
                app.channels()  # a broken channels.yaml stops the start, with its problems
                asyncio.run(_serve_with_alerting(server, sock, app))
            else:
                server.run(sockets=[sock])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            sock.close()
    if not server.started:
        raise Unavailable("The API server did not start.", hint="Run with -v to see why.")
    names = ", ".join(signal.Signals(s).name for s in stopped)
    err_console.print(f"stopped ({names})" if names else "stopped")


async def _serve_with_alerting(
    server: "uvicorn.Server", sock: socket.socket, app: "Gnomon"
) -> None:
    """The API and the alerting loop side by side; the loop stops when the server does."""
    stop = asyncio.Event()
    alerting = asyncio.create_task(app.run_alerting(stop, poll_interval=0.5))
    try:
        await server.serve(sockets=[sock])
    finally:
        stop.set()
        await alerting


def register(app: typer.Typer) -> None:
    """Add the command to the root app."""
    app.command("serve")(serve)
