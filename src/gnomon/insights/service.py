"""Scans: every metric and segment a reader may see, judged by the metric's detector.

A scan reads each monitored metric's series through the semantic layer (so tenant, row and
column policies apply as for any query), scores them with the detector configuration the
registry holds for the metric, and records the flagged points as anomalies in the catalog, in
one transaction with the scan's run record and one event per new anomaly. Anomalies are kept
per *view* of the data (see :meth:`SemanticService.data_view`): a reader sees the anomalies of
scans that saw exactly the rows they may see. The unrestricted view's anomalies are also
written to the lake table ``gold.insights``, rebuilt per metric from the catalog on every scan,
so SQL and models can use them.

The detector configuration is a registry record (``insight_models``, kind ``detector``, one per
metric): the metric's ``monitor`` block gives its base, and feedback on an anomaly ("not an
anomaly") refits the threshold into a new version, which later scans use. Changing the
``monitor`` block starts again from the new base.
"""

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from gnomon.catalog import (
    AnomalyInput,
    AnomalyRecord,
    Catalog,
    InsightModelRecord,
    segment_key,
)
from gnomon.clock import Clock
from gnomon.config import InsightsConfig
from gnomon.context import RequestContext
from gnomon.errors import GnomonError, InvalidInput, NotFound
from gnomon.insights.detect import PointScore
from gnomon.insights.explain.localize import LocalizeOptions
from gnomon.insights.explain.metric import ExplainRequest, explain_metric
from gnomon.insights.feed import insight_feed
from gnomon.insights.findings import Explanation, Insight, Moment
from gnomon.insights.forecast import GRAINS as FORECAST_GRAINS
from gnomon.insights.forecast import Forecast, Series, forecast
from gnomon.insights.relations import DriverReport, ImpactReport, change_impact, metric_drivers
from gnomon.insights.scoring import Flagged, build_detector, score_many
from gnomon.insights.series import KpiSeries, SeriesRequest, extract_series, season_of
from gnomon.insights.spark_scoring import score_on_spark
from gnomon.lake import TENANT_COLUMN, Lake, Layer
from gnomon.semantic import SemanticService
from gnomon.semantic.definitions import MonitorSpec

__all__ = [
    "ANOMALY_EVENT",
    "ForecastResult",
    "InsightsService",
    "ScanProgress",
    "ScanResult",
    "anomaly_row",
    "forecast_rows",
    "model_row",
]

log = logging.getLogger(__name__)

ANOMALY_EVENT = "gnomon.insights.anomaly.detected"
"""The event type of a newly found anomaly (one per anomaly, published after the commit)."""
_GOLD_TABLE = "insights"


@dataclass(frozen=True, slots=True)
class ScanProgress:
    """Where a scan is: ``done`` of ``total`` metrics, the one being judged."""

    metric: str
    done: int
    total: int
    series: int = 0


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan did.

    Attributes:
        run_id: the scan's run record.
        metrics: the metrics judged, in order.
        series: how many series were scored.
        points: how many buckets were scored.
        new: the anomalies this scan found that no earlier scan had.
        skipped: metrics left out, with why (``monitor.enabled: false``, no data …).
    """

    run_id: str
    metrics: tuple[str, ...]
    series: int
    points: int
    new: tuple[AnomalyRecord, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0


ProgressListener = Callable[[ScanProgress], None]

MAX_HORIZON = 90
"""The most periods ahead a forecast reaches."""


@dataclass(frozen=True, slots=True)
class ForecastResult:
    """A metric's forecast with the history it was made from and the registry version.

    Attributes:
        refitted: whether the model was selected anew (backtests of every candidate) rather
            than the registry's recent choice being fitted again on the current data.
    """

    metric: str
    grain: str
    segment: Mapping[str, Any]
    forecast: Forecast
    model: InsightModelRecord
    history_times: np.ndarray
    history: np.ndarray
    refitted: bool


class InsightsService:
    """Scans, anomalies and the feedback that tunes detectors, for one app."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        semantic: SemanticService,
        lake: Lake,
        clock: Clock,
        settings: InsightsConfig,
        spark: Callable[[], Any] | None = None,
    ) -> None:
        self._catalog = catalog
        self._semantic = semantic
        self._lake = lake
        self._clock = clock
        self._settings = settings
        self._spark = spark
        """The Spark session's getter when the engine is Spark: many series score there."""

    # ------------------------------------------------------------------ scans

    def scan(
        self,
        *,
        ctx: RequestContext,
        metrics: Sequence[str] | None = None,
        on_progress: ProgressListener | None = None,
    ) -> ScanResult:
        """Judge every monitored metric (or those named) and record what is new.

        Raises:
            UnknownMetric: a named metric is not defined.
            NotFound: no metrics are defined yet.
            InvalidInput: a metric's monitor block names an unknown detector or bad settings.
        """
        started = time.perf_counter()
        layer = self._semantic.layer(ctx=ctx)
        names = list(metrics) if metrics else sorted(layer.metrics)
        for name in names:
            layer.metric(name)
        with self._catalog.transaction() as tx:
            run = tx.runs.start(tenant=ctx.tenant, kind="scan", correlation_id=ctx.correlation_id)
        judged: list[str] = []
        skipped: dict[str, str] = {}
        new: list[AnomalyRecord] = []
        series_count = points = 0
        try:
            for position, name in enumerate(names):
                monitor = layer.metric(name).spec.monitor
                if not monitor.enabled and not metrics:
                    skipped[name] = "monitor.enabled is false"
                    continue
                if on_progress is not None:
                    on_progress(ScanProgress(name, position, len(names)))
                found, counted, scored = self._scan_metric(name, monitor, ctx=ctx, run_id=run.id)
                if counted == 0:
                    skipped[name] = "no complete buckets with data yet"
                    continue
                judged.append(name)
                new.extend(found)
                series_count += counted
                points += scored
            with self._catalog.transaction() as tx:
                tx.runs.finish(
                    run.id,
                    tenant=ctx.tenant,
                    status="succeeded",
                    rows_read=points,
                    rows_written=len(new),
                    checks={"metrics": judged, "series": series_count, "skipped": skipped},
                )
        except BaseException as exc:
            self._fail(run.id, ctx, exc)
            raise
        if on_progress is not None:
            on_progress(ScanProgress("", len(names), len(names), series_count))
        return ScanResult(
            run_id=run.id,
            metrics=tuple(judged),
            series=series_count,
            points=points,
            new=tuple(new),
            skipped=skipped,
            elapsed_s=time.perf_counter() - started,
        )

    def _scan_metric(
        self, name: str, monitor: MonitorSpec, *, ctx: RequestContext, run_id: str
    ) -> tuple[list[AnomalyRecord], int, int]:
        """Score one metric's series; returns (new anomalies, series scored, points scored)."""
        series = extract_series(
            self._semantic,
            SeriesRequest(name, monitor, max_points=self._settings.max_points),
            ctx=ctx,
            now=self._clock.now().astimezone(UTC),
        )
        if not series:
            return [], 0, 0
        view = self._semantic.data_view([name], ctx=ctx)
        model = self._detector_model(name, monitor, series[0], ctx=ctx, run_id=run_id)
        config = model.params["detector"]
        values = [s.values for s in series]
        if self._spark is not None and len(series) >= self._settings.parallel_from:
            flagged = score_on_spark(self._spark(), config, values)
        else:
            flagged = score_many(
                config,
                values,
                workers=self._settings.workers or os.cpu_count() or 1,
                parallel_from=self._settings.parallel_from,
            )
        items = [
            item
            for one, marks in zip(series, flagged, strict=True)
            for item in _anomalies(one, marks, detector=str(config["name"]), model=model)
        ]
        with self._catalog.transaction() as tx:
            recorded = tx.anomalies.record(
                tenant=ctx.tenant, scope=view, run_id=run_id, items=items
            )
            for anomaly in recorded:
                tx.outbox.add(
                    tenant=ctx.tenant,
                    type=ANOMALY_EVENT,
                    source=f"/metrics/{name}",
                    correlation_id=ctx.correlation_id,
                    data=anomaly_row(anomaly),
                )
        if view == "":
            self._write_gold(name, ctx=ctx, run_id=run_id)
        return recorded, len(series), sum(int(s.values.size) for s in series)

    def _detector_model(
        self,
        metric: str,
        monitor: MonitorSpec,
        overall: KpiSeries,
        *,
        ctx: RequestContext,
        run_id: str,
    ) -> InsightModelRecord:
        """The metric's detector configuration: the registry's, unless the monitor changed."""
        base = _base_config(monitor, overall.grain)
        with self._catalog.transaction() as tx:
            latest = tx.insight_models.latest(
                tenant=ctx.tenant, kind="detector", metric=metric, segment={}
            )
            if latest is not None and latest.params.get("base") == base:
                return latest
            built = build_detector(base)
            return tx.insight_models.register(
                tenant=ctx.tenant,
                kind="detector",
                metric=metric,
                segment={},
                params={"base": base, "detector": _jsonable(built.params())},
                training_start=_aware(overall.times[0]),
                training_end=_aware(overall.times[-1]),
                run_id=run_id,
            )

    def _write_gold(self, metric: str, *, ctx: RequestContext, run_id: str) -> None:
        """Rebuild the metric's rows of ``gold.insights`` from the catalog (unrestricted view)."""
        with self._catalog.transaction() as tx:
            rows = tx.anomalies.list(tenant=ctx.tenant, scope="", metric=metric)
        table = _gold_table(rows, tenant=ctx.tenant)
        version = self._lake.replace_batch(
            Layer.GOLD,
            _GOLD_TABLE,
            table,
            batch_id=_gold_batch(ctx.tenant, metric),
            run_id=run_id,
            operation="insights",
        )
        with self._catalog.transaction() as tx:
            tx.tables.publish({(Layer.GOLD.value, _GOLD_TABLE): version}, run_id=run_id)

    def _fail(self, run_id: str, ctx: RequestContext, exc: BaseException) -> None:
        error = (
            exc.to_dict()
            if isinstance(exc, GnomonError)
            else {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}"}
        )
        try:
            with self._catalog.transaction() as tx:
                tx.runs.finish(run_id, tenant=ctx.tenant, status="failed", error=error)
        except GnomonError:
            log.exception("could not record the failure of scan %s", run_id)

    # ------------------------------------------------------------------ reading

    def anomalies(
        self,
        *,
        ctx: RequestContext,
        metric: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        min_severity: str | None = None,
        limit: int | None = None,
    ) -> list[AnomalyRecord]:
        """The anomalies scans found in the reader's view of the data, oldest first.

        Raises:
            UnknownMetric: ``metric`` is not defined.
            InvalidInput: a bad status, severity or limit.
        """
        names = [metric] if metric else None
        view = self._semantic.data_view(names or self._all_metrics(ctx), ctx=ctx)
        with self._catalog.transaction() as tx:
            return tx.anomalies.list(
                tenant=ctx.tenant,
                scope=view,
                metric=metric,
                since=since,
                until=until,
                status=status,
                min_severity=min_severity,
                limit=limit,
            )

    def models(
        self,
        *,
        ctx: RequestContext,
        kind: str | None = None,
        metric: str | None = None,
        all_versions: bool = False,
    ) -> list[InsightModelRecord]:
        """The registry: each series' latest detector or forecaster version (or every version).

        A forecaster was fitted on one view of the data, and its segment and training window
        tell about that data, so a reader sees the forecasters fitted on their own view only;
        a detector version holds settings, and every reader of the tenant sees it.

        Raises:
            UnknownMetric: ``metric`` is not defined.
            InvalidInput: an unknown kind.
        """
        if metric is not None:
            self._semantic.layer(ctx=ctx).metric(metric)
        with self._catalog.transaction() as tx:
            records = tx.insight_models.list(
                tenant=ctx.tenant, kind=kind, metric=metric, latest_only=False
            )
        views: dict[str, str] = {}

        def visible(record: InsightModelRecord) -> bool:
            if record.kind != "forecaster":
                return True
            if record.metric not in views:
                views[record.metric] = self._semantic.data_view([record.metric], ctx=ctx)
            return record.params.get("view") == views[record.metric]

        shown = [r for r in records if visible(r)]
        if all_versions:
            return shown
        # Latest per series among the versions the reader may see (records come by version).
        latest = {(r.kind, r.metric, r.segment_key): r for r in shown}
        return list(latest.values())

    def feedback(self, anomaly_id: int, *, anomalous: bool, ctx: RequestContext) -> AnomalyRecord:
        """Mark an anomaly as real or not; "not an anomaly" widens its metric's threshold.

        The detector configuration the anomaly was found with is rebuilt, told about the point,
        and its new threshold registered as the metric's next version: later scans flag fewer
        points like it. Marking it real keeps (or slightly tightens) the threshold.

        Raises:
            NotFound: no anomaly with that id in the reader's view.
        """
        with self._catalog.transaction() as tx:
            found = self._visible(tx, anomaly_id, ctx)
            status = "confirmed" if anomalous else "dismissed"
            updated = tx.anomalies.set_status(
                tenant=ctx.tenant, id=anomaly_id, status=status, by=ctx.principal.user
            )
            latest = tx.insight_models.latest(
                tenant=ctx.tenant, kind="detector", metric=found.metric, segment={}
            )
            if latest is not None:
                built = build_detector(latest.params["detector"])
                built.feedback(_point(found), anomalous)
                tx.insight_models.register(
                    tenant=ctx.tenant,
                    kind="detector",
                    metric=found.metric,
                    segment={},
                    params={**latest.params, "detector": _jsonable(built.params())},
                    training_start=latest.training_start,
                    training_end=latest.training_end,
                    metrics={
                        **latest.metrics,
                        "feedback": int(latest.metrics.get("feedback", 0)) + 1,
                    },
                )
        return updated

    def _visible(self, tx: Any, anomaly_id: int, ctx: RequestContext) -> AnomalyRecord:
        """The anomaly, if a scan of the reader's own view found it.

        Raises:
            NotFound: no such anomaly in the reader's view (another tenant's, another view's).
        """
        if not 0 < anomaly_id < 2**63:
            raise _missing(anomaly_id)
        found: AnomalyRecord | None = tx.anomalies.get(tenant=ctx.tenant, id=anomaly_id)
        view = "" if found is None else self._semantic.data_view([found.metric], ctx=ctx)
        if found is None or found.scope != view:
            raise _missing(anomaly_id)
        return found

    # ------------------------------------------------------------------ explanations

    def explain(
        self,
        request: ExplainRequest,
        *,
        ctx: RequestContext,
        options: LocalizeOptions | None = None,
    ) -> Explanation:
        """Why a metric moved: the segments that explain its change, in the reader's view.

        Raises:
            UnknownMetric: the metric is not defined.
            InvalidInput: the metric does not split over segments, or bad windows/dimensions.
        """
        return explain_metric(self._semantic, request, ctx=ctx, options=options)

    def explain_anomaly(
        self,
        anomaly_id: int,
        *,
        ctx: RequestContext,
        by: Sequence[str] | None = None,
        options: LocalizeOptions | None = None,
    ) -> Explanation:
        """Why an anomaly's point left its band: its segment's change against the expected value.

        The baseline is the default one of :func:`explain_metric`, scaled to the value the
        detector expected at the point, so the causes explain actual minus expected.

        Raises:
            NotFound: no such anomaly in the reader's view.
            InvalidInput: the metric does not split over segments.
        """
        with self._catalog.transaction() as tx:
            found = self._visible(tx, anomaly_id, ctx)
        request = ExplainRequest(
            metric=found.metric,
            at=found.time,
            by=tuple(by) if by else None,
            segment=dict(found.segment),
            expected=found.expected,
        )
        return explain_metric(self._semantic, request, ctx=ctx, options=options)

    def drivers(
        self,
        metric: str,
        *,
        ctx: RequestContext,
        candidates: Sequence[str] | None = None,
        start: Moment | None = None,
        end: Moment | None = None,
        max_lag: int = 7,
        with_importance: bool = False,
    ) -> DriverReport:
        """Which other metrics move with ``metric``, lead it or Granger-cause it.

        Raises:
            UnknownMetric: a metric is not defined.
            InvalidInput: no candidates, or too short a series.
        """
        return metric_drivers(
            self._semantic,
            metric,
            ctx=ctx,
            candidates=candidates,
            start=start,
            end=end,
            max_lag=max_lag,
            with_importance=with_importance,
        )

    def impact(
        self,
        metric: str,
        *,
        change: Moment,
        treated: Mapping[str, Any],
        control: Mapping[str, Any],
        ctx: RequestContext,
        start: Moment | None = None,
        end: Moment | None = None,
    ) -> ImpactReport:
        """A dated change's effect on a segment against a control (difference-in-differences).

        Raises:
            UnknownMetric: the metric is not defined.
            InvalidInput: missing or equal segments, or too few buckets around the change.
        """
        return change_impact(
            self._semantic,
            metric,
            change=change,
            treated=treated,
            control=control,
            ctx=ctx,
            start=start,
            end=end,
        )

    def feed(
        self,
        *,
        ctx: RequestContext,
        metrics: Sequence[str] | None = None,
        role: str | None = None,
        segments: bool = True,
    ) -> list[Insight]:
        """What stands out in the monitored metrics, for this reader (see :mod:`.feed`).

        Raises:
            UnknownMetric: a named metric is not defined.
            InvalidInput: an unknown role.
        """
        return insight_feed(
            self._semantic,
            ctx=ctx,
            now=self._clock.now(),
            metrics=metrics,
            role=role,
            segments=segments,
        )

    # ------------------------------------------------------------------ forecasts

    def forecast(
        self,
        metric: str,
        *,
        ctx: RequestContext,
        horizon: int = 30,
        segment: Mapping[str, Any] | None = None,
        levels: Sequence[int] = (80, 95),
    ) -> ForecastResult:
        """Forecast the metric (or one segment of it) ``horizon`` periods past its last one.

        The model is chosen by rolling-origin backtest over the candidates the series suits,
        and that choice is a registry version; for ``insights.retrain_after_days`` later
        forecasts fit the chosen model again on the current data instead of running the whole
        selection. A forecast is made from the data the caller may see.

        Raises:
            UnknownMetric: the metric is not defined.
            InvalidInput: a horizon outside 1..90, a grain that cannot be forecast, or too
                little history.
            NotFound: the segment has no series (unknown values, or too small to watch).
        """
        if not 1 <= horizon <= MAX_HORIZON:
            raise InvalidInput(
                f"The horizon must be 1 to {MAX_HORIZON} periods, not {horizon}.",
                hint=f"Ask for at most {MAX_HORIZON} periods ahead.",
            )
        layer = self._semantic.layer(ctx=ctx)
        spec = layer.metric(metric).spec
        if spec.grain not in FORECAST_GRAINS:
            raise InvalidInput(
                f"{metric!r} is measured by {spec.grain}, which cannot be forecast.",
                hint=f"Forecasts work at these grains: {', '.join(FORECAST_GRAINS)}.",
            )
        wanted = {str(k): v for k, v in (segment or {}).items()}
        monitor = spec.monitor
        if wanted:
            monitor = monitor.model_copy(
                update={"dimensions": list(wanted), "pairs": [], "min_share": 0.0}
            )
        candidates = extract_series(
            self._semantic,
            SeriesRequest(metric, monitor, max_points=self._settings.max_points,
                          segments=bool(wanted)),
            ctx=ctx,
            now=self._clock.now().astimezone(UTC),
        )  # fmt: skip
        chosen = next(
            (s for s in candidates if {k: str(v) for k, v in s.segment.items()} == wanted), None
        )
        if chosen is None:
            raise NotFound(
                f"{metric!r} has no series for {wanted or 'the whole metric'} yet.",
                hint="Check the dimension values (gnomon metrics query METRIC --by DIM), or "
                "wait for enough complete periods of data.",
                metric=metric,
            )
        series = Series(chosen.times, chosen.values, chosen.grain)  # type: ignore[arg-type]
        view = self._semantic.data_view([metric], ctx=ctx)
        key = segment_key(chosen.segment)
        with self._catalog.transaction() as tx:
            versions = tx.insight_models.list(
                tenant=ctx.tenant, kind="forecaster", metric=metric, latest_only=False
            )
        # The series' latest selection on this reader's view: another view's rows are other data.
        mine = [r for r in versions if r.segment_key == key and r.params.get("view") == view]
        latest = max(mine, key=lambda r: r.version) if mine else None
        now = self._clock.now()
        selected = None if latest is None else _selected_at(latest.params)
        reuse = (
            latest is not None
            and selected is not None
            and now - selected < timedelta(days=self._settings.retrain_after_days)
        )
        if reuse and latest is not None:
            # The recent selection's members, and their mean when it chose one: fitted again on
            # the current data, without a new version (the configuration is the same).
            members = list(latest.params.get("members") or [latest.params.get("model")])
            if latest.params.get("model") == "ensemble" and len(members) > 1:
                members.append("ensemble")
            made = forecast(series, horizon, models=members, levels=levels)
            record = latest
        else:
            made = forecast(series, horizon, levels=levels)
            params = {**made.params(), "view": view, "selected_at": now.isoformat()}
            with self._catalog.transaction() as tx:
                record = tx.insight_models.register(
                    tenant=ctx.tenant,
                    kind="forecaster",
                    metric=metric,
                    segment=chosen.segment,
                    params=_jsonable(params),
                    training_start=_aware(chosen.times[0]),
                    training_end=_aware(chosen.times[-1]),
                    metrics=_jsonable(made.backtest.get(made.model, {})),
                )
        if bool(np.all(chosen.values[np.isfinite(chosen.values)] >= 0)):
            made = _not_below_zero(made)
        return ForecastResult(
            metric=metric,
            grain=chosen.grain,
            segment=dict(chosen.segment),
            forecast=made,
            model=record,
            history_times=chosen.times,
            history=chosen.values,
            refitted=not reuse,
        )

    def _all_metrics(self, ctx: RequestContext) -> list[str]:
        return sorted(self._semantic.layer(ctx=ctx).metrics)


# ---------------------------------------------------------------------- helpers


def anomaly_row(record: AnomalyRecord) -> dict[str, Any]:
    """An anomaly as the CLI, the API and events show it (JSON-able)."""
    return {
        "id": record.id,
        "metric": record.metric,
        "time": record.time.astimezone(UTC).isoformat(),
        "grain": record.grain,
        "segment": dict(record.segment),
        "actual": record.actual,
        "expected": record.expected,
        "lower": record.lower,
        "upper": record.upper,
        "score": record.score,
        "severity": record.severity,
        "direction": record.direction,
        "detector": record.detector,
        "status": record.status,
        "detected_at": record.detected_at.astimezone(UTC).isoformat(),
    }


def model_row(record: InsightModelRecord) -> dict[str, Any]:
    """A registry version as the CLI and the API show it (JSON-able)."""
    params = record.params
    if record.kind == "detector":
        model = str((params.get("detector") or {}).get("name", ""))
    else:
        model = str(params.get("model", ""))
        if model == "ensemble":
            model = "+".join(str(m) for m in params.get("members") or ()) or model
    return {
        "id": record.id,
        "kind": record.kind,
        "metric": record.metric,
        "segment": dict(record.segment),
        "version": record.version,
        "model": model,
        "fingerprint": record.fingerprint,
        "training_start": _iso(record.training_start),
        "training_end": _iso(record.training_end),
        "metrics": dict(record.metrics),
        "params": dict(params),
        "created_at": record.created_at.astimezone(UTC).isoformat(),
        "run_id": record.run_id,
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def forecast_rows(result: ForecastResult) -> list[dict[str, Any]]:
    """A forecast as rows: time, forecast, then lower/upper per level, and the model."""
    made = result.forecast
    rows = []
    for index, moment in enumerate(made.times.tolist()):
        row: dict[str, Any] = {
            "time": _aware(moment).isoformat(),
            "forecast": float(made.mean[index]),
        }
        for level in sorted(made.intervals):
            lower, upper = made.intervals[level]
            row[f"lower_{level}"] = float(lower[index])
            row[f"upper_{level}"] = float(upper[index])
        row["model"] = made.model if made.model != "ensemble" else "+".join(made.members)
        rows.append(row)
    return rows


def _not_below_zero(made: Forecast) -> Forecast:
    """The forecast of a series that never went below zero, kept at or above zero.

    Revenue and counts cannot be negative; a symmetric interval would otherwise promise it.
    """
    intervals = {
        level: (np.maximum(lower, 0.0), np.maximum(upper, 0.0))
        for level, (lower, upper) in made.intervals.items()
    }
    return replace(made, mean=np.maximum(made.mean, 0.0), intervals=intervals)


def _selected_at(params: Mapping[str, Any]) -> datetime | None:
    """When a forecaster version's model was chosen by a full selection, if it says."""
    try:
        return datetime.fromisoformat(str(params["selected_at"]))
    except (KeyError, ValueError):
        return None


def _base_config(monitor: MonitorSpec, grain: str) -> dict[str, Any]:
    season = monitor.params.get("season", season_of(grain))
    params = {k: v for k, v in monitor.params.items() if k != "season"}
    config = {"name": monitor.detector, "sensitivity": monitor.sensitivity, "season": season}
    return dict(_jsonable({**config, **params}))


def _anomalies(
    series: KpiSeries, marks: Flagged, *, detector: str, model: InsightModelRecord
) -> list[AnomalyInput]:
    evidence_base = {
        "series": {
            "start": _aware(series.times[0]).isoformat(),
            "end": _aware(series.times[-1]).isoformat(),
            "points": int(series.values.size),
        },
        "share": series.share,
        "model_version": model.version,
    }
    out = []
    for k, index in enumerate(marks.index.tolist()):
        actual = float(series.values[index])
        out.append(
            AnomalyInput(
                metric=series.metric,
                grain=series.grain,
                segment=dict(series.segment),
                time=_aware(series.times[index]),
                actual=actual,
                expected=_finite(marks.expected[k]),
                lower=_finite(marks.lower[k]),
                upper=_finite(marks.upper[k]),
                score=float(marks.score[k]),
                severity=str(marks.severity[k]),
                direction="up" if int(marks.direction[k]) >= 0 else "down",
                detector=detector,
                model_id=model.id,
                evidence=evidence_base,
            )
        )
    return out


def _point(record: AnomalyRecord) -> PointScore:
    return PointScore(
        score=record.score,
        flagged=True,
        direction=1 if record.direction == "up" else -1,
        expected=np.nan if record.expected is None else record.expected,
        lower=np.nan if record.lower is None else record.lower,
        upper=np.nan if record.upper is None else record.upper,
        severity=record.severity,
    )


def _gold_table(rows: Sequence[AnomalyRecord], *, tenant: str) -> pa.Table:
    return pa.table(
        {
            TENANT_COLUMN: pa.array([tenant] * len(rows), pa.string()),
            "anomaly_id": pa.array([r.id for r in rows], pa.int64()),
            "metric": pa.array([r.metric for r in rows], pa.string()),
            "grain": pa.array([r.grain for r in rows], pa.string()),
            "segment": pa.array(
                [json.dumps(dict(r.segment), sort_keys=True) for r in rows], pa.string()
            ),
            "time": pa.array([r.time for r in rows], pa.timestamp("us", tz="UTC")),
            "actual": pa.array([r.actual for r in rows], pa.float64()),
            "expected": pa.array([r.expected for r in rows], pa.float64()),
            "lower": pa.array([r.lower for r in rows], pa.float64()),
            "upper": pa.array([r.upper for r in rows], pa.float64()),
            "score": pa.array([r.score for r in rows], pa.float64()),
            "severity": pa.array([r.severity for r in rows], pa.string()),
            "direction": pa.array([r.direction for r in rows], pa.string()),
            "detector": pa.array([r.detector for r in rows], pa.string()),
            "status": pa.array([r.status for r in rows], pa.string()),
            "evidence": pa.array([json.dumps(r.evidence, sort_keys=True) for r in rows]),
            "detected_at": pa.array([r.detected_at for r in rows], pa.timestamp("us", tz="UTC")),
        }
    )


def _gold_batch(tenant: str, metric: str) -> str:
    digest = hashlib.sha256(f"{tenant}\x00{metric}".encode()).hexdigest()[:24]
    return f"insights-{digest}"


def _aware(moment: Any) -> datetime:
    """A bucket start (numpy or naive UTC datetime) as an aware UTC datetime."""
    if isinstance(moment, np.datetime64):
        moment = moment.astype("datetime64[us]").astype(datetime)
    if not isinstance(moment, datetime):
        raise InvalidInput(f"{moment!r} is not a time.", hint="Report this as a bug.")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _finite(value: Any) -> float | None:
    number = float(value)
    return number if np.isfinite(number) else None


def _jsonable(value: Any) -> Any:
    """``value`` through JSON and back: what the catalog will hand out later, compared equal."""
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON-able")


def _missing(anomaly_id: int) -> GnomonError:
    return NotFound(
        f"No anomaly {anomaly_id} in the data you may see.",
        hint="List anomalies with `gnomon anomalies` (or GET /api/v1/anomalies).",
        anomaly=anomaly_id,
    )
