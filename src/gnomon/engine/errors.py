"""Errors of the engine, each a subclass of a kind in :mod:`gnomon.errors`.

A mistake in the query text is :class:`QueryError` or :class:`ReadOnlyViolation` (both
``InvalidInput``: retrying will not help); a query that ran out of memory is
:class:`EngineUnavailable` (retryable, perhaps with a smaller question); anything else DuckDB
raises is a gnomon bug and surfaces as :class:`gnomon.errors.InternalError`.
"""

from gnomon.errors import InvalidInput, NotFound, Unavailable

__all__ = ["EngineUnavailable", "QueryError", "ReadOnlyViolation", "UnboundTable"]


class QueryError(InvalidInput):
    """The query does not parse, or the engine refused it (unknown column, bad cast …).

    ``details`` carries ``line``/``column`` for parse errors and ``engine_message`` (the engine's
    full text) for errors raised while binding or running.
    """

    code = "query_error"


class ReadOnlyViolation(InvalidInput):
    """The text is not one read-only query over lake tables.

    ``details["found"]`` names what was found (a statement keyword, function or table).
    """

    code = "read_only_violation"


class UnboundTable(NotFound):
    """The tree names a lake table for which the caller passed no snapshot."""

    code = "unbound_table"


class EngineUnavailable(Unavailable):
    """The engine cannot answer now (out of memory); the same query may succeed later."""

    code = "engine_unavailable"
