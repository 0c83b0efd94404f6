"""The trigger service over a real (SQLite) catalog: rules stored, events judged, alerts told."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gnomon.catalog import Catalog
from gnomon.clock import FixedClock
from gnomon.context import RequestContext
from gnomon.errors import InvalidInput, NotFound
from gnomon.insights import ANOMALY_EVENT
from gnomon.triggers import RuleDefinitionError
from gnomon.triggers.service import TriggerService

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CTX = RequestContext.system("acme")
OTHER = RequestContext.system("globex")

RULES = """\
rules:
  big_order:
    on: event
    match: ["shop.order.*"]
    condition: amount > 1000
    key: [country]
    severity: critical
    labels: {team: sales}
    notify: [ops, mail]
  failed_logins:
    on: event
    match: [auth.login.failed]
    condition: "true"
    key: [user]
    occurrences: {count: 3, within: 10m}
    notify: [ops]
  heartbeat:
    on: event
    match: [agent.heartbeat]
    key: [agent]
    absence: {within: 10m}
    notify: [ops]
  follow_big_order:
    on: alert
    match: [big_order]
    condition: state = 'firing' AND severity = 'critical'
    notify: [pager]
  quality:
    template: quality_failure
    params: {datasets: [orders]}
    overrides: {notify: [ops]}
  spike:
    on: anomaly
    metrics: [revenue]
    condition: score >= 0.99 AND direction = 'down'
    key: [metric]
    notify: [ops]
"""


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def catalog(tmp_path: Path, clock: FixedClock) -> Iterator[Catalog]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}", clock=clock)
    catalog.migrate()
    with catalog.transaction() as tx:
        tx.tenants.ensure("acme")
        tx.tenants.ensure("globex")
    yield catalog
    catalog.dispose()


def service(
    catalog: Catalog, tmp_path: Path, clock: FixedClock, text: str = RULES, **kwargs: Any
) -> TriggerService:
    folder = tmp_path / "triggers"
    folder.mkdir(exist_ok=True)
    (folder / "rules.yaml").write_text(text)
    return TriggerService(catalog, triggers_dir=folder, project_dir=tmp_path, clock=clock, **kwargs)


@pytest.fixture
def triggers(catalog: Catalog, tmp_path: Path, clock: FixedClock) -> TriggerService:
    made = service(catalog, tmp_path, clock)
    made.apply(ctx=CTX)
    return made


def notifications(catalog: Catalog, tenant: str = "acme") -> list[Any]:
    with catalog.transaction() as tx:
        return tx.notifications.list(tenant=tenant, limit=1000)


def test_apply_stores_versions_and_retires_removed_rules(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    made = service(catalog, tmp_path, clock)
    first = made.apply(ctx=CTX)
    assert {r["name"]: r["change"] for r in first} == dict.fromkeys(
        ["big_order", "failed_logins", "heartbeat", "follow_big_order", "quality", "spike"],
        "created",
    )
    assert {r["change"] for r in made.apply(ctx=CTX)} == {"unchanged"}
    changed = RULES.replace("amount > 1000", "amount > 2000").replace(
        "  spike:\n    on: anomaly\n    metrics: [revenue]\n"
        "    condition: score >= 0.99 AND direction = 'down'\n    key: [metric]\n"
        "    notify: [ops]\n",
        "",
    )
    (tmp_path / "triggers" / "rules.yaml").write_text(changed)
    planned = made.apply(ctx=CTX, dry_run=True)
    assert {
        r["name"]: (r["change"], r["version"]) for r in planned if r["change"] != "unchanged"
    } == {
        "big_order": ("updated", 2),
        "spike": ("retired", 2),
    }
    assert made.rule("big_order", ctx=CTX).spec.condition == "amount > 1000"
    made.apply(ctx=CTX)
    assert made.rule("big_order", ctx=CTX).spec.condition == "amount > 2000"
    with pytest.raises(NotFound, match="spike"):
        made.rule("spike", ctx=CTX)
    assert made.rules(ctx=OTHER) == []


def test_a_bad_rule_stores_nothing_and_names_its_place(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    bad = RULES + "  broken:\n    on: event\n    condition: amount > AND x\n"
    made = service(catalog, tmp_path, clock, bad)
    with pytest.raises(RuleDefinitionError) as caught:
        made.apply(ctx=CTX)
    assert "rules.broken.condition" in str(caught.value)
    assert made.rules(ctx=CTX) == []


def test_the_semantic_layer_keeps_its_own_definitions_apart(triggers: TriggerService) -> None:
    with triggers._catalog.transaction() as tx:
        kinds = {r.kind for r in tx.definitions.current(tenant="acme")}
    assert kinds == {"trigger"}


def test_an_event_fires_once_per_key_and_resolves_when_quiet(
    triggers: TriggerService, catalog: Catalog, clock: FixedClock
) -> None:
    for amount, country in ((1500, "DE"), (20, "FR"), (5000, "DE")):
        triggers.publish("shop.order.created", {"amount": amount, "country": country}, ctx=CTX)
        clock.advance(timedelta(seconds=1))  # events are judged in the order they were sent
    report = triggers.process()
    assert report.fired == 2  # big_order for DE, and the chained follow_big_order
    alerts = triggers.alerts(ctx=CTX)
    by_rule = {a["rule"]: a for a in alerts}
    assert by_rule["big_order"]["state"] == "firing"
    assert by_rule["big_order"]["key"] == ["DE"]
    assert by_rule["big_order"]["reason"] == "amount > 1000 held (amount=5000)"
    assert by_rule["big_order"]["labels"] == {
        "rule": "big_order",
        "severity": "critical",
        "team": "sales",
        "country": "DE",
    }
    channels = sorted(d["channel"] for d in by_rule["big_order"]["deliveries"])
    assert channels == ["mail", "ops"]
    assert [d["channel"] for d in by_rule["follow_big_order"]["deliveries"]] == ["pager"]
    assert triggers.alerts(ctx=OTHER) == []

    clock.advance(timedelta(minutes=2))
    triggers.publish("shop.order.created", {"amount": 1200, "country": "DE"}, ctx=CTX)
    assert triggers.process().fired == 0
    assert len([n for n in notifications(catalog) if n.rule == "big_order"]) == 2

    clock.advance(timedelta(minutes=6))
    report = triggers.tick()
    assert report.resolved >= 1
    alert = next(a for a in triggers.alerts(ctx=CTX) if a["rule"] == "big_order")
    assert alert["state"] == "resolved"
    states = sorted(n.state for n in notifications(catalog) if n.rule == "big_order")
    assert states == ["firing", "firing", "resolved", "resolved"]
    keys = [n.key for n in notifications(catalog)]
    assert len(keys) == len(set(keys))


def test_occurrences_count_per_key_and_survive_a_restart(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    first = service(catalog, tmp_path, clock)
    first.apply(ctx=CTX)
    for user in ("ann", "ann", "bob"):
        first.publish("auth.login.failed", {"user": user}, ctx=CTX)
    assert first.process().fired == 0
    clock.advance(timedelta(minutes=1))
    restarted = service(catalog, tmp_path, clock)
    restarted.publish("auth.login.failed", {"user": "ann"}, ctx=CTX)
    assert restarted.process().fired == 1
    (alert,) = [a for a in restarted.alerts(ctx=CTX) if a["rule"] == "failed_logins"]
    assert alert["key"] == ["ann"]
    assert "3 times within 10m" in alert["reason"]


def test_an_absence_fires_after_the_window_and_ends_when_the_key_is_back(
    triggers: TriggerService, clock: FixedClock
) -> None:
    triggers.publish("agent.heartbeat", {"agent": "a1"}, ctx=CTX)
    triggers.process()
    clock.advance(timedelta(minutes=5))
    assert triggers.tick().fired == 0
    clock.advance(timedelta(minutes=6))
    assert triggers.tick().fired == 1
    (alert,) = [a for a in triggers.alerts(ctx=CTX) if a["rule"] == "heartbeat"]
    assert (alert["state"], alert["key"]) == ("firing", ["a1"])
    triggers.publish("agent.heartbeat", {"agent": "a1"}, ctx=CTX)
    assert triggers.process().resolved == 1


def test_quality_checks_fire_per_dataset_and_check_and_resolve_when_they_pass(
    triggers: TriggerService, catalog: Catalog
) -> None:
    def ingest_event(passed: bool) -> None:
        with catalog.transaction() as tx:
            tx.outbox.add(
                tenant="acme",
                type="gnomon.ingest.run.succeeded",
                source="/sources/orders",
                data={
                    "dataset": "orders",
                    "run_id": "r1",
                    "checks": [
                        {"rule": "row_count", "severity": "warn", "passed": passed},
                        {"rule": "freshness", "severity": "warn", "passed": True},
                    ],
                },
            )

    ingest_event(passed=False)
    assert triggers.process().fired == 1
    (alert,) = [a for a in triggers.alerts(ctx=CTX) if a["rule"] == "quality"]
    assert alert["key"] == ["orders", "row_count"]
    ingest_event(passed=True)
    assert triggers.process().resolved == 1


def test_anomalies_are_judged_on_their_score_and_direction(
    triggers: TriggerService, catalog: Catalog
) -> None:
    with catalog.transaction() as tx:
        for metric, score, direction in (
            ("revenue", 0.999, "down"),
            ("revenue", 0.999, "up"),
            ("orders", 0.999, "down"),
        ):
            tx.outbox.add(
                tenant="acme",
                type=ANOMALY_EVENT,
                source=f"/metrics/{metric}",
                data={"metric": metric, "score": score, "direction": direction, "segment": {}},
            )
    assert triggers.process().fired == 1
    (alert,) = [a for a in triggers.alerts(ctx=CTX) if a["rule"] == "spike"]
    assert alert["key"] == ["revenue"]


def test_a_silence_keeps_matching_alerts_quiet_until_it_ends(
    triggers: TriggerService, catalog: Catalog, clock: FixedClock
) -> None:
    silence = triggers.silence(["team=sales", "country=~D."], duration=timedelta(hours=1), ctx=CTX)
    assert silence["active"] is True
    triggers.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    triggers.publish("shop.order.created", {"amount": 5000, "country": "FR"}, ctx=CTX)
    report = triggers.process()
    assert report.silenced == 1
    told = {n.fingerprint for n in notifications(catalog) if n.rule == "big_order"}
    fr = next(a for a in triggers.alerts(ctx=CTX) if a["key"] == ["FR"])
    assert told == {fr["fingerprint"]}
    ended = triggers.expire_silence(silence["id"], ctx=CTX)
    assert ended["active"] is False
    assert triggers.silences(ctx=CTX, active=True) == []
    with pytest.raises(InvalidInput):
        triggers.silence(["no operator"], duration=timedelta(hours=1), ctx=CTX)


def test_acknowledging_tells_the_channels_and_stops_repeats(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    text = RULES.replace("labels: {team: sales}", "labels: {team: sales}\n    repeat_interval: 1h")
    made = service(catalog, tmp_path, clock, text)
    made.apply(ctx=CTX)
    made.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    made.process()
    alert = next(a for a in made.alerts(ctx=CTX) if a["rule"] == "big_order")
    clock.advance(timedelta(minutes=30))
    made.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    made.process()
    clock.advance(timedelta(minutes=31))
    made.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    made.process()
    states = [n.payload["data"]["transition"] for n in notifications(catalog) if n.channel == "ops"]
    assert states.count("repeat") == 1
    acked = made.acknowledge(alert["id"], ctx=CTX)
    assert acked["acknowledged_by"] == CTX.principal.user
    assert {n.state for n in notifications(catalog)} >= {"acknowledged"}
    clock.advance(timedelta(hours=2))
    made.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    made.process()
    states = [n.payload["data"]["transition"] for n in notifications(catalog) if n.channel == "ops"]
    assert states.count("repeat") == 1
    with pytest.raises(NotFound):
        made.acknowledge(alert["id"], ctx=OTHER)


def test_a_failed_batch_leaves_events_waiting_and_no_alert_behind(
    triggers: TriggerService, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gnomon.catalog.repositories.outbox import OutboxRepository

    triggers.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)

    def broken(self: OutboxRepository, ids: Any) -> int:
        raise RuntimeError("crash before commit")

    with monkeypatch.context() as patched:
        patched.setattr(OutboxRepository, "mark_published", broken)
        with pytest.raises(RuntimeError):
            triggers.process()
    assert triggers.alerts(ctx=CTX) == []
    assert notifications(catalog) == []
    assert triggers.process().fired == 2
    assert len([n for n in notifications(catalog) if n.rule == "big_order"]) == 2


def test_rules_on_kpis_fire_and_resolve_on_the_latest_values(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    values = {"EU": 800.0, "US": 1500.0}

    def kpis(ctx: RequestContext, metrics: Any, by: Any, changes: Any) -> list[dict[str, Any]]:
        assert (list(metrics), list(by), list(changes)) == (["revenue"], ["region"], [])
        return [
            {"region": r, "revenue": v, "target": 1000.0, "time": START} for r, v in values.items()
        ]

    text = """\
rules:
  low_revenue:
    on: kpi
    metrics: [revenue]
    key: [region]
    condition: revenue < target * 0.9
    notify: [ops]
"""
    made = service(catalog, tmp_path, clock, text, kpis=kpis)
    made.apply(ctx=CTX)
    assert made.evaluate_kpis(ctx=CTX).fired == 1
    (alert,) = made.alerts(ctx=CTX)
    assert alert["key"] == ["EU"]
    clock.advance(timedelta(hours=1))
    assert made.tick().resolved == 0
    values["EU"] = 950.0
    assert made.evaluate_kpis(ctx=CTX).resolved == 1


def test_testing_a_rule_says_whether_it_holds_without_storing_anything(
    triggers: TriggerService,
) -> None:
    hit = triggers.test("big_order", {"amount": 1500, "country": "DE"}, ctx=CTX)
    assert (hit["holds"], hit["would_fire"], hit["key"]) == (True, True, ["DE"])
    miss = triggers.test("big_order", {"amount": 10}, ctx=CTX)
    assert miss["holds"] is False
    counted = triggers.test("failed_logins", {"user": "ann"}, ctx=CTX)
    assert (counted["holds"], counted["stateful"], counted["would_fire"]) == (
        True,
        "occurrences",
        False,
    )
    with pytest.raises(InvalidInput, match="cannot be judged"):
        triggers.test("big_order", {"amount": "lots"}, ctx=CTX)
    assert triggers.alerts(ctx=CTX) == []


@pytest.mark.parametrize("event_type", ["gnomon.alert.firing", "no spaces", "", "a..b"])
def test_publishing_refuses_types_that_are_not_the_users(
    triggers: TriggerService, event_type: str
) -> None:
    with pytest.raises(InvalidInput):
        triggers.publish(event_type, {}, ctx=CTX)


GROUPED = """\
rules:
  big_order:
    on: event
    match: ["shop.order.*"]
    condition: amount > 1000
    key: [country]
    notify: [ops]
    group_interval: 3m
  daily:
    on: event
    match: ["shop.refund.*"]
    condition: "true"
    key: [country]
    notify: [mail]
    digest: 1d
"""


def test_alerts_of_a_group_are_told_together_after_the_first(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    made = service(catalog, tmp_path, clock, GROUPED)
    made.apply(ctx=CTX)
    made.publish("shop.order.created", {"amount": 5000, "country": "DE"}, ctx=CTX)
    assert made.process().notifications == 1
    clock.advance(timedelta(minutes=1))
    for country in ("FR", "IT"):
        made.publish("shop.order.created", {"amount": 5000, "country": country}, ctx=CTX)
    assert made.process().notifications == 0
    clock.advance(timedelta(minutes=1))
    assert made.tick().notifications == 0
    clock.advance(timedelta(minutes=1))  # the group interval (3m) since DE was told
    assert made.tick().notifications == 1
    sent = notifications(catalog)
    assert len(sent) == 2
    group = sent[1]
    assert group.payload["title"] == "2 alerts for big_order: 2 firing"
    assert {a["labels"]["country"] for a in group.payload["data"]["alerts"]} == {"FR", "IT"}
    alerts = {a["key"][0]: a for a in made.alerts(ctx=CTX)}
    assert [d["idempotency_key"] for d in alerts["FR"]["deliveries"]] == [group.key]
    assert [d["idempotency_key"] for d in alerts["IT"]["deliveries"]] == [group.key]
    assert alerts["DE"]["deliveries"][0]["idempotency_key"].startswith(
        f"alert-{alerts['DE']['id']}:firing"
    )
    clock.advance(timedelta(minutes=30))
    assert made.tick().notifications == 1  # all three resolved, told as one
    assert notifications(catalog)[-1].payload["title"] == "3 alerts for big_order: 3 resolved"


def test_a_digest_tells_once_at_the_end_of_its_period(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    made = service(catalog, tmp_path, clock, GROUPED)
    made.apply(ctx=CTX)
    made.publish("shop.refund.created", {"country": "DE"}, ctx=CTX)
    assert made.process().notifications == 0
    clock.advance(timedelta(hours=2))
    made.publish("shop.refund.created", {"country": "AT"}, ctx=CTX)
    assert made.process().notifications == 0
    assert made.tick().notifications == 0
    clock.advance(timedelta(hours=13))  # past midnight UTC: the day's digest is due
    assert made.tick().notifications == 1
    (digest,) = notifications(catalog)
    assert digest.payload["data"]["digest"] is True
    assert digest.payload["title"].startswith("2 alerts for daily")


def test_one_rule_is_put_and_deleted_beside_the_others(triggers: TriggerService) -> None:
    written = {"on": "event", "match": ["shop.*"], "condition": "amount > 5", "notify": ["ops"]}
    assert triggers.put_rule("small", written, ctx=CTX)["change"] == "created"
    assert triggers.put_rule("small", written, ctx=CTX)["change"] == "unchanged"
    assert "small" in {r.name for r in triggers.rules(ctx=CTX)}
    assert len(triggers.rules(ctx=CTX)) == 7
    with pytest.raises(RuleDefinitionError, match="cycle"):
        triggers.put_rule(
            "big_order",
            {"on": "alert", "match": ["follow_big_order"], "condition": "true"},
            ctx=CTX,
        )
    with pytest.raises(RuleDefinitionError, match="condition"):
        triggers.put_rule("bad", {"on": "event", "condition": "amount >"}, ctx=CTX)
    with pytest.raises(RuleDefinitionError, match="follows 'big_order'"):
        triggers.delete_rule("big_order", ctx=CTX)
    assert triggers.delete_rule("small", ctx=CTX)["change"] == "retired"
    with pytest.raises(NotFound):
        triggers.delete_rule("small", ctx=CTX)
    assert len(triggers.rules(ctx=CTX)) == 6


def test_events_sent_together_are_all_stored_or_none(
    triggers: TriggerService, catalog: Catalog
) -> None:
    sent = triggers.publish_many([("a.b", {"x": 1}), ("a.c", {"x": 2})], ctx=CTX)
    assert [e["type"] for e in sent] == ["a.b", "a.c"]
    assert triggers.wake.is_set()
    with pytest.raises(InvalidInput, match="Event 1"):
        triggers.publish_many([("a.b", {"x": 1}), ("gnomon.x", {})], ctx=CTX)
    with catalog.transaction() as tx:
        assert len(tx.outbox.pending(100)) == 2


def test_kpi_rules_read_changes_over_a_period(
    catalog: Catalog, tmp_path: Path, clock: FixedClock
) -> None:
    asked: list[Any] = []

    def kpis(ctx: RequestContext, metrics: Any, by: Any, changes: Any) -> list[dict[str, Any]]:
        asked.append(list(changes))
        return [
            {"region": "EU", "revenue": 900.0, "pct_change:revenue:week": -0.25, "time": START},
            {"region": "US", "revenue": 990.0, "pct_change:revenue:week": -0.05, "time": START},
            {"region": "JP", "revenue": 10.0, "pct_change:revenue:week": None, "time": START},
        ]

    text = """\
rules:
  weekly_drop:
    on: kpi
    metrics: [revenue]
    key: [region]
    condition: pct_change(revenue, 'week') < -0.2
"""
    made = service(catalog, tmp_path, clock, text, kpis=kpis)
    made.apply(ctx=CTX)
    assert made.evaluate_kpis(ctx=CTX).fired == 1
    assert asked == [[("revenue", "week")]]
    (alert,) = made.alerts(ctx=CTX)
    assert alert["key"] == ["EU"]
    assert "pct_change(revenue, 'week')=-25.0%" in alert["reason"]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "    on: event\n    condition: pct_change(amount, 'week') < 0\n",
            "for rules on kpi only",
        ),
        (
            "    on: kpi\n    metrics: [revenue]\n    condition: pct_change(orders, 'week') < 0\n",
            "one of the rule's metrics",
        ),
        (
            "    on: kpi\n    metrics: [revenue]\n"
            "    condition: pct_change(revenue, 'fortnight') < 0\n",
            "not 'fortnight'",
        ),
        (
            "    on: kpi\n    metrics: [revenue]\n    condition: pct_change(revenue, week) < 0\n",
            "must be a text value",
        ),
    ],
)
def test_pct_change_is_checked_when_rules_are_applied(
    catalog: Catalog, tmp_path: Path, clock: FixedClock, rule: str, message: str
) -> None:
    made = service(catalog, tmp_path, clock, "rules:\n  bad:\n" + rule)
    with pytest.raises(RuleDefinitionError, match=message) as caught:
        made.apply(ctx=CTX)
    assert "rules.bad.condition" in str(caught.value)


def test_an_event_that_cannot_be_judged_stops_nothing_else(triggers: TriggerService) -> None:
    triggers.publish("shop.order.created", {"amount": [1, "x"], "country": "DE"}, ctx=CTX)
    triggers.publish("shop.order.created", {"amount": 2**70, "country": "AT"}, ctx=CTX)
    triggers.publish("shop.order.created", {"amount": 5000, "country": "FR"}, ctx=CTX)
    report = triggers.process()
    assert report.fired == 2  # FR, and the chained rule
    assert any("could not be judged" in e for e in report.errors)
    assert triggers.process().events == 0
    with pytest.raises(InvalidInput, match="cannot be judged"):
        triggers.test("big_order", {"amount": [1, "x"]}, ctx=CTX)
