"""A real HTTP/1.1 receiver on 127.0.0.1 that records requests and misbehaves on request.

It runs on the test's own event loop (asyncio streams), so a test scripts it, sends through a
channel and reads what arrived, without threads. Behaviours per path are consumed in order;
when a path's script is used up, its default answers (200 "ok" unless set).
"""

import asyncio
import json
import socket
import struct
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


@dataclass(frozen=True)
class Respond:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, value: object, **headers: str) -> "Respond":
        return cls(
            status, json.dumps(value).encode(), {"Content-Type": "application/json", **headers}
        )


@dataclass(frozen=True)
class Reset:
    """Abort the connection with a TCP RST instead of answering."""


@dataclass(frozen=True)
class Hang:
    """Never answer (until the receiver stops)."""


@dataclass(frozen=True)
class Close:
    """Close the connection cleanly without answering."""


Behaviour = Respond | Reset | Hang | Close
Dynamic = Callable[[Recorded], Behaviour]


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.connections = 0
        self._scripts: dict[str, deque[Behaviour | Dynamic]] = defaultdict(deque)
        self._defaults: dict[str, Behaviour | Dynamic] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()
        self.port = 0

    async def start(self) -> "Receiver":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        self._stopping.set()
        for writer in list(self._writers):
            writer.transport.abort()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def script(self, path: str, *behaviours: Behaviour | Dynamic) -> None:
        self._scripts[path].extend(behaviours)

    def default(self, path: str, behaviour: Behaviour | Dynamic) -> None:
        self._defaults[path] = behaviour

    def at(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def _next(self, request: Recorded) -> Behaviour:
        script = self._scripts[request.path]
        chosen = script.popleft() if script else self._defaults.get(request.path, Respond())
        return chosen if isinstance(chosen, Respond | Reset | Hang | Close) else chosen(request)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                behaviour = self._next(request)
                if isinstance(behaviour, Hang):
                    await self._stopping.wait()
                    return
                if isinstance(behaviour, Reset):
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                if isinstance(behaviour, Close):
                    break
                assert isinstance(behaviour, Respond)
                writer.write(_response(behaviour))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()


async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Recorded(method, target, headers, body)


def _response(respond: Respond) -> bytes:
    reason = HTTPStatus(respond.status).phrase
    headers = {"Content-Length": str(len(respond.body)), **respond.headers}
    if "Content-Type" not in headers:
        headers["Content-Type"] = "text/plain"
    head = f"HTTP/1.1 {respond.status} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()
    )
    return head.encode("latin-1") + b"\r\n" + respond.body


def refused_url() -> str:
    """A URL on a port where nothing listens (bound, read, released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
