"""The protocol every delivery channel meets, built-in or plugin."""

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gnomon.actions.models import Attempt, Notification

__all__ = ["Channel"]


class Channel(Protocol):
    """Delivers notifications to one receiver, one attempt per call.

    Attributes:
        name: the channel's name in the spec.
        kind: ``webhook``, ``email``, ``slack``, ``pagerduty``, ``teams`` or a plugin's kind.
        endpoint: what a circuit breaker keys on (``https://hooks.example.com``,
            ``smtp://mail.example.com:587``); it never contains a secret, so it may be logged.
    """

    name: str
    kind: str
    endpoint: str

    async def send(self, notification: "Notification", /) -> "Attempt":
        """Make one delivery attempt and describe it.

        Never raises for a delivery problem (refused connection, timeout, a 4xx, a template
        that does not render): those come back as an attempt with outcome ``retry`` or
        ``failed``. Retrying is the caller's decision.
        """
        ...

    async def aclose(self) -> None:
        """Close pooled connections; the channel is not used afterwards."""
        ...
