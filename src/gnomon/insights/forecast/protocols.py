"""What the selection needs of a forecasting model, built-in or plugin.

A forecaster is built for one series' grain, seasonal periods and holiday country, fitted once,
and then asked for forecasts. Intervals are not its business: every model's intervals come from
its own backtest errors (see :mod:`gnomon.insights.forecast.intervals`), so a plugin only has to
give point forecasts.

``forward`` is what keeps the backtest cheap: it forecasts from a longer history with the
parameters already estimated (rolling origin without re-estimation), so each candidate is fitted
once for all backtest windows instead of once per window.
"""

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from gnomon.insights.forecast.grains import Grain

__all__ = ["Forecaster", "ForecasterContext", "History", "Horizon"]


@dataclass(frozen=True, slots=True)
class ForecasterContext:
    """What a forecaster is built for.

    Attributes:
        grain: the series' time grain.
        periods: the series' seasonal periods in points, ascending; a model uses those its
            training history holds at least two cycles of.
        country: ISO 3166 code whose public holidays are features, or ``None``.
    """

    grain: Grain
    periods: tuple[int, ...]
    country: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    """The past a forecaster learns from or forecasts after.

    Attributes:
        values: float64, every value finite (the selection fills gaps before fitting).
        times: datetime64[us], one per value.
        exog: float64 (n, k) external regressors aligned with ``values``, or ``None``.
    """

    values: np.ndarray
    times: np.ndarray
    exog: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def head(self, n: int) -> "History":
        """The first ``n`` points."""
        exog = None if self.exog is None else self.exog[:n]
        return History(self.values[:n], self.times[:n], exog)


@dataclass(frozen=True, slots=True)
class Horizon:
    """The periods to forecast.

    Attributes:
        times: datetime64[us], the future timestamps in order.
        exog: float64 (h, k) future values of the regressors, or ``None``.
    """

    times: np.ndarray
    exog: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.times.shape[0])


@runtime_checkable
class Forecaster(Protocol):
    """A point forecasting model for one series."""

    name: str

    def suits(self, length: int) -> bool:
        """Whether it can be fitted on a history of ``length`` points (and is worth trying)."""
        ...

    def fit(self, history: History) -> None:
        """Estimate the model on ``history``."""
        ...

    def predict(self, horizon: Horizon) -> np.ndarray:
        """Point forecasts for ``horizon`` right after the fitted history (float64, finite)."""
        ...

    def forward(self, history: History, horizon: Horizon) -> np.ndarray:
        """Point forecasts after ``history`` (which extends the fitted one), not re-estimating."""
        ...
