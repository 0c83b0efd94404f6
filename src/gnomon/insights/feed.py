"""The insight feed: what stands out in the metrics a reader may see, best first, for them.

Each monitored metric's series (overall, and per segment as its ``monitor`` block says) is read
through the semantic layer exactly as a scan reads it (:func:`extract_series`: tenant, row and
column policies apply, the bucket still filling is left out, small segments are skipped), and
the pattern finders judge them all in one run so that their p-values are corrected together.
Running totals and period-over-period metrics are left out unless named: they restate another
metric's series.

Personalisation: the reader's role decides which insights they see (an explicit role, else the
first of their roles that the feed knows: ``executive``, ``manager``, ``analyst``); the metrics
whose ``owner`` is the reader (their user name, or the ``email`` attribute) come first.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gnomon.context import RequestContext
from gnomon.insights.explain.metric import metric_facts
from gnomon.insights.findings import Insight
from gnomon.insights.patterns import ROLES, PatternOptions, SeriesInput, find_insights, personalise
from gnomon.insights.series import SeriesRequest, extract_series
from gnomon.semantic import SemanticService

__all__ = ["insight_feed", "insight_rows"]

_RESTATED = frozenset({"cumulative", "period_over_period"})
"""Metric kinds that restate another metric's series (running totals, changes): by default the
feed judges the metric itself, so one event is not told three times."""


def insight_feed(
    semantic: SemanticService,
    *,
    ctx: RequestContext,
    now: datetime,
    metrics: Sequence[str] | None = None,
    role: str | None = None,
    segments: bool = True,
    options: PatternOptions | None = None,
) -> list[Insight]:
    """The significant patterns in the metrics (every monitored one by default), for ``ctx``.

    Raises:
        UnknownMetric: a named metric is not defined.
        InvalidInput: an unknown role.
    """
    layer = semantic.layer(ctx=ctx)
    if metrics:
        names = list(dict.fromkeys(metrics))
        for name in names:
            layer.metric(name)
    else:
        names = sorted(
            n
            for n, m in layer.metrics.items()
            if m.spec.monitor.enabled and m.kind not in _RESTATED
        )
    inputs: list[SeriesInput] = []
    for name in names:
        metric = layer.metric(name)
        facts = metric_facts(metric)
        request = SeriesRequest(metric=name, monitor=metric.spec.monitor, segments=segments)
        for series in extract_series(semantic, request, ctx=ctx, now=now):
            inputs.append(
                SeriesInput(
                    facts,
                    series.times,
                    series.values,
                    segment=dict(series.segment),
                    share_of_total=None if series.share is None else min(series.share, 1.0),
                )
            )
    found = find_insights(inputs, options=options) if inputs else []
    reader = ctx.principal
    me = {reader.user, str(reader.attributes.get("email", reader.user))}
    owned = {n for n in names if layer.metric(n).spec.owner in me}
    known = sorted(r for r in reader.roles if r in ROLES)
    chosen = role if role is not None else (known[0] if known else None)
    return personalise(found, role=chosen, owned=owned)


def insight_rows(insights: Sequence[Insight]) -> list[dict[str, Any]]:
    """The insights as the CLI and the API list them (JSON-able), in feed order.

    ``p_value`` is the test's own, ``q_value`` the one after the correction over the feed (what
    decided that the insight is kept), ``share`` the series' share of the metric's total, and
    ``also`` the same event as other tests or segments saw it (merged into this one).
    """
    return [
        {
            "rank": rank,
            "kind": one.kind,
            "metric": one.metric.name,
            "segment": dict(one.segment),
            "start": one.start,
            "end": one.end,
            "value": one.value,
            "reference": one.reference,
            "magnitude": one.magnitude,
            "score": one.score,
            "test": one.test,
            "statistic": one.statistic,
            "p_value": one.p_value,
            "q_value": one.details.get("q_value"),
            "share": one.details.get("share"),
            "other_metric": None if one.other_metric is None else one.other_metric.name,
            "also": [
                {key: seen[key] for key in ("kind", "segment", "start", "end")}
                for seen in one.details.get("also", ())
            ],
        }
        for rank, one in enumerate(insights, start=1)
    ]
