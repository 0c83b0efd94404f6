"""Alerting end to end: an event or a load → a trigger rule → the outbox → a real HTTP receiver.

The trigger loop and the dispatcher run as `gnomon serve` runs them (``Gnomon.run_alerting``),
on the test's event loop, against a receiver the test starts.
"""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gnomon.app import Gnomon
from tests.integration.actions.receiver import Receiver, Respond
from tests.projects import order_rows, write_csv, write_project

pytestmark = pytest.mark.anyio

RULES = """\
rules:
  big_order:
    on: event
    match: ["shop.order.*"]
    condition: amount > 1000
    key: [country]
    severity: critical
    notify: [ops]
  load_problem:
    template: quality_failure
    overrides: {notify: [ops]}
"""


def project(root: Path, url: str) -> Path:
    write_project(root, min_rows=1000)
    (root / "triggers").mkdir()
    (root / "triggers" / "rules.yaml").write_text(RULES)
    (root / "channels.yaml").write_text(
        json.dumps({"channels": {"ops": {"kind": "webhook", "url": url, "timeout_s": 5}}})
    )
    return root


async def until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out waiting")


async def test_an_event_reaches_the_receiver_once_with_its_key(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.script("/hook", Respond(503), Respond(200))
    with Gnomon.open(project(tmp_path, receiver.url())) as app:
        app.triggers.apply(ctx=app.context())
        stop = asyncio.Event()
        running = asyncio.create_task(
            app.run_alerting(stop, poll_interval=0.05, tick_interval=0.05)
        )
        try:
            app.triggers.publish(
                "shop.order.created", {"amount": 5000, "country": "DE"}, ctx=app.context()
            )
            await until(lambda: len(receiver.at("/hook")) >= 1)
            app.triggers.publish(
                "shop.order.created", {"amount": 10, "country": "FR"}, ctx=app.context()
            )
            # The first attempt met a 503: the dispatcher tries again after its backoff.
            await until(lambda: len(receiver.at("/hook")) >= 2)
        finally:
            stop.set()
            await running
        arrived = receiver.at("/hook")
        assert len(arrived) == 2
        keys = {r.headers["idempotency-key"] for r in arrived}
        assert len(keys) == 1
        body = arrived[-1].json()
        assert isinstance(body, dict)
        assert body["rule"] == "big_order"
        (alert,) = app.triggers.alerts(ctx=app.context())
        (delivery,) = alert["deliveries"]
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 2)
        assert delivery["idempotency_key"] in keys


async def test_a_load_failing_its_checks_raises_a_quality_alert(
    tmp_path: Path, receiver: Receiver
) -> None:
    root = project(tmp_path, receiver.url())
    write_csv(root / "data" / "orders.csv", order_rows(0, 10))
    with Gnomon.open(root) as app:
        app.triggers.apply(ctx=app.context())
        app.ingest.ingest("orders", ctx=app.context())
        stop = asyncio.Event()
        running = asyncio.create_task(app.run_alerting(stop, poll_interval=0.05))
        try:
            await until(lambda: len(receiver.at("/hook")) >= 1)
        finally:
            stop.set()
            await running
        (alert,) = app.triggers.alerts(ctx=app.context(), rule="load_problem")
        assert alert["key"] == ["orders", "row_count"]
        assert alert["deliveries"][0]["status"] == "delivered"
