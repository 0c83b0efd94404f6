"""Running SQL over lake tables: read-only parsing, tenant scoping and the engines.

Every read of lake data goes through :class:`QueryService`, which checks user text with
:func:`parse_read_only`, scopes the tree with :func:`scope_to_tenant` and runs it on an
:class:`Engine` (DuckDB in-process by default) against the published table versions.
"""

from gnomon.engine._references import LAYERS
from gnomon.engine.duckdb import DuckDBEngine
from gnomon.engine.errors import EngineUnavailable, QueryError, ReadOnlyViolation, UnboundTable
from gnomon.engine.protocols import Engine, TableSource
from gnomon.engine.readonly import parse_read_only, referenced_tables
from gnomon.engine.scope import (
    TENANT_COLUMN,
    Access,
    AccessResolver,
    ColumnMask,
    TableAccess,
    apply_access,
    scope_to_tenant,
    tenant_only,
)
from gnomon.engine.service import QueryResult, QueryService, ReadHook
from gnomon.engine.spark import SparkEngine

__all__ = [
    "LAYERS",
    "TENANT_COLUMN",
    "Access",
    "AccessResolver",
    "ColumnMask",
    "DuckDBEngine",
    "Engine",
    "EngineUnavailable",
    "PostgresEngine",
    "QueryError",
    "QueryResult",
    "QueryService",
    "ReadHook",
    "ReadOnlyViolation",
    "SparkEngine",
    "TableAccess",
    "TableSource",
    "UnboundTable",
    "apply_access",
    "parse_read_only",
    "referenced_tables",
    "scope_to_tenant",
    "tenant_only",
]


def __getattr__(name: str) -> object:
    """``PostgresEngine`` on first use: it needs psycopg, from the optional ``postgres`` extra."""
    if name == "PostgresEngine":
        from gnomon.engine.postgres import PostgresEngine

        return PostgresEngine
    raise AttributeError(f"module 'gnomon.engine' has no attribute {name!r}")
