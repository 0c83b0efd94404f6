"""The two routes with a fixed shape: ``POST /api/v1/sql`` and ``POST /api/v1/metrics/query``.

Both answer ``{"columns": [...], "rows": [[...], ...]}`` so scripts and BI tools can rely on
them, run under the tenant's query quota, and read only what the caller's policies allow.
"""

import threading
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from gnomon.api.schemas import ERROR_RESPONSES, operation_id
from gnomon.api.security import requires
from gnomon.context import RequestContext
from gnomon.semantic import MetricQuery

__all__ = ["EncodedAnswers", "MetricQueryRequest", "query_of", "router"]

router = APIRouter(
    prefix="/api/v1",
    tags=["query"],
    responses=ERROR_RESPONSES,
    generate_unique_id_function=operation_id,
)


class SqlRequest(BaseModel):
    """One read-only query over ``layer.name`` tables."""

    model_config = ConfigDict(extra="forbid")
    sql: str = Field(min_length=1, max_length=100_000)
    limit: int | None = Field(default=None, ge=0)


class MetricQueryRequest(BaseModel):
    """Metrics by dimensions over a time range at a grain."""

    model_config = ConfigDict(extra="forbid")
    metrics: list[str] = Field(min_length=1, max_length=50)
    by: list[str] = Field(default_factory=list, max_length=10)
    grain: str | None = None
    start: date | datetime | None = None
    end: date | datetime | None = None
    where: str | None = Field(default=None, max_length=10_000)
    order: list[str] = Field(default_factory=list, max_length=20)
    limit: int | None = Field(default=None, ge=0)
    engine: str | None = None


class Rows(BaseModel):
    """A result: column names, then rows as arrays in that order."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False


class EncodedAnswers:
    """The JSON of cached answers, encoded once: a cache hit sends the same bytes again.

    Keyed by the answer table's identity; the table is held with its bytes, so the identity
    cannot be reused while the entry lives. Bounded, oldest out.
    """

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[pa.Table, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def response(self, table: pa.Table) -> Response:
        """The answer as a response, exactly as the route's response model writes it."""
        return Response(content=self.body(table), media_type="application/json")

    def body(self, table: pa.Table) -> bytes:
        """The answer as :class:`Rows` JSON."""
        found = self._entries.get(id(table))
        if found is None or found[0] is not table:
            found = (table, _rows(table).model_dump_json().encode())
            with self._lock:
                self._entries[id(table)] = found
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return found[1]


def _arguments(body: MetricQueryRequest) -> dict[str, Any]:
    """The request's arguments of :meth:`Gnomon.query` besides the metrics."""
    return {
        "by": body.by,
        "grain": body.grain,
        "start": body.start,
        "end": body.end,
        "where": body.where,
        "order": body.order,
        "limit": body.limit,
        "engine": body.engine,
    }


def query_of(body: MetricQueryRequest) -> MetricQuery | None:
    """The request as a :class:`MetricQuery`, or ``None`` when it is malformed."""
    arguments = _arguments(body)
    del arguments["engine"]
    try:
        return MetricQuery.build(body.metrics, **arguments)
    except ValueError:
        return None


def _rows(table: pa.Table, *, truncated: bool = False) -> Rows:
    columns = list(table.column_names)
    data = table.to_pydict()
    rows = [[_json_value(data[c][i]) for c in columns] for i in range(table.num_rows)]
    return Rows(columns=columns, rows=rows, truncated=truncated)


def _json_value(value: Any) -> Any:
    """Exact decimals (DuckDB's sums, HUGEINT) as JSON numbers, not strings."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


@router.post("/sql", response_model=Rows)
def sql(
    body: SqlRequest, request: Request, ctx: Annotated[RequestContext, requires("sql:query")]
) -> Rows:
    """Run one read-only SELECT/WITH; row policies and masks of the caller apply."""
    state = request.app.state.gnomon
    cap = state.app.settings.api.max_rows
    limit = cap if body.limit is None else min(body.limit, cap)
    with state.queries.slot(ctx.tenant):
        result = state.app.queries().sql(body.sql, ctx=ctx, limit=limit)
    return _rows(result.table, truncated=result.truncated)


@router.post("/metrics/query", response_model=Rows)
async def metrics_query(
    body: MetricQueryRequest,
    request: Request,
    ctx: Annotated[RequestContext, requires("metrics:query")],
) -> Rows | Response:
    """Metric values from the governed definitions (cached, rollups where exact)."""
    state = request.app.state.gnomon
    query = query_of(body)  # None when malformed: the query below says what is wrong
    if query is not None:
        with state.queries.slot(ctx.tenant):
            hit = await state.app.answer_cached(query, ctx=ctx, engine=body.engine)
        if hit is not None:
            encoded: EncodedAnswers = state.encoded
            return encoded.response(hit.table)

    def run() -> Rows:
        with state.queries.slot(ctx.tenant):
            result = state.app.query(body.metrics, **_arguments(body), ctx=ctx)
        return _rows(result.table)

    return await run_in_threadpool(run)
