"""The audit writer: entries of many callers committed in batches, none lost, none forked."""

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnomon.catalog import Catalog, NewAuditEntry
from gnomon.context import RequestContext
from gnomon.errors import InvalidInput
from gnomon.governance.audit import AuditService
from gnomon.governance.audit_batch import AuditWriter


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    with catalog.transaction() as tx:
        tx.tenants.ensure("acme")
        tx.tenants.ensure("globex")
    yield catalog
    catalog.dispose()


def entries(catalog: Catalog, tenant: str) -> list[tuple[int, str, str]]:
    with catalog.transaction(read_only=True) as tx:
        assert tx.audit.verify(tenant=tenant).ok
        return [(e.seq, e.principal, e.action) for e in tx.audit.list(tenant=tenant, limit=1000)]


def test_concurrent_callers_each_get_their_committed_entry(catalog: Catalog) -> None:
    writer = AuditWriter(catalog)
    results: dict[tuple[int, int], int] = {}

    def caller(thread: int) -> None:
        for n in range(25):
            tenant = "acme" if (thread + n) % 3 else "globex"
            record = writer.submit(
                NewAuditEntry(tenant, f"user-{thread}", "metrics.query", details={"n": n})
            ).result(timeout=30)
            assert record.tenant == tenant and record.details == {"n": n}
            results[(thread, n)] = record.seq

    threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    acme, globex = entries(catalog, "acme"), entries(catalog, "globex")
    assert len(results) == 200 == len(acme) + len(globex)
    assert [seq for seq, _, _ in acme] == list(range(1, len(acme) + 1))
    assert [seq for seq, _, _ in globex] == list(range(1, len(globex) + 1))


def test_an_invalid_entry_fails_only_its_own_caller(catalog: Catalog) -> None:
    writer = AuditWriter(catalog)
    # Hold the writer in its first transaction so the next three queue up as one batch.
    with catalog.transaction():
        first = writer.submit(NewAuditEntry("acme", "a", "first"))
        good = writer.submit(NewAuditEntry("acme", "a", "good"))
        bad = writer.submit(NewAuditEntry("acme", "a", "bad", target=""))
        after = writer.submit(NewAuditEntry("acme", "a", "after"))
    assert first.result(timeout=30).seq == 1
    with pytest.raises(InvalidInput, match="target"):
        bad.result(timeout=30)
    assert {good.result(timeout=30).action, after.result(timeout=30).action} == {"good", "after"}
    writer.close()
    assert [action for _, _, action in entries(catalog, "acme")] == ["first", "good", "after"]


def test_close_writes_what_is_queued_and_later_entries_still_land(catalog: Catalog) -> None:
    writer = AuditWriter(catalog)
    futures = [writer.submit(NewAuditEntry("acme", "a", f"e{n}")) for n in range(50)]
    writer.close()
    assert all(f.done() for f in futures)
    assert writer.submit(NewAuditEntry("acme", "a", "late")).result(timeout=5).seq == 51
    assert len(entries(catalog, "acme")) == 51


def test_record_async_returns_once_committed(catalog: Catalog) -> None:
    audit = AuditService(catalog=catalog)
    ctx = RequestContext.system("acme")

    async def many() -> list[int]:
        records = await asyncio.gather(
            *(audit.record_async(ctx, "metrics.query", rows=n) for n in range(40))
        )
        return sorted(r.seq for r in records)

    assert asyncio.run(many()) == list(range(1, 41))
    assert len(entries(catalog, "acme")) == 40
    audit.close()


def test_an_in_memory_catalog_is_written_by_the_caller() -> None:
    catalog = Catalog("sqlite://")
    catalog.migrate()
    writer = AuditWriter(catalog)
    record = writer.submit(NewAuditEntry("default", "a", "x")).result(timeout=5)
    assert record.seq == 1
    assert writer._thread is None
