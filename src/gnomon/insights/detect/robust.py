"""Detectors on order statistics of a trailing window: ``robust_z`` (median/MAD) and ``iqr``.

Order statistics ignore the outliers they are meant to find, so one spike does not widen the band
for the points after it. With a season, the expected value is the median of the same phase in
the last ``cycles`` seasons, shifted by the median of recent residuals (which follows a level
shift within half a window), and the scale comes from those residuals pooled over all phases.

Series that sit on one value most of the time have a MAD (or IQR) of zero; the scale is then
floored by a quarter of the running mean absolute deviation, so a change of a size the series
has shown before is not infinitely surprising, while a change of a truly constant series is.
"""

import math
from typing import Any

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import Expectation, Univariate, check_int
from gnomon.insights.detect._window import SortedWindow
from gnomon.insights.spread import MAD_TO_SIGMA, MEANAD_TO_SIGMA

__all__ = ["IqrDetector", "RobustZDetector"]

_FLOOR_SHARE = 0.25


class _WindowDetector(Univariate):
    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        window: int = 60,
        cycles: int = 8,
        min_history: int = 20,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        self.window = check_int("window", window, minimum=5)
        self.cycles = check_int("cycles", cycles, minimum=2)
        self.min_history = check_int("min_history", min_history, minimum=3)
        if self.min_history > self.window:
            raise InvalidInput(
                f"Invalid min_history {min_history}: it exceeds the window ({window}).",
                hint="min_history counts points the window must hold before judging.",
            )
        self._values = SortedWindow(self.window)
        self._phases = [SortedWindow(self.cycles) for _ in range(self.season or 0)]
        self._alpha = 1.0 / self.window
        self._mean_abs = 0.0

    def _own_params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "cycles": self.cycles,
            "min_history": self.min_history,
        }

    def _scales(self, centre: float) -> tuple[float, float]:
        raise NotImplementedError

    def _expect(self) -> Expectation | None:
        if len(self._values) < self.min_history:
            return None
        centre = self._values.median()
        below, above = self._scales(centre)
        floor = max(
            _FLOOR_SHARE * MEANAD_TO_SIGMA * self._mean_abs,
            1e-12 * max(1.0, abs(centre)),
        )
        if self.season:
            phase = self._phases[self._position % self.season]
            if len(phase) < 2:
                return None
            centre += phase.median()
        return centre, max(below, floor), max(above, floor)

    def _learn(self, value: float, expectation: Expectation | None) -> None:  # noqa: ARG002
        if self.season:
            phase = self._phases[self._position % self.season]
            if len(phase):
                # The window holds residuals from the phase's median before this point.
                self._push(value - phase.median())
            phase.push(value)
        else:
            self._push(value)

    def _push(self, value: float) -> None:
        if len(self._values):
            gap = abs(value - self._values.median())
            if math.isfinite(gap):
                self._mean_abs += self._alpha * (gap - self._mean_abs)
        self._values.push(value)


class RobustZDetector(_WindowDetector):
    """``robust_z``: distance from the trailing median in MADs (scaled to sigmas).

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points, or ``None``.
        threshold: an explicit score threshold (overrides the sensitivity).
        window: points (residuals, with a season) the median and MAD are taken over.
        cycles: with a season, how many past values of the same phase give its median.
        min_history: points the window must hold before the detector judges.
    """

    name = "robust_z"

    def _scales(self, centre: float) -> tuple[float, float]:
        scale = MAD_TO_SIGMA * self._values.mad(centre)
        return scale, scale


class IqrDetector(_WindowDetector):
    """``iqr``: Tukey's quartile fences, asymmetric: each side scaled by its own quartile.

    A skewed metric (latencies, order values) gets a wider band on its long side. Arguments as
    for :class:`RobustZDetector`.
    """

    name = "iqr"

    def _scales(self, centre: float) -> tuple[float, float]:
        q1 = self._values.quantile(0.25)
        q3 = self._values.quantile(0.75)
        return MAD_TO_SIGMA * (centre - q1), MAD_TO_SIGMA * (q3 - centre)
