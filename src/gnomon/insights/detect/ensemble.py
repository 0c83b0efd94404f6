"""``ensemble``: several detectors judge every point; a vote or the mean of their scores decides.

Scores are calibrated alike in every member, so their mean is still ``1 - p``-like and the
ensemble's threshold means what a member's does. In ``vote`` mode a point is flagged when at least
``k`` members flag it, and the ensemble's score is the ``k``-th highest member score: the level
at which ``k`` members agree. The band is the median of the members' bands.
"""

import math
from statistics import median
from typing import Any

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import WARMING, Row, Streaming
from gnomon.insights.detect._calibrate import severity_of
from gnomon.insights.detect.models import SEVERITIES, PointScore, Severity

__all__ = ["EnsembleDetector"]

MODES = ("vote", "mean")
DEFAULT_MEMBERS = ("robust_z", "ewma", "forecast_interval")


class EnsembleDetector(Streaming):
    """``ensemble``: members by name (or by their params), combined by vote or mean.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``; members named by a string share it.
        season: period in points, or ``None``; members named by a string share it.
        threshold: an explicit score threshold for ``mean`` mode (overrides the sensitivity).
        members: detector names, or params dicts (as from ``params()``) for fully specified
            members; univariate detectors only.
        mode: ``"vote"`` (``k`` of n flagged) or ``"mean"`` (mean score against the threshold).
        k: votes needed in ``vote`` mode (default: a majority).
    """

    name = "ensemble"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        members: Any = DEFAULT_MEMBERS,
        mode: str = "vote",
        k: int | None = None,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        from gnomon.insights.detect.factory import DETECTORS, detector  # (import cycle)

        if isinstance(members, str) or not members:
            raise InvalidInput(
                f"Invalid members {members!r}: expected a non-empty list of detector names.",
                hint=f"Choose from: {', '.join(n for n in DETECTORS if n != 'ensemble')}.",
            )
        built: list[Streaming] = []
        for member in members:
            spec: dict[str, Any]
            if isinstance(member, str):
                spec = {"name": member, "sensitivity": sensitivity, "season": season}
            elif isinstance(member, dict):
                spec = dict(member)
            else:
                spec = {}
            if spec.get("name") not in DETECTORS or spec.get("name") == "ensemble":
                raise InvalidInput(
                    f"Invalid ensemble member {member!r}: members are univariate detectors.",
                    hint=f"Choose from: {', '.join(n for n in DETECTORS if n != 'ensemble')}.",
                )
            made = detector(**spec)
            if not isinstance(made, Streaming):
                raise InvalidInput(f"Invalid ensemble member {member!r}.")
            built.append(made)
        self.members = built
        if mode not in MODES:
            raise InvalidInput(
                f"Invalid mode {mode!r}. Use one of: {', '.join(MODES)}.", valid=list(MODES)
            )
        self.mode = mode
        votes = len(built) // 2 + 1 if k is None else k
        if isinstance(votes, bool) or not isinstance(votes, int) or not 1 <= votes <= len(built):
            raise InvalidInput(f"Invalid k {k!r}: expected an integer in [1, {len(built)}].")
        self.k = votes

    def _own_params(self) -> dict[str, Any]:
        return {
            "members": [m.params() for m in self.members],
            "mode": self.mode,
            "k": self.k,
        }

    def _step(self, x: float) -> Row:
        rows = [m._step(x) for m in self.members]  # noqa: SLF001 (same family)
        self._position += 1
        if any(math.isnan(r[3]) for r in rows):
            return WARMING
        expected = median(r[3] for r in rows)
        lower = median(r[4] for r in rows)
        upper = median(r[5] for r in rows)
        if not math.isfinite(x):
            return (0.0, False, 0, expected, lower, upper, "none")
        deviation = x - expected
        direction = 1 if deviation > 0 else -1 if deviation < 0 else 0
        severity: Severity = "none"
        if self.mode == "mean":
            score = sum(r[0] for r in rows) / len(rows)
            flagged = self._threshold.flags(score)
            if flagged:
                half = upper - expected if deviation > 0 else expected - lower
                distance = abs(deviation) / half if half > 0 else math.inf
                severity = severity_of(score, self._threshold.tail, distance)
        else:
            score = sorted((r[0] for r in rows), reverse=True)[self.k - 1]
            flagged = sum(r[1] for r in rows) >= self.k
            if flagged:
                levels = sorted((SEVERITIES.index(r[6]) for r in rows), reverse=True)
                severity = SEVERITIES[max(1, levels[self.k - 1])]
        return (score, flagged, direction, expected, lower, upper, severity)

    def feedback(self, point: PointScore, anomalous: bool) -> None:
        """Move the ensemble's threshold (mean) or every member's past the point's score (vote).

        In vote mode the point's score is the ``k``-th highest member score, so once no member
        flags that score, fewer than ``k`` members can flag a point like it.
        """
        self._threshold.feedback(point.score, anomalous=anomalous)
        if self.mode == "mean":
            return
        for member in self.members:
            member.feedback(point, anomalous)
