"""The Python client of gnomon's REST API.

It needs only ``httpx``: no engine, catalog or server library is imported, so scripts and
notebooks can use it against a remote server. Values come back as JSON gives them (dates and
times as ISO 8601 strings, decimals as numbers); listings are followed page by page through
their ``next_cursor`` until the last one. Every error response becomes an :class:`ApiError`
carrying the server's ``code``, ``message``, ``details`` and ``correlation_id``.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from gnomon import __version__

__all__ = ["ApiError", "Client", "ConnectionFailed", "Result"]

API_PREFIX = "/api/v1"
_PAGE_LIMIT = 100
_MAX_PAGES = 100_000
"""A server that keeps answering with a ``next_cursor`` is a bug; stop rather than loop forever."""


@dataclass(frozen=True, slots=True)
class Result:
    """A query result: column names, then each row's values in that order.

    Attributes:
        columns: the column names.
        rows: the rows, each a list of JSON values in ``columns`` order.
        truncated: the server cut the result at its row limit.
    """

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool = False

    def to_dicts(self) -> list[dict[str, Any]]:
        """The rows as ``{column: value}`` objects.

        >>> Result(["region", "n"], [["EMEA", 3]]).to_dicts()
        [{'region': 'EMEA', 'n': 3}]
        """
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)


class ApiError(Exception):
    """The server answered with an error (or could not be reached: :class:`ConnectionFailed`).

    Attributes:
        status: the HTTP status (0 when there was no answer).
        code: the server's error code, e.g. ``unauthenticated``, ``not_found``,
            ``invalid_input``, ``rate_limited``.
        message: what was wrong, as the server says it.
        details: structured facts (the ``hint``, the fields that were wrong …).
        correlation_id: quote it when reporting a problem; the server logs it.
        retry_after_s: for 429 and 503, how long to wait before retrying, when the server says.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        correlation_id: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.correlation_id = correlation_id
        self.retry_after_s = retry_after_s

    @property
    def hint(self) -> str | None:
        """How to fix it, when the server says."""
        hint = self.details.get("hint")
        return None if hint is None else str(hint)

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        if self.correlation_id:
            text += f" [correlation id {self.correlation_id}]"
        return text


class ConnectionFailed(ApiError):
    """No answer from the server: it is down, unreachable, or too slow for the timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "connection_failed", message)


def _moment(value: date | datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def _error(response: httpx.Response) -> ApiError:
    """The error a non-2xx response stands for, whatever its body."""
    correlation = response.headers.get("X-Correlation-ID")
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        details = body.get("details")
        return ApiError(
            response.status_code,
            body["code"],
            str(body.get("message") or response.reason_phrase),
            details if isinstance(details, dict) else {},
            body.get("correlation_id") or correlation,
            _retry_after(response),
        )
    text = response.text.strip()[:500] or response.reason_phrase
    return ApiError(
        response.status_code, "http_error", text, None, correlation, _retry_after(response)
    )


class Client:
    """A connection to one gnomon server as one principal.

    Args:
        url: the server, e.g. ``http://127.0.0.1:8080`` (with or without ``/api/v1``).
        api_key: an API key (``gnm_…``), from ``gnomon keys create``.
        token: a bearer token (JWT) from the identity provider or ``gnomon token create``;
            give one of ``api_key`` and ``token``.
        timeout: seconds to wait for the server, per request.
        transport: an ``httpx`` transport (tests use ``httpx.ASGITransport`` or a mock).

    Use it as a context manager, or call :meth:`close`, to release its connections.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float = 30,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if api_key is not None and token is not None:
            raise ValueError("Give api_key or token, not both.")
        base = url.rstrip("/")
        if base.endswith(API_PREFIX):
            base = base[: -len(API_PREFIX)]
        headers = {"User-Agent": f"gnomon-sdk/{__version__}", "Accept": "application/json"}
        credential = api_key if api_key is not None else token
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
        self._http = httpx.Client(
            base_url=base + API_PREFIX, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Release the client's connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ the fixed-shape routes

    def sql(self, sql: str, limit: int | None = None) -> Result:
        """Run one read-only SELECT (or WITH); your row policies and masks apply.

        Raises:
            ApiError: e.g. 422 ``invalid_input`` for SQL that does not parse or is not read-only,
                401 without valid credentials, 429 over the tenant's query quota.
        """
        body: dict[str, Any] = {"sql": sql}
        if limit is not None:
            body["limit"] = limit
        return self._result(self._request("POST", "/sql", json=body))

    def metrics_query(
        self,
        metrics: Sequence[str] | str,
        *,
        by: Sequence[str] = (),
        grain: str | None = None,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        where: str | None = None,
        order: Sequence[str] = (),
        limit: int | None = None,
        engine: str | None = None,
    ) -> Result:
        """Metric values by dimensions and time, from the governed definitions.

        Args:
            metrics: one metric name or several.
            by: dimensions to break down by.
            grain: time grain (``day``, ``week``, ``month`` …); none for a total.
            start: first day (or time) of the range.
            end: last day of the range (included), or an end time.
            where: a filter over dimensions, e.g. ``"channel = 'web'"``.
            order: columns to sort by; ``-name`` sorts descending.
            limit: at most this many rows.
            engine: ``duckdb``, ``spark`` or ``postgres`` (default: the server's).

        Raises:
            ApiError: e.g. 404/422 for an unknown metric or dimension.
        """
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        body: dict[str, Any] = {"metrics": names, "by": list(by), "order": list(order)}
        optional = {
            "grain": grain,
            "start": _moment(start),
            "end": _moment(end),
            "where": where,
            "limit": limit,
            "engine": engine,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return self._result(self._request("POST", "/metrics/query", json=body))

    # ------------------------------------------------------------ listings and records

    def metrics(self) -> list[dict[str, Any]]:
        """Every metric definition the caller may read."""
        return list(self._pages("/metrics"))

    def datasets(self) -> list[dict[str, Any]]:
        """Every dataset of the caller's tenant."""
        return list(self._pages("/datasets"))

    def dataset(self, name: str) -> dict[str, Any]:
        """One dataset: its schema, contract and versions."""
        return self._object(self._request("GET", f"/datasets/{_segment(name)}"))

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        """The tenant's runs, newest first; only those with ``status`` if given."""
        return list(self._pages("/runs", {"status": status} if status else None))

    def run(self, run_id: str) -> dict[str, Any]:
        """One run of the tenant."""
        return self._object(self._request("GET", f"/runs/{_segment(run_id)}"))

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The items of any cursor-paginated listing (``/users``, ``/audit`` …), page by page.

        Args:
            path: the route under ``/api/v1``, e.g. ``/users``.
            params: its query parameters besides ``cursor`` and ``limit``.
        """
        return self._pages(path, params)

    # ------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ConnectionFailed(
                f"No answer from {self._http.base_url} within the timeout ({exc})."
            ) from exc
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"Cannot reach {self._http.base_url}: {exc}.") from exc
        if response.is_error:
            raise _error(response)
        return response

    def _pages(
        self, path: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {k: v for k, v in (params or {}).items() if v is not None}
        query["limit"] = _PAGE_LIMIT
        seen: set[str] = set()
        for _ in range(_MAX_PAGES):
            page = self._object(self._request("GET", path, params=query))
            items = page.get("items")
            if not isinstance(items, list):
                raise _unexpected(path, "a page without 'items'")
            yield from items
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise _unexpected(path, "the same next_cursor twice")
            seen.add(cursor)
            query["cursor"] = cursor
        raise _unexpected(path, f"more than {_MAX_PAGES} pages")

    @staticmethod
    def _object(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _unexpected(str(response.url.path), "a body that is not a JSON object")
        return body

    def _result(self, response: httpx.Response) -> Result:
        body = self._object(response)
        columns, rows = body.get("columns"), body.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise _unexpected(str(response.url.path), "a result without 'columns' and 'rows'")
        return Result(
            columns=[str(c) for c in columns],
            rows=[list(row) for row in rows],
            truncated=bool(body.get("truncated", False)),
        )


def _segment(value: str) -> str:
    """A path segment, escaped so that a name cannot reach another route."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


def _unexpected(path: str, what: str) -> ApiError:
    return ApiError(
        200,
        "unexpected_response",
        f"The server answered {path} with {what}; is it a gnomon server of a matching version?",
    )
