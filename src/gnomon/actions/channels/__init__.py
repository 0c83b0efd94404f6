"""The built-in channels, by kind, and :func:`build_channel`, which makes one from its spec.

Built-ins are imported when first built, so a process that sends only webhooks never imports
the SMTP client. Plugin channels register a factory under the entry-point group
``gnomon.channels``; a factory takes ``(name, spec, *, clock)`` and returns a
:class:`gnomon.actions.protocols.Channel`.
"""

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gnomon.actions.specs import ChannelSpec, parse_channel, resolve_environment
from gnomon.clock import SystemClock
from gnomon.registry import Registry

if TYPE_CHECKING:
    from gnomon.actions.protocols import Channel
    from gnomon.clock import Clock

__all__ = ["build_channel", "channel_kinds"]

_registry: "Registry[Channel]" = Registry("channel kind", entry_point_group="gnomon.channels")
for _kind in ("database", "email", "pagerduty", "plugin", "slack", "teams", "webhook"):
    _registry.add_lazy(_kind, f"gnomon.actions.channels.{_kind}:build")

ChannelFactory = Callable[..., "Channel"]


def channel_kinds() -> list[str]:
    """Every kind that can be built: the built-ins and installed plugins."""
    return _registry.names()


def build_channel(
    name: str,
    spec: ChannelSpec | Mapping[str, object],
    *,
    env: Mapping[str, str] | None = None,
    clock: "Clock | None" = None,
) -> "Channel":
    """Build the channel a spec describes, with its ``${NAME}`` references resolved.

    Args:
        name: the channel's name, as under ``channels:``.
        spec: a parsed spec, or the mapping from YAML (parsed here).
        env: where ``${NAME}`` references are looked up; the process environment by default.
        clock: the time source for signatures, token expiry and Retry-After dates.

    Raises:
        ChannelSpecError: the spec is not valid (an unknown ``kind`` lists the known kinds).
        MissingEnvironment: a referenced environment variable is not set; it is named.
        InvalidInput: no channel of that kind is registered; the message lists the kinds.

    >>> channel = build_channel(
    ...     "ops", {"kind": "webhook", "url": "${HOOK}"}, env={"HOOK": "https://example.com/h"}
    ... )
    >>> channel.kind, channel.endpoint
    ('webhook', 'https://example.com:443')
    """
    parsed = parse_channel(name, spec) if isinstance(spec, Mapping) else spec
    resolved = resolve_environment(name, parsed, os.environ if env is None else env)
    factory: ChannelFactory = _registry.get(resolved.kind)
    return factory(name, resolved, clock=SystemClock() if clock is None else clock)
