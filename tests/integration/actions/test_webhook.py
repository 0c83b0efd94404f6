"""The webhook channel against a real HTTP receiver: signing, auth, and every failure's outcome."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from gnomon.actions import build_channel
from gnomon.clock import FixedClock
from tests.integration.actions.receiver import (
    Close,
    Hang,
    Receiver,
    Recorded,
    Reset,
    Respond,
    refused_url,
)
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio

NOW = datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)


def verify(request: Recorded, secret: str, *, now: datetime, tolerance_s: int = 300) -> bool:
    """What a receiver does, written from docs/actions.md rather than from the channel's code."""
    timestamp = request.headers["x-gnomon-timestamp"]
    scheme, _, given = request.headers["x-gnomon-signature"].partition("=")
    if scheme != "sha256" or abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, given)


async def test_a_signed_post_arrives_with_its_key_and_verifies(receiver: Receiver) -> None:
    channel = build_channel(
        "ops",
        {
            "kind": "webhook",
            "url": receiver.url(),
            "headers": {"X-Team": "ops", "idempotency-key": "mine", "content-type": "text/x"},
            "sign": {"secret": "${HMAC_SECRET}"},
        },
        env={"HMAC_SECRET": "whsec-123"},
        clock=FixedClock(NOW),
    )
    attempt = await channel.send(notification())
    await channel.aclose()

    assert attempt.outcome == "delivered"
    assert attempt.status_code == 200
    assert attempt.response_excerpt == "ok"
    [request] = receiver.requests
    assert request.method == "POST"
    assert request.headers["idempotency-key"] == "ntf-0001"
    assert request.headers["x-team"] == "ops"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-gnomon-timestamp"] == str(int(NOW.timestamp()))
    assert verify(request, "whsec-123", now=NOW)
    assert not verify(request, "other-secret", now=NOW)
    assert not verify(request, "whsec-123", now=NOW + timedelta(hours=1))
    body = request.json()
    assert isinstance(body, dict)
    assert body["fingerprint"] == "fp-revenue-eu"
    assert body["labels"] == {"metric": "revenue", "region": "EU"}
    assert body["created_at"] == "2025-03-01T12:00:00+00:00"


async def test_a_tampered_body_does_not_verify(receiver: Receiver) -> None:
    channel = build_channel(
        "ops",
        {"kind": "webhook", "url": receiver.url(), "sign": {"secret": "s3cret"}},
        clock=FixedClock(NOW),
    )
    await channel.send(notification())
    await channel.aclose()
    [request] = receiver.requests
    tampered = Recorded(request.method, request.path, request.headers, request.body + b" ")
    assert verify(request, "s3cret", now=NOW)
    assert not verify(tampered, "s3cret", now=NOW)


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "bearer", "token": "tok-1"}, "authorization", "Bearer tok-1"),
        ({"type": "api_key", "header": "X-Api-Key", "key": "k-1"}, "x-api-key", "k-1"),
        ({"type": "basic", "username": "u", "password": "p"}, "authorization", "Basic dTpw"),
    ],
)
async def test_static_credentials_arrive(
    receiver: Receiver, auth: dict[str, str], header: str, value: str
) -> None:
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url(), "auth": auth})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "delivered"
    assert receiver.requests[0].headers[header] == value


async def test_a_template_shapes_the_body_and_put_is_used(receiver: Receiver) -> None:
    channel = build_channel(
        "ops",
        {
            "kind": "webhook",
            "url": receiver.url(),
            "method": "PUT",
            "template": '{"text": {{ title | tojson }}, "region": {{ labels.region | tojson }}}',
        },
    )
    attempt = await channel.send(notification(title='He said "stop"'))
    await channel.aclose()
    assert attempt.outcome == "delivered"
    [request] = receiver.requests
    assert request.method == "PUT"
    assert request.json() == {"text": 'He said "stop"', "region": "EU"}


async def test_a_template_that_does_not_render_fails_without_a_request(
    receiver: Receiver,
) -> None:
    channel = build_channel(
        "ops", {"kind": "webhook", "url": receiver.url(), "template": '{"t": "{{ titel }}"}'}
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "failed"
    assert attempt.error is not None
    assert "titel" in attempt.error
    assert receiver.requests == []


async def test_connections_are_pooled(receiver: Receiver) -> None:
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url()})
    for i in range(3):
        assert (await channel.send(notification(key=f"k{i}"))).outcome == "delivered"
    await channel.aclose()
    assert [r.headers["idempotency-key"] for r in receiver.requests] == ["k0", "k1", "k2"]
    assert receiver.connections == 1


async def test_429_is_retried_with_its_retry_after(receiver: Receiver) -> None:
    receiver.script("/hook", Respond(429, b"slow down", {"Retry-After": "17"}))
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url()})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
    assert attempt.status_code == 429
    assert attempt.retry_after_s == 17.0
    assert attempt.response_excerpt == "slow down"


async def test_an_http_date_retry_after_is_read_against_the_clock(receiver: Receiver) -> None:
    receiver.script("/hook", Respond(503, b"", {"Retry-After": "Sat, 01 Mar 2025 12:02:05 GMT"}))
    channel = build_channel(
        "ops", {"kind": "webhook", "url": receiver.url()}, clock=FixedClock(NOW)
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
    assert attempt.retry_after_s == 120.0


@pytest.mark.parametrize(
    ("status", "retry_on", "outcome"),
    [
        (500, None, "retry"),
        (502, None, "retry"),
        (404, None, "failed"),
        (400, None, "failed"),
        (401, None, "failed"),
        (302, None, "failed"),
        (409, [409], "retry"),
        (500, [429], "failed"),
    ],
)
async def test_statuses_map_to_outcomes(
    receiver: Receiver, status: int, retry_on: list[int] | None, outcome: str
) -> None:
    headers = {"Location": "https://elsewhere.test/"} if status == 302 else {}
    receiver.script("/hook", Respond(status, b"no", headers))
    spec: dict[str, object] = {"kind": "webhook", "url": receiver.url()}
    if retry_on is not None:
        spec["retry_on"] = retry_on
    channel = build_channel("ops", spec)
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == outcome
    assert attempt.status_code == status
    assert attempt.error is not None
    assert len(receiver.requests) == 1


async def test_a_refused_connection_is_transient() -> None:
    channel = build_channel("ops", {"kind": "webhook", "url": refused_url()})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "ConnectError" in attempt.error


async def test_a_slow_receiver_times_out_as_transient(receiver: Receiver) -> None:
    receiver.script("/hook", Hang())
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url(), "timeout_s": 0.2})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "timeout" in attempt.error.lower()


@pytest.mark.parametrize("behaviour", [Reset(), Close()], ids=["reset", "closed"])
async def test_a_dropped_connection_is_transient(
    receiver: Receiver, behaviour: Reset | Close
) -> None:
    receiver.script("/hook", behaviour)
    channel = build_channel("ops", {"kind": "webhook", "url": receiver.url()})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
    assert attempt.status_code is None
    assert attempt.error
    assert len(receiver.requests) == 1, "the request arrived before the connection dropped"


async def test_secrets_never_reach_the_attempt(receiver: Receiver) -> None:
    receiver.script("/hook", Respond(400, b"bad token tok-very-secret in Authorization"))
    channel = build_channel(
        "ops",
        {"kind": "webhook", "url": receiver.url(), "auth": {"type": "bearer", "token": "${T}"}},
        env={"T": "tok-very-secret"},
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "failed"
    assert "tok-very-secret" not in attempt.response_excerpt
    assert "***" in attempt.response_excerpt
    assert "tok-very-secret" not in repr(channel)


def token_endpoint(issued: list[str]) -> "Respond":
    token = f"tok-{len(issued) + 1}"
    issued.append(token)
    return Respond.json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 600})


def oauth_spec(receiver: Receiver, **changes: object) -> dict[str, object]:
    auth: dict[str, object] = {
        "type": "oauth2",
        "token_url": receiver.url("/token"),
        "client_id": "gnomon",
        "client_secret": "${CLIENT_SECRET}",
        "scope": "alerts:write",
    }
    auth.update(changes)
    return {"kind": "webhook", "url": receiver.url(), "auth": auth}


async def test_oauth2_fetches_a_token_once_and_reuses_it(receiver: Receiver) -> None:
    issued: list[str] = []
    receiver.default("/token", lambda _: token_endpoint(issued))
    clock = FixedClock(NOW)
    channel = build_channel("ops", oauth_spec(receiver), env={"CLIENT_SECRET": "cs-1"}, clock=clock)
    first = await channel.send(notification(key="a"))
    second = await channel.send(notification(key="b"))
    clock.advance(timedelta(seconds=600))
    third = await channel.send(notification(key="c"))
    await channel.aclose()

    assert [first.outcome, second.outcome, third.outcome] == ["delivered"] * 3
    [token_request, *later] = receiver.at("/token")
    assert len(later) == 1, "the token is fetched again once it has expired"
    assert token_request.headers["authorization"] == "Basic Z25vbW9uOmNzLTE="
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert b"grant_type=client_credentials" in token_request.body
    assert b"scope=alerts%3Awrite" in token_request.body
    hooks = receiver.at("/hook")
    assert [h.headers["authorization"] for h in hooks] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


async def test_oauth2_refreshes_once_after_a_401(receiver: Receiver) -> None:
    issued: list[str] = []
    receiver.default("/token", lambda _: token_endpoint(issued))
    receiver.script("/hook", Respond(401, b"token revoked"))
    channel = build_channel(
        "ops",
        oauth_spec(receiver, client_auth="post"),
        env={"CLIENT_SECRET": "cs-1"},
    )
    attempt = await channel.send(notification())
    await channel.aclose()

    assert attempt.outcome == "delivered"
    assert len(receiver.at("/token")) == 2
    assert b"client_secret=cs-1" in receiver.at("/token")[0].body
    assert [h.headers["authorization"] for h in receiver.at("/hook")] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert {h.headers["idempotency-key"] for h in receiver.at("/hook")} == {"ntf-0001"}


async def test_oauth2_gives_up_when_the_fresh_token_is_refused_too(receiver: Receiver) -> None:
    issued: list[str] = []
    receiver.default("/token", lambda _: token_endpoint(issued))
    receiver.default("/hook", Respond(401, b"no"))
    channel = build_channel("ops", oauth_spec(receiver), env={"CLIENT_SECRET": "cs-1"})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "failed"
    assert attempt.status_code == 401
    assert len(receiver.at("/hook")) == 2


@pytest.mark.parametrize(("status", "outcome"), [(401, "failed"), (503, "retry")])
async def test_a_token_endpoint_failure_is_the_attempts_outcome(
    receiver: Receiver, status: int, outcome: str
) -> None:
    receiver.default("/token", Respond.json(status, {"error": "invalid_client"}))
    channel = build_channel("ops", oauth_spec(receiver), env={"CLIENT_SECRET": "cs-1"})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == outcome
    assert attempt.status_code == status
    assert attempt.error is not None
    assert "token endpoint" in attempt.error
    assert receiver.at("/hook") == []


async def test_a_token_endpoint_that_is_down_is_transient() -> None:
    url = refused_url()
    channel = build_channel(
        "ops",
        {
            "kind": "webhook",
            "url": url,
            "auth": {"type": "oauth2", "token_url": url, "client_id": "c", "client_secret": "s"},
        },
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "retry"
