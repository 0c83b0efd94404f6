"""The e-mail channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from anyio import to_thread
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gnomon.actions import build_channel
from gnomon.examples.receivers import ClosingController
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio


class Mailbox:
    """Records what the server accepted; refuses recipients or messages when told to."""

    def __init__(self) -> None:
        self.messages: list[Envelope] = []
        self.rcpt_replies: dict[str, str] = {}
        self.data_reply = "250 Message accepted for delivery"

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            self.messages.append(envelope)
        return self.data_reply

    def parsed(self, index: int = 0) -> EmailMessage:
        content = self.messages[index].content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        return message


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == (b"alerts", b"pw-1")
    return AuthResult(success=ok, handled=False)


def _tls_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_port(mailbox: Mailbox) -> Iterator[int]:
    port = _free_port()
    controller = ClosingController(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def starttls_port(mailbox: Mailbox, tmp_path: Path) -> Iterator[int]:
    port = _free_port()
    controller = ClosingController(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_tls_context(tmp_path),
        require_starttls=True,
        authenticator=_authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def spec(port: int, login: tuple[str, str] | None = None, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from": "gnomon <alerts@gnomon.test>",
        "to": ["oncall@example.test", "lead@example.test"],
        "timeout_s": 5,
        "helo": "gnomon.test",
    }
    if login is not None:
        values["username"], values["password"] = login
    values.update(changes)
    return values


async def test_a_message_has_text_and_html_and_a_stable_message_id(
    mailbox: Mailbox, smtp_port: int
) -> None:
    channel = build_channel("mail", spec(smtp_port))
    first = await channel.send(notification())
    again = await channel.send(notification())
    other = await channel.send(notification(key="ntf-0002", state="resolved"))
    await channel.aclose()

    assert [first.outcome, again.outcome, other.outcome] == ["delivered"] * 3
    assert first.status_code == 250
    envelope = mailbox.messages[0]
    assert envelope.mail_from == "alerts@gnomon.test"
    assert envelope.rcpt_tos == ["oncall@example.test", "lead@example.test"]

    message = mailbox.parsed(0)
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "Revenue down 40% in EU" in text.get_content()
    assert "region: EU" in text.get_content()
    assert "https://x.test/d" in text.get_content()
    assert "&lt;b&gt;today&lt;/b&gt;" in html.get_content(), "alert text is escaped in HTML"
    assert message["Subject"] == "[CRITICAL] Revenue down 40% in EU"
    assert message["X-Gnomon-Idempotency-Key"] == "ntf-0001"

    assert message["Message-ID"] == mailbox.parsed(1)["Message-ID"], "a resend is recognisable"
    assert message["Message-ID"] == first.reference
    assert message["Message-ID"].endswith("@gnomon.test>")
    resolved = mailbox.parsed(2)
    assert resolved["Message-ID"] != message["Message-ID"]
    assert resolved["References"] == message["References"], "one alert, one thread"
    assert resolved["Subject"] == "[CRITICAL] Revenue down 40% in EU (resolved)"


async def test_templates_shape_subject_and_both_parts(mailbox: Mailbox, smtp_port: int) -> None:
    channel = build_channel(
        "mail",
        spec(
            smtp_port,
            subject_template="{{ rule }}:\n{{ title }}",
            text_template="T {{ labels.metric }}",
            html_template="<p>{{ summary }}</p>",
        ),
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "delivered"
    message = mailbox.parsed()
    assert message["Subject"] == "revenue_drop: Revenue down 40% in EU", "no header injection"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "T revenue"
    assert html.get_content().strip() == (
        "<p>Revenue was 6,000 against an expected 10,000 &lt;b&gt;today&lt;/b&gt;.</p>"
    )


async def test_a_template_error_fails_without_a_message(mailbox: Mailbox, smtp_port: int) -> None:
    channel = build_channel("mail", spec(smtp_port, text_template="{{ nope }}"))
    attempt = await channel.send(notification())
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "nope" in attempt.error
    assert mailbox.messages == []


async def test_login_with_the_right_password(mailbox: Mailbox, smtp_port: int) -> None:
    channel = build_channel(
        "mail",
        spec(smtp_port, login=("alerts", "${SMTP_PASSWORD}")),
        env={"SMTP_PASSWORD": "pw-1"},
    )
    attempt = await channel.send(notification())
    assert attempt.outcome == "delivered"
    assert len(mailbox.messages) == 1


async def test_a_refused_login_is_permanent(mailbox: Mailbox, smtp_port: int) -> None:
    channel = build_channel("mail", spec(smtp_port, login=("alerts", "wrong-pw")))
    attempt = await channel.send(notification())
    assert attempt.outcome == "failed", attempt
    assert attempt.status_code == 535
    assert attempt.error is not None
    assert "wrong-pw" not in attempt.error
    assert mailbox.messages == []


async def test_starttls_and_login(mailbox: Mailbox, starttls_port: int) -> None:
    channel = build_channel(
        "mail",
        spec(
            starttls_port,
            security="starttls",
            verify_tls=False,
            login=("alerts", "pw-1"),
        ),
    )
    attempt = await channel.send(notification())
    assert attempt.outcome == "delivered", attempt.error
    assert len(mailbox.messages) == 1


async def test_an_unverifiable_certificate_is_not_accepted(
    mailbox: Mailbox, starttls_port: int
) -> None:
    channel = build_channel(
        "mail", spec(starttls_port, security="starttls", login=("alerts", "pw-1"))
    )
    attempt = await channel.send(notification())
    assert attempt.outcome == "retry", attempt
    assert attempt.error is not None
    assert "certificate" in attempt.error.lower()
    assert mailbox.messages == []


@pytest.mark.parametrize(
    ("reply", "outcome", "code"),
    [
        ("451 4.7.1 Greylisted, try again later", "retry", 451),
        ("550 5.1.1 No such user", "failed", 550),
    ],
)
async def test_refused_recipients_map_to_outcomes(
    mailbox: Mailbox, smtp_port: int, reply: str, outcome: str, code: int
) -> None:
    mailbox.rcpt_replies = {"oncall@example.test": reply}
    channel = build_channel("mail", spec(smtp_port, to=["oncall@example.test"]))
    attempt = await channel.send(notification())
    assert attempt.outcome == outcome
    assert attempt.status_code == code


async def test_one_refused_recipient_of_two_still_delivers(
    mailbox: Mailbox, smtp_port: int
) -> None:
    mailbox.rcpt_replies = {"lead@example.test": "550 5.1.1 No such user"}
    channel = build_channel("mail", spec(smtp_port))
    attempt = await channel.send(notification())
    assert attempt.outcome == "delivered"
    assert attempt.error is not None
    assert "lead@example.test" in attempt.error
    assert mailbox.messages[0].rcpt_tos == ["oncall@example.test"]


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [("452 4.3.1 Insufficient storage", "retry"), ("554 5.7.1 Rejected as spam", "failed")],
)
async def test_a_refused_message_maps_to_outcomes(
    mailbox: Mailbox, smtp_port: int, reply: str, outcome: str
) -> None:
    mailbox.data_reply = reply
    channel = build_channel("mail", spec(smtp_port))
    attempt = await channel.send(notification())
    assert attempt.outcome == outcome
    assert attempt.status_code == int(reply[:3])


async def test_no_server_is_transient() -> None:
    channel = build_channel("mail", spec(_free_port()))
    attempt = await channel.send(notification())
    assert attempt.outcome == "retry"
    assert attempt.status_code is None
    assert attempt.error


@pytest.mark.parametrize(
    ("security", "login"),
    [("starttls", None), ("none", ("alerts", "pw-1"))],
    ids=["no-starttls", "no-auth"],
)
async def test_a_server_without_what_the_spec_needs_is_permanent(
    mailbox: Mailbox, security: str, login: tuple[str, str] | None
) -> None:
    port = _free_port()
    controller = ClosingController(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = build_channel("mail", spec(port, login=login, security=security))
        attempt = await channel.send(notification())
    finally:
        # Off the loop, which must still run to close the client's side.
        await to_thread.run_sync(controller.stop)
    assert attempt.outcome == "failed", attempt
    assert attempt.error is not None
    assert "not supported" in attempt.error
    assert mailbox.messages == []


def test_the_server_stops_only_after_its_sessions_have_closed(mailbox: Mailbox) -> None:
    port = _free_port()
    controller = ClosingController(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        assert client.recv(100).startswith(b"220")
        stopping = threading.Thread(target=controller.stop)
        stopping.start()
        stopping.join(0.3)
        assert stopping.is_alive(), "stopped with a session still open"
    stopping.join(10)
    assert not stopping.is_alive()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
