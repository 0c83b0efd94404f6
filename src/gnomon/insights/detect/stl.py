"""``stl``: the residual of a point after STL's trend and seasonal components, in robust sigmas.

STL is a batch decomposition, so it is refitted on the trailing ``window`` points every
``refit`` points (the points before the one being judged, never after). Between fits the
seasonal indices stay as fitted and the level follows the data by exponential smoothing of
clipped residuals, so a level shift stops being flagged without waiting for the next fit. The
scale is the MAD of recent one-step errors: STL's in-sample residuals are smaller than the errors
of predicting a point it has not seen, and would flag too much.
"""

import math
from collections import deque
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import Expectation, Row, Univariate, check_float, check_int
from gnomon.insights.detect._window import SortedWindow
from gnomon.insights.spread import MAD_TO_SIGMA, MEANAD_TO_SIGMA
from gnomon.optional import require

__all__ = ["StlDetector"]

_ERRORS_NEEDED = 10
"""One-step errors needed before judging: the scale comes from them."""


class StlDetector(Univariate):
    """``stl``: STL residuals, refitted periodically on a trailing window.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        season: period in points (required, at least 2).
        threshold: an explicit score threshold (overrides the sensitivity).
        window: trailing points each fit sees (default: six seasons, at least 2·season + 1).
        refit: points between fits (default: one season).
        alpha: how fast the level follows residuals between fits.
        clip: residuals beyond this many sigmas move the level as if they were this large.
        robust: STL's robust fitting (down-weights outliers).
    """

    name = "stl"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        window: int | None = None,
        refit: int | None = None,
        alpha: float = 0.1,
        clip: float = 4.0,
        robust: bool = True,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold)
        if self.season is None:
            raise InvalidInput(
                "The stl detector needs a season: STL separates a seasonal component.",
                hint="Pass season=<period in points> (7 for daily data with a weekly cycle).",
            )
        least = 2 * self.season + 1
        self.window = check_int(
            "window", 6 * self.season if window is None else window, minimum=least
        )
        self.refit = check_int("refit", self.season if refit is None else refit, minimum=1)
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0)
        self.clip = check_float("clip", clip, low=1.0, high=100.0)
        if not isinstance(robust, bool):
            raise InvalidInput(f"Invalid robust {robust!r}: expected true or false.")
        self.robust = robust
        self._buffer: deque[float] = deque(maxlen=self.window)
        self._finite = 0
        self._since_fit = 0
        self._fitted = False
        self._seasonal = np.zeros(self.season)
        self._level = 0.0
        self._scale = 0.0
        self._errors = SortedWindow(self.window)

    def _own_params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "refit": self.refit,
            "alpha": self.alpha,
            "clip": self.clip,
            "robust": self.robust,
        }

    def _predict(self) -> float | None:
        if not self._fitted:
            return None
        return self._level + float(self._seasonal[self._position % len(self._seasonal)])

    def _expect(self) -> Expectation | None:
        # Until some one-step errors are known the scale is a guess: keep warming up.
        expected = self._predict()
        if expected is None or len(self._errors) < _ERRORS_NEEDED:
            return None
        scale = max(MAD_TO_SIGMA * self._errors.median(), self._scale)
        scale = max(scale, 1e-12 * max(1.0, abs(expected)))
        return expected, scale, scale

    def _step(self, x: float) -> Row:
        row = super()._step(x)
        # Every position enters the buffer (NaN too) so phases stay aligned with positions.
        self._buffer.append(x if math.isfinite(x) else math.nan)
        self._finite += math.isfinite(x)
        self._since_fit += 1
        if self._since_fit >= self.refit or not self._fitted:
            self._fit()
        return row

    def _learn(self, value: float, expectation: Expectation | None) -> None:
        expected = self._predict()
        if expected is None:
            return
        error = value - expected
        if not math.isfinite(error):
            return
        self._errors.push(abs(error))
        if expectation is not None:
            limit = self.clip * expectation[1]
            self._level += self.alpha * max(-limit, min(limit, error))

    def _fit(self) -> None:
        with np.errstate(all="ignore"):
            self._fit_quietly()

    def _fit_quietly(self) -> None:
        season = len(self._seasonal)
        values = np.array(self._buffer, dtype=np.float64)
        finite = np.isfinite(values)
        if values.size < 2 * season + 1 or finite.sum() < 2 * season + 1:
            return
        index = np.arange(values.size)
        if not finite.all():
            values = np.interp(index, index[finite], values[finite])
        if np.ptp(values) == 0 or not np.isfinite(np.ptp(values)):
            trend = np.full(values.size, values[-1])
            seasonal = np.zeros(values.size)
        else:
            stl = require("statsmodels.tsa.seasonal", extra="insights").STL
            fit = stl(values, period=season, robust=self.robust).fit()
            trend, seasonal = np.asarray(fit.trend), np.asarray(fit.seasonal)
        residual = values - trend - seasonal
        if not (np.isfinite(trend[-1]) and np.isfinite(seasonal).all()):
            return
        # The buffer ends at position self._position (already advanced past the last point).
        start = self._position - values.size
        phases = (start + index) % season
        last = values.size - season + np.arange(season)
        self._seasonal[phases[last]] = seasonal[last]
        self._level = float(trend[-1])
        live = residual[finite]
        mad = float(np.median(np.abs(live - np.median(live))))
        spread = float(np.mean(np.abs(live - np.median(live))))
        self._scale = max(MAD_TO_SIGMA * mad, 0.25 * MEANAD_TO_SIGMA * spread)
        self._since_fit = 0
        self._fitted = True
