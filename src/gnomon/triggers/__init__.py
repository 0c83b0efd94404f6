"""Triggers: rules that watch events, KPI values, anomalies and data quality, and fire alerts.

Rules are written in ``triggers/*.yaml`` (:mod:`gnomon.triggers.specs`, templates in
:mod:`gnomon.triggers.templates`) and checked together by :func:`load_rules`; their conditions
are in a SQL-like language (:mod:`gnomon.triggers.language`), and :class:`ConditionSet`
evaluates many rules' conditions over a batch at once.
Silences (:mod:`gnomon.triggers.silences`) mute matching alerts for a while, and grouping
(:mod:`gnomon.triggers.grouping`) turns alert changes into one notification per group or digest.
"""

from gnomon.triggers.errors import (
    RuleDefinitionError,
    RuleIssue,
    RuleSyntaxError,
    RuleTypeError,
)
from gnomon.triggers.evaluation import ConditionSet, compile_condition
from gnomon.triggers.functions import FUNCTIONS
from gnomon.triggers.grouping import (
    Batch,
    GroupItem,
    GroupState,
    alert_labels,
    group_values,
    summarise,
)
from gnomon.triggers.language import Condition, parse_condition
from gnomon.triggers.rules import Rule, load_rules, order_rules, parse_rules
from gnomon.triggers.silences import Matcher, Silence, parse_matcher, silencing
from gnomon.triggers.specs import RuleSpec
from gnomon.triggers.templates import TEMPLATES

__all__ = [
    "FUNCTIONS",
    "TEMPLATES",
    "Batch",
    "Condition",
    "ConditionSet",
    "GroupItem",
    "GroupState",
    "Matcher",
    "Rule",
    "RuleDefinitionError",
    "RuleIssue",
    "RuleSpec",
    "RuleSyntaxError",
    "RuleTypeError",
    "Silence",
    "alert_labels",
    "compile_condition",
    "group_values",
    "load_rules",
    "order_rules",
    "parse_condition",
    "parse_matcher",
    "parse_rules",
    "silencing",
    "summarise",
]
