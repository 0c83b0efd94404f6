"""What every univariate detector shares: one streaming step, used by batch and online alike.

``score_series`` is nothing but ``update`` in a loop, so online scoring continues a batch exactly
and no point can see a later one. A detector supplies two hooks: what it expects of the next
point (value and scale on either side, or ``None`` while warming up) and how it learns a value.
"""

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.detect._calibrate import Threshold, score_of, severity_of, tail_for
from gnomon.insights.detect.models import PointScore, Scored, Severity

Expectation = tuple[float, float, float]
"""Expected value, scale below it, scale above it (scales are one standard deviation)."""

Row = tuple[float, bool, int, float, float, float, Severity]

_NAN = math.nan
WARMING: Row = (0.0, False, 0, _NAN, _NAN, _NAN, "none")


def as_series(values: Any) -> np.ndarray:
    """A 1-D float64 copy of ``values`` with at least one finite value, or :class:`InvalidInput`."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid series: {exc}.", hint="Pass a 1-D sequence of numbers (NaN for gaps)."
        ) from exc
    if array.ndim != 1:
        raise InvalidInput(
            f"Invalid series: expected a 1-D array, got shape {array.shape}.",
            hint="Score one series at a time; use score_frame for several columns.",
        )
    if array.size == 0:
        raise InvalidInput("Invalid series: it is empty.", hint="Pass at least one value.")
    if not np.isfinite(array).any():
        raise InvalidInput(
            "Invalid series: no value is finite (all NaN or infinite).",
            hint="Pass at least one finite value.",
        )
    return array


def as_value(value: Any) -> float:
    """One point as a float (NaN or infinite means missing), or :class:`InvalidInput`."""
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid value {value!r}: not a number.", hint="Pass a float (NaN for a gap)."
        ) from exc


def check_int(name: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInput(
            f"Invalid {name} {value!r}: expected an integer of at least {minimum}.",
            parameter=name,
        )
    return int(value)


def check_float(name: str, value: Any, *, low: float, high: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.floating)
        or not low <= value <= high
    ):
        raise InvalidInput(
            f"Invalid {name} {value!r}: expected a number in [{low}, {high}].", parameter=name
        )
    return float(value)


def check_season(season: Any) -> int | None:
    if season is None:
        return None
    return check_int("season", season, minimum=2)


class Streaming(ABC):
    """Base of the streaming univariate detectors (shared code, hence an ABC).

    A subclass implements :meth:`_step`: judge one value (NaN or infinite: missing) and learn it.
    """

    name: ClassVar[str]

    def __init__(
        self, *, sensitivity: str = "medium", season: int | None = None, threshold: float | None
    ) -> None:
        self.sensitivity = sensitivity
        self.season = check_season(season)
        self._threshold = Threshold(tail_for(sensitivity, threshold))
        self._position = 0

    @abstractmethod
    def _step(self, x: float) -> Row:
        """Judge ``x`` against the state, then learn it; advances the position by one."""

    @abstractmethod
    def _own_params(self) -> dict[str, Any]:
        """The detector's own constructor arguments, JSON-able."""

    @property
    def threshold(self) -> float:
        """The score at or above which a point is flagged (moved by :meth:`feedback`)."""
        return self._threshold.score

    def params(self) -> dict[str, Any]:
        """Everything needed to rebuild this detector with ``detector(**params)``."""
        return {
            "name": self.name,
            "sensitivity": self.sensitivity,
            "season": self.season,
            **self._own_params(),
            "threshold": self._threshold.score,
        }

    def score_series(self, values: Any) -> Scored:
        """Score ``values`` in order, continuing from the current state; see :meth:`update`."""
        series = as_series(values)
        step = self._step
        return stack([step(x) for x in series.tolist()])

    def update(self, value: Any) -> PointScore:
        """Judge one new point against everything seen so far, then learn it."""
        return PointScore(*self._step(as_value(value)))

    def feedback(self, point: PointScore, anomalous: bool) -> None:
        """A false alarm widens the threshold past its score; a confirmed one tightens a little."""
        self._threshold.feedback(point.score, anomalous=anomalous)


class Univariate(Streaming):
    """A streaming detector defined by an expectation of the next point and a way to learn."""

    @abstractmethod
    def _expect(self) -> Expectation | None:
        """What the next point should be, or ``None`` while warming up."""

    @abstractmethod
    def _learn(self, value: float, expectation: Expectation | None) -> None:
        """Take a finite value into the state (after it was judged against ``expectation``)."""

    def _step(self, x: float) -> Row:
        expectation = self._expect()
        finite = math.isfinite(x)
        if expectation is None:
            if finite:
                self._learn(x, None)
            self._position += 1
            return WARMING
        if finite:
            row = judge(x, expectation, self._threshold)
            self._learn(x, expectation)
        else:
            row = missing(expectation, self._threshold)
        self._position += 1
        return row


def band(expectation: Expectation, threshold: Threshold) -> tuple[float, float]:
    expected, below, above = expectation
    return expected - threshold.z * below, expected + threshold.z * above


def missing(expectation: Expectation, threshold: Threshold) -> Row:
    lower, upper = band(expectation, threshold)
    return (0.0, False, 0, expectation[0], lower, upper, "none")


def judge(x: float, expectation: Expectation, threshold: Threshold) -> Row:
    """Score ``x`` against an expectation: standardise, calibrate, compare, grade."""
    expected, below, above = expectation
    deviation = x - expected
    scale = above if deviation > 0 else below
    if scale > 0:
        z = deviation / scale
    elif deviation == 0 or math.isnan(deviation):
        z = 0.0
    else:
        z = math.copysign(math.inf, deviation)
    score = score_of(z)
    flagged = threshold.flags(score)
    direction = 1 if deviation > 0 else -1 if deviation < 0 else 0
    severity: Severity = (
        severity_of(score, threshold.tail, abs(z) / threshold.z) if flagged else "none"
    )
    lower, upper = band(expectation, threshold)
    return (score, flagged, direction, expected, lower, upper, severity)


def stack(rows: list[Row]) -> Scored:
    """Rows of the step as a :class:`Scored`."""
    if not rows:
        empty = np.empty(0, dtype=np.float64)
        return Scored(
            empty,
            np.empty(0, dtype=bool),
            np.empty(0, dtype=np.int8),
            empty,
            empty,
            empty,
            np.empty(0, dtype="<U8"),
        )
    score, flagged, direction, expected, lower, upper, severity = zip(*rows, strict=True)
    return Scored(
        score=np.array(score, dtype=np.float64),
        flagged=np.array(flagged, dtype=bool),
        direction=np.array(direction, dtype=np.int8),
        expected=np.array(expected, dtype=np.float64),
        lower=np.array(lower, dtype=np.float64),
        upper=np.array(upper, dtype=np.float64),
        severity=np.array(severity, dtype="<U8"),
    )
