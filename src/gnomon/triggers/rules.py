"""Reading and checking trigger rules: files, templates, conditions and the chain between rules.

All the rules are checked together before any is used, and every problem is reported at once
with its file, key path and line: a condition's syntax error names the line and column in the
condition too. A rule ``on: alert`` follows the rules it names (their firings are its events),
so rules are put in dependency order; a rule that follows an unknown rule, or a cycle of rules
following each other, is refused, naming the rules involved.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from pydantic import ValidationError

from gnomon.specfiles import (
    SpecIssue,
    file_label,
    issues_from,
    line_of,
    read_yaml,
    with_lines,
    yaml_files,
)
from gnomon.triggers.errors import RuleDefinitionError, RuleIssue, RuleSyntaxError
from gnomon.triggers.kpis import problems
from gnomon.triggers.language import Condition, parse_condition
from gnomon.triggers.specs import RULE_NAME, RuleSpec, TemplateUse, TriggersFile
from gnomon.triggers.templates import TemplateError, expand

__all__ = ["Rule", "load_rules", "order_rules", "parse_rules"]

_MAX_NAME = 100


@dataclass(frozen=True, slots=True)
class Rule:
    """A checked rule: its spec, its parsed condition, where it was written, and as written."""

    name: str
    spec: RuleSpec
    condition: Condition | None
    source: str
    written: Mapping[str, object]


def load_rules(folder: Path, *, root: Path | None = None) -> list[Rule]:
    """Every rule of the ``*.yaml``/``*.yml`` files in ``folder``, checked, in dependency order.

    Raises:
        RuleDefinitionError: any problem in any file, each located.
    """
    files = yaml_files(folder)
    rules: list[Rule] = []
    issues: list[RuleIssue] = []
    for path in files:
        label = file_label(path, root)
        read = read_yaml(path)
        if isinstance(read, SpecIssue):
            issues.append(RuleIssue(label, read))
            continue
        data, text = read
        try:
            rules.extend(parse_rules(data, source=label, text=text))
        except RuleDefinitionError as exc:
            issues.extend(exc.issues)
    if issues:
        raise RuleDefinitionError(issues)
    return order_rules(rules)


def parse_rules(data: object, *, source: str, text: str | None = None) -> list[Rule]:
    """The rules of one parsed document (a file's, or an API request's body), checked one by one.

    Raises:
        RuleDefinitionError: every problem found in the document.
    """
    if data is None:
        return []
    try:
        document = TriggersFile.model_validate(data)
    except ValidationError as exc:
        shape = with_lines(issues_from(exc.errors(), TriggersFile), text)
        raise RuleDefinitionError([RuleIssue(source, i) for i in shape]) from exc
    rules: list[Rule] = []
    issues: list[RuleIssue] = []
    for name, written in document.rules.items():
        if not re.fullmatch(RULE_NAME, name) or len(name) > _MAX_NAME:
            message = (
                f"{name!r} is not a rule name: lower-case letters, digits and _, from a letter"
            )
            issues.append(
                RuleIssue(source, with_lines([SpecIssue(f"rules.{name}", message)], text)[0])
            )
            continue
        try:
            rules.append(_rule(name, written, source=source))
        except _Problems as problems:
            issues.extend(RuleIssue(source, i) for i in with_lines(problems.issues, text))
        except RuleSyntaxError as error:
            issues.append(RuleIssue(source, _located(name, error, text)))
    if issues:
        raise RuleDefinitionError(issues)
    return rules


def order_rules(rules: Sequence[Rule]) -> list[Rule]:
    """The rules in an order where each comes after the rules it follows (``on: alert``).

    Raises:
        RuleDefinitionError: a rule named twice, a rule following an unknown rule, or a cycle.
    """
    issues: list[RuleIssue] = []
    by_name: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in by_name:
            first = by_name[rule.name].source
            issues.append(
                RuleIssue(
                    rule.source, SpecIssue(f"rules.{rule.name}", f"is also defined in {first}")
                )
            )
        by_name[rule.name] = rule
    graph: dict[str, set[str]] = {}
    for rule in by_name.values():
        follows = set(rule.spec.match) if rule.spec.on == "alert" else set()
        unknown = sorted(follows - set(by_name))
        if unknown:
            issues.append(
                RuleIssue(
                    rule.source,
                    SpecIssue(
                        f"rules.{rule.name}.match",
                        f"follows {', '.join(map(repr, unknown))}, which no rule is called",
                        tuple(sorted(by_name)),
                    ),
                )
            )
        graph[rule.name] = follows & set(by_name)
    if issues:
        raise RuleDefinitionError(issues)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        cycle = list(exc.args[1])
        start = by_name[cycle[0]]
        raise RuleDefinitionError(
            [
                RuleIssue(
                    start.source,
                    SpecIssue(
                        f"rules.{start.name}.match",
                        "rules follow each other in a cycle: " + " -> ".join(reversed(cycle)),
                    ),
                )
            ]
        ) from None
    return [by_name[name] for name in order]


class _Problems(Exception):
    def __init__(self, issues: list[SpecIssue]) -> None:
        super().__init__(str(issues))
        self.issues = issues


def _rule(name: str, written: Mapping[str, object], *, source: str) -> Rule:
    prefix = f"rules.{name}"
    fields: Mapping[str, object] = written
    if "template" in written:
        try:
            use = TemplateUse.model_validate(written)
            fields = expand(use.template, use.params, use.overrides)
        except ValidationError as exc:
            raise _Problems(_prefixed(issues_from(exc.errors(), TemplateUse), prefix)) from exc
        except TemplateError as exc:
            path = f"{prefix}.{exc.path}" if exc.path else prefix
            raise _Problems([SpecIssue(path, str(exc), exc.valid)]) from exc
    try:
        spec = RuleSpec.model_validate(fields)
    except ValidationError as exc:
        raise _Problems(_prefixed(issues_from(exc.errors(), RuleSpec), prefix)) from exc
    condition = None
    if spec.condition is not None:
        condition = parse_condition(spec.condition, timezone=spec.timezone)
    wrong = problems(condition, on=spec.on, metrics=list(spec.metrics))
    if wrong:
        raise _Problems([SpecIssue(f"{prefix}.condition", message) for message in wrong])
    return Rule(name=name, spec=spec, condition=condition, source=source, written=dict(written))


def _prefixed(issues: list[SpecIssue], prefix: str) -> list[SpecIssue]:
    return [
        SpecIssue(f"{prefix}.{i.path}" if i.path else prefix, i.message, i.valid, i.line)
        for i in issues
    ]


def _located(name: str, error: RuleSyntaxError, text: str | None) -> SpecIssue:
    """A condition's syntax error as an issue at the condition's line in the file."""
    path = f"rules.{name}.condition"
    line = line_of(text, tuple(path.split("."))) if text is not None else None
    if line is not None and text is not None:
        # A block scalar (condition: |) starts on the line after its key.
        key_line = text.splitlines()[line - 1]
        starts_below = key_line.rstrip().endswith(("|", ">", "|-", ">-"))
        line = line + error.line if starts_below else line + error.line - 1
    return SpecIssue(path, error.message, line=line)
