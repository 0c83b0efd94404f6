"""What a detector says about a point: a calibrated score, a verdict, and the band it judged by.

Scores mean the same thing in every detector: ``1 - p``, where ``p`` is the two-sided tail
probability of a deviation at least this large under the detector's model of normal. That is why
an ensemble may average them and why one severity scale fits all detectors.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["SEVERITIES", "PointScore", "Scored", "Sensitivity", "Severity"]

Sensitivity = Literal["low", "medium", "high"]
"""How readily a detector flags: ``low`` flags fewest points, ``high`` the most."""

Severity = Literal["none", "low", "medium", "high", "critical"]

SEVERITIES: tuple[Severity, ...] = ("none", "low", "medium", "high", "critical")
"""Severities in rising order; a point that is not flagged is always ``"none"``."""


@dataclass(frozen=True, slots=True)
class PointScore:
    """One point's verdict.

    Attributes:
        score: how anomalous, in [0, 1]; ``1 - p`` for the tail probability ``p``; 0 in warm-up
            and for missing values.
        flagged: the score reached the detector's threshold (never during warm-up).
        direction: +1 above the expected value, -1 below, 0 when there is no expectation.
        expected: the value the detector expected; NaN only during warm-up.
        lower: lower edge of the band the detector considered normal; NaN only during warm-up.
        upper: upper edge of that band; NaN only during warm-up.
        severity: ``"none"`` unless flagged, then from the score and the distance from the band.
    """

    score: float
    flagged: bool
    direction: int
    expected: float
    lower: float
    upper: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class Scored:
    """The verdicts for every point of one series, as equal-length arrays.

    Attributes:
        score: float64 in [0, 1], never NaN.
        flagged: bool.
        direction: int8 in {-1, 0, +1}.
        expected: float64; NaN during warm-up (and always for multivariate detectors).
        lower: float64; NaN during warm-up (and always for multivariate detectors).
        upper: float64; NaN during warm-up (and always for multivariate detectors).
        severity: str array of :data:`SEVERITIES` values.
    """

    score: np.ndarray
    flagged: np.ndarray
    direction: np.ndarray
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    severity: np.ndarray

    def __len__(self) -> int:
        return int(self.score.shape[0])

    def point(self, i: int) -> PointScore:
        """The verdict for point ``i`` (negative indexes count from the end)."""
        severity: Severity = str(self.severity[i])  # type: ignore[assignment]
        return PointScore(
            score=float(self.score[i]),
            flagged=bool(self.flagged[i]),
            direction=int(self.direction[i]),
            expected=float(self.expected[i]),
            lower=float(self.lower[i]),
            upper=float(self.upper[i]),
            severity=severity,
        )

    @classmethod
    def from_points(cls, points: list[PointScore]) -> "Scored":
        """Stack point verdicts into arrays."""
        return cls(
            score=np.array([p.score for p in points], dtype=np.float64),
            flagged=np.array([p.flagged for p in points], dtype=bool),
            direction=np.array([p.direction for p in points], dtype=np.int8),
            expected=np.array([p.expected for p in points], dtype=np.float64),
            lower=np.array([p.lower for p in points], dtype=np.float64),
            upper=np.array([p.upper for p in points], dtype=np.float64),
            severity=np.array([p.severity for p in points], dtype="<U8"),
        )
