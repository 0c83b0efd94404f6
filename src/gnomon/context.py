"""Who is asking, on behalf of which tenant: passed explicitly to every service call.

There is no ambient "current tenant": a function that reads or writes tenant data takes a
:class:`RequestContext`, so a forgotten scope is a type error rather than a data leak.
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_TENANT", "SYSTEM_USER", "Principal", "RequestContext", "new_correlation_id"]

DEFAULT_TENANT = "default"
SYSTEM_USER = "system"


def new_correlation_id() -> str:
    """A fresh id tying together the logs, runs, events and audit entries of one request."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated identity inside one tenant."""

    tenant: str
    user: str
    roles: frozenset[str] = frozenset()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The principal plus the correlation id of the request being served."""

    principal: Principal
    correlation_id: str = field(default_factory=new_correlation_id)

    @property
    def tenant(self) -> str:
        """The tenant every read and write of this request is scoped to."""
        return self.principal.tenant

    @classmethod
    def system(cls, tenant: str = DEFAULT_TENANT) -> "RequestContext":
        """The context of local CLI work and scheduled jobs: the system user with every role."""
        return cls(Principal(tenant=tenant, user=SYSTEM_USER, roles=frozenset({"admin"})))
