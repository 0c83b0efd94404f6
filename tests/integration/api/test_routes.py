"""Every route declares what it needs, and the API holds to it for every route.

The routes are enumerated from the app, so a route added later is checked without anyone
remembering to: it must declare a permission (or be public), refuse a request without a
credential (401) and one without its permission (403), and appear in the OpenAPI schema with its
response model.
"""

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gnomon.api.app import create_app
from gnomon.api.security import declared
from gnomon.governance.policies.rbac import PERMISSIONS
from tests.integration.api.helpers import TENANT_A, World, assert_error

pytestmark = [pytest.mark.integration]


def _declared(dependant: Dependant) -> set[str]:
    """Every permission (or ``public``) declared anywhere in a route's dependency tree."""
    found: set[str] = set()
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            value = declared(dependency.call)
            if value is not None:
                found.add(value)
        found |= _declared(dependency)
    return found


def _routes(app: FastAPI) -> list[Any]:
    """Every endpoint route of the app, routers included (which FastAPI now nests lazily)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: the routes are flat.
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [r for r in iter_route_contexts(app.routes) if isinstance(r.original_route, APIRoute)]


def _api_routes(app: FastAPI) -> list[Any]:
    return [r for r in _routes(app) if str(r.path).startswith("/api/v1")]


def _calls(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path with made-up ids, permission) for every authenticated route."""
    calls = []
    for route in _api_routes(app):
        [permission] = _declared(route.dependant)
        if permission == "public":
            continue
        path = re.sub(r"\{[^}]+\}", "made_up_id", route.path)
        calls += [(method, path, permission) for method in sorted(route.methods)]
    return calls


@pytest.fixture(scope="module")
def bare_app(world: World) -> FastAPI:
    return create_app(world.app)


def test_every_api_route_declares_exactly_one_permission(bare_app: FastAPI) -> None:
    routes = _api_routes(bare_app)
    assert len(routes) >= 30
    undeclared = [r.path for r in routes if not _declared(r.dependant)]
    assert undeclared == [], f"routes without a declared permission: {undeclared}"
    for route in routes:
        permissions = _declared(route.dependant)
        assert len(permissions) == 1, (route.path, permissions)
        assert permissions <= {*PERMISSIONS, "public"}, (route.path, permissions)


def test_the_declaration_walk_finds_a_route_that_declares_nothing() -> None:
    app = FastAPI()

    @app.get("/api/v1/leaky")
    def leaky() -> dict[str, str]:
        return {}

    [route] = _api_routes(app)
    assert _declared(route.dependant) == set()


def test_health_routes_are_the_only_public_ones(bare_app: FastAPI) -> None:
    public = [r.path for r in _routes(bare_app) if "public" in _declared(r.dependant)]
    assert sorted(public) == ["/healthz", "/readyz"]


def test_every_route_refuses_a_request_without_credentials(world: World) -> None:
    calls = _calls(world.client.app)  # type: ignore[arg-type]
    for method, path, _ in calls:
        response = world.client.request(method, path)
        assert_error(response, 401, "unauthenticated")


def test_every_route_refuses_a_principal_without_its_permission(world: World) -> None:
    # A conditional grant whose condition never holds: the principal holds no permission.
    nothing = world.role(TENANT_A, ["metrics:read if department = nowhere"])
    caller = world.caller(TENANT_A, [nothing], attributes={"department": "finance"})
    for method, path, permission in _calls(world.client.app):  # type: ignore[arg-type]
        response = world.client.request(method, path, headers=caller.headers, json={})
        body = assert_error(response, 403, "forbidden")
        assert body["details"]["permission"] == permission, (method, path)


def test_a_permission_opens_its_routes_only(world: World) -> None:
    role = world.role(TENANT_A, ["runs:read"])
    caller = world.caller(TENANT_A, [role])
    assert world.get("/api/v1/runs", caller).status_code == 200
    assert_error(world.get("/api/v1/datasets", caller), 403, "forbidden")


def test_the_openapi_schema_describes_every_route(world: World) -> None:
    schema: dict[str, Any] = world.client.get("/api/v1/openapi.json").json()
    operations = [
        (path, method, op)
        for path, methods in schema["paths"].items()
        if path.startswith("/api/v1")
        for method, op in methods.items()
    ]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    for path, method, op in operations:
        success = {k: v for k, v in op["responses"].items() if k.startswith("2")}
        assert success, (method, path)
        for status, response in success.items():
            if status != "204":
                content = response["content"]["application/json"]["schema"]
                assert content.get("$ref") or content.get("type"), (method, path, content)
        if op["tags"][0] != "query":  # the fixed-shape query routes document their own
            assert "ErrorPublic" in str(op["responses"].get("401", {})), (method, path)
    listings = [
        path
        for path, methods in schema["paths"].items()
        if "get" in methods
        and {p["name"] for p in methods["get"].get("parameters", [])} >= {"limit", "cursor"}
    ]
    assert "/api/v1/users" in listings
    assert "/api/v1/audit" in listings
