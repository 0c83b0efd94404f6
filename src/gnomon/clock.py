"""Time as an injected dependency, so freshness, windows and retention are testable.

Every timestamp gnomon stores is timezone-aware UTC.
"""

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "FixedClock", "SystemClock"]


class Clock(Protocol):
    """Source of the current time."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to; for tests and replays.

    >>> clock = FixedClock(datetime(2025, 1, 1, tzinfo=UTC))
    >>> clock.advance(timedelta(hours=1)).isoformat()
    '2025-01-01T01:00:00+00:00'
    """

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = at.astimezone(UTC)

    def now(self) -> datetime:
        """The instant the clock was set or advanced to."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move the clock forward and return the new instant."""
        self._now += by
        return self._now
