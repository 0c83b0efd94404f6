"""Scans and the anomalies they find, feedback that tunes the detectors, and forecasts.

Everything is in the caller's view of the data: a scan reads the metrics as the caller may
(tenant, row and column policies), and a listing shows the anomalies that scans of that same
view found. Another tenant's anomaly is not found (404), never forbidden.
"""

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from gnomon.api.schemas import (
    ERROR_RESPONSES,
    Page,
    PageQuery,
    operation_id,
    paginate,
    segment_of,
    sort_stamp,
    state_of,
)
from gnomon.api.security import requires
from gnomon.context import RequestContext
from gnomon.insights import anomaly_row
from gnomon.insights.service import MAX_HORIZON, forecast_rows, model_row

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["insights"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)

_WINDOW = 10_000
"""The most anomalies a listing pages through (the oldest first)."""


class AnomalyPublic(BaseModel):
    """A point a scan found anomalous, with what the detector expected there."""

    id: int
    metric: str
    time: datetime
    grain: str
    segment: dict[str, Any] = Field(description="Dimension values; empty for the whole metric.")
    actual: float
    expected: float | None
    lower: float | None
    upper: float | None
    score: float = Field(description="How unusual, 0 to 1 (1 - tail probability).")
    severity: str
    direction: str
    detector: str
    status: str
    detected_at: datetime


class ScanRequest(BaseModel):
    """Which metrics to scan; all monitored ones when ``metrics`` is empty."""

    metrics: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=500
    )


class ScanPublic(BaseModel):
    """What a scan did, with the anomalies no earlier scan had found."""

    run_id: str
    metrics: list[str]
    series: int
    points: int
    skipped: dict[str, str]
    elapsed_s: float
    new: list[AnomalyPublic]


class FeedbackRequest(BaseModel):
    """Whether the anomaly was real; ``false`` widens its metric's threshold."""

    anomalous: bool


@router.post("/scans", response_model=ScanPublic)
def run_scan(
    body: ScanRequest,
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:scan")],
) -> ScanPublic:
    """Scan the metrics (all monitored ones by default) as the caller sees them."""
    result = state_of(request).app.insights.scan(ctx=ctx, metrics=body.metrics or None)
    return ScanPublic(
        run_id=result.run_id,
        metrics=list(result.metrics),
        series=result.series,
        points=result.points,
        skipped=dict(result.skipped),
        elapsed_s=result.elapsed_s,
        new=[AnomalyPublic(**anomaly_row(a)) for a in result.new],
    )


@router.get("/anomalies", response_model=Page[AnomalyPublic])
def list_anomalies(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("insights:read")],
    metric: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[datetime | None, Query(description="From this time on (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
    status: Annotated[Literal["open", "dismissed", "confirmed"] | None, Query()] = None,
    severity: Annotated[
        Literal["low", "medium", "high", "critical"] | None,
        Query(description="At least this severity."),
    ] = None,
) -> Page[AnomalyPublic]:
    """Anomalies in the caller's view of the data, oldest first."""
    records = state_of(request).app.insights.anomalies(
        ctx=ctx,
        metric=metric,
        since=since,
        until=until,
        status=status,
        min_severity=severity,
        limit=_WINDOW,
    )
    chunk, cursor = paginate(
        request,
        records,
        page=page,
        ctx=ctx,
        listing="anomalies:" + json.dumps([metric, str(since), str(until), status, severity]),
        key=lambda a: (sort_stamp(a.time), a.metric, a.id),
    )
    return Page(items=[AnomalyPublic(**anomaly_row(a)) for a in chunk], next_cursor=cursor)


@router.post("/anomalies/{anomaly_id}/feedback", response_model=AnomalyPublic)
def give_feedback(
    anomaly_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: FeedbackRequest,
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:feedback")],
) -> AnomalyPublic:
    """Confirm an anomaly or dismiss it; a dismissal widens its metric's threshold."""
    record = state_of(request).app.insights.feedback(anomaly_id, anomalous=body.anomalous, ctx=ctx)
    return AnomalyPublic(**anomaly_row(record))


class ForecastPoint(BaseModel):
    """One period ahead: the point forecast and its 80 % and 95 % intervals."""

    time: datetime
    forecast: float
    lower_80: float
    upper_80: float
    lower_95: float
    upper_95: float


class ForecastPublic(BaseModel):
    """A metric's forecast, the model that made it and how that model backtested."""

    metric: str
    grain: str
    segment: dict[str, Any]
    model: str
    members: list[str]
    backtest: dict[str, float | None]
    model_version: int
    points: list[ForecastPoint]


@router.get("/forecasts/{metric}", response_model=ForecastPublic)
def get_forecast(
    metric: Annotated[str, Path(min_length=1, max_length=128)],
    request: Request,
    ctx: Annotated[RequestContext, requires("insights:read")],
    horizon: Annotated[int, Query(ge=1, le=MAX_HORIZON)] = 30,
    segment: Annotated[
        list[str] | None,
        Query(
            description="dimension=value, repeat for several (one segment's forecast).",
            max_length=8,
        ),
    ] = None,
) -> ForecastPublic:
    """Forecast a metric (or one segment of it) from the data the caller may see."""
    wanted = segment_of(segment)
    result = state_of(request).app.insights.forecast(
        metric, ctx=ctx, horizon=horizon, segment=wanted
    )
    made = result.forecast
    scores = made.backtest.get(made.model, {})
    return ForecastPublic(
        metric=result.metric,
        grain=result.grain,
        segment=dict(result.segment),
        model=made.model,
        members=list(made.members),
        backtest={k: (float(v) if v == v else None) for k, v in scores.items()},
        model_version=result.model.version,
        points=[
            ForecastPoint(**{k: v for k, v in row.items() if k != "model"})
            for row in forecast_rows(result)
        ],
    )


class ModelVersionPublic(BaseModel):
    """One registry version: a detector or forecaster configuration as it was fitted."""

    id: int
    kind: str
    metric: str
    segment: dict[str, Any] = Field(description="Dimension values; empty for the whole metric.")
    version: int
    model: str = Field(description="The detector, or the forecast model (members joined by +).")
    fingerprint: str
    training_start: datetime | None
    training_end: datetime | None
    metrics: dict[str, Any] = Field(description="What the backtest measured, if there was one.")
    params: dict[str, Any]
    created_at: datetime
    run_id: str | None


@router.get("/registry", response_model=Page[ModelVersionPublic])
def list_registry(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("insights:read")],
    kind: Annotated[Literal["detector", "forecaster"] | None, Query()] = None,
    metric: Annotated[str | None, Query(max_length=128)] = None,
    all_versions: Annotated[bool, Query(description="Every version, not only the latest.")] = False,
) -> Page[ModelVersionPublic]:
    """The detector and forecaster versions of the caller's tenant (forecasters of their view)."""
    records = state_of(request).app.insights.models(
        ctx=ctx, kind=kind, metric=metric, all_versions=all_versions
    )
    chunk, cursor = paginate(
        request,
        records,
        page=page,
        ctx=ctx,
        listing="registry:" + json.dumps([kind, metric, all_versions]),
        key=lambda r: (r.kind, r.metric, r.segment_key, r.version),
    )
    return Page(items=[ModelVersionPublic(**model_row(r)) for r in chunk], next_cursor=cursor)
