"""Actions: alert notifications delivered by webhook, e-mail, Slack, PagerDuty and Teams.

A channel makes one attempt per ``send`` and reports it as an :class:`Attempt`; retries,
idempotency and the record of attempts belong to the :class:`Dispatcher`, which delivers the
durable outbox (:func:`enqueue` adds to it), schedules with :func:`next_delay` and holds back
a failing receiver with :class:`CircuitBreaker`.
"""

from gnomon.actions.backoff import DEFAULT_BACKOFF, BackoffPolicy, next_delay
from gnomon.actions.breaker import BreakerState, CircuitBreaker
from gnomon.actions.channels import build_channel, channel_kinds
from gnomon.actions.dispatcher import Dispatcher, DispatchReport, enqueue, notification_from
from gnomon.actions.errors import ChannelSpecError, MissingEnvironment
from gnomon.actions.models import AlertState, Attempt, AttemptOutcome, Notification
from gnomon.actions.protocols import Channel
from gnomon.actions.specs import (
    KINDS,
    ChannelSpec,
    EmailSpec,
    PagerDutySpec,
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
    "DispatchReport",
    "Dispatcher",
    "EmailSpec",
    "MissingEnvironment",
    "Notification",
    "PagerDutySpec",
    "PayloadTemplate",
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
