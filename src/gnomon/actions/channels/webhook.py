"""Webhooks: the notification as JSON (or a template's rendering) to an endpoint of the user's.

Signing: with ``sign`` configured, each request carries a timestamp header (Unix seconds) and a
signature header ``sha256=<hex>``, the HMAC-SHA256 under the shared secret of
``<timestamp>.<body>`` (the timestamp's ASCII digits, a dot, then the exact body bytes).
The timestamp is inside the signed text so that a captured request cannot be replayed later
with a fresh timestamp; a receiver refuses timestamps more than a few minutes old and compares
signatures in constant time. See docs/actions.md for a verifier.
"""

import hashlib
import hmac
import json
from typing import TYPE_CHECKING

from gnomon.actions.channels._http import HttpDelivery, auth_for, endpoint_of
from gnomon.actions.models import Attempt
from gnomon.actions.specs import secret_values
from gnomon.actions.templates import PayloadTemplate, TemplateRenderError, template_variables

if TYPE_CHECKING:
    from gnomon.actions.models import Notification
    from gnomon.actions.specs import SignSpec, WebhookSpec
    from gnomon.clock import Clock

__all__ = ["WebhookChannel", "build", "signature_headers", "webhook_body"]


def webhook_body(notification: "Notification") -> bytes:
    """The default body: the notification's fields as compact UTF-8 JSON."""
    return json.dumps(
        notification.to_dict(), ensure_ascii=False, separators=(",", ":"), default=str
    ).encode("utf-8")


def signature_headers(body: bytes, *, sign: "SignSpec", timestamp: int) -> dict[str, str]:
    """The timestamp and signature headers for ``body`` (see the module docstring).

    >>> from pydantic import SecretStr
    >>> from gnomon.actions.specs import SignSpec
    >>> headers = signature_headers(b"{}", sign=SignSpec(secret=SecretStr("k")), timestamp=1)
    >>> headers["X-Gnomon-Timestamp"], headers["X-Gnomon-Signature"][:15]
    ('1', 'sha256=3dd49b25')
    """
    signed = f"{timestamp}.".encode("ascii") + body
    digest = hmac.new(sign.secret.get_secret_value().encode(), signed, hashlib.sha256).hexdigest()
    return {sign.timestamp_header: str(timestamp), sign.header: f"sha256={digest}"}


class WebhookChannel:
    """Posts each notification to one URL; see :mod:`gnomon.actions.channels._http` for outcomes."""

    kind = "webhook"

    def __init__(self, name: str, spec: "WebhookSpec", *, clock: "Clock") -> None:
        self.name = name
        self.endpoint = endpoint_of(spec.url)
        self._spec = spec
        self._clock = clock
        secrets = secret_values(spec)
        auth = auth_for(spec.auth, clock=clock, timeout_s=spec.timeout_s, secrets=secrets)
        self._delivery = HttpDelivery(spec, clock=clock, auth=auth, secrets=secrets)
        self._template = None if spec.template is None else PayloadTemplate(spec.template)
        self._json = spec.content_type.split(";")[0].strip().lower().endswith("json")

    def __repr__(self) -> str:
        return f"WebhookChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Post the notification once and say how it went."""
        try:
            body = self._body(notification)
        except TemplateRenderError as exc:
            return Attempt(outcome="failed", error=str(exc))
        headers = {"Content-Type": self._spec.content_type}
        if self._spec.sign is not None:
            timestamp = int(self._clock.now().timestamp())
            headers |= signature_headers(body, sign=self._spec.sign, timestamp=timestamp)
        return await self._delivery.deliver(
            method=self._spec.method,
            url=self._spec.url,
            body=body,
            headers=headers,
            key=notification.key,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._delivery.aclose()

    def _body(self, notification: "Notification") -> bytes:
        if self._template is None:
            return webhook_body(notification)
        variables = template_variables(notification)
        if self._json:
            return self._template.render_json(variables).encode("utf-8")
        return self._template.render(variables).encode("utf-8")


def build(name: str, spec: "WebhookSpec", *, clock: "Clock") -> WebhookChannel:
    """The registry's factory for ``kind: webhook``."""
    return WebhookChannel(name, spec, clock=clock)
