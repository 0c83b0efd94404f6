"""E-mail over SMTP: multipart/alternative with a text and an HTML part.

Why aiosmtplib rather than the standard library's smtplib in a worker thread: the dispatcher is
asyncio, and a send that hangs must be cancellable and must not hold a thread; aiosmtplib speaks
SMTP on the event loop with a timeout on every step, STARTTLS and implicit TLS, and is typed.
One SMTP session per message: SMTP servers drop idle sessions within seconds, and alert mail is
too rare for a pool to pay.

Recognising a resend: the Message-ID is derived from the idempotency key, so a message sent twice
(after a lost acknowledgement) carries the same Message-ID and clients and archives collapse the
two. All notifications of one alert reference one made-up anchor ID, so mail clients thread
``firing``, ``acknowledged`` and ``resolved`` together.

Outcomes: a refused or dropped connection, a timeout or a 4xx reply (greylisting, mailbox busy,
a temporary authentication failure) is ``retry``; a 5xx reply (authentication refused, sender or
every recipient refused, message rejected), or a server that lacks STARTTLS or AUTH when the spec
needs it, is ``failed``. When some recipients are refused and others accept, the attempt is
``delivered`` and its error names the refused ones.
"""

import hashlib
import time
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import TYPE_CHECKING, Final

import aiosmtplib

from gnomon.actions.channels._http import redact
from gnomon.actions.models import EXCERPT_CHARS, Attempt, AttemptOutcome
from gnomon.actions.specs import secret_values
from gnomon.actions.templates import PayloadTemplate, TemplateRenderError, template_variables

if TYPE_CHECKING:
    from gnomon.actions.models import Notification
    from gnomon.actions.specs import EmailSpec
    from gnomon.clock import Clock

__all__ = [
    "DEFAULT_HTML",
    "DEFAULT_SUBJECT",
    "DEFAULT_TEXT",
    "EmailChannel",
    "build",
    "message_id",
]

DEFAULT_SUBJECT: Final = (
    "[{{ severity | upper }}] {{ title }}{% if state != 'firing' %} ({{ state }}){% endif %}"
)
DEFAULT_TEXT: Final = """{{ title }}

{{ summary }}

State: {{ state }}
Severity: {{ severity }}
Rule: {{ rule }}
{% for name, value in labels | dictsort %}{{ name }}: {{ value }}
{% endfor %}{% if links %}
{% for link in links %}{{ link.title }}: {{ link.url }}
{% endfor %}{% endif %}
Alert {{ fingerprint }}, tenant {{ tenant }}, {{ created_at }}
"""
DEFAULT_HTML: Final = """<!DOCTYPE html>
<html><body style="font-family: sans-serif">
<h2>{{ title }}</h2>
<p>{{ summary }}</p>
<table cellpadding="4">
<tr><th align="left">State</th><td>{{ state }}</td></tr>
<tr><th align="left">Severity</th><td>{{ severity }}</td></tr>
<tr><th align="left">Rule</th><td>{{ rule }}</td></tr>
{% for name, value in labels | dictsort %}
<tr><th align="left">{{ name }}</th><td>{{ value }}</td></tr>{% endfor %}
</table>
{% if links %}<p>{% for link in links %}<a href="{{ link.url }}">{{ link.title }}</a><br>
{% endfor %}</p>{% endif %}
<p style="color: #666">Alert {{ fingerprint }}, tenant {{ tenant }}, {{ created_at }}</p>
</body></html>
"""
_SUBJECT_CHARS: Final = 200


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def message_id(key: str, domain: str) -> str:
    """The Message-ID of the notification with idempotency key ``key``.

    >>> message_id("n-1", "example.com") == message_id("n-1", "example.com")
    True
    >>> message_id("n-1", "example.com")[:8]
    '<gnomon.'
    """
    return f"<gnomon.{_digest(key)}@{domain}>"


class EmailChannel:
    """Sends each notification as one e-mail to the spec's recipients."""

    kind = "email"

    def __init__(self, name: str, spec: "EmailSpec") -> None:
        self.name = name
        self.endpoint = f"smtp://{spec.host}:{spec.effective_port}"
        self._spec = spec
        self._secrets = secret_values(spec)
        self._subject = PayloadTemplate(spec.subject_template or DEFAULT_SUBJECT)
        self._text = PayloadTemplate(spec.text_template or DEFAULT_TEXT)
        self._html = PayloadTemplate(spec.html_template or DEFAULT_HTML, html=True)
        self._domain = parseaddr(spec.sender)[1].rpartition("@")[2] or "gnomon.invalid"

    def __repr__(self) -> str:
        return f"EmailChannel({self.name!r}, endpoint={self.endpoint!r})"

    def message(self, notification: "Notification") -> EmailMessage:
        """The e-mail for ``notification``, as it would be sent.

        Raises:
            TemplateRenderError: a template did not render.
        """
        variables = template_variables(notification)
        subject = " ".join(self._subject.render(variables).split())[:_SUBJECT_CHARS]
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self._spec.sender
        message["To"] = ", ".join(self._spec.to)
        if self._spec.cc:
            message["Cc"] = ", ".join(self._spec.cc)
        message["Date"] = format_datetime(notification.created_at)
        message["Message-ID"] = message_id(notification.key, self._domain)
        anchor = f"<gnomon.alert.{_digest(notification.tenant + '/' + notification.fingerprint)}"
        message["References"] = f"{anchor}@{self._domain}>"
        message["X-Gnomon-Idempotency-Key"] = " ".join(notification.key.split())
        message["X-Gnomon-Alert-State"] = notification.state
        message.set_content(self._text.render(variables))
        message.add_alternative(self._html.render(variables), subtype="html")
        return message

    async def send(self, notification: "Notification", /) -> Attempt:
        """Send the e-mail once and say how it went."""
        started = time.perf_counter()
        try:
            message = self.message(notification)
        except TemplateRenderError as exc:
            return Attempt(outcome="failed", error=str(exc))
        spec = self._spec
        password = None if spec.password is None else spec.password.get_secret_value()
        try:
            refused, reply = await aiosmtplib.send(
                message,
                hostname=spec.host,
                port=spec.effective_port,
                username=spec.username,
                password=password,
                use_tls=spec.security == "ssl",
                start_tls=spec.security == "starttls",
                validate_certs=spec.verify_tls,
                timeout=spec.timeout_s,
                local_hostname=spec.helo,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return self._failure(exc, started)
        error = None
        if refused:
            listed = ", ".join(f"{rcpt} ({answer.code})" for rcpt, answer in refused.items())
            error = f"some recipients were refused: {listed}"
        return Attempt(
            outcome="delivered",
            status_code=250,
            latency_ms=_since(started),
            response_excerpt=redact(reply[:EXCERPT_CHARS], self._secrets),
            error=error,
            reference=str(message["Message-ID"]),
        )

    async def aclose(self) -> None:
        """Nothing is pooled: each message has its own SMTP session."""

    def _failure(self, exc: Exception, started: float) -> Attempt:
        code: int | None = None
        outcome: AttemptOutcome = "retry"
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [refusal.code for refusal in exc.recipients]
            code = codes[0] if codes else None
            outcome = "retry" if codes and all(400 <= c < 500 for c in codes) else "failed"
        elif isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code > 0:
            code = exc.code
            outcome = "retry" if 400 <= exc.code < 500 else "failed"
        elif isinstance(exc, aiosmtplib.SMTPNotSupported) or type(exc) is aiosmtplib.SMTPException:
            # aiosmtplib raises the bare base class when the server lacks STARTTLS or AUTH.
            outcome = "failed"
        detail = str(exc) or type(exc).__name__
        return Attempt(
            outcome=outcome,
            status_code=code,
            latency_ms=_since(started),
            error=redact(f"{type(exc).__name__}: {detail}", self._secrets)[:EXCERPT_CHARS],
        )


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def build(name: str, spec: "EmailSpec", *, clock: "Clock") -> EmailChannel:
    """The registry's factory for ``kind: email``; the clock is unused (the Date is the alert's)."""
    del clock
    return EmailChannel(name, spec)
