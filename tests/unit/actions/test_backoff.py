"""Backoff: full jitter within the exponential ceiling, Retry-After as a floor, a last attempt."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.actions.backoff import DEFAULT_BACKOFF, BackoffPolicy, next_delay

POLICY = BackoffPolicy(base_s=1.0, factor=2.0, cap_s=60.0, max_attempts=8, max_retry_after_s=300)


@given(st.integers(1, 7), st.integers(0, 2**32))
def test_a_delay_stays_between_zero_and_the_ceiling(attempt: int, seed: int) -> None:
    delay = next_delay(attempt, None, random.Random(seed), policy=POLICY)
    assert delay is not None
    assert 0.0 <= delay <= min(60.0, 2.0 ** (attempt - 1))


@given(st.integers(1, 10_000))
def test_the_ceiling_grows_then_stops_at_the_cap(attempt: int) -> None:
    policy = BackoffPolicy(base_s=1.5, factor=3.0, cap_s=900.0, max_attempts=1_000_000)
    assert policy.ceiling(attempt) <= policy.ceiling(attempt + 1) <= 900.0


def test_the_ceilings_are_exponential() -> None:
    assert [POLICY.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_the_jitter_spreads_delays() -> None:
    rng = random.Random(1)
    delays = {next_delay(6, None, rng, policy=POLICY) for _ in range(50)}
    assert len(delays) == 50
    assert min(d for d in delays if d is not None) < 8 < max(d for d in delays if d is not None)


def test_a_seed_reproduces_the_schedule() -> None:
    def schedule(seed: int) -> list[float | None]:
        rng = random.Random(seed)
        return [next_delay(n, None, rng, policy=POLICY) for n in range(1, 8)]

    assert schedule(42) == schedule(42)
    assert schedule(42) != schedule(43)


@given(st.integers(1, 7), st.floats(0.001, 10_000), st.integers(0, 2**32))
def test_retry_after_is_a_floor_up_to_its_limit(attempt: int, after: float, seed: int) -> None:
    delay = next_delay(attempt, after, random.Random(seed), policy=POLICY)
    assert delay is not None
    assert delay >= min(after, 300.0)
    assert delay <= max(min(after, 300.0), POLICY.ceiling(attempt))


@pytest.mark.parametrize("after", [None, 0.0, -5.0, float("nan"), float("inf")])
def test_a_useless_retry_after_is_ignored(after: float | None) -> None:
    delay = next_delay(3, after, random.Random(0), policy=POLICY)
    assert delay is not None
    assert 0 <= delay <= 4


def test_no_delay_after_the_last_attempt() -> None:
    rng = random.Random(0)
    assert next_delay(7, None, rng, policy=POLICY) is not None
    assert next_delay(8, None, rng, policy=POLICY) is None
    assert next_delay(8, 5.0, rng, policy=POLICY) is None
    assert next_delay(DEFAULT_BACKOFF.max_attempts, None, rng) is None


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="attempt_number"):
        next_delay(0, None, random.Random(0))
    with pytest.raises(ValueError, match="base_s"):
        BackoffPolicy(base_s=10, cap_s=1)
    with pytest.raises(ValueError, match="factor"):
        BackoffPolicy(factor=0.5)
    with pytest.raises(ValueError, match="max_attempts"):
        BackoffPolicy(max_attempts=0)
