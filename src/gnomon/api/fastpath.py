"""Cached metric answers without the framework's per-request machinery.

Dashboards poll ``POST /api/v1/metrics/query``, and most answers come from the result cache;
then FastAPI's routing, dependency solving and response validation cost several times what the
answer itself does. :class:`CachedAnswers` answers such a request on its own when everything it
needs is in memory (the credential, the caller's roles, a current cached answer), with the
route's checks and the route's response: authenticated, permission ``metrics:query``, the
tenant's rate limit and query quota, audited (committed) before the answer is sent, the same
bytes. Anything else (a cache miss, any error, a body it does not accept) goes on to the route
with its body intact, and the route answers as it always does.
"""

import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gnomon.api.routes.query import MetricQueryRequest, query_of
from gnomon.api.security import identify
from gnomon.catalog import NotInMemory, memory_only
from gnomon.context import Principal, RequestContext
from gnomon.errors import GnomonError
from gnomon.governance.policies.rbac import permissions_of
from gnomon.semantic import MetricQuery

if TYPE_CHECKING:
    from gnomon.api.app import ApiState

__all__ = ["CachedAnswers"]

_Parsed = tuple[MetricQueryRequest, MetricQuery]

PATH = "/api/v1/metrics/query"
PERMISSION = "metrics:query"
_REQUESTS_KEPT = 256
_PERMISSIONS_KEPT = 4096
_KEEP_BODIES_UP_TO = 4096
"""Bodies kept read are this small at most (a dashboard's query is a few hundred bytes)."""
_MAX_BODY = 64 << 10
"""Larger bodies go on to the route (and its body limit); a metric query is far smaller."""


class CachedAnswers:
    """ASGI middleware answering cached metric queries from memory (see the module)."""

    def __init__(self, app: ASGIApp, *, state: "ApiState") -> None:
        self._app = app
        self._state = state
        # Dashboards post the same few bodies over and over: each is read once.
        self._requests: OrderedDict[bytes, _Parsed] = OrderedDict()
        self._permissions: dict[
            tuple[int, int], tuple[Principal, Mapping[str, Iterable[str]], frozenset[str]]
        ] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a cached metric query here; pass anything else on unchanged."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self._app(scope, receive, send)
            return
        messages, body = await _read_body(receive)
        answer = None if body is None else await self._answer(scope, body)
        if answer is None:
            await self._app(scope, _replay(messages, receive), send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(answer)).encode("latin-1")),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: Scope, body: bytes) -> bytes | None:
        """The cached answer's bytes, once admitted and audited; ``None`` to let the route work."""
        state = self._state
        content_type, authorization = _headers(scope)
        if not _is_json(content_type):
            return None
        parsed = self._request(body)
        if parsed is None:
            return None
        request, query = parsed
        try:
            with memory_only():
                principal, custom = identify(state.app, authorization)
        except (NotInMemory, GnomonError):
            return None
        if PERMISSION not in self._permissions_of(principal, custom):
            return None
        ctx = RequestContext(principal, correlation_id=scope.get("state", {}).get("correlation_id"))

        def admit() -> None:
            state.rate.take(principal.tenant)
            with state.queries.slot(principal.tenant):
                pass

        try:
            hit = await state.app.answer_cached(query, ctx=ctx, engine=request.engine, admit=admit)
        except Exception:  # noqa: BLE001 - the route runs the request again and reports it
            return None
        return None if hit is None else state.encoded.body(hit.table)

    def _permissions_of(
        self, principal: Principal, custom: Mapping[str, Iterable[str]]
    ) -> frozenset[str]:
        """:func:`permissions_of`, kept while the principal and the roles are the same objects.

        Both are kept in memory unchanged until something changes (then they are new
        objects), and held here, so their identities cannot be taken by others meanwhile.
        """
        key = (id(principal), id(custom))
        found = self._permissions.get(key)
        if found is not None and found[0] is principal and found[1] is custom:
            return found[2]
        held = permissions_of(principal, custom)
        if len(self._permissions) >= _PERMISSIONS_KEPT:
            self._permissions.clear()
        self._permissions[key] = (principal, custom, held)
        return held

    def _request(self, body: bytes) -> "_Parsed | None":
        """The body read as the route reads it, or ``None`` when the route would refuse it."""
        parsed = self._requests.get(body)
        if parsed is not None:
            return parsed
        try:
            # JSON first, then the model, as the route does (pydantic's JSON mode reads some
            # values differently).
            request = MetricQueryRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError):
            return None
        query = query_of(request)
        if query is None:
            return None
        parsed = (request, query)
        if len(body) <= _KEEP_BODIES_UP_TO:
            self._requests[body] = parsed
        while len(self._requests) > _REQUESTS_KEPT:
            self._requests.popitem(last=False)
        return parsed


def _headers(scope: Scope) -> tuple[str | None, str | None]:
    """``Content-Type`` and ``Authorization`` (the first of each), in one pass."""
    content_type = authorization = None
    for name, value in scope["headers"]:
        if name == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
    return content_type, authorization


def _is_json(content_type: str | None) -> bool:
    """Whether the route would read the body as JSON (no type, or ``application/*json``)."""
    if content_type is None:
        return True
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body; ``None`` when it is too large or cut off."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        if size > _MAX_BODY:
            return messages, None
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Callable[[], Awaitable[Message]]:
    """A ``receive`` that gives the messages already read first, then the rest."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
