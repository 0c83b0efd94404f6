"""``ewma``: a point outside the control limits of an exponentially weighted mean.

The mean and the variance of the deviations are both exponentially weighted, so the limits adapt
to drift in O(1) per point. Deviations are clipped at ``clip`` sigmas before they update the
state: a spike moves the mean and the limits by a bounded amount, and a level shift is followed
within a few dozen points instead of at once. With a season, every phase keeps its own mean and
the variance is pooled.
"""

import math
from typing import Any

from gnomon.insights.detect._base import Expectation, Univariate, check_float, check_int

__all__ = ["EwmaDetector"]


class EwmaDetector(Univariate):
    """``ewma``: exponentially weighted mean and variance with clipped updates.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points, or ``None``; each phase then has its own mean.
        threshold: an explicit score threshold (overrides the sensitivity).
        alpha: weight of a new point in the mean.
        beta: weight of a new deviation in the variance.
        clip: deviations beyond this many sigmas update the state as if they were this large.
        min_history: points seen (per phase, with a season) before the detector judges.
    """

    name = "ewma"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        alpha: float = 0.1,
        beta: float = 0.05,
        clip: float = 4.0,
        min_history: int = 10,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        self.alpha = check_float("alpha", alpha, low=1e-4, high=1.0)
        self.beta = check_float("beta", beta, low=1e-4, high=1.0)
        self.clip = check_float("clip", clip, low=1.0, high=100.0)
        self.min_history = check_int("min_history", min_history, minimum=2)
        phases = self.season or 1
        self._mean = [math.nan] * phases
        self._seen = [0] * phases
        self._var = 0.0
        self._deviations = 0

    def _own_params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "clip": self.clip,
            "min_history": self.min_history,
        }

    def _phase(self) -> int:
        return self._position % self.season if self.season else 0

    def _expect(self) -> Expectation | None:
        phase = self._phase()
        if self._seen[phase] < self.min_history or self._deviations < self.min_history:
            return None
        mean = self._mean[phase]
        scale = max(math.sqrt(self._var), 1e-12 * max(1.0, abs(mean)))
        return mean, scale, scale

    def _learn(self, value: float, expectation: Expectation | None) -> None:
        phase = self._phase()
        mean = self._mean[phase]
        self._seen[phase] += 1
        if math.isnan(mean):
            self._mean[phase] = value
            return
        deviation = value - mean
        if not math.isfinite(deviation):
            return
        if expectation is not None:
            limit = self.clip * expectation[1]
            deviation = max(-limit, min(limit, deviation))
            var = self._var + self.beta * (deviation * deviation - self._var)
        else:
            # Warm-up: equal weights, so the first variance is not the first deviation's.
            self._deviations += 1
            var = self._var + (deviation * deviation - self._var) / self._deviations
        if math.isfinite(var):
            self._var = var
        weight = self.alpha if expectation is not None else 1.0 / self._seen[phase]
        self._mean[phase] = mean + weight * deviation
