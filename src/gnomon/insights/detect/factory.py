"""``detector(name, ...)``: every detector by name, built from plain, JSON-able parameters.

A detector's ``params()`` is exactly what this function takes back, so a registry record
rebuilds the same detector, threshold included. Built-ins load lazily (the multivariate ones
pull in scikit-learn or PyTorch only when asked for); plugins register under the entry-point
group ``gnomon.detectors``.
"""

import inspect
from typing import Any, Literal, overload

from gnomon.errors import InvalidInput
from gnomon.insights.detect.protocols import Detector, FrameDetector
from gnomon.registry import Registry

__all__ = ["DETECTORS", "MULTIVARIATE", "detector"]

UnivariateName = Literal[
    "robust_z", "iqr", "ewma", "stl", "forecast_interval", "ensemble", "novelty", "kpi"
]
MultivariateName = Literal["isolation_forest", "autoencoder"]

DETECTORS: tuple[str, ...] = (
    "robust_z",
    "iqr",
    "ewma",
    "stl",
    "forecast_interval",
    "ensemble",
    "novelty",
    "kpi",
)
"""The univariate detectors: ``score_series``, ``update``, ``feedback``."""

MULTIVARIATE: tuple[str, ...] = ("isolation_forest", "autoencoder")
"""The multivariate detectors: ``score_frame`` over rows of k columns."""

_BUILTINS = {
    "robust_z": "gnomon.insights.detect.robust:RobustZDetector",
    "iqr": "gnomon.insights.detect.robust:IqrDetector",
    "ewma": "gnomon.insights.detect.ewma:EwmaDetector",
    "stl": "gnomon.insights.detect.stl:StlDetector",
    "forecast_interval": "gnomon.insights.detect.forecast_interval:ForecastIntervalDetector",
    "ensemble": "gnomon.insights.detect.ensemble:EnsembleDetector",
    "novelty": "gnomon.insights.detect.novelty:NoveltyDetector",
    "kpi": "gnomon.insights.detect.kpi:KpiDetector",
    "isolation_forest": "gnomon.insights.detect.frame:IsolationForestDetector",
    "autoencoder": "gnomon.insights.detect.frame:AutoencoderDetector",
}

_registry: Registry[Any] = Registry("detector", entry_point_group="gnomon.detectors")
for _name, _target in _BUILTINS.items():
    _registry.add_lazy(_name, _target)


@overload
def detector(
    name: UnivariateName,
    *,
    sensitivity: str = "medium",
    season: int | None = None,
    **params: Any,
) -> Detector: ...


@overload
def detector(
    name: MultivariateName,
    *,
    sensitivity: str = "medium",
    season: int | None = None,
    **params: Any,
) -> FrameDetector: ...


@overload
def detector(
    name: str,
    *,
    sensitivity: str = "medium",
    season: int | None = None,
    **params: Any,
) -> Detector | FrameDetector: ...


def detector(
    name: str,
    *,
    sensitivity: str = "medium",
    season: int | None = None,
    **params: Any,
) -> Detector | FrameDetector:
    """Build the detector called ``name``.

    Args:
        name: one of :data:`DETECTORS` or :data:`MULTIVARIATE` (or a plugin's name).
        sensitivity: ``"low"`` flags fewest points, ``"high"`` most.
        season: period in points (7 for daily data with a weekly cycle), or ``None``.
        **params: the detector's own parameters (see its class), and ``threshold``: an explicit
            score threshold as stored by ``params()``.

    Raises:
        InvalidInput: unknown name, unknown parameter or a bad value; the message lists the
            valid choices.

    >>> d = detector("robust_z", window=30)
    >>> d.params()["window"], detector(**d.params()).params() == d.params()
    (30, True)
    """
    if not isinstance(name, str):
        raise InvalidInput(f"Invalid detector name {name!r}: expected a string.")
    factory = _registry.get(name)
    accepted = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            valid = sorted(set(accepted) - {"sensitivity", "season"})
            raise InvalidInput(
                f"Unknown parameter(s) for detector {name!r}: {', '.join(unknown)}. "
                f"Use: {', '.join(valid)}.",
                valid=valid,
            )
    made: Detector | FrameDetector = factory(sensitivity=sensitivity, season=season, **params)
    return made
