"""Tenants, users, API keys, roles, policies and the audit log through the API."""

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from gnomon.api.app import create_app
from gnomon.app import Gnomon
from tests.integration.api.helpers import (
    TENANT_A,
    TENANT_B,
    Caller,
    TestClient,
    World,
    assert_error,
)

pytestmark = [pytest.mark.integration]


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def _send(world: World, method: str, path: str, caller: Caller, body: Any = None) -> Any:
    return world.client.request(method, path, headers=caller.headers, json=body)


# ---------------------------------------------------------------- tenants


def test_only_an_admin_of_the_default_tenant_sees_every_tenant(world: World) -> None:
    ids_a = [t["id"] for t in world.get("/api/v1/tenants", world.admin_a).json()["items"]]
    assert {TENANT_A, TENANT_B} <= set(ids_a)
    ids_b = [t["id"] for t in world.get("/api/v1/tenants", world.admin_b).json()["items"]]
    assert ids_b == [TENANT_B]
    reader = world.caller(TENANT_A, [world.role(TENANT_A, ["tenants:read"])])
    assert [t["id"] for t in world.get("/api/v1/tenants", reader).json()["items"]] == [TENANT_A]


def test_tenants_are_created_from_the_default_tenant_only(world: World) -> None:
    new = _unique("tenant")
    refused = _send(world, "POST", "/api/v1/tenants", world.admin_b, {"id": new})
    assert_error(refused, 403, "forbidden")
    created = _send(world, "POST", "/api/v1/tenants", world.admin_a, {"id": new, "name": "New"})
    assert created.status_code == 201, created.text
    assert created.json()["id"] == new
    assert created.json()["name"] == "New"
    ids = [t["id"] for t in world.get("/api/v1/tenants", world.admin_a, limit=500).json()["items"]]
    assert new in ids
    assert_error(
        _send(world, "POST", "/api/v1/tenants", world.admin_a, {"id": new}), 409, "conflict"
    )
    bad = _send(world, "POST", "/api/v1/tenants", world.admin_a, {"id": "no spaces"})
    body = assert_error(bad, 422, "invalid_input")
    assert body["details"]["problems"][0]["field"] == "id"


# ---------------------------------------------------------------- users


def test_users_are_created_read_changed_and_deleted(world: World) -> None:
    name = f"{_unique('ana')}@acme"
    created = _send(
        world,
        "POST",
        "/api/v1/users",
        world.admin_a,
        {"name": name, "roles": ["analyst"], "attributes": {"region": "EMEA"}},
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["name"], user["roles"], user["attributes"]) == (
        name,
        ["analyst"],
        {"region": "EMEA"},
    )
    assert user["disabled"] is False
    path = f"/api/v1/users/{user['id']}"
    assert world.get(path, world.admin_a).json() == user

    changed = _send(world, "PATCH", path, world.admin_a, {"roles": ["viewer"], "disabled": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["viewer"]
    assert changed.json()["disabled"] is True
    assert changed.json()["attributes"] == {"region": "EMEA"}

    assert _send(world, "DELETE", path, world.admin_a).status_code == 204
    assert_error(world.get(path, world.admin_a), 404, "not_found")
    assert_error(_send(world, "DELETE", path, world.admin_a), 404, "not_found")


def test_user_input_errors_are_refused(world: World) -> None:
    name = f"{_unique('dup')}@acme"
    assert _send(world, "POST", "/api/v1/users", world.admin_a, {"name": name}).status_code == 201
    again = _send(world, "POST", "/api/v1/users", world.admin_a, {"name": name})
    assert_error(again, 409, "conflict")
    unknown = _send(
        world, "POST", "/api/v1/users", world.admin_a, {"name": _unique("u"), "roles": ["wizard"]}
    )
    body = assert_error(unknown, 422, "invalid_input")
    assert "viewer" in body["details"]["hint"]
    extra = _send(world, "POST", "/api/v1/users", world.admin_a, {"name": "x", "password": "y"})
    body = assert_error(extra, 422, "invalid_input")
    assert body["details"]["problems"][0]["field"] == "password"
    missing = _send(world, "POST", "/api/v1/users", world.admin_a, {})
    body = assert_error(missing, 422, "invalid_input")
    assert body["details"]["problems"][0]["field"] == "name"


def test_another_tenants_user_is_not_found_and_not_changed(world: World) -> None:
    other = world.caller(TENANT_B, ["viewer"])
    path = f"/api/v1/users/{other.user_id}"
    assert_error(world.get(path, world.admin_a), 404, "not_found")
    assert_error(_send(world, "PATCH", path, world.admin_a, {"disabled": True}), 404, "not_found")
    assert_error(_send(world, "DELETE", path, world.admin_a), 404, "not_found")
    keys = _send(world, "POST", f"{path}/keys", world.admin_a, {"name": "stolen"})
    assert_error(keys, 404, "not_found")
    still = world.get(path, world.admin_b).json()
    assert still["disabled"] is False
    assert world.get("/api/v1/runs", other).status_code == 200
    names = [
        u["name"] for u in world.get("/api/v1/users", world.admin_a, limit=500).json()["items"]
    ]
    assert other.name not in names


# ---------------------------------------------------------------- keys


def test_a_key_is_shown_once_works_and_stops_working_when_revoked(world: World) -> None:
    user = world.caller(TENANT_A, ["viewer"])
    made = _send(world, "POST", f"/api/v1/users/{user.user_id}/keys", world.admin_a, {"name": "ci"})
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["key"].startswith(key["prefix"])
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert world.client.get("/api/v1/runs", headers=headers).status_code == 200

    listed = world.get("/api/v1/keys", world.admin_a, user_id=user.user_id).json()["items"]
    assert {k["id"] for k in listed} == {user.key_id, key["id"]}
    for item in listed:
        assert "key" not in item and "key_hash" not in item
        assert key["key"] not in str(item)
    assert world.get("/api/v1/users", world.admin_a).text.count(key["key"]) == 0

    revoked = _send(world, "DELETE", f"/api/v1/keys/{key['id']}", world.admin_a)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert_error(world.client.get("/api/v1/runs", headers=headers), 401, "unauthenticated")
    assert world.get("/api/v1/runs", user).status_code == 200


def test_key_input_errors_are_refused(world: World) -> None:
    user = world.caller(TENANT_A, ["viewer"])
    path = f"/api/v1/users/{user.user_id}/keys"
    naive = _send(
        world, "POST", path, world.admin_a, {"name": "k", "expires_at": "2099-01-01T00:00"}
    )
    body = assert_error(naive, 422, "invalid_input")
    assert body["details"]["problems"][0]["field"] == "expires_at"
    past = _send(
        world, "POST", path, world.admin_a, {"name": "k", "expires_at": "2001-01-01T00:00Z"}
    )
    assert_error(past, 422, "invalid_input")
    wider = _send(world, "POST", path, world.admin_a, {"name": "k", "roles": ["admin"]})
    assert_error(wider, 422, "invalid_input")


def test_another_tenants_key_cannot_be_revoked(world: World) -> None:
    other = world.caller(TENANT_B, ["viewer"])
    assert_error(
        _send(world, "DELETE", f"/api/v1/keys/{other.key_id}", world.admin_a), 404, "not_found"
    )
    assert world.get("/api/v1/runs", other).status_code == 200
    ids = {k["id"] for k in world.get("/api/v1/keys", world.admin_a, limit=500).json()["items"]}
    assert other.key_id not in ids


# ---------------------------------------------------------------- roles


def test_custom_roles_are_put_used_and_deleted(world: World) -> None:
    roles = {
        r["name"]: r for r in world.get("/api/v1/roles", world.admin_a, limit=500).json()["items"]
    }
    assert {"admin", "editor", "analyst", "viewer"} <= set(roles)
    assert roles["viewer"]["builtin"] is True
    name = _unique("auditor")
    put = _send(
        world, "PUT", f"/api/v1/roles/{name}", world.admin_a, {"permissions": ["audit:read"]}
    )
    assert put.status_code == 200, put.text
    assert put.json() == {"name": name, "permissions": ["audit:read"], "builtin": False}
    auditor = world.caller(TENANT_A, [name])
    assert world.get("/api/v1/audit", auditor).status_code == 200
    assert_error(world.get("/api/v1/users", auditor), 403, "forbidden")

    assert _send(world, "DELETE", f"/api/v1/roles/{name}", world.admin_a).status_code == 204
    assert_error(world.get("/api/v1/audit", auditor), 403, "forbidden")
    assert_error(_send(world, "DELETE", f"/api/v1/roles/{name}", world.admin_a), 404, "not_found")


def test_role_input_errors_are_refused(world: World) -> None:
    builtin = _send(world, "PUT", "/api/v1/roles/admin", world.admin_a, {"permissions": []})
    assert_error(builtin, 422, "invalid_input")
    bad = _send(world, "PUT", "/api/v1/roles/r", world.admin_a, {"permissions": ["fly:high"]})
    body = assert_error(bad, 422, "invalid_input")
    assert "metrics:read" in body["details"]["hint"]


def test_another_tenants_role_is_not_found(world: World) -> None:
    name = world.role(TENANT_B, ["runs:read"])
    assert_error(_send(world, "DELETE", f"/api/v1/roles/{name}", world.admin_a), 404, "not_found")
    names = [
        r["name"] for r in world.get("/api/v1/roles", world.admin_b, limit=500).json()["items"]
    ]
    assert name in names
    names = [
        r["name"] for r in world.get("/api/v1/roles", world.admin_a, limit=500).json()["items"]
    ]
    assert name not in names


# ---------------------------------------------------------------- policies


def _policy(**changes: Any) -> dict[str, Any]:
    return {
        "kind": "row",
        "table": "silver.orders",
        "roles": ["nobody_has_this"],
        "spec": {"predicate": "region = {{ user.region }}"},
        **changes,
    }


def test_policies_are_put_listed_replaced_and_deleted(world: World) -> None:
    name = _unique("policy")
    path = f"/api/v1/policies/{name}"
    put = _send(world, "PUT", path, world.admin_a, _policy())
    assert put.status_code == 200, put.text
    assert put.json()["spec"] == {"predicate": "region = {{ user.region }}"}
    assert put.json()["table"] == "silver.orders"
    replaced = _send(
        world,
        "PUT",
        path,
        world.admin_a,
        _policy(kind="mask", spec={"column": "order_id", "strategy": "hash"}, enabled=False),
    )
    assert replaced.json()["id"] == put.json()["id"]
    assert (replaced.json()["kind"], replaced.json()["enabled"]) == ("mask", False)
    listed = world.get("/api/v1/policies", world.admin_a, limit=500).json()["items"]
    assert [p["kind"] for p in listed if p["name"] == name] == ["mask"]
    assert _send(world, "DELETE", path, world.admin_a).status_code == 204
    assert_error(_send(world, "DELETE", path, world.admin_a), 404, "not_found")
    actions = [
        e["action"]
        for e in world.get("/api/v1/audit", world.admin_a, limit=500).json()["items"]
        if e["target"] == name
    ]
    assert actions == ["policy.put", "policy.put", "policy.delete"]


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"table": "silver.no_such_table"}, "silver.no_such_table"),
        ({"table": "nolayer"}, "nolayer"),
        ({"table": "platinum.orders"}, "platinum.orders"),
        ({"spec": {"predicate": "nope = 1"}}, "nope"),
        ({"spec": {"column": "secret", "strategy": "hash"}, "kind": "mask"}, "secret"),
        ({"spec": {"column": "order_id", "strategy": "blur"}, "kind": "mask"}, "blur"),
        ({"kind": "column"}, "kind"),
    ],
)
def test_policy_input_errors_are_refused(
    world: World, changes: dict[str, Any], needle: str
) -> None:
    response = _send(
        world, "PUT", f"/api/v1/policies/{_unique('p')}", world.admin_a, _policy(**changes)
    )
    body = assert_error(response, 422, "invalid_input")
    assert needle in str(body)


def test_another_tenants_policy_is_not_found(world: World) -> None:
    name = _unique("policy_b")
    assert (
        _send(world, "PUT", f"/api/v1/policies/{name}", world.admin_b, _policy()).status_code == 200
    )
    assert_error(
        _send(world, "DELETE", f"/api/v1/policies/{name}", world.admin_a), 404, "not_found"
    )
    names = [
        p["name"] for p in world.get("/api/v1/policies", world.admin_b, limit=500).json()["items"]
    ]
    assert name in names


# ---------------------------------------------------------------- audit


def test_the_audit_log_records_admin_actions_with_the_correlation_id(world: World) -> None:
    correlation = uuid.uuid4().hex
    name = f"{_unique('audited')}@acme"
    response = world.client.post(
        "/api/v1/users",
        headers={**world.admin_a.headers, "X-Correlation-ID": correlation},
        json={"name": name},
    )
    assert response.status_code == 201
    entries = world.get("/api/v1/audit", world.admin_a, action="user.create", limit=500).json()
    [entry] = [e for e in entries["items"] if e["target"] == name]
    assert entry["principal"] == world.admin_a.name
    assert entry["correlation_id"] == correlation
    all_b = world.get("/api/v1/audit", world.admin_b, limit=500).json()["items"]
    assert name not in str(all_b)
    assert world.admin_a.name not in str(all_b)


def test_audit_verify_names_the_first_changed_entry(world: World) -> None:
    tenant = _unique("audited")
    created = _send(world, "POST", "/api/v1/tenants", world.admin_a, {"id": tenant})
    assert created.status_code == 201
    admin = world.caller(tenant, ["admin"])
    for _ in range(3):
        world.caller(tenant, ["viewer"])
    check = world.get("/api/v1/audit/verify", admin).json()
    count = len(world.get("/api/v1/audit", admin, limit=500).json()["items"])
    assert check == {"ok": True, "entries": count, "first_bad_seq": None, "reason": None}

    engine = sa.create_engine(world.app.settings.catalog_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE audit_log SET principal = 'mallory' WHERE tenant_id = :t AND seq = 3"
                ),
                {"t": tenant},
            )
    finally:
        engine.dispose()
    check = world.get("/api/v1/audit/verify", admin).json()
    assert check["ok"] is False
    assert check["first_bad_seq"] == 3
    assert check["entries"] == 2
    assert world.get("/api/v1/audit/verify", world.admin_a).json()["ok"] is True


def test_a_principal_of_a_tenant_without_a_catalog_row_learns_no_other_tenant(
    world: World,
) -> None:
    # Bearer tokens may name a tenant the catalog has never seen: its writes are not found, and
    # the answer does not list the tenants that do exist.
    project = world.app.settings.project_dir
    with (
        Gnomon.open(project, auth={"dev_issuer": {"enabled": True}}) as app,
        TestClient(create_app(app)) as client,
    ):
        ghost = _unique("ghost")
        token = app.dev_issuer.create_token(tenant=ghost, user="admin@ghost", roles=["admin"])
        headers = {"Authorization": f"Bearer {token}"}
        for method, path, body in (
            ("POST", "/api/v1/users", {"name": "x"}),
            ("PUT", "/api/v1/roles/reader", {"permissions": ["runs:read"]}),
            (
                "PUT",
                "/api/v1/semantic-models/lines",
                {"table": "silver.orders", "measures": {"n": {"agg": "count"}}},
            ),
        ):
            refused = client.request(method, path, headers=headers, json=body)
            answer = assert_error(refused, 404, "not_found")
            assert "known" not in answer["details"]
            assert TENANT_B not in str(answer)
            assert f"'{TENANT_A}'" not in str(answer)
        assert client.get("/api/v1/tenants", headers=headers).json()["items"] == []
        assert client.get("/api/v1/users", headers=headers).json()["items"] == []


def test_nobody_grants_permissions_it_does_not_hold(world: World) -> None:
    keeper = world.role(TENANT_A, ["users:write", "users:read", "keys:write", "roles:write"])
    manager = world.caller(TENANT_A, [keeper])
    as_admin = _send(
        world, "POST", "/api/v1/users", manager, {"name": _unique("x"), "roles": ["admin"]}
    )
    body = assert_error(as_admin, 403, "forbidden")
    assert "admin" in body["message"]
    wider = _send(
        world, "PUT", f"/api/v1/roles/{_unique('r')}", manager, {"permissions": ["sql:query"]}
    )
    assert_error(wider, 403, "forbidden")
    own = _send(
        world, "PUT", f"/api/v1/roles/{_unique('r')}", manager, {"permissions": ["users:read"]}
    )
    assert own.status_code == 200, own.text
