"""Triggers and alerts from the command line, as a user drives them (a subprocess per command).

A project gets rules in triggers/*.yaml, applies them, sends events, and reads, acknowledges
and silences the alerts they raise. Mistakes exit 2 with a message, never a stack trace.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

RULES = """\
rules:
  big_order:
    description: An order over 1000
    on: event
    match: ["shop.order.*"]
    condition: amount > 1000 AND country IN ('DE', 'AT')
    key: [country]
    severity: critical
    notify: [ops]
  failed_logins:
    on: event
    match: [auth.login.failed]
    condition: "true"
    key: [user]
    occurrences: {count: 2, within: 10m}
"""


def run(project: Path, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    proc = subprocess.run(
        [sys.executable, "-m", "gnomon.cli", *args, "--project", str(project)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, " ".join(proc.stderr.split())


def rows(project: Path, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(project, *args, "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert isinstance(data, list)
    return data


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project") / "shop"
    code, _, err = run(root, "init")
    assert code == 0, err
    (root / "triggers" / "shop.yaml").write_text(RULES)
    applied = rows(root, "apply")
    assert {(r["kind"], r["name"], r["change"]) for r in applied} >= {
        ("trigger", "big_order", "created"),
        ("trigger", "failed_logins", "created"),
    }
    return root


def test_rules_are_listed_shown_and_tested(project: Path) -> None:
    listed = rows(project, "triggers", "list")
    assert [r["name"] for r in listed] == ["big_order", "failed_logins"]
    (shown,) = rows(project, "triggers", "show", "big_order")
    assert (shown["on"], shown["severity"], shown["key"]) == ("event", "critical", ["country"])
    (hit,) = rows(
        project, "triggers", "test", "big_order", "--event", '{"amount": 1500, "country": "AT"}'
    )
    assert (hit["holds"], hit["would_fire"], hit["key"]) == (True, True, ["AT"])
    (miss,) = rows(
        project, "triggers", "test", "big_order", "--event", '{"amount": 1500, "country": "FR"}'
    )
    assert miss["holds"] is False


def test_events_raise_alerts_with_their_deliveries(project: Path) -> None:
    (sent,) = rows(
        project,
        "events",
        "send",
        "shop.order.created",
        "--data",
        '{"amount": 2500, "country": "DE"}',
    )
    # The event, then the alert's own firing event (which chained rules could follow).
    assert (sent["events"], sent["fired"], sent["notifications"]) == (2, 1, 1)
    rows(
        project,
        "events",
        "send",
        "shop.order.created",
        "--data",
        '{"amount": 3000, "country": "DE"}',
    )
    alerts = rows(project, "alerts", "list", "--rule", "big_order")
    assert len(alerts) == 1
    (alert,) = alerts
    assert (alert["rule"], alert["state"], alert["key"]) == ("big_order", "firing", ["DE"])
    assert alert["fingerprint"] and alert["started_at"] and alert["resolved_at"] is None
    (delivery,) = alert["deliveries"]
    assert (delivery["channel"], delivery["status"], delivery["attempts"]) == ("ops", "pending", 0)
    assert delivery["idempotency_key"].startswith(f"alert-{alert['id']}:firing")

    (acked,) = rows(project, "alerts", "ack", str(alert["id"]))
    assert acked["acknowledged_at"] is not None
    (shown,) = rows(project, "alerts", "show", str(alert["id"]))
    assert {d["state"] for d in shown["deliveries"]} == {"firing", "acknowledged"}


def test_silences_are_made_listed_and_ended(project: Path) -> None:
    (made,) = rows(
        project, "alerts", "silence", "rule=failed_logins", "--for", "1h", "--comment", "test"
    )
    assert made["active"] is True
    for _ in range(2):
        rows(project, "events", "send", "auth.login.failed", "--data", '{"user": "ann"}')
    (alert,) = rows(project, "alerts", "list", "--rule", "failed_logins")
    assert alert["state"] == "firing"
    assert alert["deliveries"] == []
    assert [s["id"] for s in rows(project, "alerts", "silences", "--active")] == [made["id"]]
    (ended,) = rows(project, "alerts", "unsilence", made["id"])
    assert ended["active"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("triggers", "show", "nope"), "no trigger rule 'nope'"),
        (("triggers", "test", "big_order", "--event", "{not json"), "--event is not JSON"),
        (("events", "send", "gnomon.alert.firing"), "not an event type you can send"),
        (("alerts", "list", "--state", "burning"), "not an alert state"),
        (("alerts", "ack", "9999"), "no alert 9999"),
        (("alerts", "silence", "rule", "--for", "1h"), "rule"),
        (("alerts", "silence", "rule=x", "--for", "soon"), "--for"),
    ],
)
def test_mistakes_exit_2_with_a_message(project: Path, args: tuple[str, ...], message: str) -> None:
    code, _, err = run(project, *args)
    assert code == 2
    assert message in err


def test_a_broken_rule_file_is_refused_with_its_place(project: Path, tmp_path: Path) -> None:
    broken = project / "triggers" / "broken.yaml"
    broken.write_text("rules:\n  oops:\n    on: event\n    condition: amount > AND 1\n")
    try:
        code, _, err = run(project, "apply")
    finally:
        broken.unlink()
    assert code == 2
    assert "broken.yaml" in err and "rules.oops.condition" in err
    assert [r["name"] for r in rows(project, "triggers", "list")] == ["big_order", "failed_logins"]


def test_one_alerting_round_delivers_and_says_what_it_did(project: Path) -> None:
    # No channels.yaml: a notification to "ops" cannot go anywhere, and says so.
    (report,) = rows(project, "alerting", "--once")
    assert report["claimed"] >= 1
    assert report["dead"] + report["failed"] == report["claimed"]
    (alert,) = rows(project, "alerts", "list", "--rule", "big_order")
    assert {d["status"] for d in alert["deliveries"]} <= {"dead", "failed"}
    (shown,) = rows(project, "alerts", "show", str(alert["id"]))
    errors = [a["error"] for d in shown["deliveries"] for a in d["log"]]
    assert errors and all("ops" in e for e in errors)
    (project / "channels.yaml").write_text("channels:\n  ops: {kind: webhook}\n")
    try:
        code, _, err = run(project, "alerting", "--once")
    finally:
        (project / "channels.yaml").unlink()
    assert code == 2
    assert "channels.ops.url" in err
