"""Synthetic series shared by the forecasting tests (built once; models are the slow part)."""

import numpy as np
import pytest

from gnomon.insights.forecast import Series


def _daily(values: np.ndarray, start: str = "2023-01-02") -> Series:
    times = np.datetime64(start, "us") + np.arange(len(values)) * np.timedelta64(1, "D")
    return Series(times, values, "day")


@pytest.fixture(scope="session")
def seasonal_trend() -> tuple[Series, np.ndarray]:
    """Daily: level 100, trend +0.5 a day, weekly pattern ±10, noise 1; 210 known + 28 future."""
    rng = np.random.default_rng(7)
    t = np.arange(238)
    pattern = np.array([0.0, 4.0, 8.0, 10.0, 6.0, -12.0, -16.0])
    values = 100 + 0.5 * t + pattern[t % 7] + rng.normal(0, 1.0, len(t))
    return _daily(values[:210]), values[210:]


@pytest.fixture(scope="session")
def trend_only() -> tuple[Series, np.ndarray]:
    """Yearly (no season): a straight line up with a little noise; 40 known + 5 future."""
    rng = np.random.default_rng(3)
    t = np.arange(45)
    values = 50 + 3.0 * t + rng.normal(0, 0.5, len(t))
    times = np.arange("1980", "2025", dtype="datetime64[Y]")
    return Series(times[:40], values[:40], "year"), values[40:]
