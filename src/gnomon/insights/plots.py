"""PNG charts of a series with its anomalies, of a forecast with its intervals, and of causes.

Why PNG files from matplotlib: reports and notifications need a picture that opens anywhere
(a mail, a chat message, a folder), with no browser or server behind it. Drawing happens off
screen (the Agg backend), so it works on servers without a display.
"""

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gnomon.optional import require

__all__ = ["plot_anomalies", "plot_contributions", "plot_forecast"]

_SIZE = (10.0, 4.0)
_DPI = 110


def _pyplot() -> Any:
    matplotlib = require("matplotlib", extra="insights")
    matplotlib.use("Agg")
    return require("matplotlib.pyplot", extra="insights")


def plot_anomalies(
    path: Path,
    *,
    title: str,
    times: np.ndarray,
    values: np.ndarray,
    flagged: Sequence[tuple[np.datetime64, float, float | None, float | None]],
    shade: tuple[np.datetime64, np.datetime64] | None = None,
) -> Path:
    """The series as a line, each flagged point marked with the band it left.

    Args:
        path: where the PNG goes (folders are created).
        title: the chart's title.
        times: the series' bucket starts.
        values: the series' values.
        flagged: ``(time, actual, lower, upper)`` per flagged point.
        shade: a span to shade (an incident's days, say).
    """
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=_SIZE)
    try:
        axes.plot(times, values, color="#4c72b0", linewidth=1.2, label="value")
        if shade is not None:
            axes.axvspan(shade[0], shade[1], color="#f0c419", alpha=0.25, label="incident")
        for when, actual, lower, upper in flagged:
            if lower is not None and upper is not None:
                axes.vlines(when, lower, upper, color="#8c8c8c", linewidth=3, alpha=0.6)
            axes.scatter([when], [actual], color="#c44e52", zorder=3, s=28)
        if flagged:
            axes.scatter([], [], color="#c44e52", s=28, label="anomaly (normal band in grey)")
        axes.set_title(title, fontsize=11)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


def plot_forecast(
    path: Path,
    *,
    title: str,
    history_times: np.ndarray,
    history: np.ndarray,
    times: np.ndarray,
    mean: np.ndarray,
    intervals: Mapping[int, tuple[np.ndarray, np.ndarray]],
) -> Path:
    """The recent history, then the forecast with each interval as a band (widest palest)."""
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=_SIZE)
    try:
        axes.plot(history_times, history, color="#4c72b0", linewidth=1.2, label="actual")
        for level in sorted(intervals, reverse=True):
            lower, upper = intervals[level]
            alpha = 0.18 if level >= 90 else 0.32
            axes.fill_between(
                times, lower, upper, color="#dd8452", alpha=alpha, label=f"{level} % interval"
            )
        axes.plot(times, mean, color="#dd8452", linewidth=1.6, label="forecast")
        axes.set_title(title, fontsize=11)
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        figure.autofmt_xdate()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path


_LABEL_CHARS = 40


def plot_contributions(
    *,
    title: str,
    labels: Sequence[str],
    shares: Sequence[float],
    image_format: Literal["png", "svg"] = "png",
) -> bytes:
    """Horizontal bars of each segment's signed share of a change, largest on top.

    Returns the image itself rather than writing a file: narratives embed it in a page or a
    message. Bars that moved with the change are blue, those against it red; the axis is the
    share of the total change (1.0 is all of it).

    Args:
        title: the chart's title.
        labels: one name per segment (long ones are shortened).
        shares: each segment's signed share of the change, in the order of ``labels``.
        image_format: ``png`` or ``svg``.
    """
    plt = _pyplot()
    ticker = require("matplotlib.ticker", extra="insights")
    height = max(1.6, 0.45 * len(labels) + 1.0)
    figure, axes = plt.subplots(figsize=(_SIZE[0] * 0.7, height))
    try:
        names = [
            name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…" for name in labels
        ]
        positions = np.arange(len(names))[::-1]
        colors = ["#4c72b0" if share >= 0 else "#c44e52" for share in shares]
        axes.barh(positions, list(shares), color=colors, height=0.6)
        axes.set_yticks(positions, names, fontsize=9)
        axes.axvline(0, color="#333333", linewidth=0.8)
        axes.xaxis.set_major_formatter(ticker.PercentFormatter(1.0))
        axes.set_title(title, fontsize=11)
        axes.grid(axis="x", alpha=0.3)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=image_format, dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(figure)
    return buffer.getvalue()
