"""Insights on KPI series: anomaly detection, forecasting, and the scans that apply them.

:mod:`gnomon.insights.detect` scores points of a series and :mod:`gnomon.insights.forecast`
predicts its next periods; both work on plain numeric series and know nothing of metrics,
tenants or the lake. :class:`InsightsService` feeds them a metric's series as a reader may see
them and records what they find.

The names below are imported on first use: worker processes that only score series import
:mod:`gnomon.insights.scoring` without loading the catalog, the lake and the engines.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gnomon.insights.series import KpiSeries, SeriesRequest, extract_series, season_of
    from gnomon.insights.service import (
        ANOMALY_EVENT,
        InsightsService,
        ScanProgress,
        ScanResult,
        anomaly_row,
    )

__all__ = [
    "ANOMALY_EVENT",
    "InsightsService",
    "KpiSeries",
    "ScanProgress",
    "ScanResult",
    "SeriesRequest",
    "anomaly_row",
    "extract_series",
    "season_of",
]

_HOMES = {
    "KpiSeries": "series",
    "SeriesRequest": "series",
    "extract_series": "series",
    "season_of": "series",
    "ANOMALY_EVENT": "service",
    "InsightsService": "service",
    "ScanProgress": "service",
    "ScanResult": "service",
    "anomaly_row": "service",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gnomon.insights' has no attribute {name!r}")
    return getattr(import_module(f"gnomon.insights.{home}"), name)
