"""Stateful rules: N occurrences within a window, a rising or falling run, an absence.

A rule's condition says which rows match; these windows turn matches into *signals* (the rule
is active for a key at a time), keeping per key only what the next decision needs: the times of
the recent matches, the last few values, the last time a key was seen. The state is plain data
(:meth:`WindowState.to_json` / :meth:`WindowState.from_json`) so the trigger service can keep it
in the catalog and a restart resumes where it stopped.

Times are those of the matched rows (event time), fed in order per rule; :meth:`WindowState.tick`
moves time forward without rows, which is when absences are noticed.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gnomon.triggers.specs import AbsenceSpec, OccurrencesSpec, RuleSpec, TrendSpec

__all__ = ["Match", "Signal", "WindowState"]

Key = tuple[str, ...]
MAX_KEYS = 100_000
"""Most keys a rule keeps state for; the least recently seen are forgotten beyond it."""


@dataclass(frozen=True, slots=True)
class Match:
    """A row whose condition held: its key values, its time, and the trend field's value."""

    key: Key
    time: datetime
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """The rule is active for ``key`` at ``time``: occurrences counted, or the run, or the gap."""

    key: Key
    time: datetime
    reason: str


@dataclass(slots=True)
class _KeyState:
    times: deque[datetime] = field(default_factory=deque)
    values: deque[float] = field(default_factory=deque)
    last_seen: datetime | None = None
    absent_since: datetime | None = None


class WindowState:
    """One rule's state per key, and the step that turns matches into signals."""

    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self._keys: dict[Key, _KeyState] = {}

    # ------------------------------------------------------------------ steps

    def feed(self, matches: Iterable[Match]) -> list[Signal]:
        """Take the matched rows (in time order) and say where the rule became or stays active."""
        signals: list[Signal] = []
        occurrences, trend = self.spec.occurrences, self.spec.trend
        if occurrences is None and trend is None and self.spec.absence is None:
            # A plain rule is active wherever it matched; it needs no memory of keys.
            return [Signal(m.key, m.time, "matched") for m in matches]
        for match in matches:
            state = self._state(match.key)
            if occurrences is not None:
                signal = self._occur(state, match, occurrences)
            elif trend is not None:
                signal = self._trend(state, match, trend)
            else:
                signal = (
                    None
                    if self.spec.absence is not None
                    else Signal(match.key, match.time, "matched")
                )
            state.last_seen = max(state.last_seen or match.time, match.time)
            state.absent_since = None
            if signal is not None:
                signals.append(signal)
        return signals

    def tick(self, now: datetime) -> list[Signal]:
        """Time moved to ``now``: the keys silent for the absence window signal (once each)."""
        absence = self.spec.absence
        if absence is None:
            return []
        return [s for key, state in self._keys.items() if (s := _gap(key, state, now, absence))]

    def active_counts(self, now: datetime) -> dict[Key, int]:
        """Matches per key still inside the occurrences window at ``now`` (for resolving)."""
        occurrences = self.spec.occurrences
        if occurrences is None:
            return {}
        start = now - occurrences.within
        return {key: sum(1 for t in s.times if t > start) for key, s in self._keys.items()}

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, object]:
        """The state as JSON-able data."""
        return {
            "keys": [
                {
                    "key": list(key),
                    "times": [t.isoformat() for t in s.times],
                    "values": list(s.values),
                    "last_seen": s.last_seen.isoformat() if s.last_seen else None,
                    "absent_since": s.absent_since.isoformat() if s.absent_since else None,
                }
                for key, s in self._keys.items()
            ]
        }

    @classmethod
    def from_json(cls, spec: RuleSpec, data: object) -> "WindowState":
        """A rule's state as :meth:`to_json` wrote it (a changed rule keeps what still applies).

        Raises:
            ValueError: the data is not a window state.
        """
        state = cls(spec)
        if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
            raise ValueError("not a window state: expected {'keys': [...]}")
        for item in data["keys"]:
            key = tuple(str(k) for k in item["key"])
            restored = _KeyState(
                times=deque(_time(t) for t in item.get("times", [])),
                values=deque(float(v) for v in item.get("values", [])),
                last_seen=_time(item["last_seen"]) if item.get("last_seen") else None,
                absent_since=_time(item["absent_since"]) if item.get("absent_since") else None,
            )
            state._keys[key] = restored
        return state

    # ------------------------------------------------------------------ helpers

    def _state(self, key: Key) -> _KeyState:
        state = self._keys.get(key)
        if state is None:
            if len(self._keys) >= MAX_KEYS:
                oldest = min(self._keys, key=lambda k: _seen(self._keys[k]))
                del self._keys[oldest]
            state = self._keys[key] = _KeyState()
        return state

    @staticmethod
    def _occur(state: _KeyState, match: Match, spec: OccurrencesSpec) -> Signal | None:
        times = state.times
        times.append(match.time)
        start = match.time - spec.within
        while times and times[0] <= start:
            times.popleft()
        while len(times) > spec.count:
            times.popleft()
        if len(times) >= spec.count:
            return Signal(match.key, match.time, f"{len(times)} times within {_shown(spec.within)}")
        return None

    @staticmethod
    def _trend(state: _KeyState, match: Match, spec: TrendSpec) -> Signal | None:
        if match.value is None:
            return None
        values = state.values
        values.append(match.value)
        while len(values) > spec.periods + 1:
            values.popleft()
        if len(values) <= spec.periods:
            return None
        steps = [b - a for a, b in zip(list(values)[:-1], list(values)[1:], strict=True)]
        held = (
            all(s > 0 for s in steps) if spec.direction == "rising" else all(s < 0 for s in steps)
        )
        if held:
            return Signal(match.key, match.time, f"{spec.direction} for {spec.periods} periods")
        return None


def _gap(key: Key, state: _KeyState, now: datetime, spec: AbsenceSpec) -> Signal | None:
    if state.last_seen is None or state.absent_since is not None:
        return None
    if now - state.last_seen < spec.within:
        return None
    state.absent_since = now
    return Signal(key, now, f"nothing for {_shown(spec.within)}")


def _seen(state: _KeyState) -> datetime:
    return state.last_seen or datetime.min.replace(tzinfo=UTC)


def _time(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
