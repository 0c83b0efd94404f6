"""API overhead: a cached metric query through ``gnomon serve`` vs. a bare FastAPI endpoint.

    python -m benchmarks.api_overhead [--rows 200000] [--seconds 20] [--rounds 2]

gnomon: ``gnomon serve`` (uvicorn, one worker) over a scratch copy of the demo project, answering
``POST /api/v1/metrics/query`` for an analyst's API key: each request is authenticated (key hash
looked up in the catalog), rate-limited, permission-checked, policy-checked (the analyst's row
policy is part of the result cache key), answered from the result cache after the first call,
and written to the audit log. Baseline: a bare FastAPI app in its own process, served by uvicorn
with the same settings, whose one endpoint takes the same JSON body and returns the answer
captured from gnomon (checked equal before timing).

Load: ``wrk`` with one thread and 16 connections on loopback for ``--seconds``, posting one
fixed query. The two servers never run at once; rounds alternate which goes first. Reported:
req/s and p50/p99 latency of both per round, and the ratio of the summed request rates (target
>= 0.7). Afterwards the audit log is checked to hold an entry for every answered request.

The server's per-tenant limits are raised through the environment
(``GNOMON_API__REQUESTS_PER_MINUTE``, ``GNOMON_API__CONCURRENT_QUERIES``) so that the load is
not answered with 429; the limiter and the quota still run on every request.

``--baseline-server ANSWER.json`` is the baseline's own entry point (started by this script).
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks._metrics import copy_project, demo_project, median
from benchmarks._setup import ROOT, WORK, report
from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.examples.retail.queries import DASHBOARD_QUERIES

TENANT = "acme"
USER = "bench@acme"
REGION = "EMEA"
PATH = "/api/v1/metrics/query"
QUERY_NAME = "kpis_by_month"
GRACE_S = 30  # as ``gnomon serve``
STARTUP_S = 60.0

# wrk reports through this: one JSON line, latencies in microseconds.
WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = {authorization}

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK {{"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
    .. '"p99_us": %d, "max_us": %d, "errors": {{"connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}}}}\\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def request_body() -> dict[str, Any]:
    """The one query every request posts (three metrics by month over 2025)."""
    spec = next(q for q in DASHBOARD_QUERIES if q["name"] == QUERY_NAME)
    return {k: spec[k] for k in ("metrics", "grain", "start", "end") if k in spec}


# ---------------------------------------------------------------- the baseline server


def serve_baseline(answer_path: Path) -> None:
    """The bare FastAPI app, served the way ``gnomon serve`` serves gnomon's."""
    import uvicorn
    from fastapi import FastAPI

    answer: dict[str, Any] = json.loads(answer_path.read_text(encoding="utf-8"))
    api = FastAPI()

    @api.post(PATH)
    async def metrics_query(body: dict[str, Any]) -> dict[str, Any]:  # noqa: ARG001
        return answer

    # Bound as ``gnomon serve`` binds: the protocol from getaddrinfo (IPPROTO_TCP), without
    # which asyncio leaves Nagle's algorithm on and every keep-alive answer waits ~40 ms.
    family, kind, proto, _, address = socket.getaddrinfo(
        "127.0.0.1", 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(2048)
    config = uvicorn.Config(
        api, log_config=None, timeout_graceful_shutdown=GRACE_S, server_header=False
    )
    host, port = sock.getsockname()[:2]
    print(f"baseline listening on http://{host}:{port}/api/v1", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


# ---------------------------------------------------------------- set-up and checks


def prepare(app: Gnomon) -> tuple[str, dict[str, Any]]:
    """An analyst with an API key and the row policy; the key and the in-process answer."""
    ctx = app.context(TENANT)
    app.policies.save(
        ctx=ctx,
        name="analysts_see_their_region",
        kind="row",
        table="silver.orders",
        roles=["analyst"],
        spec={"predicate": "region = {{ user.region }}"},
        columns=app.snapshot("silver", "orders").schema.names,
    )
    user = app.identities.create_user(
        ctx=ctx, name=USER, roles=["analyst"], attributes={"region": REGION}
    )
    key = app.identities.create_key(user.id, ctx=ctx, name="benchmark")
    principal = Principal(
        tenant=TENANT, user=USER, roles=frozenset(user.roles), attributes=dict(user.attributes)
    )
    body = request_body()
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    expected = app.query(
        body["metrics"], grain=body["grain"], start=start, end=end, ctx=RequestContext(principal)
    )
    admin = app.query(body["metrics"], grain=body["grain"], start=start, end=end, ctx=ctx)
    if expected.table.equals(admin.table):
        raise SystemExit("the row policy did not change the answer; it would not be measured")
    return key.key, {"columns": expected.table.column_names, "rows": expected.table.to_pylist()}


def post(url: str, key: str) -> tuple[int, bytes]:
    """One request as wrk sends it: status and body."""
    request = urllib.request.Request(  # noqa: S310 - the server's own http:// URL
        url + PATH,
        data=json.dumps(request_body()).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our http URL
        return int(response.status), bytes(response.read())


def same_answer(answer: dict[str, Any], expected: dict[str, Any]) -> bool:
    """The HTTP answer holds the in-process rows (floats to 1e-9)."""
    if answer["columns"] != expected["columns"] or len(answer["rows"]) != len(expected["rows"]):
        return False
    for got, want in zip(answer["rows"], expected["rows"], strict=True):
        for column, value in zip(answer["columns"], got, strict=True):
            other = want[column]
            if isinstance(value, float) or isinstance(other, float):
                if abs(float(value) - float(other)) > 1e-9 * max(1.0, abs(float(other))):
                    return False
            elif str(value)[:10] != str(other)[:10]:  # times: compare the day
                return False
    return True


def audited(app: Gnomon) -> int:
    """How many metric queries of the benchmark's user the audit log holds."""
    ctx = app.context(TENANT)
    count, after = 0, None
    while True:
        page = app.audit.entries(ctx=ctx, after_seq=after, limit=1000, action="metrics.query")
        count += sum(1 for e in page if e.principal == USER)
        if len(page) < 1000:
            return count
        after = page[-1].seq


# ---------------------------------------------------------------- servers and load


class Server:
    """A server in a child process, stopped with SIGTERM like ``gnomon serve`` expects."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self._proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + STARTUP_S
        seen = []
        assert self._proc.stdout is not None
        while time.monotonic() < deadline:
            line = self._proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            match = re.search(r"listening on (http://\S+?)/api/v1", line)
            if match:
                return match.group(1)
        self.stop()
        raise SystemExit(f"{self.name} did not start:\n{''.join(seen)}")

    def stop(self) -> None:
        """Ask the server to stop and wait for it."""
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=GRACE_S + 10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


def load(url: str, script: Path, *, seconds: int, connections: int) -> dict[str, Any]:
    """Run wrk against ``url``; its summary with req/s."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url + PATH,
    ]
    proc = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{proc.stdout}\n{proc.stderr}")
    summary: dict[str, Any] = json.loads(line[4:])
    summary["rps"] = summary["requests"] / (summary["duration_us"] / 1e6)
    bad = {k: v for k, v in summary["errors"].items() if v}
    if bad:
        raise SystemExit(f"wrk saw errors against {url}: {bad}\n{proc.stdout}")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=20, help="load per server and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of load before each")
    parser.add_argument("--baseline-server", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server is not None:
        serve_baseline(args.baseline_server)
        return
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    project = copy_project(demo_project(args.rows), f"api-project-{args.rows}")
    with Gnomon.open(project) as app:
        key, expected = prepare(app)

    out = WORK / "api-overhead"
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "GNOMON_API__REQUESTS_PER_MINUTE": str(10**9),
        "GNOMON_API__CONCURRENT_QUERIES": str(4 * args.connections),
    }
    gnomon_command = [sys.executable, "-m", "gnomon.cli", "serve", "-p", str(project)]
    gnomon_command += ["--port", "0"]
    baseline_command = [sys.executable, "-m", "benchmarks.api_overhead"]
    baseline_command += ["--baseline-server", str(out / "answer.json")]

    # The answer, captured from gnomon (the first call fills the result cache).
    server = Server("gnomon", gnomon_command, env)
    try:
        status, body = post(server.url, key)
        cached_status, cached_body = post(server.url, key)
    finally:
        server.stop()
    answer = json.loads(body)
    if status != 200 or cached_status != 200 or json.loads(cached_body) != answer:
        raise SystemExit(f"gnomon answered {status}/{cached_status}: {body[:500]!r}")
    if not same_answer(answer, expected):
        raise SystemExit(f"gnomon's HTTP answer is not the analyst's: {answer} vs {expected}")
    (out / "answer.json").write_bytes(body)
    script = out / "post.lua"
    script.write_text(
        WRK_SCRIPT.format(
            body=json.dumps(json.dumps(request_body())),
            authorization=json.dumps(f"Bearer {key}"),
        ),
        encoding="utf-8",
    )

    runs: list[dict[str, Any]] = []
    answered = 0
    for round_ in range(args.rounds):
        order = ["gnomon", "baseline"] if round_ % 2 == 0 else ["baseline", "gnomon"]
        for side in order:
            command = gnomon_command if side == "gnomon" else baseline_command
            server = Server(side, command, env)
            try:
                status, given = post(server.url, key)
                if status != 200 or json.loads(given) != answer:
                    raise SystemExit(f"{side} answered {status}: {given[:500]!r}")
                load(server.url, script, seconds=args.warmup, connections=args.connections)
                summary = load(
                    server.url, script, seconds=args.seconds, connections=args.connections
                )
            finally:
                server.stop()
            if side == "gnomon":
                answered += 1 + summary["requests"]
            runs.append({"round": round_ + 1, "server": side, **summary})
            print(
                f"round {round_ + 1} {side}: {summary['rps']:.0f} req/s, "
                f"p50 {summary['p50_us'] / 1000:.1f} ms, p99 {summary['p99_us'] / 1000:.1f} ms",
                flush=True,
            )

    with Gnomon.open(project) as app:
        entries = audited(app)
    # wrk's warm-up requests are audited too, so the log holds at least the counted ones.
    if entries < answered:
        raise SystemExit(f"{answered} requests answered but only {entries} audit entries")

    ours = [r for r in runs if r["server"] == "gnomon"]
    theirs = [r for r in runs if r["server"] == "baseline"]
    rps_gnomon = sum(r["requests"] for r in ours) / sum(r["duration_us"] / 1e6 for r in ours)
    rps_base = sum(r["requests"] for r in theirs) / sum(r["duration_us"] / 1e6 for r in theirs)
    report(
        "api_overhead",
        {
            "rows": args.rows,
            "load_generator": f"wrk -t1 -c{args.connections} -d{args.seconds}s (loopback)",
            "query": request_body(),
            "response_bytes": len(body),
            "rounds": runs,
            "gnomon_rps": round(rps_gnomon, 1),
            "baseline_rps": round(rps_base, 1),
            "ratio": round(rps_gnomon / rps_base, 3),
            "ratio_per_round": [
                round(g["rps"] / b["rps"], 3)
                for g, b in zip(
                    sorted(ours, key=lambda r: r["round"]),
                    sorted(theirs, key=lambda r: r["round"]),
                    strict=True,
                )
            ],
            "gnomon_p50_ms": round(median([r["p50_us"] for r in ours]) / 1000, 2),
            "gnomon_p99_ms": round(median([r["p99_us"] for r in ours]) / 1000, 2),
            "baseline_p50_ms": round(median([r["p50_us"] for r in theirs]) / 1000, 2),
            "baseline_p99_ms": round(median([r["p99_us"] for r in theirs]) / 1000, 2),
            "audit_entries": entries,
            "target_ratio": ">= 0.7",
        },
    )


if __name__ == "__main__":
    main()
