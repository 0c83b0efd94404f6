"""Forecasts of KPI series: candidate models, selection by backtest, conformal intervals.

A pure numeric library: a :class:`Series` in, a :class:`Forecast` out, nothing about metrics,
tenants or storage. :func:`forecast` backtests the candidate models over rolling origins, keeps
the best (or the mean of the best few) and calibrates prediction intervals on its backtest
errors; ``Forecast.params()`` records how, for a model registry. :func:`backtest` scores one
model the same way, and :func:`smape` and :func:`mase` are the M4 competition's metrics.

The models need the optional libraries of the ``forecast`` extra (statsforecast, mlforecast,
LightGBM, holidays); only seasonal naive works without them.

>>> import numpy as np
>>> times = np.arange("2024-01-01", "2024-03-01", dtype="datetime64[D]")
>>> values = np.tile([5.0, 6.0, 7.0, 6.0, 8.0, 3.0, 2.0], 9)[: len(times)]
>>> f = forecast(Series(times, values, "day"), 7, models=["seasonal_naive"])
>>> f.model, f.mean.tolist()[:3], str(f.times[0])[:10]
('seasonal_naive', [8.0, 3.0, 2.0], '2024-03-01')
"""

from gnomon.insights.forecast.backtest import backtest
from gnomon.insights.forecast.factory import MODELS
from gnomon.insights.forecast.grains import GRAINS, Grain
from gnomon.insights.forecast.metrics import coverage, mase, smape
from gnomon.insights.forecast.models import Forecast, Series
from gnomon.insights.forecast.protocols import Forecaster, ForecasterContext, History, Horizon
from gnomon.insights.forecast.selection import forecast

__all__ = [
    "GRAINS",
    "MODELS",
    "Forecast",
    "Forecaster",
    "ForecasterContext",
    "Grain",
    "History",
    "Horizon",
    "Series",
    "backtest",
    "coverage",
    "forecast",
    "mase",
    "smape",
]
