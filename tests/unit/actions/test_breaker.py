"""The circuit breaker's states, driven by a fixed clock."""

from datetime import UTC, datetime, timedelta

import pytest

from gnomon.actions import Attempt, CircuitBreaker
from gnomon.clock import FixedClock

A = "https://a.example:443"
B = "https://b.example:443"
RETRY = Attempt(outcome="retry", error="503")
DELIVERED = Attempt(outcome="delivered", status_code=200)
FAILED = Attempt(outcome="failed", status_code=400)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def breaker(clock: FixedClock) -> CircuitBreaker:
    return CircuitBreaker(clock=clock, failure_threshold=3, cool_down=timedelta(seconds=60))


def test_it_opens_after_enough_transient_failures_in_a_row(breaker: CircuitBreaker) -> None:
    for _ in range(2):
        breaker.record(A, RETRY)
    assert breaker.state(A) == "closed"
    assert breaker.allow(A)
    breaker.record(A, RETRY)
    assert breaker.state(A) == "open"
    assert not breaker.allow(A)
    assert breaker.allow(B), "each endpoint has its own circuit"


def test_an_answer_resets_the_count(breaker: CircuitBreaker) -> None:
    for outcome in (RETRY, RETRY, DELIVERED, RETRY, RETRY, FAILED, RETRY, RETRY):
        breaker.record(A, outcome)
    assert breaker.state(A) == "closed"


def test_permanent_failures_do_not_open_it(breaker: CircuitBreaker) -> None:
    for _ in range(10):
        breaker.record(A, FAILED)
    assert breaker.state(A) == "closed"


def test_after_the_cool_down_one_probe_goes_through(
    breaker: CircuitBreaker, clock: FixedClock
) -> None:
    for _ in range(3):
        breaker.record(A, RETRY)
    opened = clock.now()
    assert breaker.opens_until(A) == opened + timedelta(seconds=60)
    clock.advance(timedelta(seconds=59))
    assert not breaker.allow(A)
    clock.advance(timedelta(seconds=1))
    assert breaker.state(A) == "half_open"
    assert breaker.allow(A)
    assert not breaker.allow(A), "only one probe at a time"


@pytest.mark.parametrize("answer", [DELIVERED, FAILED])
def test_a_probe_that_gets_an_answer_closes_it(
    breaker: CircuitBreaker, clock: FixedClock, answer: Attempt
) -> None:
    for _ in range(3):
        breaker.record(A, RETRY)
    clock.advance(timedelta(seconds=60))
    assert breaker.allow(A)
    breaker.record(A, answer)
    assert breaker.state(A) == "closed"
    assert breaker.allow(A)
    assert breaker.allow(A)
    assert breaker.opens_until(A) is None


def test_a_failed_probe_opens_it_for_another_cool_down(
    breaker: CircuitBreaker, clock: FixedClock
) -> None:
    for _ in range(3):
        breaker.record(A, RETRY)
    clock.advance(timedelta(seconds=60))
    assert breaker.allow(A)
    breaker.record(A, RETRY)
    assert breaker.state(A) == "open"
    assert not breaker.allow(A)
    clock.advance(timedelta(seconds=60))
    assert breaker.allow(A)


def test_a_lost_probe_is_replaced_after_a_cool_down(
    breaker: CircuitBreaker, clock: FixedClock
) -> None:
    for _ in range(3):
        breaker.record(A, RETRY)
    clock.advance(timedelta(seconds=60))
    assert breaker.allow(A)
    clock.advance(timedelta(seconds=30))
    assert not breaker.allow(A)
    clock.advance(timedelta(seconds=30))
    assert breaker.allow(A)


def test_bad_settings_are_refused(clock: FixedClock) -> None:
    with pytest.raises(ValueError, match="failure_threshold"):
        CircuitBreaker(clock=clock, failure_threshold=0)
    with pytest.raises(ValueError, match="cool_down"):
        CircuitBreaker(clock=clock, cool_down=timedelta(0))
