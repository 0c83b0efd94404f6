"""Trigger rules as users write them in ``triggers/*.yaml`` (and send to the API).

A rule names what it watches (``on``), the condition that makes it fire, how often that must
happen (``occurrences``), or for how long (``for``), or that something stopped happening
(``absence``), or a direction held for some periods (``trend``); and what to do about it: the
severity, the labels, the channels to notify, grouping and repeat intervals, escalation and
digests. Durations are written ``30s``, ``10m``, ``4h``, ``1d``, ``1w``.

A rule may instead name a template and its parameters (see :mod:`gnomon.triggers.templates`).
"""

from datetime import timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from gnomon.specfiles import parse_duration

__all__ = [
    "ON_KINDS",
    "AbsenceSpec",
    "EscalationStep",
    "OccurrencesSpec",
    "RuleSpec",
    "TemplateUse",
    "TrendSpec",
    "TriggersFile",
]

ON_KINDS = ("event", "kpi", "anomaly", "quality", "alert")
RULE_NAME = r"^[a-z][a-z0-9_]*$"


def _duration(value: object) -> object:
    if isinstance(value, str):
        return parse_duration(value)
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OccurrencesSpec(_Spec):
    """Fire when the condition held ``count`` times within ``within`` (per key)."""

    count: int = Field(ge=2, le=1_000_000)
    within: Duration


class TrendSpec(_Spec):
    """Fire when ``field`` rose (or fell) at each of the last ``periods`` values (per key)."""

    field: str = Field(min_length=1)
    direction: Literal["rising", "falling"]
    periods: int = Field(ge=2, le=1000)


class AbsenceSpec(_Spec):
    """Fire when nothing matched for ``within`` (per key seen before)."""

    within: Duration


class EscalationStep(_Spec):
    """Unacknowledged ``after`` this long since firing: notify these channels too."""

    after: Duration
    notify: list[str] = Field(min_length=1)


class RuleSpec(_Spec):
    """One trigger rule."""

    description: str = ""
    on: Literal["event", "kpi", "anomaly", "quality", "alert"]
    match: list[str] = Field(default_factory=list)
    """Event types (``*`` wildcards) for ``on: event``; rule names for ``on: alert``."""
    metrics: list[str] = Field(default_factory=list)
    """For ``on: kpi`` (required) and ``on: anomaly`` (optional): the metrics watched."""
    datasets: list[str] = Field(default_factory=list)
    """For ``on: quality``: the datasets whose check results are watched (all if empty)."""
    condition: str | None = None
    timezone: str = "UTC"
    key: list[str] = Field(default_factory=list)
    """Fields that tell occurrences apart: counts, trends and absences are kept per key."""
    occurrences: OccurrencesSpec | None = None
    trend: TrendSpec | None = None
    absence: AbsenceSpec | None = None
    pending_for: Duration | None = Field(default=None, alias="for")
    """The condition must hold this long before the alert fires (pending until then)."""
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    notify: list[str] = Field(default_factory=list)
    group_by: list[str] = Field(default_factory=lambda: ["rule"])
    group_interval: Duration = timedelta(minutes=5)
    repeat_interval: Duration = timedelta(hours=4)
    digest: Duration | None = None
    """Instead of one notification per alert, one summary per this period."""
    escalation: list[EscalationStep] = Field(default_factory=list)
    enabled: bool = True

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone; use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "RuleSpec":
        stateful = [n for n in ("occurrences", "trend", "absence") if getattr(self, n) is not None]
        if len(stateful) > 1:
            raise ValueError(f"give one of occurrences, trend and absence, not {stateful}")
        if self.condition is None and self.absence is None and self.trend is None:
            raise ValueError("condition is required (unless the rule watches for an absence)")
        if self.on == "kpi" and not self.metrics:
            raise ValueError("a rule on kpi names the metrics it watches: metrics: [revenue]")
        if self.on == "alert" and not self.match:
            raise ValueError("a rule on alert names the rules it follows: match: [rule_name]")
        if self.on not in ("event", "alert") and self.match:
            raise ValueError("match is for rules on event (event types) or alert (rule names)")
        if self.on != "quality" and self.datasets:
            raise ValueError("datasets is for rules on quality")
        if self.on not in ("kpi", "anomaly") and self.metrics:
            raise ValueError("metrics is for rules on kpi or anomaly")
        if self.absence is not None and self.on not in ("event", "alert"):
            raise ValueError("absence watches events or alerts (on: event or on: alert)")
        steps = [s.after for s in self.escalation]
        if steps != sorted(steps) or len(set(steps)) != len(steps):
            raise ValueError("escalation steps must come in increasing order of 'after'")
        return self


class TemplateUse(_Spec):
    """A rule made from a template: its name, its parameters, and any rule fields to override."""

    template: str
    params: dict[str, object] = Field(default_factory=dict)
    overrides: dict[str, object] = Field(default_factory=dict)


class TriggersFile(_Spec):
    """The shape of one ``triggers/*.yaml`` file; each rule is checked on its own after this."""

    rules: dict[str, dict[str, object]]
