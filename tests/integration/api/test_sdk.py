"""The Python SDK against a live ``gnomon serve``: the fixed-shape routes, auth and errors.

One small project (15 orders, two regions, a row policy) is served by ``gnomon serve --port 0``
in a subprocess for the module, so the command's start-up, the address it prints and its
graceful shutdown are exercised too. Paging through listings is checked against a stub server
(``httpx.MockTransport``), as the listing routes are not part of this module's project.
"""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from gnomon.app import Gnomon
from gnomon.sdk import ApiError, Client, ConnectionFailed, Result
from tests.projects import order_rows, write_csv, write_project

pytestmark = [pytest.mark.integration]

METRICS_YAML = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions:
      region: {}
    measures:
      units: {agg: sum, expr: quantity}
      orders: {agg: count}
metrics:
  units: {measure: orders.units}
  orders: {measure: orders.orders}
"""


@dataclass(frozen=True, slots=True)
class Served:
    url: str
    project: Path
    admin_key: str
    emea_key: str
    viewer_key: str
    revoked_key: str
    emea_token: str
    bytecode: Path


def _environment(bytecode: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    return env


def _build(project: Path) -> dict[str, str]:
    """The project's data, metrics, users and keys; returns the credentials by name."""
    write_project(project)
    with (project / "gnomon.yaml").open("a", encoding="utf-8") as handle:
        handle.write("auth: {dev_issuer: {enabled: true}}\n")
    # 10 EMEA orders on 1 January, 5 AMER orders on 3 January.
    write_csv(
        project / "data" / "a.csv", order_rows(0, 10) + order_rows(10, 5, day=3, region="AMER")
    )
    (project / "metrics").mkdir()
    (project / "metrics" / "orders.yaml").write_text(METRICS_YAML, encoding="utf-8")
    with Gnomon.open(project) as app:
        ctx = app.context()
        app.ingest.ingest("orders", ctx=ctx)
        app.semantic.apply(ctx=ctx)
        ids = app.identities
        admin = ids.create_user(ctx=ctx, name="admin", roles=["admin"])
        emea = ids.create_user(
            ctx=ctx, name="emea", roles=["analyst"], attributes={"region": "EMEA"}
        )
        viewer = ids.create_user(ctx=ctx, name="viewer", roles=["viewer"])
        columns = [f.name for f in app.snapshot("silver", "orders").schema]
        app.policies.save(
            ctx=ctx,
            name="own_region",
            kind="row",
            table="silver.orders",
            roles=["analyst"],
            spec={"predicate": "region = {{ user.region }}"},
            columns=columns,
        )
        revoked = ids.create_key(admin.id, ctx=ctx, name="old")
        ids.revoke_key(revoked.record.id, ctx=ctx)
        return {
            "admin": ids.create_key(admin.id, ctx=ctx, name="sdk").key,
            "emea": ids.create_key(emea.id, ctx=ctx, name="sdk").key,
            "viewer": ids.create_key(viewer.id, ctx=ctx, name="sdk").key,
            "revoked": revoked.key,
            "emea_token": app.dev_issuer.create_token(
                tenant=ctx.tenant, user="emea", roles=["analyst"], attributes={"region": "EMEA"}
            ),
        }


def _serve(project: Path, bytecode: Path) -> tuple[subprocess.Popen[str], str]:
    """``gnomon serve --port 0`` started, and the base URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gnomon.cli", "serve", "--port", "0", "--project", str(project)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_environment(bytecode),
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if "listening on" not in first:
        process.kill()
        pytest.fail(f"gnomon serve did not start: {first!r} {process.communicate()[1]}")
    url = first.split("listening on", 1)[1].strip()
    assert process.stdout.readline().strip() == f"docs: {url}/docs"
    return process, url.removesuffix("/api/v1")


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    project = tmp_path_factory.mktemp("sdk") / "shop"
    keys = _build(project)
    bytecode = tmp_path_factory.mktemp("bytecode")
    process, url = _serve(project, bytecode)
    try:
        yield Served(
            url=url,
            project=project,
            admin_key=keys["admin"],
            emea_key=keys["emea"],
            viewer_key=keys["viewer"],
            revoked_key=keys["revoked"],
            emea_token=keys["emea_token"],
            bytecode=bytecode,
        )
    finally:
        _stop(process)


@pytest.fixture
def admin(served: Served) -> Iterator[Client]:
    with Client(served.url, api_key=served.admin_key) as client:
        yield client


# ---------------------------------------------------------------- the fixed-shape routes


def test_sql_returns_columns_and_rows(admin: Client) -> None:
    result = admin.sql(
        "SELECT region, COUNT(*) AS n, MAX(order_id) AS last FROM silver.orders "
        "GROUP BY region ORDER BY region"
    )
    assert isinstance(result, Result)
    assert result.columns == ["region", "n", "last"]
    assert result.rows == [["AMER", 5, "O000014"], ["EMEA", 10, "O000009"]]
    assert result.to_dicts()[1] == {"region": "EMEA", "n": 10, "last": "O000009"}
    assert len(result) == 2
    assert not result.truncated


def test_sql_limit_cuts_the_rows(admin: Client) -> None:
    result = admin.sql("SELECT order_id FROM silver.orders ORDER BY order_id", limit=3)
    assert [row[0] for row in result.rows] == ["O000000", "O000001", "O000002"]


def test_metrics_query_by_region_and_day(admin: Client) -> None:
    result = admin.metrics_query(
        ["orders", "units"],
        by=["region"],
        grain="day",
        start=date(2025, 1, 1),
        end="2025-01-03",
        order=["region"],
    )
    rows = [tuple(row) for row in result.rows if row[2]]
    assert result.columns == ["time", "region", "orders", "units"]
    assert rows == [
        ("2025-01-03T00:00:00", "AMER", 5, 15),
        ("2025-01-01T00:00:00", "EMEA", 10, 30),
    ]


def test_metrics_query_total_with_a_filter(admin: Client) -> None:
    result = admin.metrics_query("orders", where="region = 'AMER'")
    assert result.to_dicts() == [{"orders": 5}]


def test_the_row_policy_holds_for_an_analyst_by_key_and_by_token(served: Served) -> None:
    for credential in ({"api_key": served.emea_key}, {"token": served.emea_token}):
        with Client(served.url, **credential) as emea:
            assert emea.sql("SELECT DISTINCT region FROM silver.orders").rows == [["EMEA"]]
            assert emea.metrics_query("orders").to_dicts() == [{"orders": 10}]


def test_the_url_may_carry_the_api_prefix(served: Served) -> None:
    with Client(served.url + "/api/v1/", api_key=served.admin_key) as client:
        assert client.sql("SELECT 1 AS one").rows == [[1]]


# ---------------------------------------------------------------- errors


def _error(call: Any) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


def test_bad_sql_is_an_invalid_input_error_with_a_correlation_id(admin: Client) -> None:
    error = _error(lambda: admin.sql("DROP TABLE silver.orders"))
    assert (error.status, error.code) == (422, "read_only_violation")
    assert error.message
    assert error.correlation_id and len(error.correlation_id) >= 16
    assert str(error).startswith("422 read_only_violation: Only read-only")
    assert error.hint and "SELECT" in error.hint


def test_an_unknown_metric_is_a_client_error(admin: Client) -> None:
    error = _error(lambda: admin.metrics_query("no_such_metric"))
    assert 400 <= error.status < 500
    assert "no_such_metric" in error.message


def test_a_malformed_request_names_the_field(admin: Client) -> None:
    error = _error(lambda: admin.metrics_query([]))
    assert (error.status, error.code) == (422, "invalid_input")
    assert any(p["field"] == "metrics" for p in error.details["problems"])


def test_missing_revoked_and_wrong_credentials_are_401(served: Served) -> None:
    for credential in (
        {},
        {"api_key": served.revoked_key},
        {"api_key": "gnm_" + "x" * 40},
        {"token": "not.a.jwt"},
    ):
        with Client(served.url, **credential) as client:
            error = _error(lambda c=client: c.sql("SELECT 1"))
            assert (error.status, error.code) == (401, "unauthenticated"), credential


def test_a_role_without_the_permission_is_403(served: Served) -> None:
    with Client(served.url, api_key=served.viewer_key) as viewer:
        error = _error(lambda: viewer.sql("SELECT 1"))
        assert (error.status, error.code) == (403, "forbidden")
        assert viewer.metrics_query("orders").to_dicts() == [{"orders": 15}]


def test_an_unreachable_server_is_a_connection_failure(tmp_path: Path) -> None:
    with Client("http://127.0.0.1:9", api_key="gnm_x", timeout=5) as client:
        error = _error(lambda: client.sql("SELECT 1"))
    assert isinstance(error, ConnectionFailed)
    assert (error.status, error.code) == (0, "connection_failed")


def test_giving_both_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        Client("http://127.0.0.1:1", api_key="gnm_x", token="t")  # noqa: S106


# ---------------------------------------------------------------- serve


def test_serve_answers_health_and_stops_gracefully_on_sigterm(served: Served) -> None:
    process, url = _serve(served.project, served.bytecode)
    try:
        assert httpx.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
        ready = httpx.get(url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        _stop(process)
    assert process.returncode == 0, err
    assert "stopped (SIGTERM)" in err
    assert "Traceback" not in err


def test_serve_reports_a_port_in_use(served: Served) -> None:
    port = httpx.URL(served.url).port
    proc = subprocess.run(
        [sys.executable, "-m", "gnomon.cli", "serve", "--port", str(port), "--project",
         str(served.project)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_environment(served.bytecode),
        check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert f"error: Cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "--port" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- paging (stub server)


def _stub(pages: dict[str | None, dict[str, Any]], seen: list[httpx.Request]) -> Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        cursor = request.url.params.get("cursor")
        if request.url.raw_path == b"/api/v1/runs/r%2F1":
            return httpx.Response(200, json={"id": "r/1"})
        if cursor not in pages:
            return httpx.Response(
                422,
                json={
                    "code": "invalid_input",
                    "message": "The cursor is not valid for this listing.",
                    "details": {"hint": "Use next_cursor as it is."},
                    "correlation_id": "c0ffee",
                },
            )
        return httpx.Response(200, json=pages[cursor])

    return Client("http://stub", api_key="gnm_k", transport=httpx.MockTransport(handler))


def test_listings_follow_next_cursor_to_the_last_page() -> None:
    seen: list[httpx.Request] = []
    pages: dict[str | None, dict[str, Any]] = {
        None: {"items": [{"id": 1}, {"id": 2}], "next_cursor": "a"},
        "a": {"items": [{"id": 3}], "next_cursor": "b"},
        "b": {"items": [], "next_cursor": None},
    }
    with _stub(pages, seen) as client:
        assert client.runs(status="failed") == [{"id": 1}, {"id": 2}, {"id": 3}]
        assert client.run("r/1") == {"id": "r/1"}
    assert [r.url.path for r in seen[:3]] == ["/api/v1/runs"] * 3
    assert [r.url.params.get("cursor") for r in seen[:3]] == [None, "a", "b"]
    assert all(r.url.params.get("status") == "failed" for r in seen[:3])
    assert all(r.headers["authorization"] == "Bearer gnm_k" for r in seen)


def test_metrics_and_datasets_are_listings_too() -> None:
    seen: list[httpx.Request] = []
    pages: dict[str | None, dict[str, Any]] = {None: {"items": [{"name": "x"}]}}
    with _stub(pages, seen) as client:
        assert client.metrics() == [{"name": "x"}]
        assert client.datasets() == [{"name": "x"}]
    assert [r.url.path for r in seen] == ["/api/v1/metrics", "/api/v1/datasets"]


def test_an_error_page_raises_with_the_servers_fields() -> None:
    pages: dict[str | None, dict[str, Any]] = {None: {"items": [{}], "next_cursor": "gone"}}
    with _stub(pages, []) as client:
        error = _error(client.datasets)
    assert (error.status, error.code, error.correlation_id) == (422, "invalid_input", "c0ffee")
    assert error.hint == "Use next_cursor as it is."


def test_a_cursor_that_repeats_stops_the_listing() -> None:
    pages: dict[str | None, dict[str, Any]] = {
        None: {"items": [{}], "next_cursor": "a"},
        "a": {"items": [{}], "next_cursor": "a"},
    }
    with _stub(pages, []) as client:
        error = _error(client.metrics)
    assert error.code == "unexpected_response"


def test_a_non_json_error_body_still_raises_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            502, text="<html>Bad gateway</html>", headers={"X-Correlation-ID": "abc"}
        )

    with Client("http://stub", transport=httpx.MockTransport(handler)) as client:
        error = _error(lambda: client.sql("SELECT 1"))
    assert (error.status, error.code, error.correlation_id) == (502, "http_error", "abc")
    assert "Bad gateway" in error.message


def test_the_sdk_imports_no_server_library() -> None:
    code = (
        "import sys, gnomon.sdk; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'fastapi', 'starlette', 'uvicorn', 'duckdb', 'pyarrow', 'sqlalchemy', 'deltalake'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.replace("'", '"')) == []
