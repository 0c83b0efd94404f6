"""The YAML format of ``metrics/*.yaml``: semantic models, metrics and the calendar.

A *semantic model* says how to read one lake table: which column is its time, which columns (or
expressions) are dimensions, and which aggregations (*measures*) it offers. A *metric* is what
people talk about (revenue, average order value): a measure, a ratio of two metrics, a formula
over metrics, a running or trailing total, or a comparison with an earlier period. Metrics are
defined once, here, and every engine, rollup and API answers from these definitions.

This module only checks each file's shape. Whether names resolve (a metric's measure exists, a
dimension's column is in the table, derived metrics form no cycle) is checked over all files
together in :mod:`gnomon.semantic.validate`. See docs/metrics.md for the reference.
"""

import re
from datetime import timedelta
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from gnomon.specfiles import SpecIssue

__all__ = [
    "AGGREGATIONS",
    "GRAINS",
    "Aggregation",
    "CalendarSpec",
    "CumulativeMetric",
    "DerivedMetric",
    "DimensionSpec",
    "Direction",
    "Fill",
    "Grain",
    "MeasureSpec",
    "MetricSpec",
    "MetricsFile",
    "MonitorSpec",
    "PeriodOverPeriodMetric",
    "RatioMetric",
    "SemanticModelSpec",
    "Sensitivity",
    "SimpleMetric",
    "ThresholdsSpec",
    "TimeSpec",
    "parse_window",
    "validate_metric",
]

Aggregation = Literal["sum", "count", "count_distinct", "avg", "min", "max", "median", "percentile"]
AGGREGATIONS: tuple[str, ...] = get_args(Aggregation)

Grain = Literal[
    "minute",
    "hour",
    "day",
    "week",
    "month",
    "quarter",
    "year",
    "fiscal_quarter",
    "fiscal_year",
]
"""Time grains. Weeks are ISO weeks (Monday to Sunday); fiscal grains follow the calendar's
``fiscal_year_start_month``."""
GRAINS: tuple[str, ...] = get_args(Grain)
"""The grains, finest first."""

Direction = Literal["up", "down"]
"""Which way is good: revenue goes ``up``, a return rate ``down``."""

Fill = Literal["zero", "null"]
"""What an empty time bucket shows: 0 (counts, sums) or NULL (averages, ratios)."""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_WINDOW = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week|month|quarter|year)s?\s*$")
_REFRESH = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_REFRESH_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lower case letters, digits and _, "
            "starting with a letter"
        )
    return value


def parse_window(text: str) -> tuple[int, str]:
    """``"7 days"`` → ``(7, "day")``: a count and a grain.

    Raises:
        ValueError: the text is not ``<n> <unit>`` with a unit from minute to year.
    """
    match = _WINDOW.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(
            f"{text!r} is not a window: write a positive count and a unit, e.g. '7 days', "
            "'4 weeks', '3 months'"
        )
    return int(match.group(1)), match.group(2)


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeSpec(_Spec):
    """The model's time column: a timestamp (stored in UTC) or a date."""

    column: str
    """The column holding each row's time."""


class DimensionSpec(_Spec):
    """A way to slice a model's rows: a column, or an SQL expression over columns."""

    column: str | None = None
    """The column; defaults to the dimension's name."""
    expr: str | None = None
    """An SQL expression over the model's columns instead of a column."""
    parent: str | None = None
    """The dimension one level up in a hierarchy (a country's ``region``)."""
    description: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "DimensionSpec":
        if self.column is not None and self.expr is not None:
            raise ValueError("give either 'column' or 'expr', not both")
        return self


class MeasureSpec(_Spec):
    """An aggregation of a model's rows."""

    agg: Aggregation
    expr: str | None = None
    """The value aggregated: a column or an SQL expression. ``count`` without it counts rows."""
    filter: str | None = None
    """Only rows meeting this SQL condition are aggregated (e.g. ``status <> 'cancelled'``)."""
    percentile: float | None = Field(default=None, gt=0, lt=1)
    """For ``agg: percentile``: which one, between 0 and 1 (0.9 is the 90th)."""
    description: str | None = None

    @model_validator(mode="after")
    def _arguments(self) -> "MeasureSpec":
        if self.agg == "percentile" and self.percentile is None:
            raise ValueError("agg 'percentile' needs 'percentile: <0..1>', e.g. 0.9")
        if self.agg != "percentile" and self.percentile is not None:
            raise ValueError(f"'percentile' applies only to agg 'percentile', not {self.agg!r}")
        if self.agg not in ("count",) and self.expr is None:
            raise ValueError(f"agg {self.agg!r} needs 'expr': the column or expression aggregated")
        return self


class SemanticModelSpec(_Spec):
    """One lake table as metrics see it."""

    table: str
    """``layer.name`` of the lake table, e.g. ``silver.orders`` or ``gold.daily_sales``."""
    time: TimeSpec | None = None
    dimensions: dict[str, DimensionSpec] = Field(default_factory=dict)
    measures: dict[str, MeasureSpec] = Field(default_factory=dict)
    description: str | None = None

    @field_validator("table")
    @classmethod
    def _table(cls, value: str) -> str:
        layer, _, name = value.partition(".")
        if layer not in ("bronze", "silver", "gold") or not _NAME.match(name):
            raise ValueError(
                f"{value!r} is not a lake table: write layer.name with layer silver, gold or "
                "bronze, e.g. silver.orders"
            )
        return value

    @field_validator("dimensions", "measures")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            _check_name(key)
        return value


class ThresholdsSpec(_Spec):
    """Levels that mark a value as worrying, in the metric's good direction."""

    warning: float | None = None
    critical: float | None = None


Sensitivity = Literal["low", "medium", "high"]


class MonitorSpec(_Spec):
    """How scans watch a metric for anomalies (docs/insights.md).

    The defaults watch the whole series and every value of every dimension the metric can be
    sliced by, with the ``kpi`` detector at medium sensitivity: good without tuning, so a
    metric needs no ``monitor`` block at all.
    """

    enabled: bool = True
    sensitivity: Sensitivity = "medium"
    """``low`` flags fewer points than ``medium``, ``high`` more."""
    detector: str = "kpi"
    """A detector of ``gnomon.insights.detect`` (docs/insights.md lists them)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Settings of the detector beyond the sensitivity (a window, say)."""
    dimensions: list[str] | None = None
    """The dimensions whose values get their own series; default every one of the metric's."""
    pairs: list[tuple[str, str]] = Field(default_factory=list)
    """Pairs of dimensions whose value combinations also get a series each."""
    min_share: float = Field(default=0.02, ge=0.0, le=1.0)
    """A segment is watched only when it holds at least this share of the metric's volume
    (its total for sums and counts, the denominator's for ratios), so that tiny segments,
    noisy by nature, do not flood the feed."""
    min_points: int = Field(default=28, ge=4)
    """A series needs at least this many buckets with data before it is judged."""

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, value: list[tuple[str, str]]) -> list[tuple[str, str]]:
        for first, second in value:
            if first == second:
                raise ValueError(f"a pair needs two different dimensions, not {first!r} twice")
        return value


class _MetricBase(_Spec):
    description: str | None = None
    owner: str | None = None
    unit: str | None = None
    """e.g. ``EUR``, ``orders``, ``%``."""
    format: str | None = None
    """How values are shown: ``number``, ``integer``, ``currency``, ``percent``, or a pattern
    like ``#,##0.00``."""
    direction: Direction = "up"
    target: float | None = None
    thresholds: ThresholdsSpec | None = None
    refresh: str = "1d"
    """How often the metric's data is expected to change (``15m``, ``1h``, ``1d``, ``1w``):
    rollups are refreshed and scans run on this period."""
    fill: Fill | None = None
    """What empty time buckets show; defaults to ``zero`` for sums and counts, else ``null``."""
    grain: Grain = "day"
    """The finest grain the metric is usually looked at; rollups are kept at it."""
    monitor: MonitorSpec = Field(default_factory=MonitorSpec)
    """How scans watch the metric for anomalies."""

    @field_validator("refresh")
    @classmethod
    def _refresh(cls, value: str) -> str:
        if not _REFRESH.match(value):
            raise ValueError(
                f"{value!r} is not a period: write a count and m, h, d or w, e.g. 15m, 1h, 1d"
            )
        return value

    @property
    def refresh_period(self) -> timedelta:
        """``refresh`` as a duration."""
        match = _REFRESH.match(self.refresh)
        assert match is not None  # noqa: S101 - checked by the validator
        return timedelta(**{_REFRESH_UNITS[match.group(2)]: int(match.group(1))})


class SimpleMetric(_MetricBase):
    """One measure of one model, optionally over a subset of rows."""

    type: Literal["simple"] = "simple"
    measure: str
    """``model.measure``."""
    filter: str | None = None
    """A condition over the model's dimensions (``channel = 'web'``)."""

    @field_validator("measure")
    @classmethod
    def _measure(cls, value: str) -> str:
        model, _, measure = value.partition(".")
        if not _NAME.match(model) or not _NAME.match(measure):
            raise ValueError(f"{value!r} is not model.measure, e.g. orders.revenue")
        return value


class RatioMetric(_MetricBase):
    """``numerator / denominator``, each metric computed at the query's grain first.

    Re-aggregation is therefore correct at every grain: a monthly average order value is the
    month's revenue over the month's orders, never an average of daily averages.
    """

    type: Literal["ratio"]
    numerator: str
    denominator: str


class DerivedMetric(_MetricBase):
    """A formula over other metrics (``revenue - cost``, ``revenue / distinct_customers``)."""

    type: Literal["derived"]
    expr: str


class CumulativeMetric(_MetricBase):
    """A running total, a trailing window, or a period-to-date total of another metric."""

    type: Literal["cumulative"]
    metric: str
    window: str | None = None
    """A trailing window, e.g. ``7 days``; it must be a whole number of the query's grain."""
    grain_to_date: Literal["week", "month", "quarter", "year", "fiscal_quarter", "fiscal_year"] | (
        None
    ) = None
    """Restart the total at the start of each such period (month-to-date, year-to-date)."""

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            parse_window(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> "CumulativeMetric":
        if self.window is not None and self.grain_to_date is not None:
            raise ValueError("give either 'window' or 'grain_to_date', not both")
        return self


class PeriodOverPeriodMetric(_MetricBase):
    """Another metric compared with an earlier period of the same length."""

    type: Literal["period_over_period"]
    metric: str
    compare_to: Literal["previous_period", "same_period_last_year"] = "previous_period"
    output: Literal["value", "delta", "percent"] = "percent"
    """``value``: the earlier period's value; ``delta``: now minus then; ``percent``: the change
    relative to then (0.1 is +10 %; NULL when then is 0 or missing)."""


MetricSpec = Annotated[
    SimpleMetric | RatioMetric | DerivedMetric | CumulativeMetric | PeriodOverPeriodMetric,
    Field(discriminator="type"),
]


class CalendarSpec(_Spec):
    """How time is bucketed for every metric of the project."""

    time_zone: str = "UTC"
    """Buckets (days, weeks …) are cut in this time zone; stored times are UTC."""
    fiscal_year_start_month: int = Field(default=1, ge=1, le=12)
    """The month a fiscal year starts in (4 for April); fiscal years are named by the calendar
    year they start in."""

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"{value!r} is not a time zone: use an IANA name such as UTC or Europe/Berlin"
            ) from exc
        return value


_METRIC_ADAPTER: TypeAdapter[MetricSpec] = TypeAdapter(MetricSpec)
_METRIC_TYPES: dict[str, type[BaseModel]] = {
    "simple": SimpleMetric,
    "ratio": RatioMetric,
    "derived": DerivedMetric,
    "cumulative": CumulativeMetric,
    "period_over_period": PeriodOverPeriodMetric,
}


def validate_metric(name: str, value: object) -> tuple[MetricSpec | None, list[SpecIssue]]:
    """Check one metric's shape: the spec, or the issues with key paths under ``metrics.<name>``.

    Metrics are a union told apart by ``type``; pydantic's own locations and messages for it
    name the union member rather than the key, so they are translated here, once, for the file
    reader and for the checks over all definitions alike.
    """
    prefix = f"metrics.{name}"
    if not isinstance(value, dict):
        return None, [SpecIssue(prefix, "must be a mapping of the metric's keys")]
    spec = _default_simple(value)
    try:
        return _METRIC_ADAPTER.validate_python(spec), []
    except ValidationError as exc:
        errors = exc.errors()
    assert isinstance(spec, dict)  # noqa: S101 - a dict stays a dict
    kind = _METRIC_TYPES.get(str(spec.get("type")))
    issues: dict[str, SpecIssue] = {}
    for error in errors:
        loc = [str(p) for p in error["loc"][1:]]  # drop the union member's tag
        message = str(error["msg"]).removeprefix("Value error, ")
        valid: tuple[str, ...] = ()
        if error["type"] == "union_tag_invalid":
            loc = ["type"]
            valid = tuple(_METRIC_TYPES)
            message = f"type {spec.get('type')!r} is not one of {', '.join(valid)}"
        elif error["type"] == "union_tag_not_found":
            message = "give 'measure:' (a simple metric) or a 'type:'"
            valid = tuple(_METRIC_TYPES)
        elif error["type"] == "extra_forbidden":
            message = f"unknown key {str(error['loc'][-1])!r}"
            valid = tuple(kind.model_fields) if kind is not None else ()
        elif error["type"] == "missing":
            message = f"is required for a {spec.get('type')} metric but missing"
        elif error["type"] == "literal_error":
            expected = str(error.get("ctx", {}).get("expected", ""))
            valid = tuple(re.findall(r"'([^']*)'", expected))
            message = f"{error['input']!r} is not one of {', '.join(valid)}"
        path = ".".join([prefix, *loc])
        issues.setdefault(path, SpecIssue(path, message, valid))
    return None, list(issues.values())


def _default_simple(value: object) -> object:
    """A metric with ``measure:`` and no ``type:`` is simple."""
    if isinstance(value, dict) and "type" not in value and "measure" in value:
        return {**value, "type": "simple"}
    return value


class MetricsFile(_Spec):
    """One ``metrics/*.yaml`` file; a project's definitions are the union of its files."""

    semantic_models: dict[str, SemanticModelSpec] = Field(default_factory=dict)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)
    calendar: CalendarSpec | None = None

    @field_validator("metrics", mode="before")
    @classmethod
    def _simple_by_default(cls, value: object) -> object:
        if isinstance(value, dict):
            return {key: _default_simple(item) for key, item in value.items()}
        return value

    @field_validator("semantic_models", "metrics")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            _check_name(key)
        return value
