"""NAB's scoring rules, written from their description in ``benchmarks/README.md`` of the data.

Every record gets a worth: inside a window, the scaled sigmoid of its position (the first record
earns ``A_TP``, the last almost nothing); outside, a cost that is near zero just after a window and
``-A_FP`` far from one. A window scores its earliest detection, or ``-A_FN`` when missed; every
detection outside the windows costs its worth. One threshold per detector and profile covers the
whole corpus; :func:`sweep` finds the best over every distinct score, as the current NAB does.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmarks._nab_corpus import NabFile, Profile


def scaled_sigmoid(y: np.ndarray) -> np.ndarray:
    """``2*sigmoid(-5y) - 1``, and exactly -1 past ``y = 3``."""
    out = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, out)


@dataclass(frozen=True, slots=True)
class FileWeights:
    """Per record of one file: its window (-1: none) and what a detection there is worth."""

    window: np.ndarray
    worth: np.ndarray
    windows: int
    probation: int


def file_weights(nab: NabFile, profile: Profile) -> FileWeights:
    n = len(nab.values)
    window = np.full(n, -1, dtype=np.int64)
    worth = np.full(n, -profile.fp, dtype=np.float64)
    top = float(scaled_sigmoid(np.array([-1.0]))[0])
    index = np.arange(n, dtype=np.float64)
    for k, (lo, hi) in enumerate(nab.windows):
        width = hi - lo + 1
        inside = slice(lo, hi + 1)
        window[inside] = k
        y = -(hi - index[inside] + 1.0) / width
        worth[inside] = profile.tp * scaled_sigmoid(y) / top
        following = nab.windows[k + 1][0] if k + 1 < len(nab.windows) else n
        after = slice(hi + 1, following)
        y = (index[after] - hi) / max(width - 1, 1)
        worth[after] = profile.fp * scaled_sigmoid(y)
    return FileWeights(window, worth, len(nab.windows), nab.probation)


@dataclass(frozen=True, slots=True)
class FileScore:
    """One file's raw score at a threshold and NAB's record counts (for information)."""

    name: str
    score: float
    tp: int
    fp: int
    fn: int
    tn: int


def score_file(
    name: str, weights: FileWeights, scores: np.ndarray, threshold: float, profile: Profile
) -> FileScore:
    """Raw NAB score of one file when every record scoring at least ``threshold`` is a detection."""
    live = np.arange(len(scores)) >= weights.probation
    detected = (scores >= threshold) & live
    inside = weights.window >= 0
    total = 0.0
    for k in range(weights.windows):
        hits = detected & (weights.window == k)
        total += float(weights.worth[hits].max()) if hits.any() else -profile.fn
    total += float(weights.worth[detected & ~inside].sum())
    return FileScore(
        name=name,
        score=total,
        tp=int((detected & inside).sum()),
        fp=int((detected & ~inside).sum()),
        fn=int((~detected & inside & live).sum()),
        tn=int((~detected & ~inside & live).sum()),
    )


@dataclass(frozen=True, slots=True)
class Sweep:
    """The best threshold over the corpus and the raw and normalised scores there."""

    threshold: float
    raw: float
    normalised: float


def normalise(raw: float, windows: int, profile: Profile) -> float:
    """0 for the null detector (every window missed), 100 for the perfect one."""
    null = -profile.fn * windows
    perfect = profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null)


def sweep(weights: Sequence[FileWeights], scores: Sequence[np.ndarray], profile: Profile) -> Sweep:
    """The threshold with the highest raw corpus score, trying every distinct live score.

    Walks the live records from the highest score down. A false positive adds its worth as it is
    passed; a window's contribution rises from ``-A_FN`` to its best detection so far, so each rise
    is an event at the rank where it happens. The corpus score after a rank is the running sum.
    """
    all_scores, all_worth, all_window = [], [], []
    offset = 0
    for w, s in zip(weights, scores, strict=True):
        live = slice(w.probation, None)
        all_scores.append(np.asarray(s, dtype=np.float64)[live])
        all_worth.append(w.worth[live])
        all_window.append(np.where(w.window[live] >= 0, w.window[live] + offset, -1))
        offset += w.windows
    score = np.concatenate(all_scores)
    worth = np.concatenate(all_worth)
    window = np.concatenate(all_window)
    order = np.argsort(-score, kind="stable")
    score, worth, window = score[order], worth[order], window[order]

    delta = np.where(window < 0, worth, 0.0)
    inside = np.flatnonzero(window >= 0)
    if inside.size:
        # Per window, in rank order: the running best worth; every rise is an event.
        by_window = inside[np.lexsort((inside, window[inside]))]
        ids = window[by_window]
        vals = worth[by_window]
        starts = np.r_[True, ids[1:] != ids[:-1]]
        group_start = np.maximum.accumulate(np.where(starts, np.arange(ids.size), 0))
        running = _segment_cummax(vals, group_start)
        previous = np.where(starts, -np.inf, np.r_[-np.inf, running[:-1]])
        base = np.where(starts, -profile.fn, previous)
        rise = np.where(running > np.where(starts, -np.inf, previous), running - base, 0.0)
        np.add.at(delta, by_window, rise)
    total = -profile.fn * offset + np.cumsum(delta)
    # Only the last record of a run of equal scores is a reachable threshold.
    last = np.r_[score[1:] != score[:-1], True]
    candidates = np.flatnonzero(last)
    best_raw = -profile.fn * offset
    best_threshold = math.inf if score.size == 0 else float(np.nextafter(score[0], np.inf))
    if candidates.size:
        k = int(candidates[np.argmax(total[candidates])])
        if total[k] > best_raw:
            best_raw = float(total[k])
            best_threshold = float(score[k])
    return Sweep(best_threshold, best_raw, normalise(best_raw, offset, profile))


def _segment_cummax(values: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting at each group (groups are contiguous).

    Worths lie within [-1, 1]; lifting each later group by 4 keeps one accumulate from carrying
    a maximum across a group boundary.
    """
    group = np.cumsum(group_start == np.arange(values.size)) * 4.0
    return np.maximum.accumulate(values + group) - group
