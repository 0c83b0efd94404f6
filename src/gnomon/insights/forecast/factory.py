"""Forecasting models by name: the built-ins, imported lazily, and plugins by entry point.

A plugin registers a factory ``factory(context) -> Forecaster`` under the entry-point group
``gnomon.forecasters``; it is then a candidate like the built-ins when named in ``models``.
"""

from gnomon.insights.forecast.protocols import Forecaster, ForecasterContext
from gnomon.registry import Registry

__all__ = ["AUTOMATIC", "ENSEMBLE", "MODELS", "build", "known_models"]

ENSEMBLE = "ensemble"

MODELS: tuple[str, ...] = (
    "seasonal_naive",
    "ets",
    "arima",
    "theta",
    "mstl",
    "lightgbm",
    ENSEMBLE,
)
"""The built-in models; ``ensemble`` is the mean of the best few others by backtest."""

AUTOMATIC: tuple[str, ...] = ("seasonal_naive", "theta", "mstl", "ets", "lightgbm", "arima")
"""The candidates of automatic selection, cheapest first."""

_BUILTINS = {
    "seasonal_naive": "gnomon.insights.forecast.forecasters.naive:SeasonalNaive",
    "ets": "gnomon.insights.forecast.forecasters.statistical:Ets",
    "arima": "gnomon.insights.forecast.forecasters.statistical:Arima",
    "theta": "gnomon.insights.forecast.forecasters.statistical:Theta",
    "mstl": "gnomon.insights.forecast.forecasters.statistical:Mstl",
    "lightgbm": "gnomon.insights.forecast.forecasters.boosting:LightGbm",
}

_registry: Registry[Forecaster] = Registry(
    "forecasting model", entry_point_group="gnomon.forecasters"
)
for _name, _target in _BUILTINS.items():
    _registry.add_lazy(_name, _target)


def known_models() -> list[str]:
    """Every model name accepted in ``models``: the built-ins, ``ensemble`` and plugins."""
    return sorted({*_registry.names(), ENSEMBLE})


def build(name: str, context: ForecasterContext) -> Forecaster:
    """A new, unfitted forecaster ``name`` for a series described by ``context``.

    Raises:
        InvalidInput: no model has that name; the message lists the known ones.
    """
    return _registry.get(name)(context)
