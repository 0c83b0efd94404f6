"""Trigger rules, events, alerts and silences through the API: roles, tenants, the whole path.

The project is this module's own, with tenants ``acme`` and ``globex``: alerts come from events
of every tenant judged together, so the shared project's tests must not see them. Each test
uses rules of its own names, so tests do not see each other's alerts.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from tests.integration.api.helpers import Caller, TestClient, World, assert_error
from tests.projects import write_project

pytestmark = [pytest.mark.integration]

ACME = "acme"
GLOBEX = "globex"

ALERT_FIELDS = {
    "id", "rule", "state", "severity", "fingerprint", "key", "labels", "reason", "started_at",
    "fired_at", "resolved_at", "acknowledged_at", "acknowledged_by", "escalation_level",
    "deliveries",
}  # fmt: skip
DELIVERY_FIELDS = {
    "channel", "state", "status", "attempts", "idempotency_key", "created_at", "delivered_at",
    "last_error",
}  # fmt: skip


class Alerting:
    """The app, its client, and callers of acme (by role) and globex (admin)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.app = world.app
        self.client = world.client
        self.admin = world.caller(ACME, ["admin"])
        self.editor = world.caller(ACME, ["editor"])
        self.analyst = world.caller(ACME, ["analyst"])
        self.viewer = world.caller(ACME, ["viewer"])
        self.other = world.caller(GLOBEX, ["admin"])

    def get(self, path: str, caller: Caller, **params: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=caller.headers, params=params)

    def send(self, method: str, path: str, caller: Caller, body: Any = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=caller.headers, json=body)

    def put_rule(self, name: str, rule: dict[str, Any], caller: Caller | None = None) -> Any:
        return self.send("PUT", f"/triggers/{name}", caller or self.editor, rule)

    def alerts(self, caller: Caller, **params: Any) -> list[dict[str, Any]]:
        response = self.get("/alerts", caller, **params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def pending_events(self) -> int:
        with self.app.catalog.transaction(read_only=True) as tx:
            return len(tx.outbox.pending(10_000))


@pytest.fixture(scope="module")
def alerting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Alerting]:
    project = write_project(tmp_path_factory.mktemp("alerting"))
    with Gnomon.open(project, api={"requests_per_minute": 1_000_000}) as app:
        for tenant in (ACME, GLOBEX):
            app.identities.create_tenant(tenant, ctx=app.context())
        with TestClient(create_app(app)) as client:
            yield Alerting(World(app, client))


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _big_order(match: str, **extra: Any) -> dict[str, Any]:
    return {
        "on": "event",
        "match": [match],
        "condition": "amount > 1000",
        "key": ["country"],
        "severity": "critical",
        "notify": ["ops"],
        **extra,
    }


def _fire(alerting: Alerting, event_type: str, *countries: str) -> list[dict[str, Any]]:
    """One event over the threshold per country, judged; the rule's alerts, newest first."""
    body = {
        "events": [{"type": event_type, "data": {"amount": 1500, "country": c}} for c in countries]
    }
    response = alerting.send("POST", "/events", alerting.editor, body)
    assert response.status_code == 202, response.text
    alerting.app.triggers.process()
    return alerting.alerts(alerting.admin, rule=event_type.split(".")[0])


# ---------------------------------------------------------------- roles


def test_roles_decide_who_writes_rules_sends_events_and_acknowledges(alerting: Alerting) -> None:
    name = _name("roles")
    rule = _big_order(f"{name}.order")
    for caller in (alerting.viewer, alerting.analyst):
        assert_error(alerting.put_rule(name, rule, caller), 403, "forbidden")
        event = {"type": f"{name}.order", "data": {"amount": 1}}
        assert_error(alerting.send("POST", "/events", caller, event), 403, "forbidden")
    assert_error(alerting.get(f"/triggers/{name}", alerting.viewer), 404, "not_found")

    made = alerting.put_rule(name, rule)
    assert made.status_code == 200, made.text
    assert made.json() == {"kind": "trigger", "name": name, "version": 1, "change": "created"}
    assert alerting.get(f"/triggers/{name}", alerting.viewer).status_code == 200

    [alert] = _fire(alerting, f"{name}.order", "DE")
    path = f"/alerts/{alert['id']}/ack"
    assert_error(alerting.send("POST", path, alerting.viewer), 403, "forbidden")
    assert_error(alerting.send("DELETE", f"/triggers/{name}", alerting.analyst), 403, "forbidden")
    acked = alerting.send("POST", path, alerting.analyst)
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == alerting.analyst.name


# ---------------------------------------------------------------- rules


def test_rules_are_listed_shown_replaced_and_deleted(alerting: Alerting) -> None:
    name, follower = _name("shown"), _name("follower")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    again = alerting.put_rule(name, _big_order(f"{name}.order"))
    assert (again.json()["change"], again.json()["version"]) == ("unchanged", 1)
    changed = alerting.put_rule(name, _big_order(f"{name}.order", condition="amount > 10"))
    assert (changed.json()["change"], changed.json()["version"]) == ("updated", 2)
    follow = {"on": "alert", "match": [name], "condition": "state = 'firing'"}
    assert alerting.put_rule(follower, follow).status_code == 200

    listed = alerting.get("/triggers", alerting.viewer, limit=500).json()["items"]
    [row] = [r for r in listed if r["name"] == name]
    assert row == {
        "name": name,
        "on": "event",
        "condition": "amount > 10",
        "severity": "critical",
        "notify": ["ops"],
        "enabled": True,
        "source": "<api>",
    }
    names = [r["name"] for r in listed]
    assert names == sorted(names)
    first = alerting.get("/triggers", alerting.viewer, limit=1).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    rest = alerting.get("/triggers", alerting.viewer, limit=500, cursor=first["next_cursor"])
    assert [first["items"][0]["name"], *(r["name"] for r in rest.json()["items"])] == names

    shown = alerting.get(f"/triggers/{name}", alerting.viewer).json()
    assert shown["spec"]["group_by"] == ["rule"]  # defaults filled in, as judged
    assert shown["written"] == _big_order(f"{name}.order", condition="amount > 10")

    # A rule other rules follow cannot go; once they are gone, it can.
    refused = alerting.send("DELETE", f"/triggers/{name}", alerting.editor)
    assert follower in assert_error(refused, 422, "rule_definition")["message"]
    assert alerting.send("DELETE", f"/triggers/{follower}", alerting.editor).status_code == 204
    assert alerting.send("DELETE", f"/triggers/{name}", alerting.editor).status_code == 204
    assert_error(alerting.get(f"/triggers/{name}", alerting.viewer), 404, "not_found")
    gone = alerting.send("DELETE", f"/triggers/{name}", alerting.editor)
    assert_error(gone, 404, "not_found")


def test_a_rule_with_a_syntax_error_is_refused_with_its_location(alerting: Alerting) -> None:
    name = _name("broken")
    response = alerting.put_rule(name, _big_order("shop.order", condition="amount >> 1000 AND"))
    body = assert_error(response, 422, "rule_definition")
    [issue] = body["details"]["issues"]
    assert issue["path"] == f"rules.{name}.condition"
    assert "line 1, column" in issue["message"]
    assert f"rules.{name}.condition" in body["message"]
    assert_error(alerting.get(f"/triggers/{name}", alerting.admin), 404, "not_found")
    unknown = alerting.put_rule(name, {"on": "sometimes"})
    assert assert_error(unknown, 422, "rule_definition")["details"]["issues"][0]["path"] == (
        f"rules.{name}.on"
    )


def test_a_rule_is_tried_on_an_event_without_storing_anything(alerting: Alerting) -> None:
    name = _name("tried")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    path = f"/triggers/{name}/test"
    tried = alerting.send(
        "POST", path, alerting.viewer, {"event": {"amount": 1500, "country": "DE"}}
    )
    assert tried.status_code == 200, tried.text
    assert tried.json() | {"condition": None} == {
        "rule": name,
        "on": "event",
        "matches_type": True,
        "condition": None,
        "holds": True,
        "key": ["DE"],
        "stateful": None,
        "would_fire": True,
    }
    low = alerting.send("POST", path, alerting.viewer, {"event": {"amount": 5}}).json()
    assert (low["holds"], low["would_fire"]) == (False, False)
    for event in ({"amount": "many"}, {"amount": [1, "x"]}, {"amount": 10**30}, {"time": "x"}):
        refused = alerting.send("POST", path, alerting.viewer, {"event": event})
        assert_error(refused, 422, "invalid_input")
    missing = alerting.send("POST", "/triggers/nothing_here/test", alerting.viewer, {"event": {}})
    assert_error(missing, 404, "not_found")
    assert alerting.alerts(alerting.admin, rule=name) == []


# ---------------------------------------------------------------- events and alerts


def test_events_become_an_alert_with_its_delivery_which_is_acknowledged(
    alerting: Alerting,
) -> None:
    name = _name("flow")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    one = {"type": f"{name}.order", "data": {"amount": 1500, "country": "DE"}}
    sent = alerting.send("POST", "/events", alerting.editor, one)
    assert sent.status_code == 202, sent.text
    [event] = sent.json()["events"]
    assert sent.json()["ids"] == [event["id"]] and event["type"] == one["type"]
    assert alerting.alerts(alerting.admin, rule=name) == []  # judged at the next evaluation

    report = alerting.app.triggers.process()
    assert report.fired >= 1
    [alert] = alerting.alerts(alerting.viewer, rule=name)
    assert set(alert) == ALERT_FIELDS
    assert (alert["state"], alert["severity"], alert["key"]) == ("firing", "critical", ["DE"])
    assert alert["labels"]["country"] == "DE"
    [delivery] = alert["deliveries"]
    assert set(delivery) == DELIVERY_FIELDS
    assert (delivery["channel"], delivery["state"], delivery["attempts"]) == ("ops", "firing", 0)
    assert delivery["status"] in {"pending", "delivering", "delivered", "failed", "dead"}
    assert delivery["idempotency_key"].startswith(f"alert-{alert['id']}:firing:")
    assert delivery["idempotency_key"].endswith(":ops")

    shown = alerting.get(f"/alerts/{alert['id']}", alerting.viewer).json()
    assert [d["log"] for d in shown["deliveries"]] == [[]]
    assert shown["deliveries"][0]["idempotency_key"] == delivery["idempotency_key"]

    acked = alerting.send("POST", f"/alerts/{alert['id']}/ack", alerting.analyst)
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "firing" and acked.json()["acknowledged_at"]
    told = alerting.alerts(alerting.viewer, rule=name)[0]["deliveries"]
    assert sorted(d["state"] for d in told) == ["acknowledged", "firing"]
    assert alerting.alerts(alerting.viewer, rule=name, state="resolved") == []
    assert_error(alerting.get("/alerts", alerting.viewer, state="gone"), 422, "invalid_input")


def test_another_tenants_alert_is_not_found(alerting: Alerting) -> None:
    name = _name("mine")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    [alert] = _fire(alerting, f"{name}.order", "FR")
    other = alerting.other
    assert all(a["id"] != alert["id"] for a in alerting.alerts(other, limit=500))
    assert alerting.alerts(other, rule=name) == []
    assert_error(alerting.get(f"/alerts/{alert['id']}", other), 404, "not_found")
    assert_error(alerting.send("POST", f"/alerts/{alert['id']}/ack", other), 404, "not_found")
    assert_error(alerting.get(f"/triggers/{name}", other), 404, "not_found")
    assert_error(
        alerting.send("POST", f"/triggers/{name}/test", other, {"event": {}}), 404, "not_found"
    )
    # Untouched by the attempt.
    assert alerting.get(f"/alerts/{alert['id']}", alerting.admin).json()["acknowledged_at"] is None


def test_alerts_are_paged_newest_first(alerting: Alerting) -> None:
    name = _name("paged")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    everything = _fire(alerting, f"{name}.order", "DE", "FR", "IT")
    ids = [a["id"] for a in everything]
    assert len(ids) == 3 and ids == sorted(ids, reverse=True)
    first = alerting.get("/alerts", alerting.viewer, rule=name, limit=2).json()
    assert [a["id"] for a in first["items"]] == ids[:2] and first["next_cursor"]
    rest = alerting.get("/alerts", alerting.viewer, rule=name, limit=2, cursor=first["next_cursor"])
    assert ([a["id"] for a in rest.json()["items"]], rest.json()["next_cursor"]) == (ids[2:], None)
    # A cursor is bound to its tenant and its filters.
    cursor = first["next_cursor"]
    assert_error(
        alerting.get("/alerts", alerting.other, rule=name, cursor=cursor), 422, "invalid_input"
    )
    assert_error(alerting.get("/alerts", alerting.viewer, cursor=cursor), 422, "invalid_input")


def test_a_batch_of_events_is_stored_whole_or_not_at_all(alerting: Alerting) -> None:
    name = _name("batch")
    good = [{"type": f"{name}.order", "data": {"amount": k, "country": "DE"}} for k in range(3)]
    before = alerting.pending_events()
    for bad in (
        {"type": "gnomon.alert.firing", "data": {}},  # gnomon's own type
        {"type": "not a type", "data": {}},
        {"type": f"{name}.order", "data": {"amount": [1, "two"]}},  # no one type for rules
        {"type": f"{name}.order", "data": {"amount": 2**70}},
    ):
        response = alerting.send("POST", "/events", alerting.editor, {"events": [*good, bad]})
        assert "Event 3" in assert_error(response, 422, "invalid_input")["message"]
        assert alerting.pending_events() == before
    too_many = {"events": [good[0]] * 1001}
    assert_error(alerting.send("POST", "/events", alerting.editor, too_many), 422, "invalid_input")
    both = {"type": f"{name}.order", "data": {}, "events": good}
    assert_error(alerting.send("POST", "/events", alerting.editor, both), 422, "invalid_input")
    assert alerting.pending_events() == before

    sent = alerting.send("POST", "/events", alerting.editor, {"events": good})
    assert sent.status_code == 202, sent.text
    assert [e["type"] for e in sent.json()["events"]] == [g["type"] for g in good]
    assert len(set(sent.json()["ids"])) == 3
    assert alerting.pending_events() == before + 3
    assert alerting.app.triggers.process().events >= 3
    assert alerting.pending_events() == 0


# ---------------------------------------------------------------- silences


def test_silences_are_created_listed_and_ended(alerting: Alerting) -> None:
    name = _name("hushed")
    assert alerting.put_rule(name, _big_order(f"{name}.order")).status_code == 200
    body = {"matchers": [f"rule={name}", "country=~D.*"], "duration": "2h", "comment": "migration"}
    assert_error(alerting.send("POST", "/silences", alerting.viewer, body), 403, "forbidden")
    made = alerting.send("POST", "/silences", alerting.analyst, body)
    assert made.status_code == 201, made.text
    silence = made.json()
    assert (silence["matchers"], silence["active"]) == (body["matchers"], True)
    assert (silence["comment"], silence["created_by"]) == ("migration", alerting.analyst.name)

    active = alerting.get("/silences", alerting.viewer, active=True).json()["items"]
    assert silence["id"] in {s["id"] for s in active}
    theirs = alerting.get("/silences", alerting.other).json()["items"]
    assert silence["id"] not in {s["id"] for s in theirs}
    assert_error(
        alerting.send("DELETE", f"/silences/{silence['id']}", alerting.other), 404, "not_found"
    )

    # Silenced, the alert fires but nobody is told; another country is told.
    hushed, told = _fire(alerting, f"{name}.order", "DE", "FR")[::-1]
    assert (hushed["key"], hushed["state"], hushed["deliveries"]) == (["DE"], "firing", [])
    assert (told["key"], [d["channel"] for d in told["deliveries"]]) == (["FR"], ["ops"])

    ended = alerting.send("DELETE", f"/silences/{silence['id']}", alerting.analyst)
    assert ended.status_code == 200, ended.text
    assert ended.json()["active"] is False
    active = alerting.get("/silences", alerting.viewer, active=True).json()["items"]
    assert silence["id"] not in {s["id"] for s in active}
    listed = alerting.get("/silences", alerting.viewer).json()["items"]
    assert silence["id"] in {s["id"] for s in listed}


def test_bad_silences_are_refused(alerting: Alerting) -> None:
    bodies: list[dict[str, Any]] = [
        {"matchers": ["no operator here"]},
        {"matchers": ["rule=~("]},
        {"matchers": []},
        {"matchers": ["rule=x"], "duration": "2 fortnights"},
        {"matchers": ["rule=x"], "duration": "0h"},
        {"matchers": ["rule=x"], "duration": "400d"},
        {"matchers": ["rule=x"], "duration": "99999999999999999999w"},
    ]
    for body in bodies:
        refused = alerting.send("POST", "/silences", alerting.analyst, body)
        assert_error(refused, 422, "invalid_input")
    assert_error(alerting.send("DELETE", "/silences/nope", alerting.analyst), 404, "not_found")


def test_silences_are_paged_newest_first(alerting: Alerting) -> None:
    made = [
        alerting.send("POST", "/silences", alerting.admin, {"matchers": [f"rule=page{k}"]}).json()
        for k in range(3)
    ]
    listed = alerting.get("/silences", alerting.viewer, limit=500).json()["items"]
    mine = [s["id"] for s in listed if s["id"] in {m["id"] for m in made}]
    newest_first = sorted(made, key=lambda m: (m["starts_at"], m["id"]), reverse=True)
    assert mine == [m["id"] for m in newest_first]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = alerting.get("/silences", alerting.viewer, **params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [s["id"] for s in listed]
