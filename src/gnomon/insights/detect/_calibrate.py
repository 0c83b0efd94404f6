"""From a standardised deviation to a calibrated score, and thresholds that feedback moves.

Every detector reduces a point to ``z``, its deviation in units of the scale it believes normal
points have, and reports ``1 - p`` with ``p = P(|Z| >= |z|)`` for a standard normal ``Z``. A
threshold is kept as its tail probability, where feedback acts multiplicatively and bounds are
easy to state: between :data:`LOOSEST` (flag one point in 20) and :data:`STRICTEST`.
"""

import math
from statistics import NormalDist

from gnomon.errors import InvalidInput
from gnomon.insights.detect.models import Severity

TAILS: dict[str, float] = {"low": 1e-4, "medium": 1e-3, "high": 1e-2}
"""Tail probability at which each sensitivity flags: medium flags one clean point in a thousand."""

LOOSEST = 0.05
STRICTEST = 1e-12
"""A score threshold of 1 - 1e-12 still round-trips through params() as a float."""
WIDEN = 0.5
"""Feedback "not anomalous" puts the threshold at half the point's tail probability."""
TIGHTEN = 1.25
"""Feedback "anomalous" lets a fifth more of the tail through (a small step, bounded)."""

_NORMAL = NormalDist()


def tail_of(z: float) -> float:
    """Two-sided normal tail probability of ``z``; NaN counts as no deviation."""
    if math.isnan(z):
        return 1.0
    return math.erfc(abs(z) / math.sqrt(2.0))


def score_of(z: float) -> float:
    """The calibrated score ``1 - p`` of a standardised deviation, in [0, 1]."""
    return 1.0 - tail_of(z)


def z_of_tail(tail: float) -> float:
    """The ``|z|`` whose two-sided tail probability is ``tail``."""
    return _NORMAL.inv_cdf(1.0 - tail / 2.0)


def tail_for(sensitivity: str, threshold: float | None) -> float:
    """The starting tail probability from an explicit threshold score or a sensitivity."""
    if sensitivity not in TAILS:
        raise InvalidInput(
            f"Unknown sensitivity {sensitivity!r}. Use one of: {', '.join(TAILS)}.",
            valid=list(TAILS),
        )
    if threshold is None:
        return TAILS[sensitivity]
    if not isinstance(threshold, int | float) or not 1 - LOOSEST <= threshold < 1:
        raise InvalidInput(
            f"Invalid threshold {threshold!r}: a score threshold lies in [{1 - LOOSEST}, 1).",
            hint="Leave it out to take the sensitivity's default.",
        )
    return min(max(1.0 - float(threshold), STRICTEST), LOOSEST)


class Threshold:
    """A score threshold kept as a tail probability, moved by feedback within bounds."""

    __slots__ = ("_z", "tail")

    def __init__(self, tail: float) -> None:
        self.tail = tail
        self._z = z_of_tail(tail)

    @property
    def score(self) -> float:
        """The score at or above which a point is flagged."""
        return 1.0 - self.tail

    @property
    def z(self) -> float:
        """The ``|z|`` at the threshold: the half-width of the normal band in scale units."""
        return self._z

    def flags(self, score: float) -> bool:
        return score >= self.score

    def feedback(self, score: float, *, anomalous: bool) -> None:
        """Widen past a false alarm's score, or tighten a little after a confirmed anomaly."""
        if anomalous:
            tail = self.tail * TIGHTEN
        elif score >= self.score:
            tail = (1.0 - score) * WIDEN
        else:
            return
        self.tail = min(max(tail, STRICTEST), LOOSEST)
        self._z = z_of_tail(self.tail)


_LEVELS: tuple[Severity, ...] = ("none", "low", "medium", "high", "critical")


def severity_of(score: float, tail: float, distance: float) -> Severity:
    """Severity of a flagged point from its surprise and its distance from the band.

    ``surprise`` is how many times more improbable than the threshold the point is, on a log
    scale (1 at the threshold); ``distance`` is ``|value - expected|`` in band half-widths (NaN
    when there is no band). The larger of the two readings wins.
    """
    p = 1.0 - score
    surprise = math.inf if p <= 0.0 else math.log(p) / math.log(tail)
    level = 1 if surprise < 1.5 else 2 if surprise < 2.5 else 3 if surprise < 4.0 else 4
    if not math.isnan(distance):
        near = 1 if distance < 1.25 else 2 if distance < 1.75 else 3 if distance < 2.5 else 4
        level = max(level, near)
    return _LEVELS[level]
