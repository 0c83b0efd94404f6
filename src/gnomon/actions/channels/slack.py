"""Slack: Block Kit messages by incoming webhook, or by the Web API when replies should thread.

An incoming webhook answers ``ok`` and nothing else, so only the Web API
(``chat.postMessage`` with a bot token) can say which message it posted; its ``ts`` comes back as
``Attempt.reference``, and a later notification of the same alert that carries it as
``data.thread_ts`` is posted as a reply in that thread.

The Web API answers 200 even when it refuses a message, with ``{"ok": false, "error": …}``:
``ratelimited`` and Slack's own failures are transient, anything else (``channel_not_found``,
``invalid_auth``, ``not_in_channel``) is permanent.
"""

import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from gnomon.actions.channels._http import HttpDelivery, Reply, endpoint_of
from gnomon.actions.models import Attempt, AttemptOutcome
from gnomon.actions.specs import secret_values
from gnomon.actions.templates import (
    PayloadTemplate,
    TemplateRenderError,
    links_of,
    template_variables,
)

if TYPE_CHECKING:
    from gnomon.actions.models import Notification
    from gnomon.actions.specs import SlackSpec
    from gnomon.clock import Clock

__all__ = ["SlackChannel", "build", "slack_payload"]

_TRANSIENT_ERRORS: Final = frozenset(
    {"ratelimited", "service_unavailable", "internal_error", "fatal_error", "request_timeout"}
)
_HEADER_CHARS: Final = 150
_SECTION_CHARS: Final = 3000
_FIELD_CHARS: Final = 2000
_MAX_FIELDS: Final = 10
_ICONS: Final = {
    "resolved": ":white_check_mark:",
    "acknowledged": ":eyes:",
    "critical": ":red_circle:",
    "error": ":red_circle:",
    "warning": ":large_orange_circle:",
}


def _escape(text: str) -> str:
    """Slack's mrkdwn treats ``&``, ``<`` and ``>`` as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(notification: "Notification", *, channel: str | None = None) -> dict[str, Any]:
    """The default message: a header, the summary, fields for severity, state, rule and labels.

    ``text`` is the fallback Slack shows in notifications; links from ``data.links`` follow the
    fields. With ``channel`` (Web API), ``data.thread_ts`` makes it a reply in that thread.
    """
    n = notification
    icon = _ICONS.get(n.state) or _ICONS.get(n.severity.lower(), ":large_blue_circle:")
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{_escape(n.severity)}"},
        {"type": "mrkdwn", "text": f"*State*\n{_escape(n.state)}"},
        {"type": "mrkdwn", "text": f"*Rule*\n{_escape(n.rule)}"},
    ]
    fields += [
        {"type": "mrkdwn", "text": _cut(f"*{_escape(key)}*\n{_escape(value)}", _FIELD_CHARS)}
        for key, value in sorted(n.labels.items())
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _cut(f"{icon} {n.title}", _HEADER_CHARS)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": _summary_text(n.summary)}},
        {"type": "section", "fields": fields[:_MAX_FIELDS]},
    ]
    links = [
        f"<{link['url']}|{_escape(link['title'])}>"
        for link in links_of(n.data)
        if not any(c in link["url"] for c in "|<> ")
    ]
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": " · ".join(links)}})
    context = f"{_escape(n.tenant)} · {n.created_at.isoformat()} · alert {_escape(n.fingerprint)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    payload: dict[str, Any] = {
        "text": _cut(f"[{n.severity}] {n.title} ({n.state})", _SECTION_CHARS),
        "blocks": blocks,
    }
    if channel is not None:
        payload["channel"] = channel
        thread = n.data.get("thread_ts")
        if isinstance(thread, str) and thread:
            payload["thread_ts"] = thread
    return payload


def _summary_text(summary: str) -> str:
    return _cut(_escape(summary), _SECTION_CHARS) if summary.strip() else " "


def _read_api_reply(reply: Reply, attempt: Attempt) -> Attempt:
    """The Web API's verdict, which lives in the body, not the status."""
    if attempt.outcome != "delivered":
        return attempt
    try:
        body = json.loads(reply.body)
    except ValueError:
        return replace(attempt, outcome="failed", error="Slack answered with something not JSON")
    if not isinstance(body, dict):
        return replace(attempt, outcome="failed", error="Slack answered with something unexpected")
    if body.get("ok") is True:
        ts = body.get("ts")
        return replace(attempt, reference=ts if isinstance(ts, str) else None)
    error = str(body.get("error", "unknown_error"))
    outcome: AttemptOutcome = "retry" if error in _TRANSIENT_ERRORS else "failed"
    return replace(attempt, outcome=outcome, error=f"Slack refused the message: {error}")


class SlackChannel:
    """Posts Block Kit messages to Slack (see the module docstring for the two ways)."""

    kind = "slack"

    def __init__(self, name: str, spec: "SlackSpec", *, clock: "Clock") -> None:
        self.name = name
        self._spec = spec
        secrets = secret_values(spec)
        self._delivery = HttpDelivery(spec, clock=clock, secrets=secrets)
        self._template = None if spec.template is None else PayloadTemplate(spec.template)
        if spec.url is not None:
            self._url = spec.url.get_secret_value()
            self._auth: dict[str, str] = {}
        else:
            self._url = spec.api_url
            token = "" if spec.token is None else spec.token.get_secret_value()
            self._auth = {"Authorization": f"Bearer {token}"}
        self.endpoint = endpoint_of(self._url)

    def __repr__(self) -> str:
        return f"SlackChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Post the message once and say how it went."""
        api = self._spec.url is None
        try:
            body = self._body(notification, api=api)
        except TemplateRenderError as exc:
            return Attempt(outcome="failed", error=str(exc))
        return await self._delivery.deliver(
            method="POST",
            url=self._url,
            body=body,
            headers={"Content-Type": "application/json; charset=utf-8", **self._auth},
            key=notification.key,
            inspect=_read_api_reply if api else None,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._delivery.aclose()

    def _body(self, notification: "Notification", *, api: bool) -> bytes:
        if self._template is not None:
            variables = {**template_variables(notification), "slack_channel": self._spec.channel}
            return self._template.render_json(variables).encode("utf-8")
        payload = slack_payload(notification, channel=self._spec.channel if api else None)
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def build(name: str, spec: "SlackSpec", *, clock: "Clock") -> SlackChannel:
    """The registry's factory for ``kind: slack``."""
    return SlackChannel(name, spec, clock=clock)
