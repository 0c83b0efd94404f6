"""Per-tenant limits: a request rate (token bucket) and concurrent queries (a counter).

Both are per process, which is what one API server needs; beyond them a request gets 429 with
``Retry-After``. A tenant's burst is its per-minute rate, refilled continuously.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gnomon.errors import TooManyRequests

__all__ = ["QueryQuota", "RateLimiter"]


class RateLimiter:
    """At most ``per_minute`` requests per tenant per minute, with bursts up to that many."""

    def __init__(self, per_minute: int, *, now: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._now = now
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, tenant: str) -> None:
        """Spend one request of ``tenant``'s allowance.

        Raises:
            TooManyRequests: none is left; ``retry_after_s`` says when one will be.
        """
        with self._lock:
            now = self._now()
            tokens, at = self._buckets.get(tenant, (self._capacity, now))
            tokens = min(self._capacity, tokens + (now - at) * self._rate)
            if tokens < 1:
                self._buckets[tenant] = (tokens, now)
                wait = (1 - tokens) / self._rate
                raise TooManyRequests(
                    f"Tenant {tenant!r} is over its request rate.",
                    hint="Slow down and retry after the time given.",
                    retry_after_s=max(1, int(wait + 0.999)),
                )
            self._buckets[tenant] = (tokens - 1, now)


class QueryQuota:
    """At most ``limit`` queries of one tenant running at once."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()

    @contextmanager
    def slot(self, tenant: str) -> Iterator[None]:
        """Hold one of the tenant's query slots for the ``with`` block.

        Raises:
            TooManyRequests: all the tenant's slots are taken.
        """
        with self._lock:
            running = self._running.get(tenant, 0)
            if running >= self._limit:
                raise TooManyRequests(
                    f"Tenant {tenant!r} already runs {running} queries, its limit.",
                    hint="Retry when one has finished.",
                    retry_after_s=1,
                )
            self._running[tenant] = running + 1
        try:
            yield
        finally:
            with self._lock:
                self._running[tenant] -= 1
