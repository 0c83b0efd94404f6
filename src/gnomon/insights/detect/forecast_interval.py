"""``forecast_interval``: a point outside the one-step-ahead prediction interval of a forecaster.

The built-in forecaster is additive Holt-Winters with a damped trend, run online in
error-correction form (O(1) per point): one-step error ``e``, then level, trend and the phase's
seasonal index each move by a share of ``e``. The interval's sigma is an exponentially weighted
RMS of past one-step errors. Errors are clipped at ``clip`` sigmas before they update anything,
so an anomaly does not teach the model to expect more anomalies.

A heavier forecaster can be plugged in as ``predictor``: a callable that receives the finite
values seen so far (at most ``history`` of them, oldest first) and returns the one-step-ahead
mean and standard deviation.
"""

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from gnomon.errors import GnomonError, InvalidInput, UserCodeError
from gnomon.insights.detect._base import Expectation, Univariate, check_float, check_int

__all__ = ["ForecastIntervalDetector", "Predictor"]

Predictor = Callable[[np.ndarray], tuple[float, float]]
"""``history -> (mean, standard deviation)`` of the next point."""


class ForecastIntervalDetector(Univariate):
    """``forecast_interval``: one-step prediction interval of online Holt-Winters (or a plug-in).

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points, or ``None`` for level and trend only.
        threshold: an explicit score threshold (overrides the sensitivity).
        alpha: level smoothing.
        beta: trend smoothing (as a share of ``alpha``).
        gamma: seasonal smoothing.
        phi: trend damping (1: none).
        kappa: weight of a new squared error in the interval's variance.
        clip: errors beyond this many sigmas update the model as if they were this large.
        min_history: finite points before the detector judges (at least two seasons).
        predictor: optional forecaster replacing Holt-Winters; not part of :meth:`params`,
            pass it again when rebuilding.
        history: how many past values the predictor receives (default: at least 500).
    """

    name = "forecast_interval"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        alpha: float = 0.2,
        beta: float = 0.05,
        gamma: float = 0.1,
        phi: float = 0.98,
        kappa: float = 0.05,
        clip: float = 4.0,
        min_history: int | None = None,
        predictor: Predictor | None = None,
        history: int | None = None,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        self.alpha = check_float("alpha", alpha, low=1e-4, high=1.0)
        self.beta = check_float("beta", beta, low=0.0, high=1.0)
        self.gamma = check_float("gamma", gamma, low=0.0, high=1.0)
        self.phi = check_float("phi", phi, low=0.0, high=1.0)
        self.kappa = check_float("kappa", kappa, low=1e-4, high=1.0)
        self.clip = check_float("clip", clip, low=1.0, high=100.0)
        least = max(10, 2 * (self.season or 0))
        self.min_history = check_int(
            "min_history", least if min_history is None else min_history, minimum=least
        )
        if predictor is not None and not callable(predictor):
            raise InvalidInput(
                f"Invalid predictor {predictor!r}: expected a callable history -> (mean, std)."
            )
        self.predictor = predictor
        self.history = check_int(
            "history",
            max(500, self.min_history) if history is None else history,
            minimum=self.min_history,
        )
        self._recent: deque[float] = deque(maxlen=self.history)
        self._warmup: list[tuple[int, float]] = []
        self._ready = False
        self._level = 0.0
        self._trend = 0.0
        self._seasonal = [0.0] * (self.season or 1)
        self._var = 0.0

    def _own_params(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "phi": self.phi,
            "kappa": self.kappa,
            "clip": self.clip,
            "min_history": self.min_history,
            "history": self.history,
        }

    def _phase(self, position: int) -> int:
        return position % self.season if self.season else 0

    def _expect(self) -> Expectation | None:
        if self.predictor is not None:
            if len(self._recent) < self.min_history:
                return None
            return self._predicted(self.predictor)
        if not self._ready:
            return None
        mean = self._forecast(self._position)
        scale = max(math.sqrt(self._var), 1e-12 * max(1.0, abs(mean)))
        return mean, scale, scale

    def _predicted(self, predictor: Predictor) -> Expectation:
        try:
            mean, std = predictor(np.array(self._recent, dtype=np.float64))
            mean, std = float(mean), float(std)
        except GnomonError:
            raise
        except Exception as exc:
            raise UserCodeError(f"The anomaly predictor failed: {exc}.") from exc
        if not math.isfinite(mean) or not std >= 0:
            raise UserCodeError(
                f"The anomaly predictor returned mean {mean!r} and std {std!r}.",
                hint="Return a finite mean and a non-negative standard deviation.",
            )
        scale = max(std, 1e-12 * max(1.0, abs(mean)))
        return mean, scale, scale

    def _forecast(self, position: int) -> float:
        return self._level + self.phi * self._trend + self._seasonal[self._phase(position)]

    def _learn(self, value: float, expectation: Expectation | None) -> None:
        if self.predictor is not None:
            self._recent.append(value)
            return
        if not self._ready:
            self._warmup.append((self._position, value))
            if len(self._warmup) >= self.min_history:
                self._start()
            return
        limit = None if expectation is None else self.clip * expectation[1]
        self._correct(self._position, value, limit=limit)

    def _start(self) -> None:
        """Initial state from the warm-up points, then replay them to size the interval."""
        values = np.array([v for _, v in self._warmup])
        self._level = float(values.mean())
        if self.season:
            phases = np.array([self._phase(p) for p, _ in self._warmup])
            deviations = values - self._level
            for j in range(self.season):
                mine = deviations[phases == j]
                self._seasonal[j] = float(mine.mean()) if mine.size else 0.0
        first = self._warmup[0][1]
        self._level = first - self._seasonal[self._phase(self._warmup[0][0])]
        squares = 0.0
        count = 0
        for position, value in self._warmup[1:]:
            error = self._correct(position, value, limit=None)
            if math.isfinite(error):
                squares += error * error
                count += 1
        self._var = squares / count if count else 0.0
        if not math.isfinite(self._var):
            self._var = 0.0
        self._ready = True
        self._warmup = []

    def _correct(self, position: int, value: float, *, limit: float | None) -> float:
        """Error-correction update for ``value``; returns the raw one-step error."""
        error = value - self._forecast(position)
        if not math.isfinite(error):
            return error
        clipped = error if limit is None else max(-limit, min(limit, error))
        damped = self.phi * self._trend
        self._level += damped + self.alpha * clipped
        self._trend = damped + self.alpha * self.beta * clipped
        if self.season:
            self._seasonal[self._phase(position)] += self.gamma * (1 - self.alpha) * clipped
        if limit is not None:
            var = self._var + self.kappa * (clipped * clipped - self._var)
            if math.isfinite(var):
                self._var = var
        return error
