"""Roles as permission sets, with optional conditions on user attributes.

Four roles are built in; a tenant adds custom roles as lists of permissions. A permission is
``<area>:<action>`` (``metrics:query``), optionally with a condition on the principal's
attributes: ``metrics:query if department = finance`` grants it only to principals whose
``department`` attribute is ``finance``. ``*`` grants everything (admins).
"""

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gnomon.context import Principal
from gnomon.errors import Forbidden, InvalidInput

__all__ = [
    "BUILTIN_ROLES",
    "PERMISSIONS",
    "Grant",
    "parse_grant",
    "permissions_of",
    "require",
]

PERMISSIONS: tuple[str, ...] = (
    "sources:read",
    "datasets:read",
    "runs:read",
    "metrics:read",
    "metrics:query",
    "metrics:write",
    "insights:read",
    "insights:feedback",
    "insights:scan",
    "triggers:read",
    "triggers:write",
    "alerts:read",
    "alerts:write",
    "events:write",
    "sql:query",
    "users:read",
    "users:write",
    "roles:read",
    "roles:write",
    "keys:read",
    "keys:write",
    "policies:read",
    "policies:write",
    "tenants:read",
    "tenants:write",
    "audit:read",
)
"""Every permission an endpoint may require."""

_VIEWER = (
    "sources:read",
    "datasets:read",
    "runs:read",
    "metrics:read",
    "metrics:query",
    "insights:read",
    "triggers:read",
    "alerts:read",
)
_ANALYST = (*_VIEWER, "sql:query", "insights:feedback", "alerts:write")
BUILTIN_ROLES: Mapping[str, tuple[str, ...]] = {
    "viewer": _VIEWER,
    "analyst": _ANALYST,
    "editor": (*_ANALYST, "metrics:write", "insights:scan", "triggers:write", "events:write"),
    "admin": ("*",),
}
_GRANT = re.compile(
    r"^\s*(?P<perm>\*|[a-z]+:[a-z]+)\s*(?:if\s+(?P<attr>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(?P<value>.+?))?\s*$"
)


@dataclass(frozen=True, slots=True)
class Grant:
    """One permission, possibly only for principals with an attribute value."""

    permission: str
    attribute: str | None = None
    value: str | None = None

    def holds_for(self, principal: Principal) -> bool:
        """Whether the condition (if any) is met by ``principal``'s attributes."""
        if self.attribute is None:
            return True
        return str(principal.attributes.get(self.attribute)) == self.value


def parse_grant(text: str) -> Grant:
    """``"metrics:query if department = finance"`` → a :class:`Grant`.

    Raises:
        InvalidInput: not a known permission, or a malformed condition.
    """
    return _parse_grant(text)


@functools.lru_cache(maxsize=4096)
def _parse_grant(text: str) -> Grant:
    """Grants are parsed on every permission check: a role's few texts are kept parsed."""
    match = _GRANT.match(text)
    if match is None or (match["perm"] != "*" and match["perm"] not in PERMISSIONS):
        raise InvalidInput(
            f"{text!r} is not a permission.",
            hint="Write area:action, optionally followed by 'if attribute = value'; "
            f"permissions: {', '.join(PERMISSIONS)}.",
        )
    value = match["value"]
    if value is not None:
        value = value.strip().strip("'\"")
    return Grant(match["perm"], match["attr"], value)


def permissions_of(principal: Principal, custom: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """Every permission ``principal`` holds through its roles (``*`` expanded)."""
    held: set[str] = set()
    for role in principal.roles:
        grants = BUILTIN_ROLES.get(role)
        texts: Iterable[str] = grants if grants is not None else custom.get(role, ())
        for text in texts:
            grant = parse_grant(text)
            if grant.holds_for(principal):
                if grant.permission == "*":
                    held.update(PERMISSIONS)
                else:
                    held.add(grant.permission)
    return frozenset(held)


def require(principal: Principal, permission: str, custom: Mapping[str, Iterable[str]]) -> None:
    """Raise unless ``principal`` holds ``permission``.

    Raises:
        Forbidden: it does not; the message names the permission.
    """
    if permission not in permissions_of(principal, custom):
        raise Forbidden(
            f"{principal.user} may not do this: it needs the permission {permission!r}.",
            hint="Ask an administrator for a role that grants it.",
            permission=permission,
        )
