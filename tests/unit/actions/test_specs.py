"""Channel specs: YAML in, clear errors out, secrets from the environment at build time."""

from pathlib import Path

import pytest
import yaml

from gnomon.actions import (
    ChannelSpecError,
    EmailSpec,
    MissingEnvironment,
    SlackSpec,
    WebhookSpec,
    build_channel,
    channel_kinds,
    load_channels,
    parse_channel,
    parse_channels,
)
from gnomon.actions.specs import resolve_environment
from gnomon.errors import ConfigError, InvalidInput

EXAMPLE = """
channels:
  ops-webhook:
    kind: webhook
    url: "https://hooks.example.com/gnomon"
    method: POST
    timeout_s: 5
    retry_on: [429, 500, 502, 503, 504]
    auth: {type: bearer, token: "${OPS_TOKEN}"}
    headers: {X-Team: ops}
    sign: {secret: "${HMAC_SECRET}", header: X-Gnomon-Signature}
    template: '{"text": "{{ title }}"}'
  pager:
    kind: pagerduty
    routing_key: "${PD_KEY}"
  mail:
    kind: email
    host: smtp.example.com
    from: "gnomon <alerts@example.com>"
    to: [oncall@example.com]
"""


def test_the_documented_example_parses() -> None:
    specs = parse_channels(yaml.safe_load(EXAMPLE))
    hook = specs["ops-webhook"]
    assert isinstance(hook, WebhookSpec)
    assert hook.retry_on == [429, 500, 502, 503, 504]
    assert hook.auth is not None
    assert hook.auth.type == "bearer"
    assert hook.sign is not None
    assert hook.sign.header == "X-Gnomon-Signature"
    mail = specs["mail"]
    assert isinstance(mail, EmailSpec)
    assert mail.sender == "gnomon <alerts@example.com>"
    assert mail.effective_port == 587
    assert "${OPS_TOKEN}" not in repr(hook), "secrets print masked even unresolved"


def test_environment_references_are_resolved_at_build_time() -> None:
    spec = parse_channels(yaml.safe_load(EXAMPLE))["ops-webhook"]
    env = {"OPS_TOKEN": "tok-1", "HMAC_SECRET": "sec-1"}
    resolved = resolve_environment("ops-webhook", spec, env)
    assert isinstance(resolved, WebhookSpec)
    assert resolved.auth is not None
    assert resolved.auth.type == "bearer"
    assert resolved.auth.token.get_secret_value() == "tok-1"
    assert resolved.sign is not None
    assert resolved.sign.secret.get_secret_value() == "sec-1"
    assert resolved.template == '{"text": "{{ title }}"}'
    assert "tok-1" not in repr(resolved)


def test_a_missing_variable_is_named_with_where_it_is_used() -> None:
    spec = parse_channels(yaml.safe_load(EXAMPLE))["ops-webhook"]
    with pytest.raises(MissingEnvironment) as caught:
        resolve_environment("ops-webhook", spec, {"OPS_TOKEN": "t"})
    error = caught.value
    assert isinstance(error, ConfigError)
    assert error.variables == ("HMAC_SECRET",)
    assert "HMAC_SECRET (used by sign.secret)" in error.message
    assert "ops-webhook" in error.message
    assert error.hint is not None
    assert "HMAC_SECRET" in error.hint


def test_every_missing_variable_is_named_at_once() -> None:
    spec = parse_channel("x", {"kind": "webhook", "url": "https://${HOST}/${PATH}"})
    with pytest.raises(MissingEnvironment) as caught:
        resolve_environment("x", spec, {})
    assert caught.value.variables == ("HOST", "PATH")


def test_a_doubled_dollar_keeps_a_literal_reference_and_templates_are_untouched() -> None:
    spec = parse_channel(
        "x",
        {
            "kind": "webhook",
            "url": "https://example.com/h",
            "headers": {"X-Literal": "$${NOT_A_VAR}", "X-Var": "${A}"},
            "template": '{"t": "${A}"}',
        },
    )
    resolved = resolve_environment("x", spec, {"A": "a"})
    assert isinstance(resolved, WebhookSpec)
    assert resolved.headers == {"X-Literal": "${NOT_A_VAR}", "X-Var": "a"}
    assert resolved.template == '{"t": "${A}"}'


def test_a_resolved_value_is_validated_after_resolution() -> None:
    spec = parse_channel("chat", {"kind": "slack", "url": "${SLACK_URL}"})
    with pytest.raises(ChannelSpecError) as caught:
        resolve_environment("chat", spec, {"SLACK_URL": "ftp://files.example.com/hooks/T0-secret"})
    assert "channels.chat.url" in caught.value.message
    assert "T0-secret" not in str(caught.value), "a secret URL is not echoed"


def test_an_unknown_kind_lists_the_known_kinds() -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channels({"channels": {"x": {"kind": "carrier-pigeon"}}})
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert "channels.x.kind" in error.message
    assert error.hint is not None
    assert "database, email, pagerduty, plugin, slack, teams, webhook" in error.hint


def test_build_channel_refuses_an_unknown_kind_with_the_kinds() -> None:
    with pytest.raises(InvalidInput) as caught:
        build_channel("x", {"kind": "fax"})
    assert "webhook" in str(caught.value)
    assert set(channel_kinds()) >= {"email", "pagerduty", "slack", "teams", "webhook"}


@pytest.mark.parametrize(
    ("spec", "path", "words"),
    [
        ({"kind": "webhook"}, "channels.x.url", "required"),
        ({"kind": "webhook", "url": "ftp://example.com"}, "channels.x.url", "http"),
        ({"kind": "webhook", "url": "https://e.com", "method": "GET"}, "channels.x.method", "POST"),
        ({"kind": "webhook", "url": "https://e.com", "timeout_s": 0}, "channels.x.timeout_s", ""),
        (
            {"kind": "webhook", "url": "https://e.com", "retry_on": [42]},
            "channels.x.retry_on",
            "42",
        ),
        ({"kind": "webhook", "url": "https://e.com", "urll": "x"}, "channels.x.urll", "unknown"),
        (
            {"kind": "webhook", "url": "https://e.com", "auth": {"type": "kerberos"}},
            "channels.x.auth",
            "kerberos",
        ),
        (
            {"kind": "webhook", "url": "https://e.com", "auth": {"type": "bearer"}},
            "channels.x.auth.token",
            "required",
        ),
        (
            {"kind": "webhook", "url": "https://e.com", "headers": {"Bad Header": "x"}},
            "channels.x.headers",
            "Bad Header",
        ),
        (
            {"kind": "webhook", "url": "https://e.com", "headers": {"X-A": "a\r\nX-B: b"}},
            "channels.x.headers",
            "printable",
        ),
        (
            {"kind": "webhook", "url": "https://e.com", "template": "{{ title "},
            "channels.x.template",
            "does not parse",
        ),
        ({"kind": "slack"}, "channels.x", "either url"),
        ({"kind": "slack", "token": "xoxb"}, "channels.x", "channel"),
        ({"kind": "email", "host": "h", "from": "nobody", "to": ["a@b.c"]}, "channels.x.from", ""),
        ({"kind": "email", "host": "h", "from": "a@b.c", "to": []}, "channels.x.to", ""),
        (
            {"kind": "email", "host": "h", "from": "a@b.c", "to": ["a@b.c"], "username": "u"},
            "channels.x",
            "password",
        ),
        ({"kind": "pagerduty"}, "channels.x.routing_key", "required"),
        ({"kind": "teams", "url": "not a url"}, "channels.x.url", "http"),
    ],
)
def test_bad_specs_name_the_key(spec: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channels({"channels": {"x": spec}})
    message = caught.value.message
    assert f"{path}:" in message or f"{path} " in message, message
    assert words in message


def test_every_problem_of_every_channel_is_reported_together() -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channels(
            {
                "channels": {
                    "a": {"kind": "webhook", "url": "nope", "timeout_s": -1},
                    "b": {"kind": "fax"},
                    "ok": {"kind": "webhook", "url": "https://e.com"},
                }
            }
        )
    paths = [issue.path for issue in caught.value.issues]
    assert sorted(paths) == ["channels.a.timeout_s", "channels.a.url", "channels.b.kind"]


def test_a_document_without_channels_is_refused() -> None:
    with pytest.raises(ChannelSpecError, match="channels"):
        parse_channels({"chanels": {}})


def test_a_bad_channel_name_is_refused() -> None:
    with pytest.raises(ChannelSpecError, match="channel name"):
        parse_channels({"channels": {"has space": {"kind": "webhook", "url": "https://e.com"}}})


def test_load_channels_reports_lines(tmp_path: Path) -> None:
    path = tmp_path / "channels.yaml"
    path.write_text("channels:\n  a:\n    kind: webhook\n    url: ftp://x\n", encoding="utf-8")
    with pytest.raises(ChannelSpecError) as caught:
        load_channels(path)
    [issue] = caught.value.issues
    assert issue.path == "channels.a.url"
    assert issue.line == 4
    path.write_text(EXAMPLE, encoding="utf-8")
    assert set(load_channels(path)) == {"ops-webhook", "pager", "mail"}


def test_slack_takes_a_webhook_or_the_api() -> None:
    hook = parse_channel("c", {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/X"})
    api = parse_channel("c", {"kind": "slack", "token": "xoxb-1", "channel": "C1"})
    assert isinstance(hook, SlackSpec)
    assert isinstance(api, SlackSpec)
    assert "services/T/B/X" not in repr(hook)
    with pytest.raises(ChannelSpecError, match="either url"):
        parse_channel("c", {"kind": "slack", "url": "https://h.example/x", "token": "t"})


def test_email_ports_default_from_security() -> None:
    base = {"kind": "email", "host": "h", "from": "a@b.c", "to": ["a@b.c"]}
    ports = {
        security: parse_channel("m", {**base, "security": security}).effective_port  # type: ignore[union-attr]
        for security in ("starttls", "ssl", "none")
    }
    assert ports == {"starttls": 587, "ssl": 465, "none": 25}


def test_built_channels_expose_a_secret_free_endpoint() -> None:
    channel = build_channel(
        "chat",
        {"kind": "teams", "url": "${TEAMS_URL}"},
        env={"TEAMS_URL": "https://prod.example.com:8443/workflows/abc?sig=SECRET"},
    )
    assert channel.kind == "teams"
    assert channel.endpoint == "https://prod.example.com:8443"
    mail = build_channel(
        "mail", {"kind": "email", "host": "smtp.example.com", "from": "a@b.c", "to": ["a@b.c"]}
    )
    assert mail.endpoint == "smtp://smtp.example.com:587"


def test_an_environment_value_that_breaks_a_header_is_refused_at_build() -> None:
    with pytest.raises(ChannelSpecError, match="headers"):
        build_channel(
            "x",
            {"kind": "webhook", "url": "https://e.com", "headers": {"X-A": "${A}"}},
            env={"A": "a\r\nX-Injected: 1"},
        )
