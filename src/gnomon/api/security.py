"""Every route says what it needs: a permission (``requires``) or nothing (``public``).

``requires("metrics:query")`` is a FastAPI dependency that authenticates the request (API key or
bearer token), applies the tenant's request rate, checks the permission against the principal's
roles, and hands the route a :class:`~gnomon.context.RequestContext`. A test walks every route
and fails if one declares neither.
"""

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gnomon.catalog import NotInMemory, memory_only
from gnomon.context import RequestContext
from gnomon.governance.policies.rbac import require

__all__ = ["PERMISSION_ATTRIBUTE", "PUBLIC_ATTRIBUTE", "public", "requires"]

PERMISSION_ATTRIBUTE = "__gnomon_permission__"
PUBLIC_ATTRIBUTE = "__gnomon_public__"


def requires(permission: str) -> Any:
    """A dependency giving the request's context once it is allowed ``permission``."""

    async def dependency(request: Request) -> RequestContext:
        state = request.app.state.gnomon
        app = state.app
        header = request.headers.get("authorization")
        # From memory when it can answer (a known key, roles unchanged), else in a thread: the
        # event loop never waits on the catalog.
        try:
            with memory_only():
                principal = app.authenticator.authenticate(header)
        except NotInMemory:
            principal = await run_in_threadpool(app.authenticator.authenticate, header)
        state.rate.take(principal.tenant)
        try:
            with memory_only():
                custom = app.identities.custom_roles(principal.tenant)
        except NotInMemory:
            custom = await run_in_threadpool(app.identities.custom_roles, principal.tenant)
        require(principal, permission, custom)
        return RequestContext(principal, correlation_id=request.state.correlation_id)

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    return Depends(dependency)


def public() -> Any:
    """A dependency marking a route as open to anyone (health checks)."""

    def dependency() -> None:
        return None

    setattr(dependency, PUBLIC_ATTRIBUTE, True)
    return Depends(dependency)


def declared(call: Callable[..., Any]) -> str | None:
    """The permission a dependency declares, ``"public"``, or ``None``."""
    if getattr(call, PUBLIC_ATTRIBUTE, False):
        return "public"
    value = getattr(call, PERMISSION_ATTRIBUTE, None)
    return None if value is None else str(value)
