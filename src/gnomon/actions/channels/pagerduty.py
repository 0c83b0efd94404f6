"""PagerDuty through the Events API v2: one incident per alert, by ``dedup_key``.

The alert's fingerprint is the ``dedup_key``, so ``firing`` opens (or re-triggers) one incident,
and ``acknowledged`` and ``resolved`` act on that same incident. PagerDuty knows four severities;
gnomon's are mapped onto them (unknown ones become ``error``, so they page rather than vanish).
"""

import hashlib
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from gnomon.actions.channels._http import HttpDelivery, Reply, endpoint_of
from gnomon.actions.models import Attempt
from gnomon.actions.specs import secret_values
from gnomon.actions.templates import (
    PayloadTemplate,
    TemplateRenderError,
    links_of,
    template_variables,
)

if TYPE_CHECKING:
    from gnomon.actions.models import Notification
    from gnomon.actions.specs import PagerDutySpec
    from gnomon.clock import Clock

__all__ = ["EVENT_ACTIONS", "PagerDutyChannel", "build", "pagerduty_event", "pagerduty_severity"]

EVENT_ACTIONS: Final = {"firing": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
"""The Events API action for each alert state."""

_SEVERITIES: Final = {
    "critical": "critical",
    "fatal": "critical",
    "page": "critical",
    "high": "critical",
    "error": "error",
    "major": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "info": "info",
    "low": "info",
    "notice": "info",
}
_SUMMARY_CHARS: Final = 1024
_DEDUP_CHARS: Final = 255


def pagerduty_severity(severity: str) -> str:
    """PagerDuty's severity for gnomon's: critical, error, warning or info.

    >>> pagerduty_severity("High"), pagerduty_severity("unheard-of")
    ('critical', 'error')
    """
    return _SEVERITIES.get(severity.strip().lower(), "error")


def _dedup_key(fingerprint: str) -> str:
    if len(fingerprint) <= _DEDUP_CHARS:
        return fingerprint
    return hashlib.sha256(fingerprint.encode()).hexdigest()


def pagerduty_event(
    notification: "Notification",
    *,
    routing_key: str,
    source: str = "gnomon",
    client_url: str | None = None,
) -> dict[str, Any]:
    """The Events API v2 body for a notification.

    ``acknowledge`` and ``resolve`` carry only what the API reads for them: the routing key, the
    action and the ``dedup_key``.
    """
    n = notification
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": EVENT_ACTIONS[n.state],
        "dedup_key": _dedup_key(n.fingerprint),
    }
    if n.state != "firing":
        return event
    summary = n.title if n.title.strip() else n.rule
    payload: dict[str, Any] = {
        "summary": summary[:_SUMMARY_CHARS],
        "severity": pagerduty_severity(n.severity),
        "source": n.labels.get("source") or source,
        "timestamp": n.created_at.isoformat(),
        "class": n.rule,
        "custom_details": {
            "summary": n.summary,
            "rule": n.rule,
            "severity": n.severity,
            "labels": dict(n.labels),
            "data": dict(n.data),
            "tenant": n.tenant,
        },
    }
    for key in ("component", "group"):
        if n.labels.get(key):
            payload[key] = n.labels[key]
    event |= {"payload": payload, "client": "gnomon"}
    if client_url is not None:
        event["client_url"] = client_url
    links = [{"href": link["url"], "text": link["title"]} for link in links_of(n.data)]
    if links:
        event["links"] = links
    return event


def _read_reply(reply: Reply, attempt: Attempt) -> Attempt:
    """Keep PagerDuty's ``dedup_key`` as the attempt's reference."""
    if attempt.outcome != "delivered":
        return attempt
    try:
        body = json.loads(reply.body)
    except ValueError:
        return attempt
    key = body.get("dedup_key") if isinstance(body, dict) else None
    return replace(attempt, reference=key) if isinstance(key, str) else attempt


class PagerDutyChannel:
    """Sends Events API v2 events for one PagerDuty service (its integration key)."""

    kind = "pagerduty"

    def __init__(self, name: str, spec: "PagerDutySpec", *, clock: "Clock") -> None:
        self.name = name
        self.endpoint = endpoint_of(spec.url)
        self._spec = spec
        self._delivery = HttpDelivery(spec, clock=clock, secrets=secret_values(spec))
        self._template = None if spec.template is None else PayloadTemplate(spec.template)

    def __repr__(self) -> str:
        return f"PagerDutyChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Send the event once and say how it went."""
        try:
            body = self._body(notification)
        except TemplateRenderError as exc:
            return Attempt(outcome="failed", error=str(exc))
        return await self._delivery.deliver(
            method="POST",
            url=self._spec.url,
            body=body,
            headers={"Content-Type": "application/json"},
            key=notification.key,
            inspect=_read_reply,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._delivery.aclose()

    def _body(self, notification: "Notification") -> bytes:
        routing_key = self._spec.routing_key.get_secret_value()
        if self._template is not None:
            variables = {
                **template_variables(notification),
                "routing_key": routing_key,
                "event_action": EVENT_ACTIONS[notification.state],
                "dedup_key": _dedup_key(notification.fingerprint),
                "pagerduty_severity": pagerduty_severity(notification.severity),
            }
            return self._template.render_json(variables).encode("utf-8")
        event = pagerduty_event(
            notification,
            routing_key=routing_key,
            source=self._spec.source,
            client_url=self._spec.client_url,
        )
        return json.dumps(event, ensure_ascii=False, default=str).encode("utf-8")


def build(name: str, spec: "PagerDutySpec", *, clock: "Clock") -> PagerDutyChannel:
    """The registry's factory for ``kind: pagerduty``."""
    return PagerDutyChannel(name, spec, clock=clock)
