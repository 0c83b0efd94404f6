"""Triggers: rules that watch events, KPI values, anomalies and data quality, and fire alerts.

The rule language (:mod:`gnomon.triggers.language`) is SQL-like and checked when a rule is
applied; :class:`ConditionSet` evaluates many rules' conditions over a batch at once.
"""

from gnomon.triggers.errors import RuleSyntaxError, RuleTypeError
from gnomon.triggers.evaluation import ConditionSet, compile_condition
from gnomon.triggers.functions import FUNCTIONS
from gnomon.triggers.language import Condition, parse_condition

__all__ = [
    "FUNCTIONS",
    "Condition",
    "ConditionSet",
    "RuleSyntaxError",
    "RuleTypeError",
    "compile_condition",
    "parse_condition",
]
