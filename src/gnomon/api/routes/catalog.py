"""What has been loaded: sources, datasets (schema, contract, versions, sample rows) and runs.

Everything is scoped to the caller's tenant: another tenant's dataset or run is not found (404),
never forbidden, so that ids and names disclose nothing. Sample rows are read through the query
service like any other read, so row policies and masks apply to them.
"""

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel
from sqlglot import exp

# The same rows, values and JSON types as the query routes answer with.
from gnomon.api.routes.query import Rows, _rows
from gnomon.api.schemas import (
    ERROR_RESPONSES,
    Page,
    PageQuery,
    operation_id,
    paginate,
    sort_stamp,
    state_of,
)
from gnomon.api.security import requires
from gnomon.catalog import RUN_STATUSES, DatasetRecord, RunRecord
from gnomon.context import RequestContext

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["catalog"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)

_SAMPLE_DEFAULT = 20
_SAMPLE_MAX = 1000
_RUNS_WINDOW = 10_000
"""The most recent runs a run listing pages through."""
_LAYERS = ("bronze", "silver", "quarantine")
"""The lake layers a dataset's tables live in."""

DatasetName = Annotated[str, Path(min_length=1, max_length=128)]
RunId = Annotated[str, Path(min_length=1, max_length=128)]


class SourcePublic(BaseModel):
    """A source defined in the project (``sources/<name>.yaml``)."""

    name: str
    kind: str
    dataset: str
    format: str
    contract: str


class ColumnPublic(BaseModel):
    """A dataset column as its contract declares it."""

    name: str
    type: str
    nullable: bool = True


class DatasetSummary(BaseModel):
    """A dataset in a listing."""

    name: str
    columns: int
    contract_version: int | None
    updated_at: datetime


class TableVersionPublic(BaseModel):
    """The published version of one of a dataset's lake tables."""

    layer: str
    name: str
    version: int
    updated_at: datetime


class DatasetPublic(BaseModel):
    """A dataset: its columns, its contract and the published versions of its tables."""

    name: str
    columns: list[ColumnPublic]
    contract_version: int | None
    contract: dict[str, Any] | None
    contract_versions: list[int]
    tables: list[TableVersionPublic]
    created_at: datetime
    updated_at: datetime


class RunPublic(BaseModel):
    """An ingest, build or maintenance run of the tenant."""

    id: str
    kind: str
    source: str | None
    dataset: str | None
    status: str
    stage: str | None
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    rows_written: int
    rows_quarantined: int
    bytes_read: int
    duration_s: float | None
    error: dict[str, Any] | None
    drift: dict[str, Any] | None
    checks: Any = None
    correlation_id: str | None


def _run(record: RunRecord) -> RunPublic:
    return RunPublic(
        id=record.id,
        kind=record.kind,
        source=record.source,
        dataset=record.dataset,
        status=record.status,
        stage=record.stage,
        started_at=record.started_at,
        finished_at=record.finished_at,
        rows_read=record.rows_read,
        rows_written=record.rows_written,
        rows_quarantined=record.rows_quarantined,
        bytes_read=record.bytes_read,
        duration_s=record.duration_s,
        error=record.error,
        drift=record.drift,
        checks=record.checks,
        correlation_id=record.correlation_id,
    )


def _columns(record: DatasetRecord) -> list[ColumnPublic]:
    return [
        ColumnPublic(
            name=str(c["name"]), type=str(c.get("type", "")), nullable=bool(c.get("nullable", True))
        )
        for c in record.schema or []
    ]


@router.get("/sources", response_model=Page[SourcePublic])
def list_sources(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("sources:read")]
) -> Page[SourcePublic]:
    """The sources the project defines, by name."""
    specs = state_of(request).app.ingest.sources()
    items = [
        SourcePublic(
            name=s.name, kind=s.kind, dataset=s.dataset, format=s.format, contract=s.contract
        )
        for s in specs
    ]
    chunk, cursor = paginate(
        request, items, page=page, ctx=ctx, listing="sources", key=lambda s: (s.name,)
    )
    return Page(items=chunk, next_cursor=cursor)


@router.get("/datasets", response_model=Page[DatasetSummary])
def list_datasets(
    request: Request, page: PageQuery, ctx: Annotated[RequestContext, requires("datasets:read")]
) -> Page[DatasetSummary]:
    """The tenant's datasets, by name."""
    records = state_of(request).app.datasets(ctx=ctx)
    chunk, cursor = paginate(
        request, records, page=page, ctx=ctx, listing="datasets", key=lambda d: (d.name,)
    )
    items = [
        DatasetSummary(
            name=d.name,
            columns=len(d.schema or []),
            contract_version=d.contract_version,
            updated_at=d.updated_at,
        )
        for d in chunk
    ]
    return Page(items=items, next_cursor=cursor)


@router.get("/datasets/{name}", response_model=DatasetPublic)
def get_dataset(
    name: DatasetName,
    request: Request,
    ctx: Annotated[RequestContext, requires("datasets:read")],
) -> DatasetPublic:
    """A dataset's columns, current contract (version and spec) and published table versions."""
    app = state_of(request).app
    record = app.dataset(name, ctx=ctx)
    with app.catalog.transaction() as tx:
        contracts = tx.contracts.list(tenant=ctx.tenant, dataset=name)
    current = next((c for c in contracts if c.version == record.contract_version), None)
    tables = [
        TableVersionPublic(layer=t.layer, name=t.name, version=t.version, updated_at=t.updated_at)
        for t in app.tables()
        if t.name == name and t.layer in _LAYERS
    ]
    return DatasetPublic(
        name=record.name,
        columns=_columns(record),
        contract_version=record.contract_version,
        contract=None if current is None else current.spec,
        contract_versions=sorted(c.version for c in contracts),
        tables=tables,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


@router.get("/datasets/{name}/sample", response_model=Rows)
def sample_dataset(
    name: DatasetName,
    request: Request,
    ctx: Annotated[RequestContext, requires("datasets:read")],
    limit: Annotated[int, Query(ge=1, le=_SAMPLE_MAX)] = _SAMPLE_DEFAULT,
) -> Rows:
    """Some rows of the dataset's silver table, as the caller's row policies and masks allow."""
    state = state_of(request)
    record = state.app.dataset(name, ctx=ctx)
    columns = [c.name for c in _columns(record)]
    projection: list[exp.Expr] = [exp.column(c, quoted=True) for c in columns] or [exp.Star()]
    tree = exp.select(*projection).from_(exp.table_(name, db="silver", quoted=True))
    with state.queries.slot(ctx.tenant):
        result = state.app.queries().run(tree, ctx=ctx, limit=limit)
    return _rows(result.table, truncated=result.truncated)


@router.get("/runs", response_model=Page[RunPublic])
def list_runs(
    request: Request,
    page: PageQuery,
    ctx: Annotated[RequestContext, requires("runs:read")],
    status: Annotated[
        str | None, Query(description=f"One of: {', '.join(RUN_STATUSES)}.", max_length=32)
    ] = None,
    dataset: Annotated[str | None, Query(max_length=128)] = None,
) -> Page[RunPublic]:
    """The tenant's runs, newest first, optionally of one status or dataset."""
    records = state_of(request).app.runs(
        ctx=ctx, status=status, dataset=dataset, limit=_RUNS_WINDOW
    )
    chunk, cursor = paginate(
        request,
        records,
        page=page,
        ctx=ctx,
        listing="runs:" + json.dumps([status, dataset]),
        key=lambda r: (sort_stamp(r.started_at), r.id),
        descending=True,
    )
    return Page(items=[_run(r) for r in chunk], next_cursor=cursor)


@router.get("/runs/{run_id}", response_model=RunPublic)
def get_run(
    run_id: RunId,
    request: Request,
    ctx: Annotated[RequestContext, requires("runs:read")],
) -> RunPublic:
    """One run of the tenant."""
    return _run(state_of(request).app.run(run_id, ctx=ctx))
