"""Column types whose Python values are the same on SQLite and PostgreSQL.

SQLite has no time zone type: a ``DateTime(timezone=True)`` column stores whatever naive or aware
value it is given and returns it naive. :class:`UtcDateTime` stores UTC without an offset on SQLite
and as ``timestamptz`` on PostgreSQL, and always hands back an aware UTC ``datetime``, so code
never compares a naive value with an aware one.
"""

from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UtcDateTime"]


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC in Python on every backend.

    A naive value is refused rather than guessed at: it is a bug in the caller.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC; drop the offset where the backend cannot store it."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - values of both backends are handled alike
    ) -> datetime | None:
        """Attach UTC to the naive values SQLite returns; convert PostgreSQL's session zone."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
