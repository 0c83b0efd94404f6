"""The audit log as the rest of gnomon uses it: record an action, list, verify the chain.

Reads (who ran which query, how many rows), changes and admin actions are recorded with the
tenant, principal and correlation id. Entries are hash-chained per tenant in the catalog
(:mod:`gnomon.catalog.audit_chain`), so a changed or deleted entry is found by :meth:`verify`.
"""

from typing import Any

from gnomon.catalog import AuditCheck, AuditRecord, Catalog
from gnomon.context import RequestContext

__all__ = ["AuditService"]

_MAX_TEXT = 2000
"""Query texts are cut to this many characters in the log."""


class AuditService:
    """Appends to and checks a project's audit log."""

    def __init__(self, *, catalog: Catalog) -> None:
        self._catalog = catalog

    def record(
        self,
        ctx: RequestContext,
        action: str,
        *,
        target: str | None = None,
        **details: Any,
    ) -> AuditRecord:
        """Append one entry for ``ctx``'s principal (committed at once)."""
        clean = {
            k: (v[:_MAX_TEXT] if isinstance(v, str) else v)
            for k, v in details.items()
            if v is not None
        }
        with self._catalog.transaction() as tx:
            return tx.audit.append(
                tenant=ctx.tenant,
                principal=ctx.principal.user,
                action=action,
                target=target,
                correlation_id=ctx.correlation_id,
                details=clean,
            )

    def entries(
        self,
        *,
        ctx: RequestContext,
        after_seq: int | None = None,
        limit: int = 100,
        action: str | None = None,
    ) -> list[AuditRecord]:
        """One page of the tenant's log, oldest first."""
        with self._catalog.transaction(read_only=True) as tx:
            return tx.audit.list(tenant=ctx.tenant, after_seq=after_seq, limit=limit, action=action)

    def verify(self, *, ctx: RequestContext) -> AuditCheck:
        """Recompute the tenant's chain; the result names the first bad entry, if any."""
        with self._catalog.transaction(read_only=True) as tx:
            return tx.audit.verify(tenant=ctx.tenant)
