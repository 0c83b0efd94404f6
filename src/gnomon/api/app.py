"""The REST API: ``create_app(gnomon)`` builds the FastAPI application over an open project.

Routes live in :mod:`gnomon.api.routes`, one module per capability; they translate HTTP to
service calls and back, and hold no business logic. Every request gets a correlation id
(``X-Correlation-ID`` in and out), every error the one shape of :mod:`gnomon.api.errors`.
"""

import itertools
import uuid
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gnomon import __version__
from gnomon.api.errors import install_error_handlers
from gnomon.api.fastpath import CachedAnswers
from gnomon.api.limits import QueryQuota, RateLimiter
from gnomon.api.pagination import CursorCodec
from gnomon.api.routes import ROUTERS
from gnomon.api.routes.query import EncodedAnswers
from gnomon.app import Gnomon

__all__ = ["ApiState", "CorrelationMiddleware", "create_app"]

_CORRELATION_HEADER = "X-Correlation-ID"


@dataclass
class ApiState:
    """What routes share: the project, the limits and the cursor codec."""

    app: Gnomon
    rate: RateLimiter
    queries: QueryQuota
    cursors: CursorCodec
    encoded: EncodedAnswers


_PROCESS_ID = uuid.uuid4().hex[:20]
_SEQUENCE = itertools.count(1)


def _new_correlation_id() -> str:
    """32 hex digits, unique per request: random per process, then a counter (no syscall)."""
    return f"{_PROCESS_ID}{next(_SEQUENCE):012x}"


class CorrelationMiddleware:
    """Gives every request a correlation id (``request.state.correlation_id``) and echoes it.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs each request in an
    extra task and buffers its streams, which costs more than a cached answer itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Tag an HTTP request and its response; pass anything else through."""
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        given = Headers(scope=scope).get(_CORRELATION_HEADER, "")
        correlation_id = given if 0 < len(given) <= 128 else _new_correlation_id()
        scope.setdefault("state", {})["correlation_id"] = correlation_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[_CORRELATION_HEADER] = correlation_id
            await send(message)

        await self._app(scope, receive, send_with_id)


class _GnomonAPI(FastAPI):
    """FastAPI with two layers outside its own: correlation ids, then cached metric answers.

    Outside, so that a cached answer costs none of the framework's per-request layers, and so
    that every response, a 500 from the framework's error layer included, carries its
    correlation id.
    """

    def build_middleware_stack(self) -> ASGIApp:
        """The framework's stack, wrapped in :class:`CachedAnswers` and the correlation layer."""
        inner = super().build_middleware_stack()
        return CorrelationMiddleware(CachedAnswers(inner, state=self.state.gnomon))


def create_app(gnomon: Gnomon) -> FastAPI:
    """The API over ``gnomon`` (which the caller opens and closes)."""
    settings = gnomon.settings.api
    api = _GnomonAPI(
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
        encoded=EncodedAnswers(),
    )
    install_error_handlers(api)
    for router in ROUTERS:
        api.include_router(router)
    return api
