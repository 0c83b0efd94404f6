"""The search for sparse counts and small tables: elements tested as wholes, like a G-test.

Business data broken down to leaves is often sparse: a day's orders of one country, channel,
category and basket size are 0, 1 or 3, and a leaf's own relative deviation says nothing. What
is telling is an element's total: web orders of home goods at 54 where 16 were expected. Here
each candidate element's observed total ``r`` is compared with its expected total ``p`` under a
quasi-Poisson model (variance ``phi`` times the mean, ``phi`` estimated from the leaves), with
two likelihood-ratio tests, both of which it must pass:

- against its expectation (its factor is 1): ``2 [r ln(r/p) - (r - p)]``;
- against the rest of the table (its factor equals the rest's, fitted):
  ``2 [r ln(r/p) + o ln(o/q) - t ln(t/s)]`` with ``o, q`` the rest's and ``t, s`` the totals.

The first keeps a segment that merely did not share a global move from being blamed; the
second keeps a large segment that only carried a shift shared by all (a season, a trend) from
being named. The smaller of the two, divided by ``phi``, must beat the Bonferroni-corrected
chi-square quantile of its layer (``alpha`` over the number of candidate elements there).

When the baseline is made of several earlier windows (``LeafTable.history``), each element is
held to its own dispersion: the variance of its totals over those windows against its mean
(never below ``phi``). Sums of amounts are heteroscedastic — a segment of a few televisions
swings more than one of many books — and a swing a segment often has is not a cause.

Elements are taken greedily, best first; a taken element's leaves leave the table, so its
ancestors and descendants no longer profit from them. Between a winner and an ancestor whose
evidence is nearly as strong, the ancestor (fewer dimensions) is named: with sparse leaves a
cause's children are individually weak and its finer combinations win only by noise.

Which tables take this path is decided in :func:`counts_like`: tables of a few leaves, where a
noise level cannot be told apart from the change, and additive tables of counts (whole numbers)
that are sparse (the median leaf expects fewer than 20) or whose spread grows like the mean
rather than like its square (multiplicative noise). Sums of
amounts keep the other search: their heavy tails (a few very large baskets) defeat a
variance-to-mean model.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from gnomon.insights.explain._search import Cuboid
from gnomon.insights.explain.leaves import LeafTable

__all__ = ["CountFound", "count_search", "counts_like"]

ALPHA = 0.05
"""Family-wise error rate per layer of candidates."""
SMALL_TABLE = 32
"""Below this many leaves, a table is searched as counts whatever its spread."""
TINY_TABLE = 8
"""Below this many leaves, integer tables are taken as Poisson (``phi`` = 1)."""
SPARSE = 20.0
"""Counts whose median leaf expects fewer than this are sparse: their own deviations say little."""
_SLOPE = 1.5
"""Spread growing with a power of the mean below this is count-like (Poisson 1, relative 2)."""
_BINS = 8
_ANCESTOR_MARGIN = 0.1
"""An ancestor within this share of the winner's evidence is named instead of it."""
_SAME_WAY = 6.63
"""The chi-square (1 df) value at 1 %: the rest of an ancestor moved with the winner, against
its expectation and against the rest of the table."""
_MEDIAN_CHI2 = 0.45493642311957283
"""The median of a chi-square variable with one degree of freedom."""


@dataclass(frozen=True, slots=True)
class CountFound:
    """An accepted element: its cuboid's index, its code there and its evidence over the bar."""

    cuboid: int
    element: int
    score: float
    p_value: float


def counts_like(leaves: LeafTable) -> bool:
    """Whether the table is better searched as counts (see the module docstring)."""
    size = len(leaves)
    if size < SMALL_TABLE:
        return True
    if leaves.is_ratio or not _whole(leaves.real):
        return False
    if float(np.median(leaves.predict)) < SPARSE:
        return True
    return _spread_slope(leaves.real, leaves.predict) < _SLOPE


def _whole(values: np.ndarray) -> bool:
    """Whether every value is a whole number of at least 0 (counts)."""
    return bool(np.all(values >= 0) and np.all(values == np.round(values)))


def _spread_slope(real: np.ndarray, predict: np.ndarray) -> float:
    """How the squared deviation grows with the expected value (the exponent of a power law)."""
    usable = predict > 0
    if int(usable.sum()) < _BINS * 4:
        return 2.0
    expected = predict[usable]
    squared = (real[usable] - expected) ** 2
    order = np.argsort(expected, kind="stable")
    points = []
    for chunk in np.array_split(order, _BINS):
        level = float(np.median(expected[chunk]))
        spread = float(np.median(squared[chunk]))
        if level > 0 and spread > 0:
            points.append((math.log(level), math.log(spread)))
    if len(points) < 4:
        return 2.0
    x, y = np.array(points).T
    return float(np.polyfit(x, y, 1)[0])


def _observed_expected(leaves: LeafTable) -> tuple[np.ndarray, np.ndarray]:
    """What is tested per leaf: its value, or a ratio's numerator given its denominator.

    For a ratio the expected numerator is the rate the leaf was expected to have times the
    volume it had, so a leaf's count noise does not hide a change of its rate.
    """
    if not leaves.is_ratio:
        return leaves.real.astype(np.float64), leaves.predict.astype(np.float64)
    real_num, real_den, predict_num, predict_den = leaves.ratio_parts()
    rate = np.divide(
        predict_num, predict_den, out=np.zeros_like(predict_num), where=predict_den != 0
    )
    return real_num.astype(np.float64), rate * real_den


def _dispersion(observed: np.ndarray, expected: np.ndarray) -> float:
    """``phi``: the variance-to-mean ratio of normal leaves, from the median residual."""
    total_expected = float(expected.sum())
    if total_expected <= 0:
        return 1.0
    factor = float(observed.sum()) / total_expected
    fitted = expected * factor
    usable = fitted > 0
    integer = _whole(observed)
    if observed.size < TINY_TABLE and integer:
        return 1.0
    if not usable.any():
        return 1.0
    residual = (observed[usable] - fitted[usable]) ** 2 / fitted[usable]
    phi = float(np.median(residual)) / _MEDIAN_CHI2
    return max(phi, 1.0) if integer else max(phi, 1e-9)


def _same_totals(history: np.ndarray | None, expected: np.ndarray) -> np.ndarray | None:
    """Each window of ``history`` scaled to the expected total.

    What moved every segment alike between windows (a holiday week, a trend) is not a
    segment's own variation; only how the windows' shares differ is.
    """
    if history is None:
        return None
    totals = history.sum(axis=0)
    target = float(expected.sum())
    scale = np.divide(target, totals, out=np.ones_like(totals), where=totals > 0)
    scaled: np.ndarray = history * scale
    return scaled


def _own_dispersion(
    codes: np.ndarray, history: np.ndarray, expected: np.ndarray, size: int, phi: float
) -> np.ndarray:
    """Per element, how much its total varied over the baseline's windows, against its mean.

    The variance of the element's window totals over its expected value: the quasi-Poisson
    dispersion of that segment itself, never below the table's ``phi`` (a few windows can
    look calm by chance). A segment of a few very large baskets varies far more than one of
    many small ones, and is held to its own standard.
    """
    totals = np.column_stack(
        [np.bincount(codes, weights=history[:, w], minlength=size) for w in range(history.shape[1])]
    )
    variance = totals.var(axis=1, ddof=1)
    own = np.divide(variance, expected, out=np.zeros_like(variance), where=expected > 0)
    spread: np.ndarray = np.maximum(own, phi)
    return spread


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * ln(y)``, 0 where ``x`` is 0."""
    out = np.zeros_like(x, dtype=np.float64)
    positive = x > 0
    out[positive] = x[positive] * np.log(y[positive])
    return out


def _evidence(
    r: np.ndarray, p: np.ndarray, total_r: float, total_p: float, unit: float
) -> np.ndarray:
    """The smaller of the two likelihood ratios per element (see the module docstring).

    No element is expected to hold less than ``unit`` (one order, one typical amount): a
    segment that was empty in every baseline window was not certainly empty, and a couple of
    orders there is no proof of anything.
    """
    floor = max(total_p, total_r, 1.0) * 1e-9
    other_r = np.maximum(total_r - r, 0.0)
    other_p = np.maximum(total_p - p, floor)
    p = np.maximum(p, unit)
    own = 2.0 * (_xlogy(r, r / p) - (r - p))
    whole = total_r * math.log(total_r / max(total_p, floor)) if total_r > 0 else 0.0
    rest = 2.0 * (_xlogy(r, r / p) + _xlogy(other_r, other_r / other_p) - whole)
    smaller: np.ndarray = np.maximum(np.minimum(own, rest), 0.0)
    return smaller


def _bar(candidates: int) -> float:
    """The chi-square (1 df) quantile a layer's best element must beat."""
    tail = ALPHA / (2 * max(candidates, 1))
    return NormalDist().inv_cdf(1.0 - tail) ** 2


def _chi2_sf(statistic: float) -> float:
    """P(chi-square with 1 df > statistic)."""
    return 2.0 * (1.0 - NormalDist().cdf(math.sqrt(max(statistic, 0.0))))


def count_search(leaves: LeafTable, cubes: Sequence[Cuboid], *, max_found: int) -> list[CountFound]:
    """The elements the count model names, in the order taken."""
    observed, expected = _observed_expected(leaves)
    phi = _dispersion(observed, expected)
    history = None if leaves.is_ratio else _same_totals(leaves.history, expected)
    layers = [len(cube.dims) for cube in cubes]
    bars = {
        layer: _bar(sum(c.size for c, n in zip(cubes, layers, strict=True) if n == layer))
        for layer in set(layers)
    }
    remaining = np.ones(len(leaves), dtype=bool)
    found: list[CountFound] = []
    while len(found) < max_found and remaining.any():
        total_r = float(observed[remaining].sum())
        total_p = float(expected[remaining].sum())
        scores: list[np.ndarray] = []
        for cube, layer in zip(cubes, layers, strict=True):
            codes = cube.codes[remaining]
            r = np.bincount(codes, weights=observed[remaining], minlength=cube.size)
            p = np.bincount(codes, weights=expected[remaining], minlength=cube.size)
            present = np.bincount(codes, minlength=cube.size) > 0
            spread: float | np.ndarray = phi
            if history is not None:
                spread = _own_dispersion(codes, history[remaining], p, cube.size, phi)
            evidence = _evidence(r, p, total_r, total_p, phi) / spread
            scores.append(np.where(present, evidence - bars[layer], -np.inf))
        best = max(range(len(cubes)), key=lambda i: float(scores[i].max(initial=-np.inf)))
        element = int(np.argmax(scores[best]))
        score = float(scores[best][element])
        if not score > 0:
            break
        moved = _Moved(observed, expected, remaining, phi)
        best, element, score = _general(cubes, scores, best, element, score, moved)
        statistic = score + bars[layers[best]]
        found.append(CountFound(best, element, score, _chi2_sf(statistic)))
        remaining &= cubes[best].codes != element
    return found


@dataclass(frozen=True, slots=True)
class _Moved:
    """Whether a set of the remaining leaves moved, and which way, against its expectation."""

    observed: np.ndarray
    expected: np.ndarray
    remaining: np.ndarray
    phi: float

    def direction(self, mask: np.ndarray) -> float:
        keep = mask & self.remaining
        return float(np.sign(self.observed[keep].sum() - self.expected[keep].sum()))

    def same_way(self, mask: np.ndarray, direction: float) -> bool:
        keep = mask & self.remaining
        r = np.array([self.observed[keep].sum()])
        p = np.array([self.expected[keep].sum()])
        if direction == 0 or float(np.sign(r[0] - p[0])) != direction:
            return False
        total_r = float(self.observed[self.remaining].sum())
        total_p = float(self.expected[self.remaining].sum())
        both = _evidence(r, p, total_r, total_p, self.phi)
        return float(both[0]) / self.phi > _SAME_WAY


def _general(
    cubes: Sequence[Cuboid],
    scores: Sequence[np.ndarray],
    best: int,
    element: int,
    score: float,
    moved: _Moved,
) -> tuple[int, int, float]:
    """The winner, or the ancestor with the fewest dimensions that the cause really is.

    An ancestor is the cause when its own evidence passes the bar and either is nearly as
    strong as the winner's or the rest of it (the ancestor without the winner) moved the same
    way beyond the noise: with sparse leaves, chance piles a cause's excess on one child.
    """
    winner = cubes[best]
    inside = winner.codes == element
    direction = moved.direction(inside)
    leaf = int(winner.members[element])
    chosen = (best, element, score)
    for index, cube in sorted(enumerate(cubes), key=lambda item: len(item[1].dims)):
        if len(cube.dims) >= len(cubes[chosen[0]].dims) or not set(cube.dims) < set(winner.dims):
            continue
        code = int(cube.codes[leaf])
        candidate = float(scores[index][code])
        if candidate <= 0:
            continue
        rest = (cube.codes == code) & ~inside
        close = candidate >= score * (1.0 - _ANCESTOR_MARGIN)
        if close or moved.same_way(rest, direction):
            chosen = (index, code, candidate)
    return chosen
