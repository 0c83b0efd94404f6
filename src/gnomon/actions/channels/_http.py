"""What every HTTP channel shares: one pooled client, authentication, and reading the answer.

One attempt is one request (plus, for OAuth 2.0, a token fetch and one resend after a 401 with
a fresh token). Everything the network or the receiver can do comes back as an
:class:`Attempt`; the classification is:

- 2xx: ``delivered``.
- a status in the spec's ``retry_on`` (by default 408, 425, 429, 500, 502, 503, 504), a refused
  or reset connection, a timeout, a broken response: ``retry``.
- any other status (400, 401 and 403 after a token refresh, 404, 410, 422, a redirect, which is
  never followed so that credentials do not travel to another URL): ``failed``.

Nothing secret reaches an attempt: every configured secret is masked in errors and excerpts.
"""

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Final, Protocol

import httpx

import gnomon
from gnomon.actions.models import EXCERPT_CHARS, Attempt, AttemptOutcome

if TYPE_CHECKING:
    from gnomon.actions.specs import AuthSpec, HttpChannelSpec, OAuth2AuthSpec
    from gnomon.clock import Clock

__all__ = [
    "HttpDelivery",
    "Reply",
    "Undelivered",
    "auth_for",
    "endpoint_of",
    "parse_retry_after",
    "redact",
]

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"gnomon/{gnomon.__version__}"
_READ_LIMIT: Final = 256 * 1024
_MASK: Final = "***"


class Undelivered(Exception):
    """Raised inside a channel to stop an attempt early; the channel returns ``attempt``."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__(attempt.error)
        self.attempt = attempt


@dataclass(frozen=True, slots=True)
class Reply:
    """A receiver's answer, read up to a limit."""

    status_code: int
    headers: httpx.Headers
    body: bytes

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


def redact(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every secret (four characters or more) replaced by ``***``.

    >>> redact("bad token s3cr3t", ["s3cr3t"])
    'bad token ***'
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, _MASK)
    return text


def endpoint_of(url: str) -> str:
    """What a circuit breaker keys on: scheme, host and port; no path, query or credentials.

    The path is left out because for Slack and Teams the path is the secret.

    >>> endpoint_of("https://user:pw@hooks.example.com/services/T0/B0/XYZ?x=1")
    'https://hooks.example.com:443'
    """
    parsed = httpx.URL(url)
    port = parsed.port or {"https": 443, "http": 80}.get(parsed.scheme, 0)
    return f"{parsed.scheme}://{parsed.host}:{port}"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """A ``Retry-After`` header in seconds from ``now``: delta-seconds or an HTTP date.

    >>> parse_retry_after("120", datetime(2025, 1, 1, tzinfo=UTC))
    120.0
    >>> parse_retry_after("Wed, 01 Jan 2025 00:01:00 GMT", datetime(2025, 1, 1, tzinfo=UTC))
    60.0
    >>> parse_retry_after("soon", datetime(2025, 1, 1, tzinfo=UTC)) is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in {float("inf"), float("-inf")}:
        return None
    return max(seconds, 0.0)


class RequestAuth(Protocol):
    """Adds credentials to a request; may fetch them (OAuth 2.0) with the channel's client."""

    refreshable: bool

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        """The headers to send; raises :class:`Undelivered` when no credentials can be had."""
        ...

    def invalidate(self) -> None:
        """Forget cached credentials after the receiver refused them."""
        ...


class StaticAuth:
    """Fixed headers: an API key, a bearer token or basic credentials."""

    refreshable = False

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = dict(headers)

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:  # noqa: ARG002
        """The configured headers."""
        return dict(self._headers)

    def invalidate(self) -> None:
        """Nothing is cached."""


class OAuth2ClientCredentials:
    """An OAuth 2.0 client-credentials token, cached until shortly before it expires.

    A token without ``expires_in`` is kept until a receiver answers 401. One fetch runs at a
    time; concurrent sends wait for it instead of each asking the token endpoint.
    """

    refreshable = True

    def __init__(
        self, spec: "OAuth2AuthSpec", *, clock: "Clock", timeout_s: float, secrets: Sequence[str]
    ) -> None:
        self._spec = spec
        self._clock = clock
        self._timeout_s = timeout_s
        self._secrets = secrets
        self._token: str | None = None
        self._expires_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        """``Authorization: Bearer <token>``, fetching a token when none is valid."""
        async with self._lock:
            if not self._valid():
                await self._fetch(client)
            return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> None:
        """Drop the cached token so the next request fetches a new one."""
        self._token = None
        self._expires_at = None

    def _valid(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or self._clock.now() < self._expires_at

    async def _fetch(self, client: httpx.AsyncClient) -> None:
        spec = self._spec
        form = {"grant_type": "client_credentials"}
        if spec.scope:
            form["scope"] = spec.scope
        if spec.audience:
            form["audience"] = spec.audience
        headers = {"Accept": "application/json"}
        secret = spec.client_secret.get_secret_value()
        if spec.client_auth == "basic":
            headers["Authorization"] = _basic(spec.client_id, secret)
        else:
            form |= {"client_id": spec.client_id, "client_secret": secret}
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await client.post(spec.token_url, data=form, headers=headers)
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
            outcome: AttemptOutcome = "failed" if _permanent_transport(exc) else "retry"
            raise Undelivered(
                Attempt(
                    outcome=outcome,
                    error="token endpoint: "
                    + _describe(exc, self._secrets, timeout_s=self._timeout_s),
                )
            ) from exc
        self._accept(response)

    def _accept(self, response: httpx.Response) -> None:
        excerpt = redact(response.text[:EXCERPT_CHARS], self._secrets)
        if response.status_code != 200:
            transient = response.status_code == 429 or response.status_code >= 500
            raise Undelivered(
                Attempt(
                    outcome="retry" if transient else "failed",
                    status_code=response.status_code,
                    response_excerpt=excerpt,
                    error=f"token endpoint answered {response.status_code}"
                    + ("" if transient else ": the client credentials were refused"),
                )
            )
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise Undelivered(
                Attempt(
                    outcome="failed",
                    status_code=response.status_code,
                    response_excerpt=excerpt,
                    error="token endpoint answered without an access_token",
                )
            )
        self._token = token
        lifetime = body.get("expires_in")
        self._expires_at = None
        if isinstance(lifetime, int | float) and not isinstance(lifetime, bool):
            margin = min(30.0, float(lifetime) / 10)
            self._expires_at = self._clock.now() + timedelta(seconds=float(lifetime) - margin)


def _basic(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return f"Basic {base64.b64encode(raw).decode('ascii')}"


def auth_for(
    spec: "AuthSpec | None", *, clock: "Clock", timeout_s: float, secrets: Sequence[str]
) -> RequestAuth | None:
    """The request authentication an auth spec describes."""
    if spec is None:
        return None
    if spec.type == "api_key":
        return StaticAuth({spec.header: spec.key.get_secret_value()})
    if spec.type == "bearer":
        return StaticAuth({"Authorization": f"Bearer {spec.token.get_secret_value()}"})
    if spec.type == "basic":
        return StaticAuth(
            {"Authorization": _basic(spec.username, spec.password.get_secret_value())}
        )
    return OAuth2ClientCredentials(spec, clock=clock, timeout_s=timeout_s, secrets=secrets)


def _permanent_transport(exc: Exception) -> bool:
    """A request that can never work as configured (a malformed URL or header, a bad scheme)."""
    return isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError)


def _describe(exc: Exception, secrets: Sequence[str], *, timeout_s: float) -> str:
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return f"{type(exc).__name__}: no answer within the timeout of {timeout_s:g} s"
    return redact(f"{type(exc).__name__}: {_detail(exc)}", secrets)


def _detail(exc: BaseException) -> str:
    """The first informative message along the exception's chain (httpx's own are often bare)."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if text and text != type(seen).__name__:
            return text
        seen = seen.__cause__ or seen.__context__
    return "the connection failed"


Inspect = Callable[[Reply, Attempt], Attempt]
"""A channel's own reading of a reply (Slack's Web API says ``ok: false`` with status 200)."""


class HttpDelivery:
    """One pooled ``httpx.AsyncClient`` per channel, and the attempt rules above."""

    def __init__(
        self,
        spec: "HttpChannelSpec",
        *,
        clock: "Clock",
        auth: RequestAuth | None = None,
        secrets: Sequence[str] = (),
    ) -> None:
        self._clock = clock
        self._auth = auth
        self._secrets = tuple(secrets)
        self._retry_on = frozenset(spec.retry_on)
        self._timeout_s = spec.timeout_s
        self._headers = dict(spec.headers)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(spec.timeout_s),
            limits=httpx.Limits(
                max_connections=spec.max_connections,
                max_keepalive_connections=min(spec.max_connections, 10),
            ),
            verify=spec.verify_tls,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values masked in everything an attempt carries."""
        return self._secrets

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._client.aclose()

    async def deliver(
        self,
        *,
        method: str,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        key: str,
        inspect: Inspect | None = None,
    ) -> Attempt:
        """Send ``body`` once (once more after a 401 with a fresh OAuth token) and classify.

        ``headers`` are the channel's own (content type, signature); the spec's custom headers
        go first, so that they cannot replace those, nor ``Idempotency-Key`` or the credentials.
        """
        started = time.perf_counter()
        try:
            reply = await self._request(method, url, body, {**headers, "Idempotency-Key": key})
            if reply.status_code == 401 and self._auth is not None and self._auth.refreshable:
                self._auth.invalidate()
                reply = await self._request(method, url, body, {**headers, "Idempotency-Key": key})
        except Undelivered as stop:
            attempt = stop.attempt
        else:
            attempt = self._classify(reply)
            if inspect is not None:
                attempt = inspect(reply, attempt)
        attempt = _with_latency(attempt, started)
        logger.debug(
            "delivery attempt",
            extra={
                "endpoint": endpoint_of(url),
                "outcome": attempt.outcome,
                "status_code": attempt.status_code,
                "latency_ms": attempt.latency_ms,
                "idempotency_key": key,
            },
        )
        return attempt

    async def _request(
        self, method: str, url: str, body: bytes, headers: Mapping[str, str]
    ) -> Reply:
        sent = httpx.Headers(self._headers)
        sent.update(headers)
        if self._auth is not None:
            sent.update(await self._auth.headers(self._client))
        try:
            async with asyncio.timeout(self._timeout_s):
                request = self._client.build_request(method, url, content=body, headers=sent)
                response = await self._client.send(request, stream=True)
                try:
                    received = bytearray()
                    async for chunk in response.aiter_raw():
                        received += chunk
                        if len(received) >= _READ_LIMIT:
                            break
                finally:
                    await response.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError) as exc:
            outcome: AttemptOutcome = "failed" if _permanent_transport(exc) else "retry"
            raise Undelivered(
                Attempt(
                    outcome=outcome,
                    error=_describe(exc, self._secrets, timeout_s=self._timeout_s),
                )
            ) from exc
        return Reply(response.status_code, response.headers, bytes(received))

    def _classify(self, reply: Reply) -> Attempt:
        status = reply.status_code
        outcome: AttemptOutcome
        error: str | None = None
        if 200 <= status < 300:
            outcome = "delivered"
        elif status in self._retry_on:
            outcome, error = "retry", f"the receiver answered {status}, which is retried"
        else:
            outcome, error = "failed", _refusal(status)
        return Attempt(
            outcome=outcome,
            status_code=status,
            response_excerpt=redact(reply.text[:EXCERPT_CHARS], self._secrets),
            error=error,
            retry_after_s=parse_retry_after(reply.headers.get("Retry-After"), self._clock.now()),
        )


def _refusal(status: int) -> str:
    if 300 <= status < 400:
        return f"the receiver answered {status} (a redirect, which is not followed)"
    if status in {401, 403}:
        return f"the receiver refused the credentials ({status})"
    return f"the receiver answered {status}, which is not retried"


def _with_latency(attempt: Attempt, started: float) -> Attempt:
    return replace(attempt, latency_ms=(time.perf_counter() - started) * 1000)
