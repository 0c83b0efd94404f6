"""What the API tests share: callers with API keys, the world they act in, the error shape."""

import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from gnomon.app import Gnomon
from gnomon.context import RequestContext

with warnings.catch_warnings():
    # Starlette asks for httpx2 in place of httpx; the client behaves the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = ["TENANT_A", "TENANT_B", "Caller", "TestClient", "World", "assert_error"]

TENANT_A = "default"
TENANT_B = "globex"


@dataclass
class Caller:
    """A user of a tenant with an API key."""

    tenant: str
    user_id: str
    name: str
    key: str
    key_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class World:
    """The project, the API client and callers in both tenants."""

    app: Gnomon
    client: TestClient
    admin_a: Caller = field(init=False)
    admin_b: Caller = field(init=False)

    def caller(
        self,
        tenant: str,
        roles: list[str],
        *,
        attributes: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> Caller:
        """A new user with these roles (which must exist) and a key."""
        ctx = RequestContext.system(tenant)
        user = self.app.identities.create_user(
            ctx=ctx,
            name=name or f"user_{uuid.uuid4().hex[:10]}@{tenant}",
            roles=roles,
            attributes=attributes,
        )
        made = self.app.identities.create_key(user.id, ctx=ctx, name="test")
        return Caller(tenant, user.id, user.name, made.key, made.record.id)

    def role(self, tenant: str, permissions: list[str]) -> str:
        """A new custom role granting ``permissions``."""
        name = f"role_{uuid.uuid4().hex[:10]}"
        self.app.identities.put_role(
            name, ctx=RequestContext.system(tenant), permissions=permissions
        )
        return name

    def get(self, path: str, caller: Caller, **params: Any) -> Any:
        return self.client.get(path, headers=caller.headers, params=params)


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The response is an error of the one shape, with this status and (a refinement of) code."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details", "correlation_id"}, body
    # A capability's error kinds refine the code: ``dataset_not_found`` is a ``not_found``.
    assert body["code"] == code or body["code"].endswith(f"_{code}"), body
    assert isinstance(body["message"], str) and body["message"]
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    return dict(body)
