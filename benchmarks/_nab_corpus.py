"""The NAB corpus as arrays: each file's values, its windows as record indices, its profiles.

Read from the shared benchmark folder (never copied into the repository). Windows ship as
inclusive ``[start, end]`` timestamp pairs; a window covers the records whose timestamps fall
inside it.
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


@dataclass(frozen=True, slots=True)
class Profile:
    """A cost matrix: what a true positive earns and what a false positive or a miss costs."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True, slots=True)
class NabFile:
    """One data file: its values in time order and its windows as inclusive index pairs."""

    name: str
    values: np.ndarray
    windows: tuple[tuple[int, int], ...]

    @property
    def probation(self) -> int:
        """Records at the start where a detection counts for nothing: 15 %, at most 750."""
        return min(int(np.floor(0.15 * len(self.values))), 750)


def load_profiles(root: Path) -> dict[str, Profile]:
    raw = json.loads((root / "config" / "profiles.json").read_text(encoding="utf-8"))
    out = {}
    for name in PROFILES:
        cost = raw[name]["CostMatrix"]
        out[name] = Profile(name, cost["tpWeight"], cost["fpWeight"], cost["fnWeight"])
    return out


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    stamps: list[str] = []
    values: list[float] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            stamps.append(row[0])
            values.append(float(row[1]))
    return np.array(stamps, dtype="datetime64[us]"), np.array(values, dtype=np.float64)


def load_corpus(root: Path) -> list[NabFile]:
    """All data files that have an entry in ``combined_windows.json``, sorted by name."""
    labels = json.loads((root / "labels" / "combined_windows.json").read_text(encoding="utf-8"))
    files = []
    for name in sorted(labels):
        stamps, values = _read_csv(root / "data" / name)
        windows = []
        for start, end in labels[name]:
            lo = int(np.searchsorted(stamps, np.datetime64(start, "us"), side="left"))
            hi = int(np.searchsorted(stamps, np.datetime64(end, "us"), side="right")) - 1
            if hi >= lo:
                windows.append((lo, hi))
        files.append(NabFile(name, values, tuple(windows)))
    return files
