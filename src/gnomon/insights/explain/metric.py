"""A metric's change, broken down into leaves through the semantic layer and explained.

Why leaves come from metric queries and not from the tables: a leaf's value is the metric's
definition (filters, measures, the ratio's parts) applied to the rows the reader may see, so an
explanation only ever uses data its reader could have queried, under the same tenant, row and
column policies as any query. One query per window gives every leaf at once: the metric grouped
by all the dimensions searched.

Which metrics can be explained: sums and counts (a leaf's share of the change is its own change)
and ratios of them (each leaf keeps numerator and denominator, so segments are judged by their
aggregated ratio and a change is split into rate and mix). Medians, distinct counts and formulas
do not add up over segments; they are refused with a hint.

The default baseline suits daily business data: for a focus window of up to a week, the average
of the same weekdays in the four weeks before (so Monday is compared with Mondays); for longer
windows, the window of the same length just before, moved back by whole weeks. At coarser grains,
the four buckets before (weeks) or the one before (months and longer). The baseline's total is
scaled to the focus window's length, so a three-day focus is compared with three days' worth.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlglot import exp

from gnomon.context import RequestContext
from gnomon.errors import InvalidInput
from gnomon.insights.explain.leaves import LeafTable
from gnomon.insights.explain.localize import LocalizeOptions, localize
from gnomon.insights.findings import Cause, Explanation, MetricFacts, Moment
from gnomon.insights.series import float_column
from gnomon.semantic import (
    Metric,
    MetricQuery,
    SemanticLayer,
    SemanticService,
    bucket_start,
    next_bucket,
    shift_back,
)
from gnomon.semantic.definitions import RatioMetric

__all__ = [
    "ExplainRequest",
    "MetricLeaves",
    "cause_rows",
    "explain_metric",
    "metric_facts",
    "metric_leaves",
    "segment_filter",
]

_ADDITIVE = frozenset({"sum", "count"})
_SEASON = {"minute": timedelta(hours=1), "hour": timedelta(days=1), "day": timedelta(days=7)}
_WINDOWS = {"minute": 4, "hour": 4, "day": 4, "week": 4}
_FIXED_STEP = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
"""How many earlier windows a default baseline averages, per grain (1 for the rest)."""


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    """What to explain.

    Attributes:
        metric: the metric.
        at: a moment in the first bucket of the focus window.
        until: a moment in its last bucket (the focus is one bucket without it).
        baseline: the first and last moments of the baseline (its buckets inclusive); the
            default is described in the module's docstring.
        by: the dimensions searched (default: every dimension of the metric).
        segment: restrict everything to these dimension values (explain a segment's change).
        expected: the value the metric was expected to have over the focus window (a
            detector's expectation, say); the baseline is scaled to it.
        adjust: scale the baseline by the change the data shared (first the total's, then
            that of everything the causes found leave out), so that a season or a trend that
            lifted every segment alike is not itself the change explained, only what departed
            from it. For comparisons across months, where seasons differ.
    """

    metric: str
    at: Moment
    until: Moment | None = None
    baseline: tuple[Moment, Moment] | None = None
    by: tuple[str, ...] | None = None
    segment: Mapping[str, Any] = field(default_factory=dict)
    expected: float | None = None
    adjust: bool = False


@dataclass(frozen=True, slots=True)
class _Window:
    start: datetime
    end: datetime
    """Exclusive."""


def metric_facts(metric: Metric) -> MetricFacts:
    """What narration needs of a metric's definition."""
    spec = metric.spec
    return MetricFacts(
        name=metric.name,
        label=metric.name.replace("_", " "),
        unit=spec.unit,
        format=spec.format,
        direction=spec.direction,
        owner=spec.owner,
    )


@dataclass(frozen=True, slots=True)
class MetricLeaves:
    """A metric's leaves over the focus window and the baseline, before any search.

    Attributes:
        table: the leaves, observed (focus) and expected (baseline, scaled).
        before: the metric's total in the baseline (its ratio for ratio metrics).
        after: its total in the focus window.
    """

    metric: Metric
    table: LeafTable | None
    """``None`` when neither window holds a row."""
    before: float | None
    after: float | None
    focus: tuple[Moment, Moment]
    baseline: tuple[Moment, Moment]
    baseline_windows: int
    dimensions: tuple[str, ...]


def metric_leaves(
    semantic: SemanticService, request: ExplainRequest, *, ctx: RequestContext
) -> MetricLeaves:
    """The leaves to search for ``request``, read as ``ctx`` may see the data.

    Raises:
        UnknownMetric: the metric is not defined.
        InvalidInput: the metric does not add up over segments, a dimension is not the
            metric's, or the windows are wrong (baseline overlapping the focus, say).
    """
    layer = semantic.layer(ctx=ctx)
    metric = layer.metric(request.metric)
    parts = _parts(layer, metric)
    dimensions = _dimensions(layer, metric, request)
    grain = metric.spec.grain
    focus = _focus(request, grain, layer)
    baselines = _baselines(request, focus, grain, layer)
    where = segment_filter(request.segment)
    real = _leaves(semantic, parts, dimensions, focus, where, ctx)
    length = focus.end - focus.start
    pieces = [
        (piece, _leaves(semantic, parts, dimensions, piece, where, ctx))
        for piece in _pieces(baselines, length, grain)
    ]
    predict: dict[tuple[Any, ...], np.ndarray] = {}
    for _, found in pieces:
        for key, values in found.items():
            predict[key] = predict.get(key, 0.0) + values
    scale = length / sum((piece.end - piece.start for piece, _ in pieces), timedelta())
    keys = sorted(set(real) | set(predict), key=_sort_key)
    width = len(parts)
    observed = np.array([real.get(k, np.zeros(width)) for k in keys]).reshape(-1, width)
    expected = np.array([predict.get(k, np.zeros(width)) for k in keys]).reshape(-1, width)
    expected = expected * scale
    history = None
    if width == 1 and len(pieces) >= 2:
        history = np.column_stack(
            [
                np.array([found.get(k, np.zeros(1))[0] for k in keys], dtype=np.float64)
                * (length / (piece.end - piece.start))
                for piece, found in pieces
            ]
        )
    factor = np.ones(width)
    if request.expected is not None:
        factor = _scaled_to(expected, request.expected, ratio=width == 2)
    elif request.adjust:
        factor = _shared_change(observed, expected)
    expected = expected * factor
    if history is not None:
        history = history * factor[0]
    labels = {
        name: np.array([k[i] for k in keys], dtype=object) for i, name in enumerate(dimensions)
    }
    table: LeafTable | None = None
    if width == 2:
        if keys:
            table = LeafTable.ratio(
                labels, observed[:, 0], observed[:, 1], expected[:, 0], expected[:, 1]
            )
        before = _ratio(expected[:, 0].sum(), expected[:, 1].sum())
        after = _ratio(observed[:, 0].sum(), observed[:, 1].sum())
    else:
        if keys:
            table = LeafTable.additive(labels, observed[:, 0], expected[:, 0], history=history)
        before, after = float(expected[:, 0].sum()), float(observed[:, 0].sum())
    return MetricLeaves(
        metric=metric,
        table=table,
        before=before,
        after=after,
        focus=(_shown(focus.start, grain), _shown(focus.end, grain)),
        baseline=(_shown(baselines[-1].start, grain), _shown(baselines[0].end, grain)),
        baseline_windows=len(baselines),
        dimensions=tuple(dimensions),
    )


def explain_metric(
    semantic: SemanticService,
    request: ExplainRequest,
    *,
    ctx: RequestContext,
    options: LocalizeOptions | None = None,
) -> Explanation:
    """Why ``request.metric`` moved between the baseline and the focus window, as ``ctx`` sees it.

    Raises:
        UnknownMetric: the metric is not defined.
        InvalidInput: the metric does not add up over segments, a dimension is not the
            metric's, or the windows are wrong (baseline overlapping the focus, say).
    """
    leaves = metric_leaves(semantic, request, ctx=ctx)
    table, before = leaves.table, leaves.before
    causes = () if table is None else localize(table, options)
    if request.adjust and table is not None and not table.is_ratio:
        table, causes = _readjusted(table, causes, options)
        before = float(table.predict.sum())
    return Explanation(
        metric=metric_facts(leaves.metric),
        focus=leaves.focus,
        baseline=leaves.baseline,
        baseline_windows=leaves.baseline_windows,
        before=before,
        after=leaves.after,
        causes=causes,
        dimensions=leaves.dimensions,
        segment=dict(request.segment),
    )


_READJUSTMENTS = 3


def _readjusted(
    table: LeafTable, causes: tuple[Cause, ...], options: LocalizeOptions | None
) -> tuple[LeafTable, tuple[Cause, ...]]:
    """The baseline rescaled by the change of everything the causes leave out, searched again.

    The shared change is first estimated over all leaves (see :func:`_shared_change`), where
    the causes' own leaves pull it their way; once causes are found, the change of the rest is
    the cleaner estimate. A few rounds settle it.
    """
    for _ in range(_READJUSTMENTS):
        rest = ~_covered(table, causes)
        expected = float(table.predict[rest].sum())
        if expected <= 0:
            break
        factor = float(table.real[rest].sum()) / expected
        if abs(factor - 1.0) < 1e-3:
            break
        history = None if table.history is None else table.history * factor
        table = LeafTable.additive(
            table.labels, table.real, table.predict * factor, history=history
        )
        causes = localize(table, options)
    return table, causes


def _covered(table: LeafTable, causes: Sequence[Cause]) -> np.ndarray:
    """Which leaves lie in any of the causes' segments."""
    covered = np.zeros(len(table.real), dtype=bool)
    for cause in causes:
        inside = np.ones(len(table.real), dtype=bool)
        for name, value in cause.segment.items():
            inside &= table.labels[name] == value
        covered |= inside
    return covered


def _shown(moment: datetime, grain: str) -> Moment:
    """A bucket boundary as people read it: a date from daily grain up, else a time."""
    return moment if grain in ("minute", "hour") else moment.date()


def _parts(layer: SemanticLayer, metric: Metric) -> tuple[str, ...]:
    """The additive metrics a leaf keeps: the metric itself, or a ratio's two parts."""
    if metric.kind == "simple" and metric.measure is not None:
        if metric.measure.agg in _ADDITIVE:
            return (metric.name,)
        raise InvalidInput(
            f"metric {metric.name!r} is a {metric.measure.agg}, which does not add up over "
            "segments, so its change cannot be split among them.",
            hint="Explain a sum or count, or a ratio of two (define a `type: ratio` metric).",
        )
    if isinstance(metric.spec, RatioMetric):
        names = (metric.spec.numerator, metric.spec.denominator)
        for name in names:
            part = layer.metric(name)
            if part.kind != "simple" or part.measure is None or part.measure.agg not in _ADDITIVE:
                raise InvalidInput(
                    f"ratio {metric.name!r} divides {name!r}, which is not a sum or count, so "
                    "its segments cannot be compared part by part.",
                    hint="Explain the ratio's numerator and denominator on their own.",
                )
        return names
    raise InvalidInput(
        f"metric {metric.name!r} is a {metric.kind} metric; only sums, counts and ratios of them "
        "split over segments.",
        hint=f"Explain one of the metrics it is computed from: {', '.join(metric.inputs)}."
        if metric.inputs
        else "Explain a sum or count metric.",
    )


def _dimensions(layer: SemanticLayer, metric: Metric, request: ExplainRequest) -> list[str]:
    available = layer.dimensions_of(metric.name)
    chosen = list(request.by) if request.by else [d for d in available if d not in request.segment]
    unknown = [d for d in [*chosen, *request.segment] if d not in available]
    if unknown:
        raise InvalidInput(
            f"metric {metric.name!r} has no dimension {', '.join(map(repr, unknown))}.",
            hint=f"Use some of: {', '.join(available) or '(none)'}.",
        )
    if not chosen:
        raise InvalidInput(
            f"metric {metric.name!r} has no dimension to split its change by.",
            hint="Add dimensions to the metric's semantic model.",
        )
    return chosen


def _moment(value: Moment, layer: SemanticLayer) -> datetime:
    """A moment as local wall-clock time of the calendar (buckets are cut there)."""
    if not isinstance(value, datetime):
        return datetime.combine(value, time())
    if value.tzinfo is None:
        return value
    return value.astimezone(ZoneInfo(layer.calendar.time_zone)).replace(tzinfo=None)


def _bucket(value: Moment, grain: str, layer: SemanticLayer) -> datetime:
    return bucket_start(_moment(value, layer), grain, layer.calendar)


def _focus(request: ExplainRequest, grain: str, layer: SemanticLayer) -> _Window:
    start = _bucket(request.at, grain, layer)
    last = start if request.until is None else _bucket(request.until, grain, layer)
    if last < start:
        raise InvalidInput(
            f"the focus window ends ({request.until}) before it starts ({request.at}).",
            hint="Give --until on or after --at.",
        )
    return _Window(start, next_bucket(last, grain))


def _baselines(
    request: ExplainRequest, focus: _Window, grain: str, layer: SemanticLayer
) -> list[_Window]:
    """The baseline windows, most recent first."""
    if request.baseline is not None:
        first, last = request.baseline
        start = _bucket(first, grain, layer)
        end = next_bucket(_bucket(last, grain, layer), grain)
        if end <= start:
            raise InvalidInput(
                f"the baseline ends ({last}) before it starts ({first}).",
                hint="Write the baseline as START..END with START first.",
            )
        if start < focus.end and focus.start < end:
            raise InvalidInput(
                "the baseline overlaps the focus window; a change is measured against another "
                "stretch of time.",
                hint="Pick a baseline before (or after) the focus window.",
            )
        return [_Window(start, end)]
    length = focus.end - focus.start
    season = _SEASON.get(grain)
    if season is not None:
        shift = season * -(-length // season)
        count = _WINDOWS[grain] if length <= season else 1
        return [
            _Window(focus.start - shift * k, focus.end - shift * k) for k in range(1, count + 1)
        ]
    windows = []
    end = focus.start
    buckets = _buckets(focus, grain)
    for _ in range(_WINDOWS.get(grain, 1)):
        start = end
        for _ in range(buckets):
            start = shift_back(start, grain, year=False)
        windows.append(_Window(start, end))
        end = start
    return windows


def _buckets(window: _Window, grain: str) -> int:
    count, moment = 0, window.start
    while moment < window.end:
        moment = next_bucket(moment, grain)
        count += 1
    return count


def segment_filter(segment: Mapping[str, Any]) -> str | None:
    """A filter keeping one segment, built as a tree so values are never spliced into SQL."""
    if not segment:
        return None
    conditions = [
        exp.Is(this=exp.column(name), expression=exp.Null())
        if value is None
        else exp.EQ(this=exp.column(name), expression=exp.convert(value))
        for name, value in segment.items()
    ]
    return exp.and_(*conditions).sql()


def _leaves(
    semantic: SemanticService,
    parts: Sequence[str],
    dimensions: Sequence[str],
    window: _Window,
    where: str | None,
    ctx: RequestContext,
) -> dict[tuple[Any, ...], np.ndarray]:
    """Each leaf's values of ``parts`` over ``window``."""
    query = MetricQuery.build(
        list(parts), by=list(dimensions), start=window.start, end=window.end, where=where
    )
    table = semantic.query(query, ctx=ctx).table
    keys = zip(*(table.column(d).to_pylist() for d in dimensions), strict=True)
    values = np.column_stack([float_column(table.column(p)) for p in parts])
    return dict(zip(keys, np.nan_to_num(values), strict=True))


def _scaled_to(values: np.ndarray, expected: float, *, ratio: bool) -> np.ndarray:
    """Per part, the factor that makes the baseline's total (or ratio) ``expected``."""
    if ratio:
        total = _ratio(values[:, 0].sum(), values[:, 1].sum())
        return np.array([expected / total if total else 1.0, 1.0])
    total = float(values[:, 0].sum())
    return np.array([expected / total if total else 1.0])


_MAX_PIECES = 8
"""A single long baseline is read in at most this many pieces to learn how leaves vary."""


def _pieces(baselines: list[_Window], length: timedelta, grain: str) -> list[_Window]:
    """The baseline windows; a single one at least twice the focus long, cut into pieces.

    The pieces add up to the same baseline; read apart, they show how much each segment
    varies from one stretch to the next (see ``LeafTable.history``).
    """
    if len(baselines) > 1 or grain not in _SEASON:
        return baselines
    window = baselines[0]
    count = min(_MAX_PIECES, (window.end - window.start) // length)
    if count < 2:
        return baselines
    span = window.end - window.start
    step = _FIXED_STEP[grain]
    bounds = [window.start + (span * i / count) // step * step for i in range(count)]
    bounds.append(window.end)
    return [_Window(a, b) for a, b in pairwise(bounds) if b > a]


def _shared_change(observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Per part, the change of its total from the baseline to the focus (1 if none).

    The first estimate of the change every segment shared; :func:`_readjusted` refines it to
    the change of what the causes leave out.
    """
    base = expected.sum(axis=0)
    factor: np.ndarray = np.divide(
        observed.sum(axis=0), base, out=np.ones_like(base), where=base > 0
    )
    return factor


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def _sort_key(key: tuple[Any, ...]) -> tuple[str, ...]:
    return tuple("" if part is None else str(part) for part in key)


def cause_rows(explanation: Explanation) -> list[dict[str, Any]]:
    """The causes as the CLI and the API list them (JSON-able), most important first."""
    return [
        {
            "rank": rank,
            "metric": explanation.metric.name,
            "segment": dict(cause.segment),
            "contribution": cause.contribution,
            "before": cause.before,
            "after": cause.after,
            "confidence": cause.confidence,
            "effect": cause.effect,
            "surprise": cause.surprise,
        }
        for rank, cause in enumerate(explanation.causes, start=1)
    ]
