"""Receivers the demo starts so its alerts have somewhere to go: a webhook and a mail server.

Both listen on 127.0.0.1 on a free port and keep what arrived in memory. The webhook receiver is
a minimal HTTP/1.1 server on asyncio streams (one request per connection is enough for a
demo, and keeps it dependency-free); the mail server is aiosmtpd's.
"""

import asyncio
import json
import socket
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = ["ClosingController", "MailReceiver", "ReceivedMail", "WebhookReceiver"]

_MAX_BODY = 1_000_000
_CLOSE_WAIT_S = 5.0


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One message as the mail server took it."""

    sender: str
    recipients: tuple[str, ...]
    subject: str
    text: str


@dataclass(slots=True)
class WebhookReceiver:
    """Records every POST as JSON (or text) with its headers and arrival; answers 200.

    Connections are kept alive, as senders with a connection pool expect. ``at`` is the
    arrival on :func:`time.perf_counter`'s clock, for measuring how long a delivery took.
    """

    received: list[dict[str, Any]] = field(default_factory=list)
    _server: asyncio.Server | None = None
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    async def start(self) -> "WebhookReceiver":
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    @property
    def url(self) -> str:
        """Where to send: ``http://127.0.0.1:PORT/hook``."""
        assert self._server is not None  # noqa: S101 - start() first
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/hook"

    async def stop(self) -> None:
        """Stop listening and close the connections still open."""
        if self._server is not None:
            self._server.close()
            for writer in list(self._open):
                writer.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._open.add(writer)
        try:
            while not reader.at_eof():
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines[1:] if line)
                }
                length = min(int(headers.get("content-length", "0")), _MAX_BODY)
                body = await reader.readexactly(length)
                at = time.perf_counter()
                try:
                    payload: Any = json.loads(body)
                except ValueError:
                    payload = body.decode("utf-8", "replace")
                self.received.append({"headers": headers, "body": payload, "at": at})
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass  # the sender closed the connection
        except (asyncio.LimitOverrunError, ValueError):
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        except ConnectionError:
            pass
        finally:
            self._open.discard(writer)
            writer.close()


class _Collector:
    def __init__(self, into: list[ReceivedMail]) -> None:
        self._into = into

    async def handle_DATA(
        self,
        server: SMTP,  # noqa: ARG002 - the hook's signature
        session: Session,  # noqa: ARG002 - the hook's signature
        envelope: Envelope,
    ) -> str:
        raw = envelope.original_content or b""
        message = message_from_bytes(raw)
        self._into.append(
            ReceivedMail(
                sender=str(envelope.mail_from),
                recipients=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                text=_text_part(message),
            )
        )
        return "250 Message accepted"


def _free_port() -> int:
    """A port free now (aiosmtpd checks its port by connecting to it, so 0 will not do)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _text_part(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


class _TrackedSMTP(SMTP):
    """An SMTP session that tells its controller while it is open."""

    def __init__(self, sessions: set[SMTP], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        super().connection_lost(error)
        self._sessions.discard(self)


class ClosingController(Controller):
    """aiosmtpd's threaded controller, stopped only after its sessions have closed.

    aiosmtpd stops its loop at once: a session the client has just left (after a failed STARTTLS
    handshake, say) is then never closed, and its socket is left to the garbage collector, which
    warns of an unclosed transport wherever it happens to run. This one waits (up to five
    seconds) for open sessions to end and lets the loop run once more, so their sockets close.
    """

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions: set[SMTP] = set()

    def factory(self) -> SMTP:
        """A session that registers itself while open."""
        return _TrackedSMTP(self._sessions, self.handler, **self.SMTP_kwargs)

    def stop(self, no_assert: bool = False) -> None:
        """Stop once open sessions have closed (or five seconds have passed)."""
        deadline = time.monotonic() + _CLOSE_WAIT_S
        while self._sessions and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.loop.is_running():
            # Closing a transport closes its socket on the loop's next turn.
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop).result(_CLOSE_WAIT_S)
        super().stop(no_assert)


class MailReceiver:
    """An SMTP server on a free port of 127.0.0.1 (no TLS, no auth) that keeps the messages."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.port = _free_port()
        self._controller = ClosingController(
            _Collector(self.received), hostname="127.0.0.1", port=self.port
        )

    def start(self) -> "MailReceiver":
        """Start serving (in a thread of its own)."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._controller.stop()
