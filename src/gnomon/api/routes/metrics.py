"""Metric definitions: list, describe, version history, and create/replace/delete.

A change goes through the same path as ``gnomon apply``: the tenant's current definitions with
this one changed are checked as a whole against the lake, and only then stored as new versions.
One bad definition stores nothing and answers 422 with every issue found. (Metric *queries* are
``POST /api/v1/metrics/query`` in :mod:`gnomon.api.routes.query`.)
"""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request, Response
from pydantic import BaseModel

from gnomon.api.schemas import (
    ERROR_RESPONSES,
    Page,
    PageQuery,
    operation_id,
    own_tenant,
    paginate,
    state_of,
)
from gnomon.api.security import requires
from gnomon.catalog import DefinitionKind, DefinitionRecord
from gnomon.context import RequestContext
from gnomon.errors import NotFound
from gnomon.semantic import Definition, parse_definitions

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["metrics"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)

_SOURCE = "<api>"
"""Where definitions stored through the API say they came from."""
_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"

Name = Annotated[str, Path(min_length=1, max_length=128)]
NewName = Annotated[str, Path(pattern=_IDENTIFIER, description="A SQL-style identifier.")]
Spec = Annotated[
    dict[str, Any],
    Body(description="The definition as it would be written in metrics/*.yaml, as JSON."),
]


class MetricSummary(BaseModel):
    """A metric in a listing."""

    name: str
    type: str
    description: str | None = None
    unit: str | None = None
    format: str | None = None
    owner: str | None = None
    direction: str | None = None
    target: float | None = None
    grain: str | None = None
    refresh: str | None = None
    dimensions: list[str]


class MetricPublic(MetricSummary):
    """A metric: its definition, inputs, dimensions and the SQL of its series."""

    definition: dict[str, Any]
    source: str | None
    inputs: list[str]
    hierarchies: list[str]
    sql: str
    sql_engine: str


class DefinitionVersion(BaseModel):
    """One stored version of a definition; a ``deleted`` version records its removal."""

    kind: str
    name: str
    version: int
    fingerprint: str
    spec: dict[str, Any]
    source: str | None
    deleted: bool
    created_at: datetime
    created_by: str | None


class ApplyChange(BaseModel):
    """What storing a definition did: ``created``, ``updated``, ``unchanged`` or ``retired``."""

    kind: str
    name: str
    version: int
    change: str


def _version(record: DefinitionRecord) -> DefinitionVersion:
    return DefinitionVersion(
        kind=record.kind,
        name=record.name,
        version=record.version,
        fingerprint=record.fingerprint,
        spec=record.spec,
        source=record.source,
        deleted=record.deleted,
        created_at=record.created_at,
        created_by=record.created_by,
    )


def _current(records: list[DefinitionRecord]) -> list[Definition]:
    return [
        Definition(r.kind, r.name, r.spec, r.source or "<catalog>")
        for r in records
        if r.kind != "trigger"
    ]


def _put(request: Request, ctx: RequestContext, kind: DefinitionKind, name: str, spec: Any) -> Any:
    """Store one definition alongside the tenant's others (nothing else changes)."""
    section = "metrics" if kind == "metric" else "semantic_models"
    [definition] = parse_definitions({section: {name: spec}}, source=_SOURCE)
    app = state_of(request).app
    stored = app.semantic.stored(ctx=ctx)
    others = [r for r in stored if (r.kind, r.name) != (kind, name)]
    with own_tenant(ctx):
        result = app.semantic.apply(
            ctx=ctx, definitions=[*_current(others), definition], prune=False, expected=stored
        )
    [row] = [r for r in result.rows() if (r["kind"], r["name"]) == (kind, name)]
    if row["change"] != "unchanged":
        app.audit.record(ctx, f"{kind}.put", target=name, version=row["version"])
    return row


@router.get("/metrics", response_model=Page[MetricSummary])
def list_metrics(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("metrics:read")]
) -> Page[MetricSummary]:
    """The tenant's metrics, by name (an empty page before any are defined)."""
    semantic = state_of(request).app.semantic
    stored = semantic.stored(ctx=ctx)
    rows = semantic.metrics(ctx=ctx) if any(r.kind == "metric" for r in stored) else []
    chunk, cursor = paginate(
        request, rows, page=page, ctx=ctx, listing="metrics", key=lambda r: (str(r["name"]),)
    )
    return Page(items=[MetricSummary.model_validate(r) for r in chunk], next_cursor=cursor)


@router.get("/metrics/{name}", response_model=MetricPublic)
def get_metric(
    name: Name, request: Request, ctx: Annotated[RequestContext, requires("metrics:read")]
) -> MetricPublic:
    """A metric's definition, dimensions and the SQL of its series at its grain."""
    described = state_of(request).app.semantic.describe(name, ctx=ctx)
    return MetricPublic.model_validate(described)


@router.get("/metrics/{name}/versions", response_model=Page[DefinitionVersion])
def list_metric_versions(
    name: Name,
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("metrics:read")],
) -> Page[DefinitionVersion]:
    """Every stored version of a metric, oldest first."""
    history = state_of(request).app.semantic.history("metric", name, ctx=ctx)
    if not history:
        raise NotFound(f"No metric is called {name!r}.", metric=name)
    chunk, cursor = paginate(
        request,
        history,
        page=page,
        ctx=ctx,
        listing=f"metric-versions:{name}",
        key=lambda r: (r.version,),
    )
    return Page(items=[_version(r) for r in chunk], next_cursor=cursor)


@router.put("/metrics/{name}", response_model=ApplyChange)
def put_metric(
    name: NewName,
    spec: Spec,
    request: Request,
    ctx: Annotated[RequestContext, requires("metrics:write")],
) -> ApplyChange:
    """Create or replace a metric; checked with the tenant's other definitions first.

    409 when the tenant's definitions changed while it was checked: nothing is stored; retry.
    """
    return ApplyChange.model_validate(_put(request, ctx, "metric", name, spec))


@router.delete("/metrics/{name}", status_code=204, response_class=Response)
def delete_metric(
    name: Name, request: Request, ctx: Annotated[RequestContext, requires("metrics:write")]
) -> Response:
    """Retire a metric; refused (422) while other metrics are computed from it.

    409 when the tenant's definitions changed meanwhile: nothing is retired; retry.
    """
    app = state_of(request).app
    stored = app.semantic.stored(ctx=ctx)
    if not any((r.kind, r.name) == ("metric", name) for r in stored):
        raise NotFound(f"No metric is called {name!r}.", metric=name)
    others = [r for r in stored if (r.kind, r.name) != ("metric", name)]
    app.semantic.apply(ctx=ctx, definitions=_current(others), prune=True, expected=stored)
    app.audit.record(ctx, "metric.delete", target=name)
    return Response(status_code=204)


@router.get("/semantic-models", response_model=Page[DefinitionVersion])
def list_semantic_models(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("metrics:read")]
) -> Page[DefinitionVersion]:
    """The tenant's semantic models as stored (current versions), by name."""
    stored = state_of(request).app.semantic.stored(ctx=ctx)
    models = [r for r in stored if r.kind == "semantic_model"]
    chunk, cursor = paginate(
        request, models, page=page, ctx=ctx, listing="semantic-models", key=lambda r: (r.name,)
    )
    return Page(items=[_version(r) for r in chunk], next_cursor=cursor)


@router.put("/semantic-models/{name}", response_model=ApplyChange)
def put_semantic_model(
    name: NewName,
    spec: Spec,
    request: Request,
    ctx: Annotated[RequestContext, requires("metrics:write")],
) -> ApplyChange:
    """Create or replace a semantic model; the metrics built on it are checked against it.

    409 when the tenant's definitions changed while it was checked: nothing is stored; retry.
    """
    return ApplyChange.model_validate(_put(request, ctx, "semantic_model", name, spec))
