"""Alert latency: an event published through the API → the webhook it fires, received.

    python -m benchmarks.alert_latency [--rate 1000] [--seconds 30] [--batch 10] [--probe 50]

gnomon: ``gnomon serve`` (API and alerting in one process, SQLite catalog) over a scratch
project with one rule, ``amount > 1000`` per key ``n`` (each key its own notification group
with a 1 s interval, so each firing is told at once), and a webhook channel pointing at a
receiver in this process.
The producer posts ``--rate`` events per second to ``POST /api/v1/events`` for ``--seconds``,
``--batch`` events per request (an editor's API key), on an even schedule. Every ``--probe``-th
event is a big order that fires; the rest are judged and do not. Latency per firing event:
from just before its request is sent to the moment its webhook arrived.

Baseline (same run, same producer, same receiver): the same requests posted straight to the
receiver — the floor of HTTP on loopback on this machine under that load. Reported: p50/p99/max
latency of both, firing events lost (must be 0), and the p99 ratio.
Target: p99 < 100 ms at 1,000 events/s.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._setup import WORK, report
from benchmarks.api_overhead import Server
from gnomon.app import Gnomon
from gnomon.examples.receivers import WebhookReceiver

TENANT = "default"
RULES = """\
rules:
  every_event:
    on: event
    match: [bench.tick]
    condition: amount > 1000
    key: [n]
    group_by: [n]
    group_interval: 1s
    notify: [hook]
"""


def arrivals(receiver: WebhookReceiver) -> dict[int, float]:
    """When each firing event arrived, by its number (the first arrival of each)."""
    arrived: dict[int, float] = {}
    for request in receiver.received:
        body = request["body"]
        if "events" in body:  # the baseline: the producer's request itself
            numbers = [e["data"]["n"] for e in body["events"] if e["data"]["amount"] > 1000]
        else:  # a notification
            numbers = [body["data"]["key"]["n"]]
        for number in numbers:
            arrived.setdefault(int(number), request["at"])
    return arrived


def project(root: Path, hook: str) -> tuple[Path, str]:
    """A fresh project with the rule and the channel; an editor's API key for it."""
    if root.exists():
        shutil.rmtree(root)
    (root / "triggers").mkdir(parents=True)
    (root / "gnomon.yaml").write_text(f"tenant: {TENANT}\n")
    (root / "triggers" / "rules.yaml").write_text(RULES)
    channels = {"channels": {"hook": {"kind": "webhook", "url": hook, "timeout_s": 5}}}
    (root / "channels.yaml").write_text(json.dumps(channels))
    with Gnomon.open(root) as app:
        ctx = app.context(TENANT)
        app.triggers.apply(ctx=ctx)
        user = app.identities.create_user(ctx=ctx, name="producer", roles=["editor"])
        key = app.identities.create_key(user.id, ctx=ctx, name="benchmark")
    return root, key.key


async def produce(
    send: Any, *, rate: int, seconds: float, batch: int, probe: int, first: int
) -> dict[int, float]:
    """Call ``send(events)`` on an even schedule; when each firing event was sent."""
    sent: dict[int, float] = {}
    period = batch / rate
    total = int(rate * seconds)
    start = time.perf_counter()
    tasks = []
    for index, number in enumerate(range(first, first + total, batch)):
        delay = start + index * period - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        numbers = range(number, min(number + batch, first + total))
        events = [
            {"type": "bench.tick", "data": {"n": n, "amount": 5000 if n % probe == 0 else 10}}
            for n in numbers
        ]
        stamp = time.perf_counter()
        sent.update(dict.fromkeys((n for n in numbers if n % probe == 0), stamp))
        tasks.append(asyncio.create_task(send(events)))
    await asyncio.gather(*tasks)
    return sent


def percentiles(sent: dict[int, float], arrived: dict[int, float]) -> dict[str, Any]:
    latencies = sorted((arrived[n] - t) * 1000 for n, t in sent.items() if n in arrived)
    if not latencies:
        return {"events": len(sent), "lost": len(sent)}

    def at(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "events": len(sent),
        "lost": len(sent) - len(latencies),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "max_ms": round(latencies[-1], 2),
    }


async def settle(receiver: WebhookReceiver, expected: int, seconds: float = 30.0) -> None:
    deadline = time.perf_counter() + seconds
    while len(arrivals(receiver)) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = await WebhookReceiver().start()
    hook = receiver.url
    root, key = project(WORK / "alert-latency", hook)
    env = {**os.environ, "GNOMON_API__REQUESTS_PER_MINUTE": "10000000"}
    server = Server(
        "gnomon",
        [sys.executable, "-m", "gnomon.cli", "serve", "--port", "0", "--project", str(root)],
        env,
    )
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    try:
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            headers = {"Authorization": f"Bearer {key}"}
            events_url = f"{server.url}/api/v1/events"

            async def via_gnomon(events: list[dict[str, Any]]) -> None:
                answer = await client.post(events_url, json={"events": events}, headers=headers)
                answer.raise_for_status()

            async def straight(events: list[dict[str, Any]]) -> None:
                answer = await client.post(hook, json={"events": events})
                answer.raise_for_status()

            # Warm up: connections, the rule compiled, the first alert.
            await via_gnomon([{"type": "bench.tick", "data": {"n": -1, "amount": 5000}}])
            await settle(receiver, 1)
            runs: dict[str, dict[str, Any]] = {}
            first = firing = 0
            for name, send in (("baseline", straight), ("gnomon", via_gnomon)):
                sent = await produce(
                    send,
                    rate=args.rate,
                    seconds=args.seconds,
                    batch=args.batch,
                    probe=args.probe,
                    first=first,
                )
                firing += len(sent)
                await settle(receiver, 1 + firing)  # the warm-up's, and every one so far
                runs[name] = percentiles(sent, arrivals(receiver))
                first += int(args.rate * args.seconds)
    finally:
        server.stop()
        await receiver.stop()
    gnomon, baseline = runs["gnomon"], runs["baseline"]
    ratio = (
        round(gnomon["p99_ms"] / baseline["p99_ms"], 1)
        if "p99_ms" in gnomon and "p99_ms" in baseline
        else None
    )
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "batch": args.batch,
        "firing_every": args.probe,
        "gnomon": gnomon,
        "baseline": baseline,
        "p99_ratio": ratio,
        "target": "p99 < 100 ms, nothing lost",
        "met": gnomon.get("p99_ms", 1e9) < 100 and gnomon.get("lost", 1) == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="events per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send")
    parser.add_argument("--batch", type=int, default=10, help="events per API request")
    parser.add_argument("--probe", type=int, default=50, help="every N-th event fires")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    report("alert_latency", result)


if __name__ == "__main__":
    main()
