"""The default payload of each channel kind, built from one notification."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from gnomon.actions import EmailSpec, parse_channel
from gnomon.actions.channels.email import EmailChannel, message_id
from gnomon.actions.channels.pagerduty import pagerduty_event, pagerduty_severity
from gnomon.actions.channels.slack import slack_payload
from gnomon.actions.channels.teams import ADAPTIVE_CARD, teams_message
from gnomon.actions.channels.webhook import signature_headers, webhook_body
from gnomon.actions.specs import SignSpec
from gnomon.actions.templates import TemplateRenderError
from tests.unit.actions.samples import notification


def test_the_webhook_body_is_the_notification_as_json() -> None:
    n = notification(created_at=datetime(2025, 3, 1, 13, 0, tzinfo=UTC), labels={"å": "ü"})
    body = webhook_body(n)
    assert json.loads(body) == n.to_dict()
    assert "å".encode() in body, "UTF-8, not escaped"


def test_a_signature_covers_the_timestamp_and_the_body() -> None:
    sign = SignSpec(secret=SecretStr("k"), header="X-Sig", timestamp_header="X-Ts")
    headers = signature_headers(b'{"a":1}', sign=sign, timestamp=1700000000)
    expected = hmac.new(b"k", b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert headers == {"X-Ts": "1700000000", "X-Sig": f"sha256={expected}"}
    other_time = signature_headers(b'{"a":1}', sign=sign, timestamp=1700000001)
    assert other_time["X-Sig"] != headers["X-Sig"]


def test_slack_blocks_carry_header_summary_fields_and_links() -> None:
    payload = slack_payload(notification(summary="a < b & c", labels={"region": "EU"}))
    header, summary, fields, links, context = payload["blocks"]
    assert header["type"] == "header"
    assert header["text"]["type"] == "plain_text"
    assert header["text"]["text"].endswith("Revenue down 40% in EU")
    assert summary["text"]["text"] == "a &lt; b &amp; c"
    texts = [field["text"] for field in fields["fields"]]
    assert texts == [
        "*Severity*\ncritical",
        "*State*\nfiring",
        "*Rule*\nrevenue_drop",
        "*region*\nEU",
    ]
    assert links["text"]["text"] == "<https://x.test/d|Dashboard>"
    assert context["type"] == "context"
    assert payload["text"] == "[critical] Revenue down 40% in EU (firing)"
    assert "channel" not in payload


def test_slack_respects_block_kit_limits() -> None:
    labels = {f"l{i:02}": "v" * 3000 for i in range(20)}
    payload = slack_payload(notification(title="t" * 500, summary="s" * 5000, labels=labels))
    header, summary, fields = payload["blocks"][:3]
    assert len(header["text"]["text"]) <= 150
    assert len(summary["text"]["text"]) <= 3000
    assert len(fields["fields"]) == 10
    assert all(len(f["text"]) <= 2000 for f in fields["fields"])


def test_slack_threads_only_through_the_api() -> None:
    n = notification(data={"thread_ts": "1.2"})
    assert "thread_ts" not in slack_payload(n)
    api = slack_payload(n, channel="C1")
    assert api["channel"] == "C1"
    assert api["thread_ts"] == "1.2"


@pytest.mark.parametrize(
    ("state", "action"),
    [("firing", "trigger"), ("acknowledged", "acknowledge"), ("resolved", "resolve")],
)
def test_pagerduty_actions_follow_the_state(state: str, action: str) -> None:
    event = pagerduty_event(notification(state=state), routing_key="rk")
    assert event["event_action"] == action
    assert event["dedup_key"] == "fp-revenue-eu"
    assert event["routing_key"] == "rk"
    assert ("payload" in event) == (state == "firing")


def test_a_pagerduty_trigger_describes_the_alert() -> None:
    event = pagerduty_event(
        notification(labels={"component": "checkout", "region": "EU"}),
        routing_key="rk",
        source="gnomon-prod",
        client_url="https://gnomon.example.com",
    )
    payload = event["payload"]
    assert payload["summary"] == "Revenue down 40% in EU"
    assert payload["severity"] == "critical"
    assert payload["source"] == "gnomon-prod"
    assert payload["component"] == "checkout"
    assert payload["class"] == "revenue_drop"
    assert payload["timestamp"] == "2025-03-01T12:00:00+00:00"
    assert payload["custom_details"]["labels"] == {"component": "checkout", "region": "EU"}
    assert event["links"] == [{"href": "https://x.test/d", "text": "Dashboard"}]
    assert event["client_url"] == "https://gnomon.example.com"


def test_pagerduty_limits() -> None:
    event = pagerduty_event(notification(title="t" * 2000, fingerprint="f" * 300), routing_key="r")
    assert len(event["payload"]["summary"]) == 1024
    assert len(event["dedup_key"]) == 64
    again = pagerduty_event(notification(fingerprint="f" * 300, state="resolved"), routing_key="r")
    assert again["dedup_key"] == event["dedup_key"]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("critical", "critical"),
        ("ERROR", "error"),
        ("warn", "warning"),
        ("low", "info"),
        ("?", "error"),
    ],
)
def test_pagerduty_severities(ours: str, theirs: str) -> None:
    assert pagerduty_severity(ours) == theirs


def test_teams_sends_an_adaptive_card() -> None:
    message = teams_message(notification(state="resolved"))
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == ADAPTIVE_CARD
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    title, summary, facts = card["body"]
    assert title["text"] == "Revenue down 40% in EU"
    assert title["color"] == "Good"
    assert summary["wrap"] is True
    assert {"title": "region", "value": "EU"} in facts["facts"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Dashboard", "url": "https://x.test/d"}
    ]


def _email(**changes: object) -> EmailChannel:
    spec = parse_channel(
        "mail",
        {
            "kind": "email",
            "host": "h",
            "from": "Gnomon <a@gnomon.test>",
            "to": ["o@x.test"],
            **changes,
        },
    )
    assert isinstance(spec, EmailSpec)
    return EmailChannel("mail", spec)


def test_an_email_has_both_parts_and_headers_from_the_notification() -> None:
    message = _email(cc=["c@x.test"]).message(notification())
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["To"] == "o@x.test"
    assert message["Cc"] == "c@x.test"
    assert message["Message-ID"] == message_id("ntf-0001", "gnomon.test")
    assert message["Date"] == "Sat, 01 Mar 2025 12:00:00 +0000"


def test_a_subject_cannot_inject_headers() -> None:
    message = _email().message(notification(title="x\r\nBcc: victim@evil.test"))
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"]


def test_an_email_template_error_is_raised_for_the_channel_to_report() -> None:
    with pytest.raises(TemplateRenderError):
        _email(subject_template="{{ nope }}").message(notification())


def test_message_ids_differ_by_key_and_are_valid() -> None:
    one, two = message_id("a", "d.test"), message_id("b", "d.test")
    assert one != two
    assert one.startswith("<") and one.endswith("@d.test>")


def test_a_notification_refuses_an_unknown_state_or_a_naive_time() -> None:
    with pytest.raises(ValueError, match="state"):
        notification(state="exploded")
    with pytest.raises(ValueError, match="timezone"):
        notification(created_at=datetime(2025, 1, 1))
