"""Microsoft Teams: an Adaptive Card posted to an incoming webhook.

Teams' incoming webhooks (a Workflows flow started by "When a Teams webhook request is
received", which replaced the retired Office 365 connectors) take a ``message`` whose attachment
is an Adaptive Card, and answer 202 once they have accepted it. The webhook URL carries its own
signature, so it is a secret and never appears in an attempt or a log.
"""

import json
from typing import TYPE_CHECKING, Any, Final

from gnomon.actions.channels._http import HttpDelivery, endpoint_of
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
    from gnomon.actions.specs import TeamsSpec
    from gnomon.clock import Clock

__all__ = ["TeamsChannel", "build", "teams_message"]

ADAPTIVE_CARD: Final = "application/vnd.microsoft.card.adaptive"
_MAX_ACTIONS: Final = 5
_COLOURS: Final = {"critical": "Attention", "error": "Attention", "warning": "Warning"}


def _colour(notification: "Notification") -> str:
    if notification.state == "resolved":
        return "Good"
    if notification.state == "acknowledged":
        return "Accent"
    return _COLOURS.get(notification.severity.lower(), "Default")


def teams_message(notification: "Notification") -> dict[str, Any]:
    """The default message: the title, the summary, a fact set, and a button per link."""
    n = notification
    facts = [
        {"title": "State", "value": n.state},
        {"title": "Severity", "value": n.severity},
        {"title": "Rule", "value": n.rule},
        *({"title": key, "value": value} for key, value in sorted(n.labels.items())),
        {"title": "Tenant", "value": n.tenant},
        {"title": "Time", "value": n.created_at.isoformat()},
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {
                "type": "TextBlock",
                "text": n.title,
                "weight": "Bolder",
                "size": "Medium",
                "color": _colour(n),
                "wrap": True,
            },
            {"type": "TextBlock", "text": n.summary, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    actions = [
        {"type": "Action.OpenUrl", "title": link["title"], "url": link["url"]}
        for link in links_of(n.data)[:_MAX_ACTIONS]
    ]
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}],
    }


class TeamsChannel:
    """Posts Adaptive Cards to one Teams incoming webhook."""

    kind = "teams"

    def __init__(self, name: str, spec: "TeamsSpec", *, clock: "Clock") -> None:
        self.name = name
        self._url = spec.url.get_secret_value()
        self.endpoint = endpoint_of(self._url)
        self._delivery = HttpDelivery(spec, clock=clock, secrets=secret_values(spec))
        self._template = None if spec.template is None else PayloadTemplate(spec.template)

    def __repr__(self) -> str:
        return f"TeamsChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Post the card once and say how it went."""
        try:
            if self._template is not None:
                text = self._template.render_json(template_variables(notification))
            else:
                text = json.dumps(teams_message(notification), ensure_ascii=False)
        except TemplateRenderError as exc:
            return Attempt(outcome="failed", error=str(exc))
        return await self._delivery.deliver(
            method="POST",
            url=self._url,
            body=text.encode("utf-8"),
            headers={"Content-Type": "application/json"},
            key=notification.key,
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._delivery.aclose()


def build(name: str, spec: "TeamsSpec", *, clock: "Clock") -> TeamsChannel:
    """The registry's factory for ``kind: teams``."""
    return TeamsChannel(name, spec, clock=clock)
