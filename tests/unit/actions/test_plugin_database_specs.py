"""Plugin and database channel specs: what they accept, what they refuse and where, and secrets."""

import os

import pytest
import yaml
from pydantic import SecretStr

from gnomon.actions import (
    KINDS,
    ChannelSpecError,
    DatabaseSpec,
    PluginRetry,
    PluginSpec,
    build_channel,
    parse_channel,
    parse_channels,
)
from gnomon.actions.channels.database import endpoint_of_database, stored_key
from gnomon.actions.channels.plugin import child_environment
from gnomon.actions.specs import resolve_environment, secret_values
from gnomon.errors import Unavailable
from tests.unit.actions.samples import notification

EXAMPLE = """
channels:
  ticket:
    kind: plugin
    entry_point: jira
    timeout_s: 20
    memory_mb: 256
    config: {project: OPS, token: "${JIRA_TOKEN}", nested: {auth: ["Bearer ${JIRA_TOKEN}"]}}
  custom:
    kind: plugin
    callable: "acme.actions:open_ticket"
  audit:
    kind: database
    url: "${AUDIT_DB_URL}"
    statements:
      - >-
        insert into incidents (fingerprint, region, opened_at)
        values (:fingerprint, :label_region, :created_at)
      - "update counters set n = n + 1 where name = :rule"
    compensate:
      - "delete from incidents where fingerprint = :fingerprint"
"""


def test_the_documented_examples_parse() -> None:
    specs = parse_channels(yaml.safe_load(EXAMPLE))
    ticket, custom, audit = specs["ticket"], specs["custom"], specs["audit"]
    assert isinstance(ticket, PluginSpec)
    assert (ticket.plugin, ticket.timeout_s, ticket.memory_mb) == ("jira", 20.0, 256)
    assert isinstance(custom, PluginSpec)
    assert custom.target == "acme.actions:open_ticket"
    assert (custom.timeout_s, custom.memory_mb, custom.config) == (30.0, 512, {})
    assert isinstance(audit, DatabaseSpec)
    assert len(audit.statements) == 2
    assert audit.compensate == ["delete from incidents where fingerprint = :fingerprint"]
    assert set(KINDS) >= {"plugin", "database"}


def test_config_values_from_the_environment_become_secrets() -> None:
    spec = parse_channels(yaml.safe_load(EXAMPLE))["ticket"]
    resolved = resolve_environment("ticket", spec, {"JIRA_TOKEN": "jt-123456"})
    assert isinstance(resolved, PluginSpec)
    config = resolved.config
    assert config["project"] == "OPS", "a plain value stays plain"
    assert isinstance(config["token"], SecretStr)
    assert config["token"].get_secret_value() == "jt-123456"
    [auth] = config["nested"]["auth"]
    assert isinstance(auth, SecretStr)
    assert auth.get_secret_value() == "Bearer jt-123456"
    assert "jt-123456" not in repr(resolved)
    assert sorted(secret_values(resolved)) == ["Bearer jt-123456", "jt-123456"]


def test_config_keys_named_like_templates_are_resolved_and_doubled_dollars_stay_literal() -> None:
    spec = parse_channel(
        "p", {"kind": "plugin", "callable": "m:f", "config": {"template": "${T}", "raw": "$${T}"}}
    )
    resolved = resolve_environment("p", spec, {"T": "value-1"})
    assert isinstance(resolved, PluginSpec)
    assert isinstance(resolved.config["template"], SecretStr)
    assert resolved.config["raw"] == "${T}"


def test_the_database_url_is_a_secret_and_its_endpoint_has_no_password() -> None:
    spec = parse_channels(yaml.safe_load(EXAMPLE))["audit"]
    env = {"AUDIT_DB_URL": "postgresql://app:pw-secret-1@db.internal:5433/ops?sslmode=require"}
    resolved = resolve_environment("audit", spec, env)
    assert "pw-secret-1" not in repr(resolved)
    channel = build_channel("audit", spec, env=env)
    assert channel.endpoint == "postgresql+psycopg://app@db.internal:5433/ops"
    assert "pw-secret-1" not in repr(channel)


BAD = [
    ({"kind": "plugin"}, "channels.x", "either entry_point"),
    ({"kind": "plugin", "entry_point": "a", "callable": "m:f"}, "channels.x", "not both"),
    ({"kind": "plugin", "callable": "module_only"}, "channels.x.callable", "package.module"),
    ({"kind": "plugin", "callable": "a b:c"}, "channels.x.callable", "package.module"),
    ({"kind": "plugin", "entry_point": "has space"}, "channels.x.entry_point", "entry point"),
    ({"kind": "plugin", "entry_point": "a", "timeout_s": 601}, "channels.x.timeout_s", "600"),
    ({"kind": "plugin", "entry_point": "a", "timeout_s": 0}, "channels.x.timeout_s", "0"),
    ({"kind": "plugin", "entry_point": "a", "memory_mb": 8}, "channels.x.memory_mb", "32"),
    ({"kind": "plugin", "entry_point": "a", "config": [1]}, "channels.x.config", "dictionary"),
    ({"kind": "plugin", "entry_point": "a", "pass_env": ["A-B"]}, "channels.x.pass_env", "A-B"),
    ({"kind": "plugin", "entry_point": "a", "args": []}, "channels.x.args", "unknown key"),
    ({"kind": "database", "statements": ["select 1"]}, "channels.x.url", "required"),
    ({"kind": "database", "url": "sqlite:////tmp/x.db"}, "channels.x.statements", "required"),
    (
        {"kind": "database", "url": "sqlite:////tmp/x.db", "statements": []},
        "channels.x.statements",
        "at least 1",
    ),
    (
        {"kind": "database", "url": "sqlite:////tmp/x.db", "statements": ["select 1", "  "]},
        "channels.x.statements.1",
        "empty",
    ),
    (
        {"kind": "database", "url": "sqlite:////tmp/x.db", "statements": ["select :fingerprnt"]},
        "channels.x.statements.0",
        ":fingerprnt",
    ),
    (
        {
            "kind": "database",
            "url": "sqlite:////tmp/x.db",
            "statements": ["select 1"],
            "compensate": ["delete from t where a = :labels"],
        },
        "channels.x.compensate.0",
        ":label_<name>",
    ),
    (
        {"kind": "database", "url": "not a url", "statements": ["select 1"]},
        "channels.x.url",
        "SQLAlchemy",
    ),
    (
        {"kind": "database", "url": "sqlite://", "statements": ["select 1"]},
        "channels.x.url",
        "in-memory",
    ),
    (
        {"kind": "database", "url": "sqlite:////x.db", "statements": ["s"], "timeout_s": 700},
        "channels.x.timeout_s",
        "600",
    ),
]


@pytest.mark.parametrize(("spec", "path", "words"), BAD)
def test_bad_specs_name_the_key(spec: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channels({"channels": {"x": spec}})
    message = caught.value.message
    assert f"{path}:" in message, message
    assert words in message, message


def test_an_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channel("x", {"kind": "database", "url": "sqlite:////x.db", "statements": [":nope"]})
    message = caught.value.message
    for name in (":rule", ":fingerprint", ":state", ":created_at", ":tenant", ":label_<name>"):
        assert name in message


def test_a_refused_database_url_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channel(
            "x", {"kind": "database", "url": "nonsense-pw-s3cret", "statements": ["select 1"]}
        )
    assert "pw-s3cret" not in str(caught.value)
    assert "channels.x.url" in caught.value.message


def test_a_refused_secret_webhook_url_is_not_repeated_in_the_error() -> None:
    with pytest.raises(ChannelSpecError) as caught:
        parse_channel("x", {"kind": "teams", "url": "ftp://x.example.com/?sig=s3cret-sig"})
    assert "s3cret-sig" not in str(caught.value)


def test_a_resolved_url_is_checked_after_resolution() -> None:
    spec = {"kind": "database", "url": "${DB}", "statements": ["select 1"]}
    with pytest.raises(ChannelSpecError, match="in-memory"):
        build_channel("x", spec, env={"DB": "sqlite://"})


def test_an_unknown_database_dialect_is_named_at_build() -> None:
    spec = {"kind": "database", "url": "nosuchdb://h/x", "statements": ["select 1"]}
    with pytest.raises(ChannelSpecError, match="nosuchdb"):
        build_channel("x", spec)


def test_stored_keys_carry_the_tenant_and_long_ones_are_hashed() -> None:
    assert stored_key(notification()) == "acme:ntf-0001"
    assert stored_key(notification(tenant="other")) != stored_key(notification())
    long = stored_key(notification(key="k" * 300))
    assert long.startswith("sha256:")
    assert len(long) <= 255
    assert long == stored_key(notification(key="k" * 300))


def test_endpoint_of_database_drops_password_and_query() -> None:
    from sqlalchemy.engine import make_url

    url = make_url("mysql+pymysql://u:pw@h/db?ssl_key=/secret/key.pem")
    assert endpoint_of_database(url) == "mysql+pymysql://u@h/db"


def test_the_child_environment_holds_only_what_a_process_needs() -> None:
    env = {
        "PATH": "/usr/bin",
        "HOME": "/home/g",
        "LC_ALL": "C.UTF-8",
        "PYTHONPATH": "/plugins",
        "GNOMON_CATALOG__URL": "postgresql://u:pw@db/x",
        "SMTP_PASSWORD": "pw",
        "JIRA_TOKEN": "jira-value",
    }
    child = child_environment(env, ["JIRA_TOKEN"])
    assert child["PATH"] == "/usr/bin"
    assert child["LC_ALL"] == "C.UTF-8"
    assert child["JIRA_TOKEN"] == env["JIRA_TOKEN"]
    assert "GNOMON_CATALOG__URL" not in child
    assert "SMTP_PASSWORD" not in child
    paths = child["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == "/plugins", "the user's own paths come first"
    assert len(paths) == 2, "gnomon's own root is added so that the child runs the same gnomon"


def test_plugin_retry_is_a_retryable_kind() -> None:
    error = PluginRetry("rate limited", retry_after_s=30)
    assert isinstance(error, Unavailable)
    assert error.retryable
    assert error.retry_after_s == 30
    assert error.to_dict()["details"] == {"retry_after_s": 30}
