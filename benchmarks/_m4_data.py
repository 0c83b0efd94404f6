"""The M4 Hourly and Weekly data, the organisers' benchmarks and their published scores."""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gnomon.insights.forecast import Grain, mase, smape
from gnomon.insights.forecast.seasonal import adjust

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "m4"


@dataclass(frozen=True)
class Frequency:
    """One M4 frequency: its horizon, MASE period and the grain gnomon forecasts it at."""

    name: str
    horizon: int
    period: int
    grain: Grain
    start: str
    """M4 publishes no timestamps for these files: series start here, on a Monday at 00:00."""


FREQUENCIES = {
    "Hourly": Frequency("Hourly", horizon=48, period=24, grain="hour", start="2001-01-01T00"),
    "Weekly": Frequency("Weekly", horizon=13, period=1, grain="week", start="1990-01-01"),
}

CHECKED = ("Naive", "sNaive", "Naive2")
"""Benchmarks recomputed here; their figures must equal the published ones to 3 decimals."""

COMPARED = ("Theta", "Com", "Damped", "SES", "sNaive", "Naive2", "118", "245")
"""Published rows printed next to gnomon's result: the organisers' benchmarks, the overall
winner (118, Smyl's ES-RNN) and runner-up (245, FFORMA); the best entries of the frequency are
added to them."""


@dataclass(frozen=True)
class M4Set:
    """The series of one frequency: training values and the true future."""

    frequency: Frequency
    ids: list[str]
    train: list[np.ndarray]
    test: list[np.ndarray]


def load(data: Path, frequency: Frequency) -> M4Set:
    """Read ``<data>/Dataset/{Train,Test}/<Name>-{train,test}.csv`` (wide: id, then values)."""
    train = _read(data / "Dataset" / "Train" / f"{frequency.name}-train.csv")
    test = _read(data / "Dataset" / "Test" / f"{frequency.name}-test.csv")
    ids = list(train)
    if set(ids) != set(test):
        raise SystemExit(f"{frequency.name}: train and test files hold different series")
    return M4Set(frequency, ids, [train[i] for i in ids], [test[i] for i in ids])


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        raise SystemExit(f"missing {path}; pass --data with the M4 folder")
    series: dict[str, np.ndarray] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        next(rows)
        for row in rows:
            series[row[0]] = np.array([float(v) for v in row[1:] if v.strip()], dtype=np.float64)
    return series


def published(data: Path) -> dict[str, dict[str, str]]:
    """The organisers' per-frequency scores by method id (``published/…by_frequency.csv``)."""
    path = data / "published" / "point_forecasts_by_frequency.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["method_id"]: row for row in csv.DictReader(handle)}


def published_row(table: dict[str, dict[str, str]], method: str, name: str) -> dict[str, float]:
    row = table[method]
    return {
        "smape": float(row[f"sMAPE_{name}"]),
        "mase": float(row[f"MASE_{name}"]),
        "owa": float(row[f"OWA_{name}"]),
    }


def best_entries(table: dict[str, dict[str, str]], name: str, count: int) -> list[str]:
    """The ``count`` submissions with the lowest OWA at this frequency."""
    entries = [m for m, row in table.items() if row["team"] != "The M4 Team"]
    return sorted(entries, key=lambda m: float(table[m][f"OWA_{name}"]))[:count]


def benchmark_forecasts(train: np.ndarray, frequency: Frequency) -> dict[str, np.ndarray]:
    """Naive, seasonal naive and Naive2 (naive on the classically seasonally adjusted series)."""
    h, m = frequency.horizon, frequency.period
    naive = np.repeat(train[-1], h)
    seasonal_naive = np.resize(train[-m:], h)
    if m > 1:
        adjustment = adjust(train, m, multiplicative=True)
        naive2 = adjustment.restore(np.repeat(adjustment.adjusted[-1], h))
    else:
        naive2 = naive
    return {"Naive": naive, "sNaive": seasonal_naive, "Naive2": naive2}


def accuracy(m4: M4Set, forecasts: list[np.ndarray]) -> dict[str, float]:
    """Mean sMAPE and MASE over the series, as the organisers aggregate them."""
    period = m4.frequency.period
    smapes = [smape(y, f) for y, f in zip(m4.test, forecasts, strict=True)]
    mases = [mase(y, f, x, period) for y, f, x in zip(m4.test, forecasts, m4.train, strict=True)]
    return {"smape": float(np.mean(smapes)), "mase": float(np.mean(mases))}


def owa(scores: dict[str, float], naive2: dict[str, float]) -> float:
    return 0.5 * (scores["smape"] / naive2["smape"] + scores["mase"] / naive2["mase"])
