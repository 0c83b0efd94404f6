"""Trigger rules, the alerts they raise, silences, and events sent for the rules to judge.

Everything acts for the caller's tenant: another tenant's alert or silence is not found (404),
never forbidden. A rule stored here goes through the same checks as ``gnomon apply`` (it must
chain with the tenant's other rules); a bad one stores nothing and answers 422 with each
problem located (``rules.<name>.condition``, line and column).

Events are only queued: the rules judge them at the next evaluation (``gnomon triggers run``
or the trigger loop), which is also when alerts fire and notifications are queued.
"""

import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from gnomon.api.schemas import (
    ERROR_RESPONSES,
    Page,
    PageQuery,
    cursor_key,
    next_cursor,
    operation_id,
    own_tenant,
    paginate,
    sort_stamp,
    state_of,
)
from gnomon.api.security import requires
from gnomon.context import RequestContext
from gnomon.errors import InvalidInput
from gnomon.specfiles import parse_duration
from gnomon.triggers.service import MAX_EVENTS_PER_CALL, rule_row

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["triggers"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)

MAX_SILENCE = timedelta(days=366)
"""The longest silence: one that should last longer is a rule to disable (``enabled: false``)."""

RuleName = Annotated[str, Path(min_length=1, max_length=128)]
AlertId = Annotated[int, Path(ge=1, le=2**63 - 1)]
SilenceId = Annotated[str, Path(min_length=1, max_length=64)]


# ---------------------------------------------------------------- rules


class TriggerSummary(BaseModel):
    """A rule in a listing."""

    name: str
    on: str
    condition: str | None
    severity: str
    notify: list[str]
    enabled: bool
    source: str = Field(description="Where it was written: a triggers/*.yaml file, or <api>.")


class TriggerPublic(TriggerSummary):
    """A rule as checked (a template expanded, defaults filled in) and as written."""

    description: str
    spec: dict[str, Any] = Field(description="Every setting of the rule, as it is judged.")
    written: dict[str, Any] = Field(description="The rule as it was written.")


class RuleChange(BaseModel):
    """What storing a rule did: ``created``, ``updated``, ``unchanged`` or ``retired``."""

    kind: str
    name: str
    version: int
    change: str


class TriggerTestRequest(BaseModel):
    """An event to try a rule on; ``type`` and ``time`` may be given among its fields."""

    event: dict[str, Any] = Field(description='The event\'s data, e.g. {"amount": 1200}.')


class TriggerTestPublic(BaseModel):
    """Whether the rule's condition holds for the event; nothing is stored or sent."""

    rule: str
    on: str
    matches_type: bool
    condition: str | None
    holds: bool
    key: list[str]
    stateful: str | None = Field(
        description="occurrences, trend or absence: whether it fires depends on other events."
    )
    would_fire: bool


@router.get("/triggers", response_model=Page[TriggerSummary])
def list_triggers(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("triggers:read")]
) -> Page[TriggerSummary]:
    """The tenant's trigger rules, by name."""
    rules = state_of(request).app.triggers.rules(ctx=ctx)
    chunk, cursor = paginate(
        request, rules, page=page, ctx=ctx, listing="triggers", key=lambda r: (r.name,)
    )
    return Page(items=[TriggerSummary(**rule_row(r)) for r in chunk], next_cursor=cursor)


@router.get("/triggers/{name}", response_model=TriggerPublic)
def get_trigger(
    name: RuleName, request: Request, ctx: Annotated[RequestContext, requires("triggers:read")]
) -> TriggerPublic:
    """A rule in full, as checked (a template expanded), and as written."""
    rule = state_of(request).app.triggers.rule(name, ctx=ctx)
    return TriggerPublic(
        **rule_row(rule),
        description=rule.spec.description,
        spec=rule.spec.model_dump(mode="json", by_alias=True),
        written=dict(rule.written),
    )


@router.put("/triggers/{name}", response_model=RuleChange)
def put_trigger(
    name: RuleName,
    written: Annotated[
        dict[str, Any],
        Body(description="The rule as it would be written under rules: in triggers/*.yaml."),
    ],
    request: Request,
    ctx: Annotated[RequestContext, requires("triggers:write")],
) -> RuleChange:
    """Create or replace a rule; checked with the tenant's other rules first (422 if bad)."""
    app = state_of(request).app
    with own_tenant(ctx):
        row = app.triggers.put_rule(name, written, ctx=ctx)
    if row["change"] != "unchanged":
        app.audit.record(ctx, "trigger.put", target=name, version=row["version"])
    return RuleChange.model_validate(row)


@router.delete("/triggers/{name}", status_code=204, response_class=Response)
def delete_trigger(
    name: RuleName, request: Request, ctx: Annotated[RequestContext, requires("triggers:write")]
) -> Response:
    """Retire a rule; refused (422) while other rules follow it. Its open alerts stay."""
    app = state_of(request).app
    app.triggers.delete_rule(name, ctx=ctx)
    app.audit.record(ctx, "trigger.delete", target=name)
    return Response(status_code=204)


@router.post("/triggers/{name}/test", response_model=TriggerTestPublic)
def test_trigger(
    name: RuleName,
    body: TriggerTestRequest,
    request: Request,
    ctx: Annotated[RequestContext, requires("triggers:read")],
) -> TriggerTestPublic:
    """Whether a rule's condition holds for an event; nothing is stored or sent."""
    try:
        result = state_of(request).app.triggers.test(name, body.event, ctx=ctx)
    except (pa.ArrowException, OverflowError) as exc:
        raise _not_judgeable(None, exc) from exc
    return TriggerTestPublic.model_validate(result)


# ---------------------------------------------------------------- events


class EventCreate(BaseModel):
    """One event: a dotted type of your own (``shop.order.created``) and its data."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(min_length=1, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict)


class EventBatchCreate(BaseModel):
    """Several events, stored all together or (one being invalid) none of them."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventCreate] = Field(min_length=1, max_length=MAX_EVENTS_PER_CALL)


class EventPublic(BaseModel):
    """A stored event, waiting for the rules' next evaluation."""

    id: str
    type: str
    time: datetime


class EventsAccepted(BaseModel):
    """The stored events, in the order sent."""

    ids: list[str]
    events: list[EventPublic]


def _not_judgeable(position: int | None, exc: Exception) -> InvalidInput:
    where = "" if position is None else f"Event {position}: "
    return InvalidInput(
        f"{where}the event data cannot be judged by rules: {exc}.",
        hint="Give each field values of one type (a list holds one type of item) and keep "
        "whole numbers within 64 bits.",
    )


def _check_judgeable(events: list[EventCreate]) -> None:
    """Refuse data the rules could not read as a row, so it never blocks the events after it."""
    for position, event in enumerate(events):
        try:
            pa.Table.from_pylist([event.data])
        except (pa.ArrowException, OverflowError) as exc:
            raise _not_judgeable(position if len(events) > 1 else None, exc) from exc


@router.post("/events", response_model=EventsAccepted, status_code=202)
def send_events(
    body: EventCreate | EventBatchCreate,
    request: Request,
    ctx: Annotated[RequestContext, requires("events:write")],
) -> EventsAccepted:
    """Send one event, or up to 1000 together (all or none); rules see them at the next run."""
    events = body.events if isinstance(body, EventBatchCreate) else [body]
    _check_judgeable(events)
    with own_tenant(ctx):
        stored = state_of(request).app.triggers.publish_many(
            [(e.type, e.data) for e in events], ctx=ctx
        )
    return EventsAccepted(
        ids=[str(s["id"]) for s in stored], events=[EventPublic(**s) for s in stored]
    )


# ---------------------------------------------------------------- alerts


class AttemptPublic(BaseModel):
    """One delivery attempt of a notification."""

    number: int
    outcome: str
    status_code: int | None
    latency_ms: float | None
    error: str | None
    response_excerpt: str
    finished_at: datetime | None


class DeliveryPublic(BaseModel):
    """A notification of the alert to one channel, and how far it got."""

    channel: str
    state: str = Field(description="What it told: firing, resolved or acknowledged.")
    status: str = Field(description="pending, delivering, delivered, failed or dead.")
    attempts: int
    idempotency_key: str
    created_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


class DeliveryDetail(DeliveryPublic):
    """A notification with every attempt made to deliver it."""

    log: list[AttemptPublic]


class _AlertFields(BaseModel):
    id: int
    rule: str
    state: str
    severity: str
    fingerprint: str
    key: list[str]
    labels: dict[str, str]
    reason: str | None
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalation_level: int


class AlertPublic(_AlertFields):
    """An alert of a rule for one key, with its notifications."""

    deliveries: list[DeliveryPublic]


class AlertDetail(_AlertFields):
    """An alert with each notification's delivery attempts."""

    deliveries: list[DeliveryDetail]


@router.get("/alerts", response_model=Page[AlertPublic])
def list_alerts(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("alerts:read")],
    state: Annotated[Literal["pending", "firing", "resolved"] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
) -> Page[AlertPublic]:
    """The tenant's alerts, newest first, each with its deliveries."""
    listing = "alerts:" + json.dumps([state, rule])
    after = cursor_key(request, page, ctx=ctx, listing=listing)
    before = after[0] if after and isinstance(after[0], int) else None
    found = state_of(request).app.triggers.alerts(
        ctx=ctx, state=state, rule=rule, limit=page.limit + 1, before=before
    )
    chunk = found[: page.limit]
    items = [AlertPublic.model_validate(row) for row in chunk]
    more = len(found) > page.limit
    cursor = next_cursor(request, (chunk[-1]["id"],), ctx=ctx, listing=listing) if more else None
    return Page(items=items, next_cursor=cursor)


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(
    alert_id: AlertId, request: Request, ctx: Annotated[RequestContext, requires("alerts:read")]
) -> AlertDetail:
    """One alert with every delivery attempt of its notifications."""
    return AlertDetail.model_validate(state_of(request).app.triggers.alert(alert_id, ctx=ctx))


@router.post("/alerts/{alert_id}/ack", response_model=AlertPublic)
def acknowledge_alert(
    alert_id: AlertId, request: Request, ctx: Annotated[RequestContext, requires("alerts:write")]
) -> AlertPublic:
    """Acknowledge a firing alert (422 otherwise): repeats and escalation stop; channels told."""
    app = state_of(request).app
    row = app.triggers.acknowledge(alert_id, ctx=ctx)
    app.audit.record(ctx, "alert.ack", target=str(alert_id))
    return AlertPublic.model_validate(row)


# ---------------------------------------------------------------- silences


class SilenceCreate(BaseModel):
    """Mute the alerts whose labels match every matcher, for a while."""

    matchers: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        min_length=1,
        max_length=50,
        description='Label matchers: rule=x, region!=EU, rule=~"kpi_.*", env!~"test|dev".',
    )
    duration: str = Field(
        default="2h", max_length=32, description="How long: 30m, 2h, 1d (units s, m, h, d, w)."
    )
    comment: str = Field(default="", max_length=1000, description="Why (shown in listings).")


class SilencePublic(BaseModel):
    """A silence; ``active`` while it holds: from ``starts_at`` until (not at) ``ends_at``."""

    id: str
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    active: bool
    created_by: str | None
    comment: str


def _span(text: str) -> timedelta:
    try:
        span = parse_duration(text)
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"duration {text!r} is not a duration such as 90m, 36h or 3d.",
            hint="Write a whole number and one unit: s, m, h, d or w.",
        ) from None
    if span > MAX_SILENCE:
        raise InvalidInput(
            f"duration {text!r} is longer than a silence may last ({MAX_SILENCE.days}d).",
            hint="Silence for less, or disable the rule (enabled: false) instead.",
        )
    return span


@router.get("/silences", response_model=Page[SilencePublic])
def list_silences(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("alerts:read")],
    active: Annotated[bool, Query(description="Only those in force now.")] = False,
) -> Page[SilencePublic]:
    """The tenant's silences, newest first."""
    rows = state_of(request).app.triggers.silences(ctx=ctx, active=active)
    chunk, cursor = paginate(
        request,
        rows,
        page=page,
        ctx=ctx,
        listing="silences:" + json.dumps(active),
        key=lambda s: (sort_stamp(datetime.fromisoformat(s["starts_at"])), str(s["id"])),
        descending=True,
    )
    return Page(items=[SilencePublic.model_validate(s) for s in chunk], next_cursor=cursor)


@router.post("/silences", response_model=SilencePublic, status_code=201)
def create_silence(
    body: SilenceCreate,
    request: Request,
    ctx: Annotated[RequestContext, requires("alerts:write")],
) -> SilencePublic:
    """Silence matching alerts: they still fire and resolve, but nobody is told."""
    app = state_of(request).app
    span = _span(body.duration)
    with own_tenant(ctx):
        row = app.triggers.silence(body.matchers, duration=span, comment=body.comment, ctx=ctx)
    app.audit.record(ctx, "silence.create", target=str(row["id"]), matchers=row["matchers"])
    return SilencePublic.model_validate(row)


@router.delete("/silences/{silence_id}", response_model=SilencePublic)
def end_silence(
    silence_id: SilenceId,
    request: Request,
    ctx: Annotated[RequestContext, requires("alerts:write")],
) -> SilencePublic:
    """End a silence now; it stays listed, ended. Answers the silence as it is now."""
    app = state_of(request).app
    row = app.triggers.expire_silence(silence_id, ctx=ctx)
    app.audit.record(ctx, "silence.expire", target=silence_id)
    return SilencePublic.model_validate(row)
