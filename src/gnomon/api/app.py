"""The REST API: ``create_app(gnomon)`` builds the FastAPI application over an open project.

Routes live in :mod:`gnomon.api.routes`, one module per capability; they translate HTTP to
service calls and back, and hold no business logic. Every request gets a correlation id
(``X-Correlation-ID`` in and out), every error the one shape of :mod:`gnomon.api.errors`.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI, Request, Response

from gnomon import __version__
from gnomon.api.errors import install_error_handlers
from gnomon.api.limits import QueryQuota, RateLimiter
from gnomon.api.pagination import CursorCodec
from gnomon.api.routes import ROUTERS
from gnomon.app import Gnomon

__all__ = ["ApiState", "create_app"]

_CORRELATION_HEADER = "X-Correlation-ID"


@dataclass
class ApiState:
    """What routes share: the project, the limits and the cursor codec."""

    app: Gnomon
    rate: RateLimiter
    queries: QueryQuota
    cursors: CursorCodec


def create_app(gnomon: Gnomon) -> FastAPI:
    """The API over ``gnomon`` (which the caller opens and closes)."""
    settings = gnomon.settings.api
    api = FastAPI(
        title="gnomon",
        version=__version__,
        description="Governed KPIs, SQL and data over a Delta lakehouse.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    api.state.gnomon = ApiState(
        app=gnomon,
        rate=RateLimiter(settings.requests_per_minute),
        queries=QueryQuota(settings.concurrent_queries),
        cursors=CursorCodec(gnomon.secret),
    )
    install_error_handlers(api)

    @api.middleware("http")
    async def correlation(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(_CORRELATION_HEADER, "")
        request.state.correlation_id = given if 0 < len(given) <= 128 else uuid.uuid4().hex
        response = await call_next(request)
        response.headers[_CORRELATION_HEADER] = request.state.correlation_id
        return response

    for router in ROUTERS:
        api.include_router(router)
    return api
