"""Exponential smoothing, ARIMA, Theta and MSTL, estimated by statsforecast.

Each model uses the shortest seasonal period its history holds twice. A period longer than the
model can hold as a state (24 for exponential smoothing; 12 for ARIMA, whose seasonal search at
24 takes minutes per series) is removed first by classical seasonal adjustment and put back
after forecasting, as the M4 benchmarks did; Theta always works on the adjusted series, as the
classic method does. MSTL takes every usable period at once.

Fitting is the expensive part (0.05-1 s per series); ``forward`` reuses the estimated
parameters on a longer history, which costs a filter pass.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gnomon.errors import InternalError
from gnomon.insights.forecast._libraries import quiet, statsforecast_models
from gnomon.insights.forecast.grains import usable_periods
from gnomon.insights.forecast.protocols import ForecasterContext, History, Horizon
from gnomon.insights.forecast.seasonal import Adjustment, adjust, is_seasonal

__all__ = ["Arima", "Ets", "Mstl", "Theta"]


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a model is built for: its seasonal state period (1: none) and the history length."""

    period: int
    length: int


class _Statistical(ABC):
    """A statsforecast model, fitted on the recent history, optionally on adjusted values."""

    name: ClassVar[str]
    min_points: ClassVar[int] = 8
    max_state_period: ClassVar[int] = 0
    """Longest seasonal period the model holds itself; longer ones are adjusted away."""
    max_history: ClassVar[int] = 2000
    """Only the most recent points are fitted: older ones cost time and rarely help."""
    uses_exog: ClassVar[bool] = False

    def __init__(self, context: ForecasterContext) -> None:
        self._context = context
        self._model: Any = None
        self._adjust_period = 0
        self._adjustment: Adjustment | None = None

    def suits(self, length: int) -> bool:
        """Enough points to estimate a few parameters."""
        return length >= self.min_points

    @abstractmethod
    def _build(self, shape: _Shape) -> Any:
        """The unfitted statsforecast model."""

    def fit(self, history: History) -> None:
        """Choose the period, adjust the values if needed, and estimate the model."""
        y = history.values[-self.max_history :]
        usable = usable_periods(self._context.periods, len(y))
        period = usable[0] if usable else 1
        state_period = period if period <= self.max_state_period else 1
        self._adjust_period = period if period > state_period else 0
        y = self._adjusted(y, test=True)
        self._model = self._build(_Shape(period=state_period, length=len(y)))
        with quiet():
            self._model.fit(y, X=self._exog(history, len(y)))

    def predict(self, horizon: Horizon) -> np.ndarray:
        """Point forecasts after the fitted history."""
        if self._model is None:
            raise InternalError(f"{type(self).__name__}.predict called before fit.")
        with quiet():
            mean = self._model.predict(len(horizon), X=self._future_exog(horizon))["mean"]
        return self._restored(np.asarray(mean, dtype=np.float64))

    def forward(self, history: History, horizon: Horizon) -> np.ndarray:
        """Point forecasts after ``history`` with the fitted parameters."""
        if self._model is None:
            raise InternalError(f"{type(self).__name__}.forward called before fit.")
        y = self._adjusted(history.values[-self.max_history :], test=False)
        x = self._exog(history, len(y))
        with quiet():
            mean = self._model.forward(y, len(horizon), X=x, X_future=self._future_exog(horizon))[
                "mean"
            ]
        return self._restored(np.asarray(mean, dtype=np.float64))

    def _adjusted(self, y: np.ndarray, *, test: bool) -> np.ndarray:
        """At fit time, adjust only a series that tests seasonal; later, as decided then."""
        period = self._adjust_period
        if test:
            seasonal = bool(period) and is_seasonal(y, period)
            self._adjustment = adjust(y, period, test=False) if seasonal else None
        elif self._adjustment is not None:
            kind = self._adjustment.multiplicative
            self._adjustment = adjust(y, period, test=False, multiplicative=kind)
        return y if self._adjustment is None else self._adjustment.adjusted

    def _restored(self, mean: np.ndarray) -> np.ndarray:
        return mean if self._adjustment is None else self._adjustment.restore(mean)

    def _exog(self, history: History, length: int) -> np.ndarray | None:
        """The regressors of the last ``length`` points, for the models that use them."""
        if not self.uses_exog or history.exog is None:
            return None
        return history.exog[-length:]

    def _future_exog(self, horizon: Horizon) -> np.ndarray | None:
        return horizon.exog if self.uses_exog else None


class Ets(_Statistical):
    """Exponential smoothing (error, trend, season chosen by AICc; damped trend considered)."""

    name: ClassVar[str] = "ets"
    max_state_period: ClassVar[int] = 24

    def _build(self, shape: _Shape) -> Any:
        seasonal = shape.period > 1
        return statsforecast_models().AutoETS(
            season_length=shape.period, model="ZZZ" if seasonal else "ZZN"
        )


class Arima(_Statistical):
    """ARIMA with automatic orders; external regressors enter as a regression with ARIMA errors."""

    name: ClassVar[str] = "arima"
    min_points: ClassVar[int] = 12
    max_state_period: ClassVar[int] = 12
    max_history: ClassVar[int] = 1000
    uses_exog: ClassVar[bool] = True

    def _build(self, shape: _Shape) -> Any:
        return statsforecast_models().AutoARIMA(season_length=shape.period)


class Theta(_Statistical):
    """The dynamic optimised Theta method (the classic M3 winner, with the theta line fitted)."""

    name: ClassVar[str] = "theta"
    max_state_period: ClassVar[int] = 1  # seasons are adjusted away, additive or multiplicative

    def _build(self, shape: _Shape) -> Any:
        return statsforecast_models().DynamicOptimizedTheta(season_length=shape.period)


class Mstl(_Statistical):
    """MSTL: every usable season by LOESS, the remaining trend by non-seasonal smoothing."""

    name: ClassVar[str] = "mstl"
    max_state_period: ClassVar[int] = 1_000_000  # LOESS takes every period: nothing to adjust

    def suits(self, length: int) -> bool:
        """Only worth it with a season the history holds twice."""
        return bool(usable_periods(self._context.periods, length)) and length >= self.min_points

    def _build(self, shape: _Shape) -> Any:
        models = statsforecast_models()
        return models.MSTL(
            season_length=list(usable_periods(self._context.periods, shape.length)),
            trend_forecaster=models.AutoETS(model="ZZN"),
        )
