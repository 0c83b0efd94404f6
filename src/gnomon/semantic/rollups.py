"""Rollups: metrics pre-aggregated per time bucket and dimension, kept in gold.

For every semantic model with a time column, one rollup holds, per bucket of the finest grain its
metrics are looked at (and per combination of all the model's dimensions), the *partial state* of
each metric that can be combined again without changing the answer: sums, counts, minima, maxima,
and averages as a sum and a count. A query is answered from the rollup only when that gives
exactly the raw answer:

* every metric it needs from the model is in the rollup (distinct counts, medians and
  percentiles never are: they cannot be combined from parts);
* its grain is the rollup's or one whose buckets are made of whole rollup buckets (days make
  weeks, months, quarters and years; weeks make only weeks);
* its range (including the lead its trailing or comparison metrics read) starts and ends on
  rollup bucket boundaries;
* the rollup was refreshed from the source table's current version, for this tenant.

Otherwise the raw table is read, and ``--explain`` says why. Ratios stay exact because their
parts are stored, never the ratio itself.
"""

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlglot import exp

from gnomon.semantic.definitions import GRAINS
from gnomon.semantic.expressions import replace_columns
from gnomon.semantic.layer import Metric, SemanticLayer, SemanticModel
from gnomon.semantic.measures import aggregate
from gnomon.semantic.time import TimeRange, bucket_expression, bucket_start

__all__ = [
    "ROLLUP_AGGREGATIONS",
    "RollupPlan",
    "plan_rollups",
    "rollup_aggregate",
    "rollup_build",
    "rollup_refusal",
]

ROLLUP_AGGREGATIONS = frozenset({"sum", "count", "min", "max", "avg"})
_DOUBLE = exp.DataType(this=exp.DataType.Type.DOUBLE)
_BIGINT = exp.DataType(this=exp.DataType.Type.BIGINT)
_TIME = "time"
_NESTS: dict[str, frozenset[str]] = {
    "minute": frozenset(GRAINS),
    "hour": frozenset(GRAINS) - {"minute"},
    "day": frozenset(GRAINS) - {"minute", "hour"},
    "week": frozenset({"week"}),
    "month": frozenset({"month", "quarter", "year", "fiscal_quarter", "fiscal_year"}),
    "quarter": frozenset({"quarter", "year"}),
    "year": frozenset({"year"}),
    "fiscal_quarter": frozenset({"fiscal_quarter", "fiscal_year"}),
    "fiscal_year": frozenset({"fiscal_year"}),
}
"""For a rollup grain, the query grains whose buckets are unions of its buckets."""


@dataclass(frozen=True)
class RollupPlan:
    """One rollup as the definitions call for it."""

    name: str
    model: SemanticModel
    grain: str
    metrics: tuple[Metric, ...]
    fingerprint: str

    @property
    def table_key(self) -> str:
        """``gold.<name>``."""
        return f"gold.{self.name}"

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Every dimension of the model."""
        return tuple(self.model.dimensions)

    @property
    def metric_names(self) -> frozenset[str]:
        """The simple metrics it holds."""
        return frozenset(m.name for m in self.metrics)

    def spec(self) -> dict[str, object]:
        """What the rollup holds, for the catalog and listings."""
        return {
            "model": self.model.name,
            "grain": self.grain,
            "dimensions": list(self.dimensions),
            "metrics": sorted(self.metric_names),
        }


def plan_rollups(layer: SemanticLayer) -> list[RollupPlan]:
    """The rollups the definitions call for.

    One per semantic model with a time column and combinable metrics, at the finest grain any
    metric over that model is looked at.
    """
    plans = []
    for model in layer.models.values():
        if model.time_column is None:
            continue
        members = tuple(
            m
            for m in layer.metrics.values()
            if m.model is not None
            and m.model.name == model.name
            and m.measure is not None
            and m.measure.agg in ROLLUP_AGGREGATIONS
        )
        if not members:
            continue
        names = {m.name for m in members}
        grains = [
            metric.spec.grain
            for metric in layer.metrics.values()
            if {b.name for b in layer.base_metrics(metric.name)} & names
        ]
        grain = min(grains, key=GRAINS.index)
        fingerprint = _fingerprint(layer, model, members, grain)
        plans.append(
            RollupPlan(
                name=f"rollup_{model.name}_{grain}_{fingerprint[:8]}",
                model=model,
                grain=grain,
                metrics=members,
                fingerprint=fingerprint,
            )
        )
    return plans


def _fingerprint(
    layer: SemanticLayer, model: SemanticModel, members: Sequence[Metric], grain: str
) -> str:
    content = {
        "model": model.spec.model_dump(mode="json"),
        # How a metric is watched does not change its rows: a new ``monitor`` keeps the rollup.
        "metrics": {m.name: m.spec.model_dump(mode="json", exclude={"monitor"}) for m in members},
        "calendar": layer.calendar.model_dump(mode="json"),
        "grain": grain,
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _partial_columns(metric: Metric) -> list[tuple[str, str]]:
    """(column, partial aggregation) pairs a metric is stored as."""
    assert metric.measure is not None  # noqa: S101 - rollup metrics are simple
    if metric.measure.agg == "avg":
        return [(f"{metric.name}__sum", "sum"), (f"{metric.name}__count", "count")]
    return [(metric.name, metric.measure.agg)]


def rollup_build(
    plan: RollupPlan,
    layer: SemanticLayer,
    *,
    time_range: TimeRange | None,
) -> exp.Select:
    """The raw query computing the rollup's rows (all of them, or those of ``time_range``)."""
    model = plan.model
    alias = "t"

    def column(name: str) -> exp.Expr:
        return exp.column(name, table=alias, quoted=True)

    def dimension(name: str) -> exp.Expr:
        return replace_columns(model.dimensions[name].expr, column)

    assert model.time_column is not None  # noqa: S101 - planned only with time
    bucket = bucket_expression(
        column(model.time_column),
        plan.grain,
        layer.calendar,
        is_date=model.time_is_date,
        is_naive=model.time_is_naive,
    )
    select = exp.select(exp.alias_(bucket, _TIME, quoted=True)).from_(
        exp.Table(
            this=exp.to_identifier(model.table),
            db=exp.to_identifier(model.layer),
            alias=exp.TableAlias(this=exp.to_identifier(alias)),
        ),
        copy=False,
    )
    groups: list[exp.Expr] = [bucket.copy()]
    for name in plan.dimensions:
        select = select.select(exp.alias_(dimension(name), name, quoted=True), copy=False)
        groups.append(dimension(name))
    for metric in plan.metrics:
        for name, agg in _partial_columns(metric):
            select = select.select(
                exp.alias_(_partial(metric, agg, column, dimension), name, quoted=True), copy=False
            )
    if time_range is not None:
        select = select.where(
            exp.and_(
                exp.GTE(
                    this=column(model.time_column),
                    expression=_instant(time_range, time_range.start, model),
                ),
                exp.LT(
                    this=column(model.time_column),
                    expression=_instant(time_range, time_range.end, model),
                ),
            ),
            copy=False,
        )
    return select.group_by(*groups, copy=False)


def _instant(time_range: TimeRange, moment: datetime, model: SemanticModel) -> exp.Expr:
    """A local bound as the model's time column stores it (date, UTC instant, or naive UTC)."""
    if model.time_is_date:
        return exp.cast(
            exp.Literal.string(moment.date().isoformat()), exp.DataType(this=exp.DataType.Type.DATE)
        )
    instant = time_range.utc(moment)
    if model.time_is_naive:
        text = instant.replace(tzinfo=None).isoformat(sep=" ")
        return exp.cast(exp.Literal.string(text), exp.DataType(this=exp.DataType.Type.TIMESTAMP))
    return exp.cast(
        exp.Literal.string(instant.isoformat(sep=" ")),
        exp.DataType(this=exp.DataType.Type.TIMESTAMPTZ),
    )


def _partial(
    metric: Metric,
    agg: str,
    column: Callable[[str], exp.Expr],
    dimension: Callable[[str], exp.Expr],
) -> exp.Expr:
    return aggregate(metric, agg, column, dimension, dialect="duckdb")


def rollup_refusal(
    plan: RollupPlan,
    metrics: Sequence[Metric],
    *,
    layer: SemanticLayer,
    grain: str | None,
    data_start: datetime | None,
    end: datetime | None,
) -> str | None:
    """Why the rollup cannot answer for these metrics exactly, or ``None`` when it can."""
    missing = [m.name for m in metrics if m.name not in plan.metric_names]
    if missing:
        return (
            f"it does not hold {', '.join(missing)} "
            "(distinct counts, medians and percentiles are never rolled up)"
        )
    if grain is not None and grain not in _NESTS[plan.grain]:
        return f"{grain} buckets are not made of whole {plan.grain} buckets"
    for label, moment in (("start", data_start), ("end", end)):
        if moment is not None and bucket_start(moment, plan.grain, layer.calendar) != moment:
            return f"the range's {label} {moment.isoformat()} is not on a {plan.grain} boundary"
    return None


def rollup_aggregate(
    plan: RollupPlan,
    metrics: Sequence[Metric],
    layer: SemanticLayer,
    *,
    by: Sequence[str],
    grain: str | None,
    data_start: datetime | None,
    end: datetime | None,
    condition: exp.Expr | None,
) -> exp.Select:
    """The model's aggregate CTE, answered from the rollup instead of the raw table."""
    alias = "r"

    def column(name: str) -> exp.Expr:
        return exp.column(name, table=alias, quoted=True)

    select = exp.select().from_(
        exp.Table(
            this=exp.to_identifier(plan.name),
            db=exp.to_identifier("gold"),
            alias=exp.TableAlias(this=exp.to_identifier(alias)),
        ),
        copy=False,
    )
    groups: list[exp.Expr] = []
    if grain is not None:
        bucket = bucket_expression(column(_TIME), grain, layer.calendar, is_date=True)
        select = select.select(exp.alias_(bucket, _TIME, quoted=True), copy=False)
        groups.append(bucket.copy())
    for name in by:
        select = select.select(exp.alias_(column(name), name, quoted=True), copy=False)
        groups.append(column(name))
    for metric in metrics:
        select = select.select(
            exp.alias_(_combined(metric, column), metric.name, quoted=True), copy=False
        )
    filters: list[exp.Expr] = []
    stamp = exp.DataType(this=exp.DataType.Type.TIMESTAMP)
    if data_start is not None:
        filters.append(
            exp.GTE(
                this=column(_TIME),
                expression=exp.cast(exp.Literal.string(data_start.isoformat(sep=" ")), stamp),
            )
        )
    if end is not None:
        filters.append(
            exp.LT(
                this=column(_TIME),
                expression=exp.cast(exp.Literal.string(end.isoformat(sep=" ")), stamp),
            )
        )
    if condition is not None:
        filters.append(replace_columns(condition, column))
    if filters:
        select = select.where(exp.and_(*filters), copy=False)
    if groups:
        select = select.group_by(*groups, copy=False)
    return select


def _combined(metric: Metric, column: Callable[[str], exp.Expr]) -> exp.Expr:
    """A metric's value from its partial states over several rollup rows."""
    assert metric.measure is not None  # noqa: S101
    agg = metric.measure.agg
    if agg == "sum":
        return exp.cast(exp.Sum(this=column(metric.name)), _DOUBLE)
    if agg == "count":
        total = exp.Sum(this=column(metric.name))
        return exp.cast(exp.Coalesce(this=total, expressions=[exp.Literal.number(0)]), _BIGINT)
    if agg == "min":
        return exp.Min(this=column(metric.name))
    if agg == "max":
        return exp.Max(this=column(metric.name))
    share = exp.Div(
        this=exp.cast(exp.Sum(this=column(f"{metric.name}__sum")), _DOUBLE),
        expression=exp.Nullif(
            this=exp.cast(exp.Sum(this=column(f"{metric.name}__count")), _DOUBLE),
            expression=exp.Literal.number(0),
        ),
    )
    return exp.cast(share, _DOUBLE)
