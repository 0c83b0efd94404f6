"""The audit log as the rest of gnomon uses it: record an action, list, verify the chain.

Reads (who ran which query, how many rows), changes and admin actions are recorded with the
tenant, principal and correlation id. Entries are hash-chained per tenant in the catalog
(:mod:`gnomon.catalog.audit_chain`), so a changed or deleted entry is found by :meth:`verify`.
"""

from typing import Any

from gnomon.catalog import AuditCheck, AuditRecord, Catalog, NewAuditEntry
from gnomon.context import RequestContext
from gnomon.governance.audit_batch import AuditWriter

__all__ = ["AuditService"]

_MAX_TEXT = 2000
"""Query texts are cut to this many characters in the log."""


class AuditService:
    """Appends to and checks a project's audit log.

    Entries are appended by one writer thread in batches (:mod:`gnomon.governance.audit_batch`);
    ``record`` and ``record_async`` return once the entry has committed. :meth:`close` writes
    what is queued and stops the thread.
    """

    def __init__(self, *, catalog: Catalog) -> None:
        self._catalog = catalog
        self._writer = AuditWriter(catalog)

    def record(
        self,
        ctx: RequestContext,
        action: str,
        *,
        target: str | None = None,
        **details: Any,
    ) -> AuditRecord:
        """Append one entry for ``ctx``'s principal; returns once it has committed."""
        return self._writer.submit(self._entry(ctx, action, target, details)).result()

    async def record_async(
        self,
        ctx: RequestContext,
        action: str,
        *,
        target: str | None = None,
        **details: Any,
    ) -> AuditRecord:
        """:meth:`record` for an event loop: waits for the commit without holding a thread."""
        return await self._writer.submit_async(self._entry(ctx, action, target, details))

    def close(self) -> None:
        """Write the queued entries and stop the writer; later entries are written directly."""
        self._writer.close()

    @staticmethod
    def _entry(
        ctx: RequestContext, action: str, target: str | None, details: dict[str, Any]
    ) -> NewAuditEntry:
        clean = {
            k: (v[:_MAX_TEXT] if isinstance(v, str) else v)
            for k, v in details.items()
            if v is not None
        }
        return NewAuditEntry(
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
