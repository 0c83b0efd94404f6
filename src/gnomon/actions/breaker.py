"""A circuit breaker per endpoint, so a receiver that is down is not hammered by every retry.

States, per endpoint (``Channel.endpoint``, e.g. ``https://hooks.example.com``):

- **closed**: attempts go through. ``failure_threshold`` transient failures in a row open it.
- **open**: attempts are held back until ``cool_down`` has passed since it opened.
- **half-open**: one probe attempt goes through. If it is transient again the breaker opens for
  another cool-down; any answer (delivered, or a permanent failure, which proves the receiver is
  up) closes it. A probe whose outcome is never recorded (its worker died) is replaced by another
  after a further cool-down.

Only transient outcomes (``retry``) count: a 400 says the receiver is alive and our payload is
wrong, which waiting will not fix. The breaker lives in memory in one process; each worker keeps
its own, which is enough to stop one worker hammering a receiver. Time comes from the injected
clock, so tests drive it without sleeping.
"""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from gnomon.actions.models import Attempt
    from gnomon.clock import Clock

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: datetime | None = None
    probe_at: datetime | None = None


class CircuitBreaker:
    """Decides whether an attempt to an endpoint may go now; told how each attempt went.

    >>> from datetime import UTC
    >>> from gnomon.actions.models import Attempt
    >>> from gnomon.clock import FixedClock
    >>> clock = FixedClock(datetime(2025, 1, 1, tzinfo=UTC))
    >>> breaker = CircuitBreaker(clock=clock, failure_threshold=2, cool_down=timedelta(seconds=30))
    >>> for _ in range(2):
    ...     breaker.record("https://x", Attempt(outcome="retry"))
    >>> breaker.allow("https://x")
    False
    >>> _ = clock.advance(timedelta(seconds=30))
    >>> breaker.allow("https://x"), breaker.allow("https://x")
    (True, False)
    """

    def __init__(
        self,
        *,
        clock: "Clock",
        failure_threshold: int = 5,
        cool_down: timedelta = timedelta(seconds=60),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cool_down <= timedelta(0):
            raise ValueError("cool_down must be positive")
        self._clock = clock
        self._threshold = failure_threshold
        self._cool_down = cool_down
        self._circuits: dict[str, _Circuit] = {}
        self._lock = threading.Lock()

    def state(self, endpoint: str) -> BreakerState:
        """The endpoint's state now (an open circuit whose cool-down passed is half-open)."""
        with self._lock:
            return self._state(self._circuits.get(endpoint))

    def allow(self, endpoint: str) -> bool:
        """Whether an attempt to ``endpoint`` may go now; in half-open, only the first caller."""
        with self._lock:
            circuit = self._circuits.get(endpoint)
            state = self._state(circuit)
            if state == "closed":
                return True
            if state == "open" or circuit is None:
                return False
            now = self._clock.now()
            if circuit.probe_at is not None and now < circuit.probe_at + self._cool_down:
                return False
            circuit.probe_at = now
            return True

    def opens_until(self, endpoint: str) -> datetime | None:
        """When an open endpoint lets a probe through, so a dispatcher can schedule for then."""
        with self._lock:
            circuit = self._circuits.get(endpoint)
            if circuit is None or circuit.opened_at is None:
                return None
            return circuit.opened_at + self._cool_down

    def record(self, endpoint: str, attempt: "Attempt") -> None:
        """Count an attempt's outcome: a transient one towards opening, any other closes."""
        with self._lock:
            if attempt.outcome != "retry":
                self._circuits.pop(endpoint, None)
                return
            circuit = self._circuits.setdefault(endpoint, _Circuit())
            circuit.failures += 1
            probing = circuit.opened_at is not None
            if probing or circuit.failures >= self._threshold:
                circuit.opened_at = self._clock.now()
                circuit.probe_at = None

    def _state(self, circuit: _Circuit | None) -> BreakerState:
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock.now() < circuit.opened_at + self._cool_down:
            return "open"
        return "half_open"
