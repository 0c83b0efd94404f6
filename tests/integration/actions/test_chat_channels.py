"""Slack, PagerDuty and Teams against a real HTTP receiver standing in for each service."""

import pytest

from gnomon.actions import build_channel
from tests.integration.actions.receiver import Receiver, Respond
from tests.unit.actions.samples import notification

pytestmark = pytest.mark.anyio


async def test_slack_webhook_posts_blocks(receiver: Receiver) -> None:
    channel = build_channel(
        "chat", {"kind": "slack", "url": "${SLACK_URL}"}, env={"SLACK_URL": receiver.url("/T/B/x")}
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "delivered"
    assert channel.endpoint == f"http://127.0.0.1:{receiver.port}"
    [request] = receiver.requests
    assert request.headers["idempotency-key"] == "ntf-0001"
    body = request.json()
    assert isinstance(body, dict)
    assert [block["type"] for block in body["blocks"]][:3] == ["header", "section", "section"]
    assert "channel" not in body


async def test_slack_api_threads_and_returns_the_ts(receiver: Receiver) -> None:
    receiver.default(
        "/api/chat.postMessage",
        Respond.json(200, {"ok": True, "channel": "C1", "ts": "1700000000.000100"}),
    )
    channel = build_channel(
        "chat",
        {
            "kind": "slack",
            "token": "xoxb-secret-token",
            "channel": "C1",
            "api_url": receiver.url("/api/chat.postMessage"),
        },
    )
    opened = await channel.send(notification())
    reply = await channel.send(
        notification(key="ntf-0002", state="resolved", data={"thread_ts": opened.reference})
    )
    await channel.aclose()

    assert opened.outcome == "delivered"
    assert opened.reference == "1700000000.000100"
    assert reply.outcome == "delivered"
    first, second = receiver.requests
    assert first.headers["authorization"] == "Bearer xoxb-secret-token"
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    first_body, second_body = first.json(), second.json()
    assert isinstance(first_body, dict)
    assert isinstance(second_body, dict)
    assert first_body["channel"] == "C1"
    assert "thread_ts" not in first_body
    assert second_body["thread_ts"] == "1700000000.000100"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [("ratelimited", "retry"), ("channel_not_found", "failed"), ("invalid_auth", "failed")],
)
async def test_slack_api_refusals_with_status_200(
    receiver: Receiver, error: str, outcome: str
) -> None:
    receiver.default("/api", Respond.json(200, {"ok": False, "error": error}))
    channel = build_channel(
        "chat",
        {"kind": "slack", "token": "xoxb-1", "channel": "C1", "api_url": receiver.url("/api")},
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == outcome
    assert attempt.status_code == 200
    assert attempt.error is not None
    assert error in attempt.error


async def test_slack_webhook_404_is_permanent_and_hides_the_url(receiver: Receiver) -> None:
    receiver.script("/services/T0/B0/secretpart", Respond(404, b"no_service"))
    url = receiver.url("/services/T0/B0/secretpart")
    channel = build_channel("chat", {"kind": "slack", "url": url})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "failed"
    assert attempt.response_excerpt == "no_service"
    assert "secretpart" not in channel.endpoint
    assert "secretpart" not in repr(channel)


async def test_pagerduty_triggers_then_resolves_one_incident(receiver: Receiver) -> None:
    receiver.default(
        "/v2/enqueue",
        Respond.json(202, {"status": "success", "message": "Event processed", "dedup_key": "fp"}),
    )
    channel = build_channel(
        "pager",
        {"kind": "pagerduty", "routing_key": "${PD_KEY}", "url": receiver.url("/v2/enqueue")},
        env={"PD_KEY": "R0UTINGKEY"},
    )
    trigger = await channel.send(notification())
    resolve = await channel.send(notification(key="ntf-0002", state="resolved"))
    await channel.aclose()

    assert trigger.outcome == resolve.outcome == "delivered"
    assert trigger.status_code == 202
    assert trigger.reference == "fp"
    first, second = (r.json() for r in receiver.requests)
    assert isinstance(first, dict)
    assert isinstance(second, dict)
    assert first["routing_key"] == "R0UTINGKEY"
    assert first["event_action"] == "trigger"
    assert first["dedup_key"] == second["dedup_key"] == "fp-revenue-eu"
    assert first["payload"]["severity"] == "critical"
    assert second == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": "fp-revenue-eu",
    }
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {"ntf-0001", "ntf-0002"}


@pytest.mark.parametrize(("status", "outcome"), [(400, "failed"), (429, "retry"), (500, "retry")])
async def test_pagerduty_answers_map_to_outcomes(
    receiver: Receiver, status: int, outcome: str
) -> None:
    receiver.default("/v2/enqueue", Respond.json(status, {"status": "invalid event"}))
    channel = build_channel(
        "pager", {"kind": "pagerduty", "routing_key": "k" * 32, "url": receiver.url("/v2/enqueue")}
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == outcome
    assert "k" * 32 not in attempt.response_excerpt


async def test_teams_posts_an_adaptive_card(receiver: Receiver) -> None:
    receiver.default("/workflows/x", Respond(202, b""))
    channel = build_channel("teams", {"kind": "teams", "url": receiver.url("/workflows/x")})
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "delivered"
    assert attempt.status_code == 202
    [request] = receiver.requests
    body = request.json()
    assert isinstance(body, dict)
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert request.headers["idempotency-key"] == "ntf-0001"


async def test_teams_with_a_template(receiver: Receiver) -> None:
    channel = build_channel(
        "teams",
        {"kind": "teams", "url": receiver.url(), "template": '{"text": {{ summary | tojson }}}'},
    )
    attempt = await channel.send(notification())
    await channel.aclose()
    assert attempt.outcome == "delivered"
    assert receiver.requests[0].json() == {"text": notification().summary}
