"""The read path: the one function every read of lake data goes through.

Policy: a query reaches an engine only after it has been scoped to the caller's tenant, and
user text only after it has been checked as read-only. Row-level security and masking will be
further tree passes in :meth:`QueryService._policies`, so no caller can forget one. Results are
capped (``max_rows``) and say when they were cut short; :meth:`QueryService.stream` is the way
to read more.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from gnomon.context import RequestContext
from gnomon.engine.protocols import Engine, TableSource
from gnomon.engine.readonly import parse_read_only, referenced_tables
from gnomon.engine.scope import AccessResolver, apply_access, tenant_only
from gnomon.errors import ConfigError, InvalidInput

__all__ = ["QueryResult", "QueryService"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows of a query and how they were obtained.

    Attributes:
        table: the rows, at most the limit asked for (or the service's ``max_rows``).
        truncated: more rows existed than ``table`` holds.
        sql: the scoped query as it ran, in the engine's dialect.
        elapsed_s: seconds spent in the engine, for logs and the query log.
    """

    table: pa.Table
    truncated: bool
    sql: str
    elapsed_s: float


ReadHook = Callable[[RequestContext, str, dict[str, Any]], None]
"""Called after each read with the context, the kind of read and what was read."""


class QueryService:
    """Checks, scopes and runs queries over the published versions of lake tables.

    Args:
        engine: where queries run.
        resolve: ``(layer, name)`` → the published snapshot of that table; raises ``NotFound``
            for tables that do not exist.
        max_rows: the most rows :meth:`sql` and :meth:`run` ever return.
        access: what the request's principal may see of the tables a query reads (row
            policies, masks); by default only the tenant limits reads.
        on_read: told of every read (for the audit log): the context, ``"sql.query"`` or
            ``"sql.stream"``, and what was read (the query as written, tables, rows).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        resolve: Callable[[str, str], TableSource],
        max_rows: int = 1_000_000,
        access: AccessResolver | None = None,
        on_read: ReadHook | None = None,
    ) -> None:
        if max_rows < 1:
            raise ConfigError(
                f"engine.max_result_rows must be at least 1, not {max_rows}.",
                hint="Set a positive number; stream() reads results of any size.",
            )
        self._engine = engine
        self._resolve = resolve
        self._max_rows = max_rows
        self._access = access or tenant_only
        self._on_read = on_read

    def sql(self, text: str, *, ctx: RequestContext, limit: int | None = None) -> QueryResult:
        """Run SQL text from a user, scoped to the request's tenant.

        Args:
            text: one read-only query over ``layer.name`` tables (DuckDB's SQL dialect).
            ctx: whose request this is; only that tenant's rows are read.
            limit: return at most this many rows; ``None`` (or anything above ``max_rows``)
                means ``max_rows``.

        Raises:
            ReadOnlyViolation: the text is not one read-only query over lake tables.
            QueryError: the text does not parse or the engine refused it.
            NotFound: a table the query reads does not exist.
        """
        return self.run(parse_read_only(text), ctx=ctx, limit=limit)

    def run(self, tree: exp.Query, *, ctx: RequestContext, limit: int | None = None) -> QueryResult:
        """Run a query tree built by gnomon code, scoped to the request's tenant.

        The tree is trusted to be read-only (it is not checked like user text) but is scoped all
        the same.

        Raises:
            InvalidInput: ``limit`` is negative.
            NotFound: a table the query reads does not exist.
            QueryError: the engine refused the query.
        """
        cap = self._cap(limit)
        scoped, tables = self._prepare(tree, ctx)
        sql = scoped.sql(dialect=self._engine.dialect, comments=False)
        started = time.perf_counter()
        table = self._engine.execute(scoped, tables=tables, limit=cap + 1)
        elapsed = time.perf_counter() - started
        truncated = table.num_rows > cap
        if truncated:
            table = table.slice(0, cap)
        log.info(
            "query ran: %d rows%s in %.3fs",
            table.num_rows,
            " (truncated)" if truncated else "",
            elapsed,
            extra={"tenant": ctx.tenant, "correlation_id": ctx.correlation_id, "sql": sql},
        )
        if self._on_read is not None:
            self._on_read(
                ctx,
                "sql.query",
                {
                    "sql": tree.sql(dialect="duckdb"),
                    "tables": sorted(tables),
                    "rows": table.num_rows,
                },
            )
        return QueryResult(table=table, truncated=truncated, sql=sql, elapsed_s=elapsed)

    def stream(
        self, tree: exp.Query, *, ctx: RequestContext, batch_rows: int = 100_000
    ) -> pa.RecordBatchReader:
        """Run a query tree built by gnomon code and read every row, batch by batch.

        Not capped by ``max_rows``: memory is bounded by the batch size instead.

        Raises:
            NotFound: a table the query reads does not exist.
            QueryError: the engine refused the query.
        """
        scoped, tables = self._prepare(tree, ctx)
        log.info(
            "query streams",
            extra={"tenant": ctx.tenant, "correlation_id": ctx.correlation_id},
        )
        if self._on_read is not None:
            self._on_read(
                ctx, "sql.stream", {"sql": tree.sql(dialect="duckdb"), "tables": sorted(tables)}
            )
        return self._engine.stream(scoped, tables=tables, batch_rows=batch_rows)

    def explain(self, text: str, *, ctx: RequestContext) -> str:
        """The SQL that :meth:`sql` would run for this text, scoped, in the engine's dialect.

        Raises:
            ReadOnlyViolation: the text is not one read-only query over lake tables.
            QueryError: the text does not parse.
            NotFound: a table the query reads does not exist.
        """
        tree = parse_read_only(text)
        tables = self._tables(tree)
        shown = apply_access(tree, self._access(ctx, tables), show_keys=False)
        return shown.sql(dialect=self._engine.dialect, pretty=True, comments=False)

    def _cap(self, limit: int | None) -> int:
        if limit is None:
            return self._max_rows
        if limit < 0:
            raise InvalidInput(
                f"The row limit must not be negative: {limit}.",
                hint="Pass 0 or more, or no limit for the service's maximum.",
            )
        return min(limit, self._max_rows)

    def _prepare(
        self, tree: exp.Query, ctx: RequestContext
    ) -> tuple[exp.Query, dict[str, TableSource]]:
        tables = self._tables(tree)
        return apply_access(tree, self._access(ctx, tables)), tables

    def _tables(self, tree: exp.Query) -> dict[str, TableSource]:
        return {
            f"{layer}.{name}": self._resolve(layer, name)
            for layer, name in sorted(referenced_tables(tree))
        }
