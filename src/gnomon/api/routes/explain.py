"""Explanations of a metric's change, drivers, change impact, and the insight feed.

Both read the data as the caller may see it (tenant, row and column policies): an explanation
only ever uses rows the caller could query, so a segment hidden by a policy never appears among
the causes and the totals are the caller's own.
"""

from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from gnomon.api.schemas import ERROR_RESPONSES, operation_id, segment_of, state_of
from gnomon.api.security import requires
from gnomon.context import RequestContext
from gnomon.errors import InvalidInput
from gnomon.insights.explain.metric import ExplainRequest, cause_rows
from gnomon.insights.feed import insight_rows
from gnomon.insights.findings import Explanation
from gnomon.insights.narrate import chart_for, narrate, narrate_feed
from gnomon.insights.relations import driver_rows

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["insights"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)

_MOMENT = (
    "A date (daily grain and coarser) or a local wall-clock time of the metrics' calendar "
    "(ISO 8601, no offset)."
)
Lang = Annotated[
    str,
    Query(
        min_length=2,
        max_length=16,
        description="Narrative language: en, de, es, or a locale such as de_CH.",
    ),
]
Tone = Annotated[Literal["executive", "casual", "technical"], Query()]
NarrativeFormat = Annotated[Literal["text", "md", "html"], Query(alias="narrative_format")]
Segment = Annotated[
    list[str] | None,
    Query(description="dimension=value, repeat for several.", max_length=8),
]


class CausePublic(BaseModel):
    """One root-cause element, most important first."""

    rank: int
    segment: dict[str, Any] = Field(description="Dimension values; others are 'any'.")
    contribution: float = Field(description="Share of the change, signed (0.83 = 83 %).")
    before: float | None = Field(description="The segment's value in the baseline.")
    after: float | None = Field(description="Its value in the focus window.")
    confidence: float = Field(description="How sure the search is, 0 to 1.")
    effect: str = Field(description="volume, or for ratios rate, mix or both.")
    surprise: float | None = None


class ExplanationPublic(BaseModel):
    """A metric's change between a baseline and a focus window, and what explains it."""

    metric: str
    focus_start: str = Field(description=_MOMENT)
    focus_end: str = Field(description="Exclusive.")
    baseline_start: str | None
    baseline_end: str | None = Field(description="Exclusive.")
    baseline_windows: int = Field(description="Windows averaged into the baseline.")
    before: float | None
    after: float | None
    change: float | None
    relative_change: float | None
    dimensions: list[str]
    segment: dict[str, Any]
    causes: list[CausePublic]
    narrative: str


def _public(found: Explanation, *, lang: str, tone: str, fmt: str) -> ExplanationPublic:
    baseline = found.baseline or (None, None)
    return ExplanationPublic(
        metric=found.metric.name,
        focus_start=_stamp(found.focus[0]),
        focus_end=_stamp(found.focus[1]),
        baseline_start=None if baseline[0] is None else _stamp(baseline[0]),
        baseline_end=None if baseline[1] is None else _stamp(baseline[1]),
        baseline_windows=found.baseline_windows,
        before=found.before,
        after=found.after,
        change=found.change,
        relative_change=found.relative_change,
        dimensions=list(found.dimensions),
        segment=dict(found.segment),
        causes=[
            CausePublic(**{k: v for k, v in row.items() if k != "metric"})
            for row in cause_rows(found)
        ],
        narrative=narrate(
            found,
            lang=lang,
            tone=tone,
            fmt=fmt,
            chart=chart_for(found, lang=lang) if fmt == "html" else None,
        ),
    )


def _stamp(moment: date | datetime) -> str:
    """A bucket boundary: a date from daily grain up, else a local wall-clock time."""
    return moment.isoformat()


@router.get("/explain/{metric}", response_model=ExplanationPublic)
def explain_metric(
    metric: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    at: Annotated[date | datetime, Query(description="The focus window's first bucket.")],
    until: Annotated[
        date | datetime | None, Query(description="Its last bucket (default: just `at`).")
    ] = None,
    baseline_start: Annotated[date | datetime | None, Query()] = None,
    baseline_end: Annotated[
        date | datetime | None,
        Query(description="With baseline_start: the baseline's last bucket (inclusive)."),
    ] = None,
    by: Annotated[
        list[Annotated[str, Field(max_length=128)]] | None,
        Query(description="Search only these dimensions.", max_length=16),
    ] = None,
    segment: Segment = None,
    adjust: Annotated[
        bool,
        Query(description="Scale the baseline by the change most segments shared."),
    ] = False,
    lang: Lang = "en",
    tone: Tone = "executive",
    narrative_format: NarrativeFormat = "text",
) -> ExplanationPublic:
    """Why the metric moved: the segments explaining its change, in the caller's view."""
    if (baseline_start is None) != (baseline_end is None):
        raise InvalidInput(
            "give both baseline_start and baseline_end, or neither.",
            hint="Leave both out for the default baseline (the four weeks before).",
        )
    baseline = None
    if baseline_start is not None and baseline_end is not None:
        baseline = (baseline_start, baseline_end)
    found = state_of(request).app.insights.explain(
        ExplainRequest(
            metric=metric,
            at=at,
            until=until,
            baseline=baseline,
            by=tuple(by) if by else None,
            segment=segment_of(segment),
            adjust=adjust,
        ),
        ctx=ctx,
    )
    return _public(found, lang=lang, tone=tone, fmt=narrative_format)


@router.get("/anomalies/{anomaly_id}/explanation", response_model=ExplanationPublic)
def explain_anomaly(
    anomaly_id: Annotated[int, Path(ge=1, lt=2**63)],
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    by: Annotated[
        list[Annotated[str, Field(max_length=128)]] | None,
        Query(description="Search only these dimensions.", max_length=16),
    ] = None,
    lang: Lang = "en",
    tone: Tone = "executive",
    narrative_format: NarrativeFormat = "text",
) -> ExplanationPublic:
    """Why an anomaly's point left its band: its change against the expected value."""
    found = state_of(request).app.insights.explain_anomaly(anomaly_id, ctx=ctx, by=by)
    return _public(found, lang=lang, tone=tone, fmt=narrative_format)


class SeenAlsoPublic(BaseModel):
    """The same event as another test or segment saw it (merged into the insight)."""

    kind: str
    segment: dict[str, Any]
    start: str = Field(description=_MOMENT)
    end: str = Field(description="Inclusive.")


class InsightPublic(BaseModel):
    """One significant pattern, in feed order, with its narrative."""

    rank: int
    kind: str
    metric: str
    segment: dict[str, Any]
    start: str = Field(description=_MOMENT)
    end: str = Field(description="Inclusive.")
    value: float | None
    reference: float | None
    magnitude: float
    score: float = Field(description="Magnitude, recency and business impact, 0 to 1.")
    test: str
    statistic: float
    p_value: float = Field(description="The test's own.")
    q_value: float | None = Field(
        description="After the correction over the whole feed; below alpha, or not listed."
    )
    share: float | None = Field(description="The series' share of the metric's total.")
    other_metric: str | None
    also: list[SeenAlsoPublic]
    narrative: str


class FeedPublic(BaseModel):
    """The insight feed, and the whole of it as one document."""

    items: list[InsightPublic]
    document: str = Field(description="The feed narrated in the chosen language and format.")


@router.get("/insights", response_model=FeedPublic)
def insight_feed(
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    metric: Annotated[
        list[Annotated[str, Field(max_length=128)]] | None,
        Query(description="Only these metrics (default: the monitored ones).", max_length=100),
    ] = None,
    role: Annotated[
        Literal["executive", "manager", "analyst"] | None,
        Query(description="Personalise for this role (default: from the caller's roles)."),
    ] = None,
    segments: Annotated[bool, Query(description="Also look at segments.")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    lang: Lang = "en",
    tone: Tone = "executive",
    narrative_format: NarrativeFormat = "md",
) -> FeedPublic:
    """What stands out in the metrics the caller may see, ordered for the caller."""
    found = state_of(request).app.insights.feed(
        ctx=ctx, metrics=metric or None, role=role, segments=segments
    )[:limit]
    items = [
        InsightPublic(
            **{
                **row,
                "start": _stamp(row["start"]),
                "end": _stamp(row["end"]),
                "also": [
                    SeenAlsoPublic(
                        **{**seen, "start": _stamp(seen["start"]), "end": _stamp(seen["end"])}
                    )
                    for seen in row["also"]
                ],
            },
            narrative=narrate(one, lang=lang, tone=tone, fmt="text"),
        )
        for row, one in zip(insight_rows(found), found, strict=True)
    ]
    document = narrate_feed(found, lang=lang, tone=tone, fmt=narrative_format)
    return FeedPublic(items=items, document=document)


class RelationPublic(BaseModel):
    """How one candidate metric relates to the target; p-values corrected over the search."""

    candidate: str
    pearson: float | None
    spearman: float | None
    best_lag: int | None = Field(description="Buckets; positive when the candidate leads.")
    lagged_r: float | None
    granger_p: float | None
    p_adjusted: float | None = Field(description="The smallest corrected p-value of its tests.")
    significant: bool
    skipped: str | None
    importance: float | None = None


class DriversPublic(BaseModel):
    """The candidates' relations to a metric, strongest first."""

    metric: str
    grain: str
    buckets: int
    relations: list[RelationPublic]


@router.get("/drivers/{metric}", response_model=DriversPublic)
def metric_drivers(
    metric: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    candidate: Annotated[
        list[Annotated[str, Field(max_length=128)]] | None,
        Query(description="Compare with these metrics (default: unrelated ones).", max_length=50),
    ] = None,
    since: Annotated[date | datetime | None, Query()] = None,
    until: Annotated[date | datetime | None, Query()] = None,
    max_lag: Annotated[int, Query(ge=0, le=365)] = 7,
    importance: Annotated[bool, Query(description="Also rank by permutation importance.")] = False,
) -> DriversPublic:
    """Which other metrics move with the metric, lead it, or Granger-cause it."""
    report = state_of(request).app.insights.drivers(
        metric,
        ctx=ctx,
        candidates=candidate or None,
        start=since,
        end=until,
        max_lag=max_lag,
        with_importance=importance,
    )
    return DriversPublic(
        metric=report.metric,
        grain=report.grain,
        buckets=report.buckets,
        relations=[
            RelationPublic(**{k: v for k, v in row.items() if k != "metric"})
            for row in driver_rows(report)
        ],
    )


class ImpactPublic(BaseModel):
    """A difference-in-differences estimate of a change's effect (see docs/explain.md)."""

    metric: str
    change: str = Field(description=_MOMENT)
    treated: dict[str, Any]
    control: dict[str, Any]
    estimate: float
    std_error: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float
    significant: bool
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    counterfactual: float
    relative_effect: float | None
    pre_trend_difference: float
    pre_trend_p_value: float
    parallel_trends: bool
    n_before: int
    n_after: int


@router.get("/impact/{metric}", response_model=ImpactPublic)
def change_impact(
    metric: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    change: Annotated[date | datetime, Query(description="When the change took effect.")],
    treated: Segment = None,
    control: Segment = None,
    since: Annotated[date | datetime | None, Query()] = None,
    until: Annotated[date | datetime | None, Query()] = None,
) -> ImpactPublic:
    """The effect of a dated change on the treated segment, against the control segment."""
    report = state_of(request).app.insights.impact(
        metric,
        change=change,
        treated=segment_of(treated),
        control=segment_of(control),
        ctx=ctx,
        start=since,
        end=until,
    )
    fields = {k: v for k, v in asdict(report.result).items() if k != "maxlags"}
    return ImpactPublic(
        metric=report.metric,
        change=_stamp(report.change),
        treated=dict(report.treated),
        control=dict(report.control),
        **fields,
    )
