"""The alert lifecycle: pending, firing, resolved; one alert per key; repeats and escalation."""

from datetime import UTC, datetime, timedelta

from gnomon.triggers import RuleSpec
from gnomon.triggers.lifecycle import Alert, StepResult, acknowledge, fingerprint, notified, step
from gnomon.triggers.windows import Signal

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _spec(**fields: object) -> RuleSpec:
    return RuleSpec.model_validate({"on": "event", "condition": "true", **fields})


def _step(spec: RuleSpec, alerts: dict[str, Alert], signals: list[Signal], now: float,
          **kwargs: object) -> StepResult:  # fmt: skip
    return step(spec, tenant="t", rule="r", alerts=alerts, signals=signals, now=_at(now),
                **kwargs)  # type: ignore[arg-type]  # fmt: skip


def test_a_condition_that_keeps_holding_keeps_one_alert() -> None:
    spec = _spec()
    first = _step(spec, {}, [Signal(("DE",), _at(0), "matched")], 0)
    [(print_, alert)] = first.alerts.items()
    assert print_ == fingerprint("t", "r", ("DE",)) and alert.state == "firing"
    assert [t.kind for t in first.transitions] == ["firing"]
    again = _step(spec, dict(first.alerts), [Signal(("DE",), _at(1), "matched")], 1)
    assert again.transitions == () and again.alerts[print_].last_active_at == _at(1)
    other = _step(spec, dict(again.alerts), [Signal(("AT",), _at(2), "matched")], 2)
    assert len(other.alerts) == 2 and [t.alert.key for t in other.transitions] == [("AT",)]
    assert fingerprint("t", "r", ("DE",)) != fingerprint("t2", "r", ("DE",))


def test_pending_for_a_while_then_firing_or_dropped() -> None:
    spec = _spec(**{"for": "5m"})
    started = _step(spec, {}, [Signal((), _at(0), "matched")], 0)
    [alert] = started.alerts.values()
    assert alert.state == "pending" and started.transitions == ()
    held = _step(spec, dict(started.alerts), [Signal((), _at(3), "matched")], 3)
    assert next(iter(held.alerts.values())).state == "pending"
    fired = _step(spec, dict(held.alerts), [Signal((), _at(5), "matched")], 5)
    assert [(t.kind, t.at) for t in fired.transitions] == [("firing", _at(5))]
    # A pending alert whose condition stopped is dropped, never told.
    stopped = _step(spec, dict(started.alerts), [], 20)
    assert stopped.alerts == {} and stopped.dropped and stopped.transitions == ()


def test_event_rules_resolve_after_a_quiet_spell() -> None:
    spec = _spec()
    fired = _step(spec, {}, [Signal((), _at(0), "matched")], 0)
    quiet = _step(spec, dict(fired.alerts), [], 4)
    assert quiet.transitions == ()
    resolved = _step(spec, dict(fired.alerts), [], 5)
    [transition] = resolved.transitions
    assert transition.kind == "resolved" and transition.alert.resolved_at == _at(5)
    # After resolving, the same key starts a new alert (same fingerprint, new life).
    again = _step(spec, dict(resolved.alerts), [Signal((), _at(9), "matched")], 9)
    [(kind, alert)] = [(t.kind, t.alert) for t in again.transitions]
    assert kind == "firing" and alert.started_at == _at(9) and alert.resolved_at is None


def test_state_rules_resolve_when_an_evaluation_covering_the_key_finds_it_false() -> None:
    spec = RuleSpec.model_validate({"on": "kpi", "metrics": ["revenue"], "condition": "true"})
    fired = _step(spec, {}, [Signal(("EMEA",), _at(0), "matched")], 0, evaluated=[("EMEA",)])
    # An evaluation that did not cover EMEA (another segment refreshed) leaves it firing.
    other = _step(spec, dict(fired.alerts), [], 60, evaluated=[("APAC",)])
    assert other.transitions == ()
    over = _step(spec, dict(fired.alerts), [], 61, evaluated=[("EMEA",), ("APAC",)])
    assert [t.kind for t in over.transitions] == ["resolved"]


def test_repeats_and_escalation_until_acknowledged() -> None:
    spec = _spec(
        repeat_interval="1h",
        escalation=[{"after": "15m", "notify": ["pager"]}, {"after": "45m", "notify": ["cto"]}],
    )
    fired = _step(spec, {}, [Signal((), _at(0), "matched")], 0)
    alerts = {k: notified(a, _at(0)) for k, a in fired.alerts.items()}
    kinds = []
    for minute in (10, 15, 20, 45, 50, 60):
        result = _step(spec, alerts, [Signal((), _at(minute), "matched")], minute)
        alerts = dict(result.alerts)
        kinds += [(minute, t.kind, t.level) for t in result.transitions]
    assert kinds == [(15, "escalate", 1), (45, "escalate", 2), (60, "repeat", 0)]
    [print_] = alerts
    alerts[print_] = acknowledge(alerts[print_], by="ana", at=_at(61))
    later = _step(spec, alerts, [Signal((), _at(200), "matched")], 200)
    assert later.transitions == (), "acknowledged: no more repeats"
    assert later.alerts[print_].acknowledged_by == "ana"
