"""Turns delta-rs and storage exceptions into gnomon's error kinds.

delta-rs raises one generic ``DeltaError`` for most failures, so its message is the only clue
whether the data or the storage is to blame. That reading happens here and nowhere else; callers
decide on retries by the kind this module picks, never by text.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from deltalake.exceptions import (
    CommitFailedError,
    DeltaError,
    DeltaProtocolError,
    SchemaMismatchError,
    TableNotFoundError,
)

from gnomon.errors import Conflict, GnomonError, InvalidInput
from gnomon.lake.errors import LakeUnavailable

# Substrings of delta-rs messages that blame the data or the request rather than the storage.
_DATA_MARKERS = (
    "cast error",
    "schema error",
    "schema mismatch",
    "does not match",
    "invalid data",
    "invalid argument",
    "parser error",
    "sql error",
    "no field named",
)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def translate(exc: Exception, *, uri: str, action: str) -> GnomonError:
    """The gnomon error that says what went wrong when ``action`` on ``uri`` raised ``exc``."""
    detail = _first_line(exc)
    if isinstance(exc, CommitFailedError):
        return Conflict(
            f"Concurrent commit on {uri}: another writer committed first while {action}.",
            hint="Run the operation again; it will see the other writer's data.",
            uri=uri,
            cause=str(exc),
        )
    if isinstance(exc, SchemaMismatchError):
        return InvalidInput(
            f"Schema mismatch while {action} on {uri}: {detail}.",
            hint="Send the table's columns, or append with schema_mode='merge' to add new ones.",
            uri=uri,
            cause=str(exc),
        )
    if isinstance(exc, DeltaProtocolError):
        return InvalidInput(
            f"Unsupported Delta table at {uri} while {action}: {detail}.",
            hint="The table uses a Delta feature gnomon cannot handle; rewrite it with gnomon.",
            uri=uri,
            cause=str(exc),
        )
    if isinstance(exc, TableNotFoundError) or not isinstance(exc, DeltaError):
        return LakeUnavailable(
            f"Lake storage unavailable while {action} on {uri}: {detail}.",
            hint="Check that the lake root exists, is writable and, for object stores, that the "
            "storage options (endpoint, credentials) are right.",
            uri=uri,
            cause=str(exc),
        )
    if any(marker in str(exc).lower() for marker in _DATA_MARKERS):
        return InvalidInput(
            f"Delta rejected the data while {action} on {uri}: {detail}.",
            hint="Make the columns' types match the table's schema.",
            uri=uri,
            cause=str(exc),
        )
    return LakeUnavailable(
        f"Delta operation failed while {action} on {uri}: {detail}.",
        hint="Retry; if it keeps failing, inspect the table's _delta_log.",
        uri=uri,
        cause=str(exc),
    )


@contextmanager
def delta_errors(uri: str, *, action: str) -> Iterator[None]:
    """Re-raise delta-rs and storage exceptions from the block as gnomon errors."""
    try:
        yield
    except (DeltaError, OSError) as exc:
        raise translate(exc, uri=uri, action=action) from exc
