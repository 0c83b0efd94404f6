"""Stateful rules: occurrences per key in a sliding window, runs, absences, and restarts."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.triggers import RuleSpec
from gnomon.triggers.windows import Match, WindowState

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _spec(**fields: object) -> RuleSpec:
    return RuleSpec.model_validate({"on": "event", "condition": "true", **fields})


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_n_occurrences_within_the_window_per_key() -> None:
    state = WindowState(_spec(key=["user"], occurrences={"count": 3, "within": "10m"}))
    alice, bob = ("alice",), ("bob",)
    signals = state.feed(
        [Match(alice, _at(0)), Match(bob, _at(1)), Match(alice, _at(4)), Match(bob, _at(2))]
    )
    assert signals == [], "two each: not yet"
    signals = state.feed([Match(alice, _at(9)), Match(bob, _at(12))])
    assert [(s.key, s.time) for s in signals] == [(alice, _at(9))]
    assert signals[0].reason == "3 times within 10m"
    # Bob's first two fell out of his window by minute 12; a third soon after counts again.
    assert state.feed([Match(bob, _at(13))]) == []
    assert [s.key for s in state.feed([Match(bob, _at(14))])] == [bob]
    assert state.active_counts(_at(15)) == {alice: 1, bob: 3}


def test_a_run_rising_for_n_periods() -> None:
    state = WindowState(_spec(trend={"field": "revenue", "direction": "falling", "periods": 3}))
    values = [10.0, 9.0, 9.0, 8.0, 7.0, 6.0, 7.0, 6.0]
    fired = [
        bool(state.feed([Match((), _at(k), v)])) for k, v in enumerate(values)
    ]  # fmt: skip
    # Falling at each of the last 3 steps: 9 -> 8 -> 7 -> 6 (after a flat step that broke it).
    assert fired == [False, False, False, False, False, True, False, False]
    assert state.feed([Match((), _at(9), None)]) == [], "a missing value neither adds nor breaks"


def test_an_absence_signals_once_per_silence() -> None:
    state = WindowState(_spec(key=["feed"], absence={"within": "30m"}))
    assert state.feed([Match(("orders",), _at(0)), Match(("returns",), _at(20))]) == []
    assert state.tick(_at(29)) == []
    [gap] = state.tick(_at(31))
    assert (gap.key, gap.time, gap.reason) == (("orders",), _at(31), "nothing for 30m")
    assert state.tick(_at(40)) == [], "signalled once per silence"
    assert [s.key for s in state.tick(_at(51))] == [("returns",)]
    state.feed([Match(("orders",), _at(60))])
    assert [s.key for s in state.tick(_at(95))] == [("orders",)], "seen again, then silent again"


def test_plain_rules_signal_every_match() -> None:
    state = WindowState(_spec())
    assert [s.reason for s in state.feed([Match((), _at(0)), Match((), _at(1))])] == [
        "matched",
        "matched",
    ]
    assert state.tick(_at(100)) == []


def test_state_survives_a_restart_through_json() -> None:
    spec = _spec(key=["user"], occurrences={"count": 3, "within": "10m"})
    before = WindowState(spec)
    before.feed([Match(("alice",), _at(0)), Match(("alice",), _at(1))])
    stored = json.loads(json.dumps(before.to_json()))
    after = WindowState.from_json(spec, stored)
    assert [s.key for s in after.feed([Match(("alice",), _at(2))])] == [("alice",)]
    with pytest.raises(ValueError, match="not a window state"):
        WindowState.from_json(spec, {"nope": 1})


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.integers(0, 600), min_size=1, max_size=60),
    count=st.integers(2, 6),
    window=st.integers(1, 900),
)
def test_occurrences_agree_with_counting_by_hand(gaps: list[int], count: int, window: int) -> None:
    """At each match, the rule is active exactly when >= count matches lie in (t - W, t]."""
    spec = _spec(occurrences={"count": count, "within": f"{window}s"})
    state = WindowState(spec)
    times: list[datetime] = []
    moment = T0
    for gap in gaps:
        moment += timedelta(seconds=gap)
        times.append(moment)
        active = bool(state.feed([Match((), moment)]))
        inside = [t for t in times if t > moment - timedelta(seconds=window)]
        assert active == (len(inside) >= count)
