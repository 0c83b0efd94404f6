"""Every route says what it needs: a permission (``requires``) or nothing (``public``).

``requires("metrics:query")`` is a FastAPI dependency that authenticates the request (API key or
bearer token), applies the tenant's request rate, checks the permission against the principal's
roles, and hands the route a :class:`~gnomon.context.RequestContext`. A test walks every route
and fails if one declares neither.
"""

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from gnomon.app import Gnomon
from gnomon.catalog import NotInMemory, memory_only
from gnomon.context import Principal, RequestContext
from gnomon.governance.policies.rbac import require

__all__ = ["PERMISSION_ATTRIBUTE", "PUBLIC_ATTRIBUTE", "identify", "public", "requires"]

PERMISSION_ATTRIBUTE = "__gnomon_permission__"
PUBLIC_ATTRIBUTE = "__gnomon_public__"


def requires(permission: str) -> Any:
    """A dependency giving the request's context once it is allowed ``permission``."""

    async def dependency(request: Request) -> RequestContext:
        state = request.app.state.gnomon
        header = request.headers.get("authorization")
        # From memory when it can answer (a known key, roles unchanged), else in a thread: the
        # event loop never waits on the catalog.
        try:
            with memory_only():
                principal, custom = identify(state.app, header)
        except NotInMemory:
            principal, custom = await run_in_threadpool(identify, state.app, header)
        state.rate.take(principal.tenant)
        require(principal, permission, custom)
        return RequestContext(principal, correlation_id=request.state.correlation_id)

    setattr(dependency, PERMISSION_ATTRIBUTE, permission)
    return Depends(dependency)


def identify(app: Gnomon, header: str | None) -> tuple[Principal, Mapping[str, Iterable[str]]]:
    """Who is calling, and the custom roles of its tenant (for the permission check).

    Raises:
        AuthenticationError: no valid credential.
        NotInMemory: inside :func:`gnomon.catalog.memory_only`, when the catalog must be read.
    """
    principal = app.authenticator.authenticate(header)
    return principal, app.identities.custom_roles(principal.tenant)


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
