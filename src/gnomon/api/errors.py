"""One error shape for every 4xx and 5xx: ``{code, message, details, correlation_id}``.

gnomon's own errors carry their HTTP status; FastAPI's validation errors become 422 with the
fields named; anything unexpected becomes a 500 ``internal_error`` whose body says nothing of the
cause (it is logged with the correlation id instead), never a stack trace.
"""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from gnomon.errors import GnomonError

__all__ = ["ErrorBody", "error_response", "install_error_handlers"]

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}

ErrorBody = dict[str, Any]


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON error response with the request's correlation id."""
    correlation = getattr(request.state, "correlation_id", None)
    body = {
        "code": code,
        "message": message,
        "details": details or {},
        "correlation_id": correlation,
    }
    return JSONResponse(status_code=status, content=body, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every exception to the one error shape."""

    @app.exception_handler(GnomonError)
    async def gnomon_error(request: Request, exc: GnomonError) -> JSONResponse:
        details = dict(exc.details)
        if exc.hint:
            details["hint"] = exc.hint
        headers = {}
        challenge = getattr(exc, "challenge", None)
        if exc.http_status == 401 and challenge:
            headers["WWW-Authenticate"] = str(challenge)
        retry = details.pop("retry_after_s", None)
        if retry is not None:
            headers["Retry-After"] = str(int(retry))
        return error_response(
            request, exc.http_status, exc.code, exc.message, _jsonable(details), headers or None
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in error.get("loc", ()) if p != "body"),
                "message": str(error.get("msg", "")),
            }
            for error in exc.errors()
        ]
        listed = "; ".join(f"{p['field'] or '(body)'}: {p['message']}" for p in problems)
        return error_response(
            request,
            422,
            "invalid_input",
            f"The request is not valid: {listed}.",
            {"problems": problems},
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        return error_response(
            request, exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}) or None
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unexpected error: %r",
            exc,
            exc_info=exc,
            extra={"correlation_id": getattr(request.state, "correlation_id", None)},
        )
        return error_response(
            request,
            500,
            "internal_error",
            "Something went wrong on our side; it has been logged with this correlation id.",
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
