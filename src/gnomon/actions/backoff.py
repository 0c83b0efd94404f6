"""When to try a failed delivery again: exponential backoff with full jitter, and Retry-After.

Why a pure function rather than a retry library: the dispatcher does not sleep between attempts,
it stores the next attempt's time in the outbox and a worker (maybe another process, after a
restart) picks it up. What it needs is "given that N attempts have failed, how long until the
next one", computed from stored numbers. tenacity's waits answer that only through a
``RetryCallState`` built around a live call, and draw from the global ``random``; here the random
source is passed in, so a test (or a replay) gets the same schedule from the same seed.

Full jitter (a uniform draw between 0 and the exponential ceiling) spreads the retries of many
notifications that failed together, so a receiver that comes back is not hit by all at once.
A receiver's ``Retry-After`` is a floor: the next attempt never comes earlier than it asked,
up to ``max_retry_after_s`` so that a receiver cannot park a notification for days.
"""

import math
import random
from dataclasses import dataclass

__all__ = ["DEFAULT_BACKOFF", "BackoffPolicy", "next_delay"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffPolicy:
    """The retry schedule's constants.

    Attributes:
        base_s: the ceiling of the first retry's delay, in seconds.
        factor: how much the ceiling grows with each failed attempt.
        cap_s: the largest ceiling, in seconds.
        max_attempts: attempts in all, the first included; after that the notification fails.
        max_retry_after_s: the longest ``Retry-After`` honoured, in seconds.
    """

    base_s: float = 5.0
    factor: float = 2.0
    cap_s: float = 900.0
    max_attempts: int = 12
    max_retry_after_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("BackoffPolicy needs 0 < base_s <= cap_s")
        if self.factor < 1:
            raise ValueError("BackoffPolicy.factor must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("BackoffPolicy.max_attempts must be at least 1")
        if self.max_retry_after_s < 0:
            raise ValueError("BackoffPolicy.max_retry_after_s must not be negative")

    def ceiling(self, attempt_number: int) -> float:
        """The largest delay after ``attempt_number`` failed attempts: ``base * factor**(n-1)``.

        Computed in logarithms, so a large attempt number reaches the cap instead of overflowing.
        """
        exponent = max(attempt_number - 1, 0)
        if math.log(self.base_s) + exponent * math.log(self.factor) >= math.log(self.cap_s):
            return self.cap_s
        return self.base_s * self.factor**exponent


DEFAULT_BACKOFF = BackoffPolicy()
"""Ceilings of 5 s, 10 s, 20 s … up to 15 minutes, twelve attempts in all: a receiver gets
about an hour (at most 66 minutes, half that on average with full jitter) to come back."""


def next_delay(
    attempt_number: int,
    retry_after: float | None,
    rng: random.Random,
    *,
    policy: BackoffPolicy = DEFAULT_BACKOFF,
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when no attempt is left.

    Args:
        attempt_number: how many attempts have been made so far (1 after the first failure).
        retry_after: the receiver's ``Retry-After`` in seconds (``Attempt.retry_after_s``).
        rng: the source of jitter; pass a seeded ``random.Random`` to reproduce a schedule.
        policy: the schedule's constants.

    >>> policy = BackoffPolicy(base_s=1, factor=2, cap_s=30, max_attempts=5)
    >>> rng = random.Random(7)
    >>> 0 <= next_delay(3, None, rng, policy=policy) <= 4
    True
    >>> next_delay(3, 20.0, rng, policy=policy) >= 20
    True
    >>> next_delay(5, None, rng, policy=policy) is None
    True
    """
    if attempt_number < 1:
        raise ValueError("attempt_number counts attempts made, from 1")
    if attempt_number >= policy.max_attempts:
        return None
    delay = rng.uniform(0.0, policy.ceiling(attempt_number))
    if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
        delay = max(delay, min(retry_after, policy.max_retry_after_s))
    return delay
