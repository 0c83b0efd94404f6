"""Cached metric answers over HTTP: answered from memory, yet audited, and never stale.

The server keeps API keys, roles, definitions, policies and published versions in memory while
the catalog's change generations stand. These tests change each of them, from this process and
from another one, and check that the next answer follows.
"""

import time
from typing import Any

from gnomon.app import Gnomon
from gnomon.catalog import DEFAULT_INTERVAL_S
from gnomon.context import RequestContext
from tests.integration.api.helpers import TENANT_A, World, assert_error

QUERY = {"metrics": ["revenue", "orders"], "by": ["region"]}


def _post(world: World, headers: dict[str, str], body: dict[str, Any] = QUERY) -> Any:
    return world.client.post("/api/v1/metrics/query", headers=headers, json=body)


def _reads(world: World, user: str) -> list[dict[str, Any]]:
    ctx = RequestContext.system(TENANT_A)
    entries = world.app.audit.entries(ctx=ctx, action="metrics.query", limit=1000)
    return [e.details for e in entries if e.principal == user]


def _other_process(world: World) -> Gnomon:
    """The same project opened again: its changes reach this server only through the catalog."""
    return Gnomon.open(world.app.settings.project_dir)


def _wait_for_other_processes() -> None:
    """Long enough for the server to read the change generations again."""
    time.sleep(DEFAULT_INTERVAL_S * 1.2)


def test_a_cached_answer_is_the_computed_one_and_every_read_is_audited(world: World) -> None:
    caller = world.caller(TENANT_A, ["analyst"])
    body = {**QUERY, "grain": "month"}
    first = _post(world, caller.headers, body)
    again = [_post(world, caller.headers, body) for _ in range(3)]
    assert first.status_code == 200, first.text
    assert {r.status_code for r in again} == {200}
    assert {r.content for r in again} == {first.content}
    assert all(r.headers["content-type"] == "application/json" for r in [first, *again])
    ids = {r.headers["X-Correlation-ID"] for r in [first, *again]}
    assert len(ids) == 4
    reads = _reads(world, caller.name)
    assert [r["cached"] for r in reads] == [False, True, True, True]
    assert {r["rows"] for r in reads} == {len(first.json()["rows"])}


def test_a_revoked_key_is_refused_at_once(world: World) -> None:
    caller = world.caller(TENANT_A, ["analyst"])
    assert _post(world, caller.headers).status_code == 200
    assert _post(world, caller.headers).status_code == 200
    world.app.identities.revoke_key(caller.key_id, ctx=RequestContext.system(TENANT_A))
    assert_error(_post(world, caller.headers), 401, "unauthenticated")


def test_another_process_revoking_a_key_or_disabling_its_user_is_seen(world: World) -> None:
    revoked, disabled = world.caller(TENANT_A, ["analyst"]), world.caller(TENANT_A, ["analyst"])
    for caller in (revoked, disabled):
        assert _post(world, caller.headers).status_code == 200
    ctx = RequestContext.system(TENANT_A)
    with _other_process(world) as other:
        other.identities.revoke_key(revoked.key_id, ctx=ctx)
        other.identities.update_user(disabled.user_id, ctx=ctx, disabled=True)
    _wait_for_other_processes()
    assert_error(_post(world, revoked.headers), 401, "unauthenticated")
    assert_error(_post(world, disabled.headers), 401, "unauthenticated")


def test_another_process_taking_a_permission_away_is_seen(world: World) -> None:
    role = world.role(TENANT_A, ["metrics:query"])
    caller = world.caller(TENANT_A, [role])
    assert _post(world, caller.headers).status_code == 200
    with _other_process(world) as other:
        other.identities.put_role(
            role, ctx=RequestContext.system(TENANT_A), permissions=["metrics:read"]
        )
    _wait_for_other_processes()
    assert_error(_post(world, caller.headers), 403, "forbidden")


def test_another_process_adding_a_row_policy_changes_the_cached_answer(world: World) -> None:
    region = "APAC"
    caller = world.caller(TENANT_A, ["analyst"], attributes={"region": region})
    before = _post(world, caller.headers)
    assert {row[0] for row in before.json()["rows"]} == {"EMEA", "AMER", "APAC"}
    name = f"only_{caller.user_id[:8]}"
    with _other_process(world) as other:
        other.policies.save(
            ctx=RequestContext.system(TENANT_A),
            name=name,
            kind="row",
            table="silver.orders",
            roles=["analyst"],
            spec={"predicate": "region = {{ user.region }}"},
        )
    try:
        _wait_for_other_processes()
        after = _post(world, caller.headers)
        assert after.status_code == 200, after.text
        assert [row[0] for row in after.json()["rows"]] == [region]
        assert after.json()["rows"][0] in before.json()["rows"]
    finally:
        world.app.policies.delete(name, ctx=RequestContext.system(TENANT_A))
