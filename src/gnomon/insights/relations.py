"""Drivers of a metric among the other metrics, and the effect of a dated change on it.

The statistics (:mod:`gnomon.insights.drivers`) work on plain aligned series; this module feeds
them metrics as the reader may see them, through the semantic layer (tenant, row and column
policies apply as for any query), at the target metric's grain.

Which metrics are candidates by default: every other metric that is not computed from the same
measure as the target. Revenue per order, web revenue or a running total of revenue "explain"
revenue by definition, not by evidence, so they are left out unless named explicitly.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from gnomon.context import RequestContext
from gnomon.errors import InvalidInput
from gnomon.insights.drivers import (
    DiDResult,
    Importance,
    Relation,
    diff_in_diff,
    importance,
    relate,
)
from gnomon.insights.explain.metric import segment_filter
from gnomon.insights.findings import Moment
from gnomon.insights.series import float_column
from gnomon.semantic import MetricQuery, SemanticLayer, SemanticService

__all__ = [
    "DriverReport",
    "ImpactReport",
    "change_impact",
    "driver_rows",
    "metric_drivers",
]

_MIN_BUCKETS = 10
_IMPACT_BEFORE = 56
_IMPACT_AFTER = 28
"""Default buckets either side of a change for its difference-in-differences."""


@dataclass(frozen=True, slots=True)
class DriverReport:
    """The candidates' relations to a metric (and their importance, when asked)."""

    metric: str
    grain: str
    buckets: int
    relations: tuple[Relation, ...]
    importances: tuple[Importance, ...] = ()


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """A change's effect on a segment of a metric, against a control segment."""

    metric: str
    grain: str
    change: Moment
    treated: Mapping[str, Any]
    control: Mapping[str, Any]
    result: DiDResult


def _related_by_definition(layer: SemanticLayer, name: str) -> set[str]:
    """Metrics sharing a measure with ``name`` (itself included)."""

    def measures(metric: str) -> set[tuple[str, str]]:
        return {
            (base.model.name, base.measure.name)
            for base in layer.base_metrics(metric)
            if base.model is not None and base.measure is not None
        }

    own = measures(name)
    return {other for other in layer.metrics if measures(other) & own}


def _series(
    semantic: SemanticService,
    metrics: Sequence[str],
    *,
    grain: str,
    start: Moment | None,
    end: Moment | None,
    where: str | None,
    ctx: RequestContext,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    query = MetricQuery.build(list(metrics), grain=grain, start=start, end=end, where=where)
    table = semantic.query(query, ctx=ctx).table.sort_by("time")
    times = np.asarray(table.column("time").to_numpy(zero_copy_only=False))
    return times, {m: float_column(table.column(m)) for m in metrics}


def metric_drivers(
    semantic: SemanticService,
    metric: str,
    *,
    ctx: RequestContext,
    candidates: Sequence[str] | None = None,
    start: Moment | None = None,
    end: Moment | None = None,
    max_lag: int = 7,
    with_importance: bool = False,
) -> DriverReport:
    """How the other metrics relate to ``metric`` over its series (the whole span by default).

    Raises:
        UnknownMetric: a metric is not defined.
        InvalidInput: no candidate is left, or the series are too short to judge.
    """
    layer = semantic.layer(ctx=ctx)
    target = layer.metric(metric)
    if candidates:
        chosen = [c for c in dict.fromkeys(candidates) if c != metric]
        for name in chosen:
            layer.metric(name)
    else:
        related = _related_by_definition(layer, metric)
        chosen = [
            name
            for name, m in sorted(layer.metrics.items())
            if name not in related and m.kind not in ("cumulative", "period_over_period")
        ]
    if not chosen:
        raise InvalidInput(
            f"there is no other metric to compare {metric!r} with.",
            hint="Name candidates with --with, or define more metrics.",
        )
    grain = target.spec.grain
    times, values = _series(
        semantic, [metric, *chosen], grain=grain, start=start, end=end, where=None, ctx=ctx
    )
    if times.size < _MIN_BUCKETS:
        raise InvalidInput(
            f"{metric!r} has {times.size} {grain} buckets in that range; relations need at "
            f"least {_MIN_BUCKETS}.",
            hint="Widen the range (--since/--until) or leave it out for the whole history.",
        )
    found = relate(
        values[metric], {c: values[c] for c in chosen}, max_lag=min(max_lag, times.size // 4)
    )
    ranked: tuple[Importance, ...] = ()
    if with_importance:
        usable = {r.candidate: values[r.candidate] for r in found if r.skipped is None}
        if usable:
            ranked = tuple(importance(values[metric], usable))
    return DriverReport(metric, grain, int(times.size), tuple(found), ranked)


def change_impact(
    semantic: SemanticService,
    metric: str,
    *,
    change: Moment,
    treated: Mapping[str, Any],
    control: Mapping[str, Any],
    ctx: RequestContext,
    start: Moment | None = None,
    end: Moment | None = None,
) -> ImpactReport:
    """The effect of a change on the ``treated`` segment, against the ``control`` segment.

    Without a range, the eight weeks' worth of buckets before the change and four after are
    used (at the metric's grain: days, so 56 and 28).

    Raises:
        UnknownMetric: the metric is not defined.
        InvalidInput: the segments are missing or equal, or the range leaves too few buckets
            on either side of the change.
    """
    if not treated or not control:
        raise InvalidInput(
            "a difference-in-differences needs a treated and a control segment.",
            hint="For example: --treated region=EMEA --control region=AMER",
        )
    if dict(treated) == dict(control):
        raise InvalidInput(
            "the treated and the control segment are the same.",
            hint="Compare the segment the change hit with one it did not.",
        )
    layer = semantic.layer(ctx=ctx)
    target = layer.metric(metric)
    grain = target.spec.grain
    moment = (
        change if isinstance(change, datetime) else datetime(change.year, change.month, change.day)
    )
    step = timedelta(hours=1) if grain == "hour" else timedelta(days=1)
    if grain not in ("hour", "day") and (start is None or end is None):
        raise InvalidInput(
            f"{metric!r} is kept at {grain} grain; give the range to compare over.",
            hint="Add --since and --until around the change.",
        )
    start = start if start is not None else moment - step * _IMPACT_BEFORE
    end = end if end is not None else moment + step * _IMPACT_AFTER
    series = []
    for segment in (treated, control):
        times, values = _series(
            semantic,
            [metric],
            grain=grain,
            start=start,
            end=end,
            where=segment_filter(segment),
            ctx=ctx,
        )
        series.append((times, values[metric]))
    (times, treated_values), (_, control_values) = series
    index = int(np.searchsorted(times, np.datetime64(moment)))
    result = diff_in_diff(treated_values, control_values, index)
    return ImpactReport(metric, grain, change, dict(treated), dict(control), result)


def driver_rows(report: DriverReport) -> list[dict[str, Any]]:
    """The relations as the CLI and the API list them (JSON-able), strongest first."""
    weights = {i.feature: i for i in report.importances}
    rows = []
    for relation in report.relations:
        row: dict[str, Any] = {
            "metric": report.metric,
            "candidate": relation.candidate,
            "pearson": None if relation.pearson is None else relation.pearson.statistic,
            "spearman": None if relation.spearman is None else relation.spearman.statistic,
            "best_lag": relation.lag,
            "lagged_r": None if relation.lagged is None else relation.lagged.statistic,
            "granger_p": None if relation.granger is None else relation.granger.p_adjusted,
            "p_adjusted": _smallest_p(relation),
            "significant": relation.significant,
            "skipped": relation.skipped,
        }
        if report.importances:
            weight = weights.get(relation.candidate)
            row["importance"] = None if weight is None else weight.mean
        rows.append(row)
    return rows


def _smallest_p(relation: Relation) -> float | None:
    tests = (relation.pearson, relation.spearman, relation.lagged, relation.granger)
    values = [t.p_adjusted for t in tests if t is not None]
    return min(values) if values else None
