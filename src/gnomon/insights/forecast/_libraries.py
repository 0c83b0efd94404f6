"""The optional forecasting libraries, imported on first use through ``gnomon.optional.require``.

They are heavy (statsmodels, LightGBM, pandas) and only the forecasting models need them, so
importing :mod:`gnomon.insights.forecast` costs nothing until a model is fitted.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from types import ModuleType

import numpy as np

from gnomon.optional import require

__all__ = [
    "EXTRA",
    "holidays",
    "lightgbm",
    "mlforecast",
    "mlforecast_transforms",
    "pandas",
    "quiet",
    "statsforecast_models",
    "versions",
]

EXTRA = "forecast"
"""The packaging extra that installs these libraries."""

_PACKAGES = ("numpy", "statsforecast", "mlforecast", "lightgbm", "holidays", "pandas")


def statsforecast_models() -> ModuleType:
    """``statsforecast.models``."""
    return require("statsforecast.models", extra=EXTRA)


def mlforecast() -> ModuleType:
    """``mlforecast``."""
    return require("mlforecast", extra=EXTRA)


def mlforecast_transforms() -> ModuleType:
    """``mlforecast.target_transforms``."""
    return require("mlforecast.target_transforms", extra=EXTRA)


def pandas() -> ModuleType:
    """``pandas``, which the model libraries exchange data in."""
    return require("pandas", extra=EXTRA)


def lightgbm() -> ModuleType:
    """``lightgbm``."""
    return require("lightgbm", extra=EXTRA)


def holidays() -> ModuleType:
    """``holidays``."""
    return require("holidays", extra=EXTRA)


def versions() -> dict[str, str | None]:
    """Installed versions of the libraries a forecast depends on (``None``: not installed)."""
    found: dict[str, str | None] = {}
    for package in ("gnomon", *_PACKAGES):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


@contextmanager
def quiet() -> Iterator[None]:
    """Silence the libraries' routine warnings (a model falling back, a short series).

    They are about choices the selection makes anyway, and the test suite turns warnings into
    errors.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield
