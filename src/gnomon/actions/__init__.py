"""Actions: alert notifications delivered by webhook, e-mail, Slack, PagerDuty, Teams, plugins, SQL.

Plugins are Python functions run in a limited subprocess per attempt; database actions run SQL
in one transaction, at most once per idempotency key, and compensate when the alert resolves.

A channel makes one attempt per ``send`` and reports it as an :class:`Attempt`; retries,
idempotency and the record of attempts belong to the :class:`Dispatcher`, which delivers the
durable outbox (:func:`enqueue` adds to it), schedules with :func:`next_delay` and holds back
a failing receiver with :class:`CircuitBreaker`.

The names below are imported on first use: a plugin's host process, started for every attempt,
imports :mod:`gnomon.actions._plugin_host` without loading the catalog, SQLAlchemy, httpx and
Jinja (about a second of start-up, and address space counted against the plugin's memory).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnomon.actions.backoff import DEFAULT_BACKOFF, BackoffPolicy, next_delay
    from gnomon.actions.breaker import BreakerState, CircuitBreaker
    from gnomon.actions.channels import build_channel, channel_kinds
    from gnomon.actions.dispatcher import Dispatcher, DispatchReport, enqueue, notification_from
    from gnomon.actions.errors import ChannelSpecError, MissingEnvironment, PluginRetry
    from gnomon.actions.models import AlertState, Attempt, AttemptOutcome, Notification
    from gnomon.actions.protocols import Channel
    from gnomon.actions.specs import (
        KINDS,
        ChannelSpec,
        DatabaseSpec,
        EmailSpec,
        PagerDutySpec,
        PluginSpec,
        SlackSpec,
        TeamsSpec,
        WebhookSpec,
        load_channels,
        parse_channel,
        parse_channels,
    )
    from gnomon.actions.templates import PayloadTemplate, TemplateRenderError

__all__ = [
    "DEFAULT_BACKOFF",
    "KINDS",
    "AlertState",
    "Attempt",
    "AttemptOutcome",
    "BackoffPolicy",
    "BreakerState",
    "Channel",
    "ChannelSpec",
    "ChannelSpecError",
    "CircuitBreaker",
    "DatabaseSpec",
    "DispatchReport",
    "Dispatcher",
    "EmailSpec",
    "MissingEnvironment",
    "Notification",
    "PagerDutySpec",
    "PayloadTemplate",
    "PluginRetry",
    "PluginSpec",
    "SlackSpec",
    "TeamsSpec",
    "TemplateRenderError",
    "WebhookSpec",
    "build_channel",
    "channel_kinds",
    "enqueue",
    "load_channels",
    "next_delay",
    "notification_from",
    "parse_channel",
    "parse_channels",
]

_HOMES = {
    "DEFAULT_BACKOFF": "backoff",
    "KINDS": "specs",
    "AlertState": "models",
    "Attempt": "models",
    "AttemptOutcome": "models",
    "BackoffPolicy": "backoff",
    "BreakerState": "breaker",
    "Channel": "protocols",
    "ChannelSpec": "specs",
    "ChannelSpecError": "errors",
    "CircuitBreaker": "breaker",
    "DatabaseSpec": "specs",
    "DispatchReport": "dispatcher",
    "Dispatcher": "dispatcher",
    "EmailSpec": "specs",
    "MissingEnvironment": "errors",
    "Notification": "models",
    "PagerDutySpec": "specs",
    "PayloadTemplate": "templates",
    "PluginRetry": "errors",
    "PluginSpec": "specs",
    "SlackSpec": "specs",
    "TeamsSpec": "specs",
    "TemplateRenderError": "templates",
    "WebhookSpec": "specs",
    "build_channel": "channels",
    "channel_kinds": "channels",
    "enqueue": "dispatcher",
    "load_channels": "specs",
    "next_delay": "backoff",
    "notification_from": "dispatcher",
    "parse_channel": "specs",
    "parse_channels": "specs",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gnomon.actions' has no attribute {name!r}")
    return getattr(import_module(f"gnomon.actions.{home}"), name)
