"""Seasonal naive: repeat the last cycle. The benchmark every other model has to beat.

It needs no library and no estimation, which also makes it the fallback for series too short
for anything else. Without a usable season it is plain naive (repeat the last value).
"""

from typing import ClassVar

import numpy as np

from gnomon.errors import InternalError
from gnomon.insights.forecast.grains import usable_periods
from gnomon.insights.forecast.protocols import ForecasterContext, History, Horizon

__all__ = ["SeasonalNaive"]


class SeasonalNaive:
    """Repeats the last ``m`` values, ``m`` being the shortest period the history holds twice."""

    name: ClassVar[str] = "seasonal_naive"

    def __init__(self, context: ForecasterContext) -> None:
        self._periods = context.periods
        self._period = 1
        self._last: np.ndarray | None = None

    def suits(self, length: int) -> bool:
        """One value is enough."""
        return length >= 1

    def fit(self, history: History) -> None:
        """Choose the period and remember the last cycle."""
        usable = usable_periods(self._periods, len(history))
        self._period = usable[0] if usable else 1
        self._last = history.values[-self._period :].copy()

    def predict(self, horizon: Horizon) -> np.ndarray:
        """The last cycle, repeated over the horizon."""
        if self._last is None:
            raise InternalError("SeasonalNaive.predict called before fit.")
        return np.resize(self._last, len(horizon)).astype(np.float64)

    def forward(self, history: History, horizon: Horizon) -> np.ndarray:
        """The last cycle of ``history`` (same period as fitted), repeated."""
        return np.resize(history.values[-self._period :], len(horizon)).astype(np.float64)
