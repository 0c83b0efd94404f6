"""Gradient boosting (LightGBM through mlforecast) on lags, calendar, holidays and regressors.

The target is standardised per series (trees then see the same scale whatever the KPI's unit)
and forecast recursively: each step's prediction feeds the short lags of the next. Trees cannot
extrapolate past the levels they were trained on, so a series whose season explains less than
half of its detrended variation (and has no regressors) is modelled in first differences (a
trend or a wandering level then continues); a strongly seasonal one is modelled in levels,
because differences accumulate the recursion's errors over a long seasonal horizon. Measured
with this model alone on every 10th M4 Hourly and every 5th Weekly series (OWA, lower is
better): the rule 0.49 and 0.93, always levels 0.48 and 1.14, always differences 0.84 and 0.90;
either fixed choice fails badly on one of the two. Lags sit at 1-3 points and around every
usable seasonal period, so the trees see "this hour yesterday" and "this hour last week" next
to the hour of day and the weekday. External regressors are features like the calendar ones;
their future values must be supplied.
"""

from typing import Any, ClassVar

import numpy as np

from gnomon.errors import InternalError
from gnomon.insights.forecast._libraries import (
    lightgbm,
    mlforecast,
    mlforecast_transforms,
    pandas,
    quiet,
)
from gnomon.insights.forecast.features import calendar_features, holiday_counts
from gnomon.insights.forecast.grains import usable_periods
from gnomon.insights.forecast.protocols import ForecasterContext, History, Horizon
from gnomon.insights.forecast.seasonal import seasonal_strength

__all__ = ["LightGbm"]

DIFFERENCE_BELOW = 0.5
"""Seasonal strength under which the target is differenced (see the module)."""

MIN_ROWS = 30
"""Training rows (points after the longest lag) below which trees learn little."""

_SHORT_LAGS = (1, 2, 3)


class LightGbm:
    """LightGBM regression on lag, calendar, holiday and regressor features."""

    name: ClassVar[str] = "lightgbm"

    def __init__(
        self,
        context: ForecasterContext,
        *,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        seed: int = 0,
    ) -> None:
        self._context = context
        self._params = {
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
            "num_leaves": num_leaves,
            "random_state": seed,
            "deterministic": True,
            "n_jobs": 1,
            "verbosity": -1,
        }
        self._model: Any = None
        self._length = 0

    def suits(self, length: int) -> bool:
        """Enough points for the short lags and :data:`MIN_ROWS` training rows."""
        return length >= max(_SHORT_LAGS) + MIN_ROWS

    def lags(self, length: int) -> list[int]:
        """The lags used for a history of ``length`` points."""
        lags = set(_SHORT_LAGS)
        periods = usable_periods(self._context.periods, length)
        for period in periods:
            lags.update((period - 1, period, period + 1))
        if periods:
            lags.add(2 * periods[0])
        return sorted(lag for lag in lags if 0 < lag <= length - MIN_ROWS)

    def differenced(self, history: History) -> bool:
        """Whether the model learns first differences rather than levels.

        Never with regressors: they explain the level, and a difference would need their
        changes instead.
        """
        if history.exog is not None:
            return False
        periods = usable_periods(self._context.periods, len(history))
        strength = seasonal_strength(history.values, periods[0]) if periods else 0.0
        return strength < DIFFERENCE_BELOW

    def fit(self, history: History) -> None:
        """Build the features and train the trees."""
        ml = mlforecast()
        transforms = mlforecast_transforms()
        rows = len(history)
        regressor = lightgbm().LGBMRegressor(
            min_child_samples=min(10, max(3, rows // 20)), **self._params
        )
        target = [transforms.LocalStandardScaler()]
        if self.differenced(history):
            target.insert(0, transforms.Differences([1]))
        self._model = ml.MLForecast(
            models={"lightgbm": regressor},
            freq=1,
            lags=self.lags(rows),
            target_transforms=target,
            num_threads=1,
        )
        with quiet():
            self._model.fit(self._frame(history), static_features=[])
        self._length = rows

    def predict(self, horizon: Horizon) -> np.ndarray:
        """Recursive forecasts after the fitted history."""
        if self._model is None:
            raise InternalError("LightGbm.predict called before fit.")
        with quiet():
            out = self._model.predict(len(horizon), X_df=self._future_frame(horizon, self._length))
        return np.asarray(out["lightgbm"], dtype=np.float64)

    def forward(self, history: History, horizon: Horizon) -> np.ndarray:
        """Recursive forecasts after ``history`` with the fitted trees."""
        if self._model is None:
            raise InternalError("LightGbm.forward called before fit.")
        with quiet():
            out = self._model.predict(
                len(horizon),
                new_df=self._frame(history),
                X_df=self._future_frame(horizon, len(history)),
            )
        return np.asarray(out["lightgbm"], dtype=np.float64)

    def _features(self, times: np.ndarray, exog: np.ndarray | None) -> dict[str, np.ndarray]:
        columns = calendar_features(times, self._context.grain)
        if self._context.country is not None:
            columns["holidays"] = holiday_counts(times, self._context.grain, self._context.country)
        if exog is not None:
            for j in range(exog.shape[1]):
                columns[f"x{j}"] = exog[:, j]
        return columns

    def _frame(self, history: History) -> Any:
        pd = pandas()
        return pd.DataFrame(
            {
                "unique_id": np.zeros(len(history), dtype=np.int64),
                "ds": np.arange(len(history), dtype=np.int64),
                "y": history.values,
                **self._features(history.times, history.exog),
            }
        )

    def _future_frame(self, horizon: Horizon, start: int) -> Any:
        pd = pandas()
        columns = self._features(horizon.times, horizon.exog)
        if not columns:
            return None
        return pd.DataFrame(
            {
                "unique_id": np.zeros(len(horizon), dtype=np.int64),
                "ds": np.arange(start, start + len(horizon), dtype=np.int64),
                **columns,
            }
        )
