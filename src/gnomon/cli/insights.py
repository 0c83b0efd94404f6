"""``gnomon scan``, ``gnomon anomalies`` and ``gnomon forecast``: watch metrics, predict them."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from gnomon.cli._common import (
    FormatOption,
    ProjectOption,
    TenantOption,
    open_project,
    parse_segment,
)
from gnomon.cli._render import OutputFormat, err_console, render
from gnomon.errors import InvalidInput
from gnomon.insights import ScanProgress, anomaly_row
from gnomon.insights.service import MAX_HORIZON, ProgressListener, forecast_rows, model_row

__all__ = ["register"]

_SEVERITIES = ("low", "medium", "high", "critical")
_STATUSES = ("open", "dismissed", "confirmed")
_KINDS = ("detector", "forecaster")


@contextmanager
def _progress(enabled: bool) -> Iterator[ProgressListener | None]:
    """A progress bar on stderr over the metrics of a scan, when stderr is a terminal."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("[bold]scan[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("", total=None)

        def listener(event: ScanProgress) -> None:
            progress.update(task, total=event.total, completed=event.done, description=event.metric)

        yield listener


def scan(
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Scan only this metric (repeat for several)."),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Judge every monitored metric and its segments; list the anomalies that are new.

    Each metric's series (overall, and per value of its dimensions) is scored by the detector
    its `monitor` block names; anomalies are stored (catalog and gold.insights) and announced
    as events. A scan finds each anomaly once: scanning again lists only new ones.
    """
    interactive = fmt is OutputFormat.table and sys.stderr.isatty()
    with open_project(project) as app, _progress(interactive) as listener:
        result = app.insights.scan(ctx=app.context(tenant), metrics=metric, on_progress=listener)
    rows = [_row(anomaly_row(a)) for a in result.new]
    if fmt is OutputFormat.table:
        render(
            [{k: v for k, v in r.items() if k not in ("lower", "upper", "grain")} for r in rows],
            fmt,
            title=f"New anomalies ({len(result.metrics)} metrics, {result.series} series, "
            f"{result.points} points, {result.elapsed_s:.1f} s)",
            empty=f"No new anomalies in {len(result.metrics)} metrics and {result.series} series.",
        )
        for name, why in result.skipped.items():
            err_console.print(f"[dim]skipped {name}: {why}[/]")
        return
    render(rows, fmt)


def anomalies(
    ctx: typer.Context,
    metric: Annotated[str | None, typer.Option("--metric", "-m", help="Only this metric.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From this day or time on (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Before this day or time (UTC).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help=f"One of {', '.join(_STATUSES)}.")
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option("--severity", help=f"At least this severity: {', '.join(_SEVERITIES)}."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows.")] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the anomalies scans found, oldest first; `confirm`/`dismiss ID` give feedback."""
    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in _STATUSES:
        raise InvalidInput(
            f"--status {status!r} is not a status.", hint=f"Use one of {', '.join(_STATUSES)}."
        )
    if severity is not None and severity not in _SEVERITIES:
        raise InvalidInput(
            f"--severity {severity!r} is not a severity.",
            hint=f"Use one of {', '.join(_SEVERITIES)}.",
        )
    with open_project(project) as app:
        found = app.insights.anomalies(
            ctx=app.context(tenant),
            metric=metric,
            since=_moment(since, "--since"),
            until=_moment(until, "--until"),
            status=status,
            min_severity=severity,
            limit=limit,
        )
    rows = [_row(anomaly_row(a)) for a in found]
    render(rows, fmt, title="Anomalies", empty="No anomalies found (run `gnomon scan`).")


def _feedback(anomalous: bool) -> Any:
    def command(
        anomaly: Annotated[int, typer.Argument(help="The anomaly's id (see `gnomon anomalies`).")],
        project: ProjectOption = Path(),
        tenant: TenantOption = None,
        fmt: FormatOption = OutputFormat.table,
    ) -> None:
        with open_project(project) as app:
            updated = app.insights.feedback(anomaly, anomalous=anomalous, ctx=app.context(tenant))
        render([_row(anomaly_row(updated))], fmt, title="Anomaly")

    command.__doc__ = (
        "Confirm an anomaly: it was real (the detector's threshold stays)."
        if anomalous
        else "Dismiss an anomaly as not one: its metric's threshold widens for later scans."
    )
    return command


def forecast(
    metric: Annotated[str, typer.Argument(help="The metric to forecast.")],
    horizon: Annotated[
        int,
        typer.Option(
            "--horizon", min=1, max=MAX_HORIZON, help="Periods ahead (of the metric's grain)."
        ),
    ] = 30,
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", "-s", help="Forecast one segment: dimension=value (repeat)."),
    ] = None,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Forecast a metric with 80 % and 95 % intervals; the model is chosen by backtest."""
    wanted = parse_segment(segment or [])
    with open_project(project) as app:
        result = app.insights.forecast(
            metric, ctx=app.context(tenant), horizon=horizon, segment=wanted
        )
    rows = forecast_rows(result)
    made = result.forecast
    scores = made.backtest.get(made.model, {})
    title = (
        f"{metric} forecast, {horizon} {result.grain}s ahead: model {made.model}"
        + (f" ({'+'.join(made.members)})" if made.model == "ensemble" else "")
        + (f", backtest sMAPE {scores['smape']:.1f} %" if "smape" in scores else "")
    )
    render(rows, fmt, title=title)


def registry(
    kind: Annotated[
        str | None,
        typer.Option("--kind", help=f"Only this kind: {' or '.join(_KINDS)}."),
    ] = None,
    metric: Annotated[str | None, typer.Option("--metric", "-m", help="Only this metric.")] = None,
    all_versions: Annotated[
        bool, typer.Option("--all-versions", help="Every version, not only the latest.")
    ] = False,
    project: ProjectOption = Path(),
    tenant: TenantOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the model registry: the detector and forecaster versions scans and forecasts used.

    Each version records its parameters, the data window it was fitted on and what its
    backtest measured, so a result can be traced to the configuration that made it.
    """
    if kind is not None and kind not in _KINDS:
        raise InvalidInput(
            f"--kind {kind!r} is not a kind of model.", hint=f"Use one of: {', '.join(_KINDS)}."
        )
    with open_project(project) as app:
        records = app.insights.models(
            ctx=app.context(tenant), kind=kind, metric=metric, all_versions=all_versions
        )
    rows = [model_row(r) for r in records]
    if fmt is OutputFormat.table:
        render(
            [
                {
                    **{k: r[k] for k in ("kind", "metric", "segment", "version", "model")},
                    "backtest": _scores(r["metrics"]),
                    "trained_until": r["training_end"],
                    "created_at": r["created_at"],
                }
                for r in rows
            ],
            fmt,
            title="Model registry",
            empty="No models yet: scans register detectors, forecasts register forecasters.",
        )
        return
    render(rows, fmt)


def _scores(metrics: dict[str, Any]) -> str:
    return ", ".join(
        f"{name} {value:.3g}" for name, value in metrics.items() if isinstance(value, int | float)
    )


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """The listing's column order: what happened first, then the detector's view of it."""
    order = ("id", "metric", "time", "segment", "actual", "expected", "lower", "upper", "score")
    return {**{k: row[k] for k in order}, **{k: v for k, v in row.items() if k not in order}}


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = (
            datetime.combine(date.fromisoformat(text), datetime.min.time())
            if len(text) == 10
            else datetime.fromisoformat(text)
        )
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r} is not a date or time.",
            hint=f"For example: {option} 2025-01-31 or {option} 2025-01-31T08:00",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def register(app: typer.Typer) -> None:
    """Add the commands to the root app."""
    app.command("scan")(scan)
    app.command("forecast")(forecast)
    app.command("registry")(registry)
    group = typer.Typer(help="Anomalies found by scans, and feedback on them.")
    group.callback(invoke_without_command=True)(anomalies)
    group.command("confirm")(_feedback(True))
    group.command("dismiss")(_feedback(False))
    app.add_typer(group, name="anomalies")
