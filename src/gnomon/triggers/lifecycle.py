"""The alert lifecycle: pending → firing → resolved, one alert per rule and key.

A rule's signals (see :mod:`gnomon.triggers.windows`) make alerts. An alert is identified by its
**fingerprint** — the tenant, the rule and the key values — so a condition that keeps holding
keeps one alert instead of raising a new one each time (de-duplication). A rule with ``for``
holds its alert *pending* until the condition has held that long; then it *fires*. An alert
*resolves* when its condition stops holding: for rules judged on a state (KPI values, anomalies,
quality results), when an evaluation that covered its key found the condition false; for rules
on events, after ``resolve_after`` without a new signal. A pending alert that stops holding is
dropped without ever having been told. Acknowledging an alert stops its repeats and escalation;
it still resolves.

:func:`step` is pure: alerts and signals in, alerts and transitions out, time given. The trigger
service stores the alerts and turns transitions into notifications in the same transaction.
"""

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from gnomon.triggers.specs import RuleSpec
from gnomon.triggers.windows import Key, Signal

__all__ = [
    "Alert",
    "AlertState",
    "StepResult",
    "Transition",
    "acknowledge",
    "fingerprint",
    "notified",
    "step",
]

AlertState = Literal["pending", "firing", "resolved"]
TransitionKind = Literal["firing", "resolved", "repeat", "escalate"]


def fingerprint(tenant: str, rule: str, key: Key) -> str:
    """The identity of a rule's alert for a key: 32 hex digits of a SHA-256."""
    canonical = json.dumps([tenant, rule, list(key)], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: its identity, where it is in its life, and what it last said."""

    fingerprint: str
    tenant: str
    rule: str
    key: Key
    state: AlertState
    started_at: datetime
    last_active_at: datetime
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    last_notified_at: datetime | None = None
    escalation_level: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Transition:
    """Something to tell about an alert: it fired, resolved, is still firing, or escalates.

    ``level`` is the escalation step reached (1 for the first), 0 otherwise.
    """

    kind: TransitionKind
    alert: Alert
    at: datetime
    level: int = 0


@dataclass(frozen=True, slots=True)
class StepResult:
    """The alerts after a step (changed or new ones, the dropped pending ones removed)."""

    alerts: Mapping[str, Alert]
    dropped: tuple[str, ...]
    transitions: tuple[Transition, ...]


def step(
    spec: RuleSpec,
    *,
    tenant: str,
    rule: str,
    alerts: Mapping[str, Alert],
    signals: Iterable[Signal],
    now: datetime,
    evaluated: Sequence[Key] | None = None,
    resolve_after: timedelta = timedelta(minutes=5),
) -> StepResult:
    """Advance one rule's alerts to ``now``.

    Args:
        spec: the rule.
        tenant: whose alerts these are.
        rule: the rule's name.
        alerts: the rule's alerts that are not resolved, by fingerprint.
        signals: where the rule is active, in time order.
        now: the time of this step (after every signal).
        evaluated: for rules judged on a state, the keys this evaluation covered (a key among
            them without a signal no longer holds); ``None`` for rules on events.
        resolve_after: for rules on events, how long without a signal resolves an alert.
    """
    current = dict(alerts)
    transitions: list[Transition] = []
    signalled: set[str] = set()
    for signal in signals:
        print_ = fingerprint(tenant, rule, signal.key)
        signalled.add(print_)
        current[print_], fired = _active(current.get(print_), signal, spec, tenant, rule)
        if fired is not None:
            transitions.append(fired)
    covered = None if evaluated is None else {fingerprint(tenant, rule, k) for k in evaluated}
    dropped: list[str] = []
    for print_, alert in list(current.items()):
        if print_ in signalled or alert.state == "resolved":
            continue
        if covered is not None:
            over = print_ in covered
        else:
            over = now - alert.last_active_at >= resolve_after
        if not over:
            continue
        if alert.state == "pending":
            dropped.append(print_)
            del current[print_]
            continue
        resolved = replace(alert, state="resolved", resolved_at=now)
        current[print_] = resolved
        transitions.append(Transition("resolved", resolved, now))
    for print_, alert in list(current.items()):
        reminder = _reminder(alert, spec, now)
        if reminder is not None:
            current[print_] = reminder.alert
            transitions.append(reminder)
    return StepResult(alerts=current, dropped=tuple(dropped), transitions=tuple(transitions))


def acknowledge(alert: Alert, *, by: str, at: datetime) -> Alert:
    """The alert acknowledged: no more repeats or escalation, until it resolves."""
    return replace(alert, acknowledged_at=at, acknowledged_by=by)


def notified(alert: Alert, at: datetime) -> Alert:
    """The alert after a notification about it was queued (repeats count from here)."""
    return replace(alert, last_notified_at=at)


def _active(
    found: Alert | None, signal: Signal, spec: RuleSpec, tenant: str, rule: str
) -> tuple[Alert, Transition | None]:
    """The alert for a signal: new (pending or firing), promoted, or kept active."""
    if found is None or found.state == "resolved":
        pending = spec.pending_for is not None and spec.pending_for > timedelta(0)
        alert = Alert(
            fingerprint=fingerprint(tenant, rule, signal.key),
            tenant=tenant,
            rule=rule,
            key=signal.key,
            state="pending" if pending else "firing",
            started_at=signal.time,
            last_active_at=signal.time,
            fired_at=None if pending else signal.time,
            reason=signal.reason,
        )
        return alert, (None if pending else Transition("firing", alert, signal.time))
    latest = max(found.last_active_at, signal.time)
    alert = replace(found, last_active_at=latest, reason=signal.reason)
    held = spec.pending_for or timedelta(0)
    if alert.state == "pending" and alert.last_active_at - alert.started_at >= held:
        alert = replace(alert, state="firing", fired_at=signal.time)
        return alert, Transition("firing", alert, signal.time)
    return alert, None


def _reminder(alert: Alert, spec: RuleSpec, now: datetime) -> Transition | None:
    """An escalation step reached, or a repeat due, for a firing unacknowledged alert."""
    if alert.state != "firing" or alert.acknowledged_at is not None or alert.fired_at is None:
        return None
    reached = sum(1 for s in spec.escalation if now - alert.fired_at >= s.after)
    if reached > alert.escalation_level:
        escalated = replace(alert, escalation_level=reached)
        return Transition("escalate", escalated, now, level=reached)
    last = alert.last_notified_at or alert.fired_at
    if now - last >= spec.repeat_interval:
        repeated = replace(alert, last_notified_at=now)
        return Transition("repeat", repeated, now)
    return None
