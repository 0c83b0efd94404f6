"""Rule files: checked as a whole, problems located by file and line, templates, chaining."""

from datetime import timedelta
from pathlib import Path

import pytest

from gnomon.triggers import TEMPLATES, RuleDefinitionError, load_rules, order_rules, parse_rules

RULES = """\
rules:
  big_order:
    description: An order over 1000 in the DACH countries
    on: event
    match: ["shop.order.*"]
    condition: amount > 1000 AND country IN ('DE', 'AT', 'CH')
    severity: critical
    notify: [ops-slack]
  failed_logins:
    on: event
    match: [auth.login.failed]
    condition: "true"
    key: [user]
    occurrences: {count: 5, within: 10m}
    for: 2m
  escalate_big_orders:
    on: alert
    match: [big_order]
    condition: severity = 'critical'
    escalation:
      - {after: 15m, notify: [ops-pager]}
      - {after: 1h, notify: [cto-mail]}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rules_load_checked_and_in_dependency_order(tmp_path: Path) -> None:
    _write(tmp_path / "triggers", "shop.yaml", RULES)
    rules = load_rules(tmp_path / "triggers", root=tmp_path)
    names = [r.name for r in rules]
    assert set(names) == {"big_order", "failed_logins", "escalate_big_orders"}
    assert names.index("big_order") < names.index("escalate_big_orders")
    big = next(r for r in rules if r.name == "big_order")
    assert big.source == "triggers/shop.yaml"
    assert big.condition is not None and big.condition.fields == (("amount",), ("country",))
    logins = next(r for r in rules if r.name == "failed_logins")
    assert logins.spec.occurrences is not None
    assert logins.spec.occurrences.within == timedelta(minutes=10)
    assert logins.spec.pending_for == timedelta(minutes=2)
    assert logins.spec.group_interval == timedelta(minutes=5), "a default"
    escalate = next(r for r in rules if r.name == "escalate_big_orders")
    assert [s.after for s in escalate.spec.escalation] == [
        timedelta(minutes=15),
        timedelta(hours=1),
    ]


def test_every_problem_is_reported_with_file_path_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "triggers"
    _write(
        folder,
        "a.yaml",
        """\
rules:
  no_on:
    condition: x > 1
  bad_condition:
    on: event
    condition: amount > AND country = 'DE'
  bad_block:
    on: event
    condition: |
      amount > 1
      AND frobnicate(country)
  two_kinds:
    on: event
    condition: x > 1
    occurrences: {count: 3, within: 5m}
    absence: {within: 1h}
  bad_duration:
    on: event
    condition: x > 1
    for: soon
  BadName:
    on: event
    condition: x > 1
""",
    )
    _write(folder, "b.yml", "rules: [not, a, mapping]\n")
    _write(folder, "c.yaml", "rules:\n  x: {on: event\n")
    with pytest.raises(RuleDefinitionError) as caught:
        load_rules(folder, root=tmp_path)
    found = {(i.file, i.issue.path): i.issue for i in caught.value.issues}
    assert found[("triggers/a.yaml", "rules.no_on.on")].line == 2
    bad = found[("triggers/a.yaml", "rules.bad_condition.condition")]
    assert "near 'AND'" in bad.message and "column 10" in bad.message and bad.line == 6
    block = found[("triggers/a.yaml", "rules.bad_block.condition")]
    assert "Unknown function 'frobnicate'" in block.message and block.line == 11
    assert (
        "give one of occurrences, trend and absence"
        in found[("triggers/a.yaml", "rules.two_kinds")].message
    )
    assert "not a duration" in found[("triggers/a.yaml", "rules.bad_duration.for")].message
    assert any(f == "triggers/a.yaml" and "BadName" in p for f, p in found)
    assert ("triggers/b.yml", "rules") in found
    assert any(
        f == "triggers/c.yaml" and "not valid YAML" in i.message for (f, _), i in found.items()
    )
    error = caught.value
    assert error.to_dict()["code"] == "rule_definition"
    assert "triggers/a.yaml:6" in error.message


def test_chaining_refuses_unknown_rules_and_cycles() -> None:
    with pytest.raises(RuleDefinitionError, match="follows 'nope', which no rule is called"):
        order_rules(
            parse_rules(
                {"rules": {"a": {"on": "alert", "match": ["nope"], "condition": "true"}}},
                source="api",
            )
        )
    cyclic = {
        "rules": {
            "a": {"on": "alert", "match": ["c"], "condition": "true"},
            "b": {"on": "alert", "match": ["a"], "condition": "true"},
            "c": {"on": "alert", "match": ["b"], "condition": "true"},
            "d": {"on": "event", "condition": "true"},
        }
    }
    with pytest.raises(RuleDefinitionError, match="cycle") as caught:
        order_rules(parse_rules(cyclic, source="api"))
    message = caught.value.message
    assert all(name in message for name in ("a ->", "b ->", "c ->"))
    assert "d" not in message.split("cycle:")[1]


def test_a_rule_named_twice_is_refused(tmp_path: Path) -> None:
    text = "rules:\n  same: {on: event, condition: x > 1}\n"
    _write(tmp_path / "triggers", "one.yaml", text)
    _write(tmp_path / "triggers", "two.yaml", text)
    with pytest.raises(RuleDefinitionError, match=r"is also defined in triggers/one\.yaml"):
        load_rules(tmp_path / "triggers", root=tmp_path)


def test_templates_expand_into_checked_rules() -> None:
    rules = parse_rules(
        {
            "rules": {
                "revenue_low": {
                    "template": "kpi_below_target",
                    "params": {"metric": "revenue", "target": 1000, "tolerance": 0.1},
                    "overrides": {"notify": ["ops"], "for": "1h"},
                },
                "orders_spike": {"template": "kpi_spike", "params": {"metric": "orders"}},
                "feed_stopped": {
                    "template": "missing_data",
                    "params": {"event": "shop.order.*", "within": "30m", "key": ["country"]},
                },
                "checks": {"template": "quality_failure"},
            }
        },
        source="api",
    )
    by_name = {r.name: r for r in rules}
    low = by_name["revenue_low"]
    assert low.spec.on == "kpi" and low.spec.metrics == ["revenue"]
    assert low.spec.condition == "revenue < 1000.0 * 0.9"
    assert low.spec.notify == ["ops"] and low.spec.pending_for == timedelta(hours=1)
    assert by_name["orders_spike"].spec.on == "anomaly"
    feed = by_name["feed_stopped"].spec
    assert feed.absence is not None and feed.absence.within == timedelta(minutes=30)
    assert feed.key == ["country"] and feed.severity == "critical"
    assert by_name["checks"].spec.condition == "status = 'failed'"
    assert set(TEMPLATES) == {"kpi_below_target", "kpi_spike", "missing_data", "quality_failure"}


@pytest.mark.parametrize(
    ("use", "path", "message"),
    [
        ({"template": "nope"}, "rules.r.template", "unknown template 'nope'"),
        ({"template": "kpi_below_target", "params": {"metric": "x"}}, "rules.r.params",
         "needs target"),
        ({"template": "kpi_spike", "params": {"metric": "x", "typo": 1}}, "rules.r.params.typo",
         "has no parameter 'typo'"),
        ({"template": "kpi_below_target", "params": {"metric": "x; drop", "target": 1}},
         "rules.r.params.metric", "must be a name"),
        ({"template": "kpi_spike", "params": {"metric": "x"}, "overrides": {"on": "nope"}},
         "rules.r.on", "'nope' is not one of"),
    ],
)  # fmt: skip
def test_bad_template_uses_are_located(use: dict[str, object], path: str, message: str) -> None:
    with pytest.raises(RuleDefinitionError) as caught:
        parse_rules({"rules": {"r": use}}, source="api")
    [issue] = caught.value.issues
    assert issue.issue.path == path
    assert message in issue.issue.message
