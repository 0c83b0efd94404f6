"""Every built-in kind builds a channel that meets the Channel protocol."""

import inspect

import pytest

from gnomon.actions import KINDS, Channel, build_channel

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


SPECS: dict[str, dict[str, object]] = {
    "webhook": {"kind": "webhook", "url": "https://hooks.example.com/x"},
    "email": {"kind": "email", "host": "mail.example.com", "from": "a@b.c", "to": ["d@e.f"]},
    "slack": {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/SECRET"},
    "pagerduty": {"kind": "pagerduty", "routing_key": "SECRETKEY"},
    "teams": {"kind": "teams", "url": "https://x.example.com/workflows/1?sig=SECRET"},
    "plugin": {"kind": "plugin", "callable": "acme.actions:act", "config": {"key": "SECRET"}},
    "database": {
        "kind": "database",
        "url": "postgresql://app:SECRET@db.example.com/ops?sslkey=SECRET",
        "statements": ["insert into alerts (fp) values (:fingerprint)"],
    },
}


def test_every_kind_has_a_sample() -> None:
    assert set(SPECS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(SPECS))
async def test_each_kind_meets_the_protocol(kind: str) -> None:
    channel: Channel = build_channel(f"my-{kind}", SPECS[kind])
    assert channel.name == f"my-{kind}"
    assert channel.kind == kind
    assert "SECRET" not in channel.endpoint
    assert "SECRET" not in repr(channel)
    assert inspect.iscoroutinefunction(channel.send)
    assert inspect.iscoroutinefunction(channel.aclose)
    await channel.aclose()
