"""Cursor pagination of every listing: pages that join up, and cursors that cannot be abused.

Every list route is checked the same way: two pages are the first items of one bigger page, a
walk with one item per page ends and sees each item once, and a cursor that was tampered with,
that belongs to another tenant, or to another listing is refused with 422.
"""

from typing import Any

import pytest

from tests.integration.api.helpers import Caller, World, assert_error

pytestmark = [pytest.mark.integration]

LISTINGS = [
    "/api/v1/sources",
    "/api/v1/datasets",
    "/api/v1/runs",
    "/api/v1/metrics",
    "/api/v1/metrics/paged_metric/versions",
    "/api/v1/semantic-models",
    "/api/v1/tenants",
    "/api/v1/users",
    "/api/v1/keys",
    "/api/v1/roles",
    "/api/v1/policies",
    "/api/v1/audit",
]


def _identity(item: dict[str, Any]) -> tuple[Any, ...]:
    """What tells items apart (a key's last use moves as the test uses it)."""
    return tuple(item.get(key) for key in ("seq", "id", "kind", "name", "version"))


@pytest.fixture(scope="module")
def paged(world: World) -> World:
    """At least two items in every listing of both tenants."""
    for caller in (world.admin_a, world.admin_b):
        for version in (1, 2):
            response = world.client.put(
                "/api/v1/metrics/paged_metric",
                headers=caller.headers,
                json={"measure": "orders.units", "description": f"version {version}"},
            )
            assert response.status_code == 200, response.text
        models = world.get("/api/v1/semantic-models", caller).json()["items"]
        [orders] = [m for m in models if m["name"] == "orders"]
        response = world.client.put(
            "/api/v1/semantic-models/orders_copy", headers=caller.headers, json=orders["spec"]
        )
        assert response.status_code == 200, response.text
        for name in ("paged_policy_1", "paged_policy_2"):
            response = world.client.put(
                f"/api/v1/policies/{name}",
                headers=caller.headers,
                json={
                    "kind": "row",
                    "table": "silver.orders",
                    "roles": ["nobody_has_this_role"],
                    "spec": {"predicate": "region = 'EMEA'"},
                },
            )
            assert response.status_code == 200, response.text
        world.caller(caller.tenant, ["viewer"])
    return world


def _page(world: World, path: str, caller: Caller, **params: Any) -> dict[str, Any]:
    response = world.get(path, caller, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"items", "next_cursor"}
    return dict(body)


@pytest.mark.parametrize("path", LISTINGS)
def test_two_pages_are_the_first_items_in_order(paged: World, path: str) -> None:
    first = _page(paged, path, paged.admin_a, limit=1)
    assert len(first["items"]) == 1
    assert first["next_cursor"]
    second = _page(paged, path, paged.admin_a, limit=2, cursor=first["next_cursor"])
    assert second["items"]
    both = _page(paged, path, paged.admin_a, limit=1 + len(second["items"]))
    assert [_identity(i) for i in first["items"] + second["items"]] == [
        _identity(i) for i in both["items"]
    ]


@pytest.mark.parametrize("path", LISTINGS)
def test_a_walk_sees_every_item_once_and_ends(paged: World, path: str) -> None:
    whole = _page(paged, path, paged.admin_b, limit=500)
    if whole["next_cursor"] is not None:
        pytest.fail(f"{path} has more than 500 items for a fresh tenant")
    seen: list[Any] = []
    cursor = None
    for _ in range(len(whole["items"]) + 1):
        params: dict[str, Any] = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        page = _page(paged, path, paged.admin_b, **params)
        seen += [_identity(i) for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert seen == [_identity(i) for i in whole["items"]]
    assert len(seen) == len(set(seen)) >= 1


@pytest.mark.parametrize("path", LISTINGS)
def test_a_tampered_cursor_is_refused(paged: World, path: str) -> None:
    cursor = _page(paged, path, paged.admin_a, limit=1)["next_cursor"]
    body, _, signature = cursor.partition(".")
    flipped = body[:-1] + ("A" if body[-1] != "A" else "B")
    for bad in (
        f"{flipped}.{signature}",
        f"{body}.{signature[:-2]}xx",
        f"{body}.{signature[:-1]}\u00e9",
        f"\u00e9{body}.{signature}",
        body,
        "garbage",
        ".",
    ):
        response = paged.get(path, paged.admin_a, cursor=bad)
        assert_error(response, 422, "invalid_input")


@pytest.mark.parametrize("path", LISTINGS)
def test_a_cursor_of_another_tenant_is_refused(paged: World, path: str) -> None:
    cursor = _page(paged, path, paged.admin_a, limit=1)["next_cursor"]
    response = paged.get(path, paged.admin_b, limit=1, cursor=cursor)
    assert_error(response, 422, "invalid_input")


def test_a_cursor_of_another_listing_or_filter_is_refused(paged: World) -> None:
    users = _page(paged, "/api/v1/users", paged.admin_a, limit=1)["next_cursor"]
    assert_error(paged.get("/api/v1/roles", paged.admin_a, cursor=users), 422, "invalid_input")
    runs = _page(paged, "/api/v1/runs", paged.admin_a, limit=1)["next_cursor"]
    filtered = paged.get("/api/v1/runs", paged.admin_a, cursor=runs, status="succeeded")
    assert_error(filtered, 422, "invalid_input")


@pytest.mark.parametrize("limit", [0, -1, 501, "ten"])
def test_a_page_size_out_of_range_is_refused_naming_the_field(paged: World, limit: Any) -> None:
    response = paged.get("/api/v1/users", paged.admin_a, limit=limit)
    body = assert_error(response, 422, "invalid_input")
    assert [p["field"] for p in body["details"]["problems"]] == ["query.limit"]


def test_pages_default_to_fifty_items(paged: World) -> None:
    for _ in range(26):  # two audit entries each: the user and its key
        paged.caller(paged.admin_b.tenant, ["viewer"])
    page = _page(paged, "/api/v1/audit", paged.admin_b)
    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None
