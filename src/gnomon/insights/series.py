"""A metric's time series as a reader sees them: overall and per segment, at the metric's grain.

Why through the semantic layer and not from the tables: a series is the metric's definition
applied to the rows the reader may see (tenant, row and column policies), exactly as a metric
query answers it, so an anomaly is only ever found in data its reader could have queried. One
query per dimension (or pair) gives every value's series at once.

The last bucket is left out while it is still filling (today's revenue so far is not a drop),
and so are segments too small to judge: below ``min_share`` of the metric's volume (its total
for sums and counts, the denominator's for ratios) or with fewer than ``min_points`` buckets
holding data.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from gnomon.context import RequestContext
from gnomon.semantic import Metric, MetricQuery, SemanticLayer, SemanticService
from gnomon.semantic.definitions import MonitorSpec

__all__ = ["KpiSeries", "SeriesRequest", "extract_series", "float_column", "season_of"]

_ADDITIVE = frozenset({"sum", "count", "count_distinct"})
_SEASONS: Mapping[str, int | None] = {
    "minute": 60,
    "hour": 24,
    "day": 7,
    "week": None,
    "month": 12,
    "quarter": 4,
    "fiscal_quarter": 4,
    "year": None,
    "fiscal_year": None,
}


def season_of(grain: str) -> int | None:
    """The seasonal period a grain's series usually has (a week of days, a day of hours …)."""
    return _SEASONS.get(grain)


@dataclass(frozen=True, slots=True)
class KpiSeries:
    """One series of a metric: overall (``segment`` empty) or for one segment.

    Attributes:
        times: bucket starts (UTC wall-clock time), ascending, on the metric's grain.
        values: the metric per bucket; NaN where it has no value.
        share: the segment's share of the metric's volume (1.0 overall); ``None`` where the
            metric has no volume to share (an average, a running total).
    """

    metric: str
    grain: str
    segment: Mapping[str, Any]
    times: np.ndarray
    values: np.ndarray
    share: float | None = None

    @property
    def label(self) -> str:
        """``metric`` or ``metric[region=EMEA, channel=web]``, for messages and logs."""
        if not self.segment:
            return self.metric
        inner = ", ".join(f"{k}={v}" for k, v in self.segment.items())
        return f"{self.metric}[{inner}]"


@dataclass(frozen=True, slots=True)
class SeriesRequest:
    """What to extract for one metric."""

    metric: str
    monitor: MonitorSpec = field(default_factory=MonitorSpec)
    max_points: int = 1_000
    segments: bool = True
    """Whether to add the per-segment series to the overall one."""


def extract_series(
    semantic: SemanticService,
    request: SeriesRequest,
    *,
    ctx: RequestContext,
    now: datetime,
) -> list[KpiSeries]:
    """The overall series of the metric, then each segment's that passes the volume rule.

    Raises:
        UnknownMetric: the metric is not defined.
        MetricQueryError: the metric cannot be queried over time (no time column, say).
    """
    layer = semantic.layer(ctx=ctx)
    metric = layer.metric(request.metric)
    grain = metric.spec.grain
    volume = _volume_metric(layer, metric)
    names = [metric.name] if volume in (None, metric.name) else [metric.name, volume]
    overall = semantic.query(MetricQuery.build(names, grain=grain), ctx=ctx).table
    times, columns = _complete(overall, names, grain=grain, now=now, limit=request.max_points)
    if times.size == 0:
        return []
    total = _volume_total(columns.get(volume)) if volume is not None else None
    series = [
        KpiSeries(
            metric.name,
            grain,
            {},
            times,
            columns[metric.name],
            share=None if total is None else 1.0,
        )
    ]
    if not request.segments:
        return series
    monitor = request.monitor
    dimensions = monitor.dimensions
    if dimensions is None:
        dimensions = layer.dimensions_of(metric.name)
    groups: list[tuple[str, ...]] = [(d,) for d in dimensions]
    groups += [tuple(pair) for pair in monitor.pairs]
    fill = 0.0 if metric.fill_zero else np.nan
    start = times[0].astype(datetime)
    end = _next_bucket(times[-1], grain).astype(datetime)
    for by in groups:
        query = MetricQuery.build(names, by=by, grain=grain, start=start, end=end)
        table = semantic.query(query, ctx=ctx).table
        for segment, values, volumes in _segments(table, by, names, times, volume, fill):
            share = None
            if total is not None:
                share = 0.0 if total == 0 else _volume_total(volumes) / total
                if share < monitor.min_share:
                    continue
            if int(np.count_nonzero(~np.isnan(values))) < monitor.min_points:
                continue
            series.append(KpiSeries(metric.name, grain, segment, times, values, share=share))
    return series


def _volume_metric(layer: SemanticLayer, metric: Metric) -> str | None:
    """The metric whose totals say how big a segment is, if shares mean anything here."""
    if metric.kind == "simple":
        measure = metric.measure
        return metric.name if measure is not None and measure.agg in _ADDITIVE else None
    if metric.kind == "ratio":
        denominator = getattr(metric.spec, "denominator", None)
        if isinstance(denominator, str) and denominator in layer.metrics:
            return _volume_metric(layer, layer.metrics[denominator]) and denominator
    return None


def _volume_total(values: np.ndarray | None) -> float:
    if values is None:
        return 0.0
    return float(np.nansum(np.abs(values)))


def _complete(
    table: pa.Table, names: Sequence[str], *, grain: str, now: datetime, limit: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The overall rows as arrays, without the bucket still filling, at most ``limit`` long."""
    if table.num_rows == 0:
        return np.array([], dtype="datetime64[us]"), {}
    times = np.asarray(table.column("time").to_numpy(zero_copy_only=False), dtype="datetime64[us]")
    order = np.argsort(times, kind="stable")
    times = times[order]
    columns = {name: float_column(table.column(name))[order] for name in names}
    current = np.datetime64(now.replace(tzinfo=None), "us")
    complete = np.array([_next_bucket(t, grain) <= current for t in times], dtype=bool)
    keep = np.flatnonzero(complete)[-limit:]
    return times[keep], {name: values[keep] for name, values in columns.items()}


def _segments(
    table: pa.Table,
    by: Sequence[str],
    names: Sequence[str],
    times: np.ndarray,
    volume: str | None,
    fill: float,
) -> list[tuple[dict[str, Any], np.ndarray, np.ndarray | None]]:
    """Each combination of ``by`` values with its values aligned on ``times``."""
    if table.num_rows == 0:
        return []
    rows_time = np.asarray(
        table.column("time").to_numpy(zero_copy_only=False), dtype="datetime64[us]"
    )
    position = np.searchsorted(times, rows_time)
    position = np.clip(position, 0, max(times.size - 1, 0))
    on_grid = times[position] == rows_time
    keys = list(zip(*(table.column(d).to_pylist() for d in by), strict=True))
    metric_values = float_column(table.column(names[0]))
    volume_values = float_column(table.column(volume)) if volume is not None else None
    found: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray | None]] = {}
    for index, key in enumerate(keys):
        if not on_grid[index] or any(part is None for part in key):
            continue
        if key not in found:
            found[key] = (
                np.full(times.size, fill, dtype=np.float64),
                None if volume_values is None else np.zeros(times.size, dtype=np.float64),
            )
        values, volumes = found[key]
        values[position[index]] = metric_values[index]
        if volumes is not None and volume_values is not None:
            volumes[position[index]] = volume_values[index]
    return [
        (dict(zip(by, key, strict=True)), values, volumes)
        for key, (values, volumes) in sorted(found.items(), key=lambda item: str(item[0]))
    ]


def float_column(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64, nulls as NaN (decimals included)."""
    if pa.types.is_decimal(column.type) or not pa.types.is_floating(column.type):
        column = column.cast(pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


_FIXED = {
    "minute": np.timedelta64(1, "m"),
    "hour": np.timedelta64(1, "h"),
    "day": np.timedelta64(1, "D"),
    "week": np.timedelta64(7, "D"),
}
_MONTHS = {"month": 1, "quarter": 3, "fiscal_quarter": 3, "year": 12, "fiscal_year": 12}


def _next_bucket(start: np.datetime64, grain: str) -> np.datetime64:
    """The start of the bucket after the one starting at ``start``."""
    step = _FIXED.get(grain)
    if step is not None:
        return start + step
    months = _MONTHS.get(grain, 1)
    moment = start.astype(datetime)
    month_index = moment.year * 12 + moment.month - 1 + months
    following = moment.replace(year=month_index // 12, month=month_index % 12 + 1)
    return np.datetime64(following, "us")
