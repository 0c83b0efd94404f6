"""PostgreSQL's errors as gnomon's kinds, decided by SQLSTATE class, never by message text.

A query PostgreSQL refuses (syntax, unknown column, bad cast, a write in the read-only
transaction) is :class:`QueryError`; a server that cannot answer now (unreachable, shutting down,
out of resources, a statement timeout, a serialisation failure) is :class:`EngineUnavailable`;
anything else is a gnomon bug, :class:`InternalError`.
"""

from typing import TYPE_CHECKING

from gnomon.engine.errors import EngineUnavailable, QueryError
from gnomon.errors import ConfigError, GnomonError, InternalError
from gnomon.optional import require

if TYPE_CHECKING:
    import psycopg
else:
    psycopg = require("psycopg", extra="postgres")

__all__ = ["connection_error", "display_url", "first_line", "translate"]

_QUERY_CLASSES = frozenset({"0A", "21", "22", "23", "25", "26", "28", "2F", "38", "39", "42", "P0"})
"""Feature not supported, cardinality, data, constraint, transaction state (a write in a read-only
transaction), statement name, authorisation, routine and syntax/access errors. A ``DataError``
without a state is the driver's: a value Python cannot hold (a date beyond year 9999)."""
_UNAVAILABLE_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
"""Connection, rollback (serialisation, deadlock), insufficient resources, object in use,
operator intervention (cancel, timeout, shutdown) and system errors."""
_QUERY_CANCELED = "57014"


def display_url(url: str) -> str:
    """``postgresql://user@host:port/db`` for messages: never the password, whatever the form.

    Raises:
        ConfigError: the URL cannot be parsed as a PostgreSQL connection string.
    """
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"Invalid PostgreSQL URL for the engine: {first_line(exc)}",
            hint="Write it as postgresql://user@host:5432/database.",
        ) from exc
    user = parts.get("user")
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    database = parts.get("dbname") or user or ""
    return f"postgresql://{f'{user}@' if user else ''}{host}:{port}/{database}"


def connection_error(exc: "psycopg.Error", *, where: str) -> EngineUnavailable:
    """The server could not be reached (or refused the login) at ``where``."""
    return EngineUnavailable(
        f"PostgreSQL is not reachable at {where}: {first_line(exc)}",
        hint=f"Start PostgreSQL or correct the engine URL ({where}); the password is not shown.",
        url=where,
        engine_message=str(exc).strip(),
    )


def translate(exc: "psycopg.Error", *, sql: str | None, where: str) -> GnomonError:
    """The gnomon error for something PostgreSQL (or the driver) raised while running ``sql``."""
    state = exc.sqlstate or ""
    text = str(exc).strip()
    details = {"engine_message": text, "sqlstate": state or None, "sql": sql}
    if state == _QUERY_CANCELED:
        return EngineUnavailable(
            f"The query was cancelled: {first_line(exc)}",
            hint="It ran past the engine's statement timeout: filter or aggregate earlier, "
            "or raise statement_timeout_s.",
            **details,
        )
    if state[:2] in _QUERY_CLASSES or (not state and isinstance(exc, psycopg.DataError)):
        return QueryError(
            f"The query failed on PostgreSQL: {first_line(exc)}",
            hint="Check table, column and function names and the types compared or cast; "
            "the engine runs read-only queries only.",
            **details,
        )
    if state[:2] in _UNAVAILABLE_CLASSES or isinstance(exc, psycopg.OperationalError):
        return EngineUnavailable(
            f"PostgreSQL at {where} cannot answer now: {first_line(exc)}",
            hint="Retry later; if it persists, check the server and its logs.",
            url=where,
            **details,
        )
    return InternalError(
        f"The PostgreSQL engine failed: {first_line(exc)}",
        hint="Report this as a bug together with the query.",
        **details,
    )


def first_line(exc: BaseException) -> str:
    """The first line of an error's text, ending in a full stop."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()
    return line if line.endswith((".", "!", "?")) else line + "."
