"""The search for root-cause elements: greedy, over every cuboid at once, by penalised gain.

An element is a combination of values of some dimensions (its cuboid); its gain is the sum of
its leaves' gains (see :mod:`gnomon.insights.explain._deviation`). Why all cuboids at once and
not layer after layer: the causes of one anomaly may sit in different layers, and the gain
already prefers the exact element over its ancestors (they add normal leaves) and descendants
(they miss anomalous ones), so the best element anywhere is the next cause.

Each element pays a penalty before it is accepted: the log of the number of elements of its
layer (many candidates make a large gain by chance more likely, as in a Bonferroni bound) plus
a constant. After an element is accepted its leaves are set aside, the gains of every element
sharing them are reduced by bincounts over those leaves only, and the search goes on until no
element pays its penalty.

Group-bys are integer codes per cuboid: mixed-radix codes of the dimensions' value codes,
compressed with ``np.unique`` when the cuboid's full product would be larger than needed.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

__all__ = ["Cuboid", "Found", "cuboids", "factorize", "greedy"]


def factorize(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Integer codes of ``values`` and the distinct values they index.

    Works for any hashable values, ``None`` included and mixed types (where sorting fails,
    values are numbered in order of appearance).
    """
    if values.dtype != object:
        uniques, codes = np.unique(values, return_inverse=True)
        return codes.astype(np.int64).reshape(-1), uniques.tolist()
    try:
        uniques, codes = np.unique(values, return_inverse=True)
    except TypeError:
        index: dict[Any, int] = {}
        codes = np.fromiter(
            (index.setdefault(v, len(index)) for v in values.tolist()),
            dtype=np.int64,
            count=len(values),
        )
        return codes, list(index)
    return codes.astype(np.int64).reshape(-1), uniques.tolist()


@dataclass(frozen=True, slots=True)
class Cuboid:
    """One combination of dimensions, with each leaf's element code in it.

    Attributes:
        dims: indexes of the dimensions, ascending.
        codes: the element of each leaf (int64, dense from 0).
        size: the number of elements codes may take.
        members: per element, one leaf of it (to read its dimension values back).
    """

    dims: tuple[int, ...]
    codes: np.ndarray
    size: int
    members: np.ndarray


def _compressed(code: np.ndarray) -> tuple[np.ndarray, int]:
    uniques, inverse = np.unique(code, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1), int(uniques.size)


def cuboids(codes: Sequence[np.ndarray], sizes: Sequence[int], max_layer: int) -> list[Cuboid]:
    """Every cuboid of 1 to ``max_layer`` dimensions, in order of layer."""
    n = int(codes[0].shape[0])
    found: dict[tuple[int, ...], tuple[np.ndarray, int]] = {}
    result = []
    for layer in range(1, max_layer + 1):
        for dims in combinations(range(len(codes)), layer):
            if layer == 1:
                code, size = codes[dims[0]], sizes[dims[0]]
            else:
                parent, parent_size = found[dims[:-1]]
                code = parent * sizes[dims[-1]] + codes[dims[-1]]
                size = parent_size * sizes[dims[-1]]
                if size > 2 * n:
                    code, size = _compressed(code)
            found[dims] = (code, size)
            members = np.zeros(size, dtype=np.int64)
            members[code[::-1]] = np.arange(n - 1, -1, -1)
            result.append(Cuboid(dims=dims, codes=code, size=size, members=members))
    return result


@dataclass(frozen=True, slots=True)
class Found:
    """An accepted element.

    Attributes:
        cuboid: index into the cuboid list.
        element: the element's code in its cuboid.
        hypothesis: the row of the evidence it was accepted under.
        score: gain minus penalty (> 0).
        leaves: bool mask of the leaves it took (those not taken by earlier elements).
    """

    cuboid: int
    element: int
    hypothesis: int
    score: float
    leaves: np.ndarray


def greedy(
    cubes: Sequence[Cuboid],
    gain: np.ndarray,
    informative: np.ndarray,
    *,
    penalty: float,
    max_found: int,
) -> list[Found]:
    """Accept elements by best penalised gain until none pays (see the module docstring)."""
    layers = [len(c.dims) for c in cubes]
    counts: dict[int, int] = {}
    totals = []
    for cube, layer in zip(cubes, layers, strict=True):
        occupied = np.bincount(cube.codes, weights=informative, minlength=cube.size) > 0
        counts[layer] = counts.get(layer, 0) + int(occupied.sum())
        totals.append(
            np.vstack([np.bincount(cube.codes, weights=row, minlength=cube.size) for row in gain])
        )
    costs = [math.log(max(counts[layer], 1)) + penalty for layer in layers]
    active = np.ones(gain.shape[1], dtype=bool)
    found: list[Found] = []
    # Each round either accepts an element or bans one, so the loop ends.
    for _ in range(sum(t.size for t in totals)):
        if len(found) >= max_found:
            break
        best = _best(totals, costs)
        if best is None:
            break
        score, index, element, hypothesis = best
        taken = active & (cubes[index].codes == element)
        if not taken.any() or _split_pays(cubes, totals, costs, taken, index, hypothesis, score):
            # Rounding left a sliver of gain on a used-up element, or finer elements explain
            # its leaves better: it is not a cause (under this hypothesis).
            totals[index][hypothesis, element] = -np.inf
            continue
        found.append(Found(index, element, hypothesis, score, taken))
        active &= ~taken
        rows = np.flatnonzero(taken)
        for cube, total in zip(cubes, totals, strict=True):
            codes = cube.codes[rows]
            for h, row in enumerate(gain):
                np.subtract.at(total[h], codes, row[rows])
    return found


def _best(
    totals: Sequence[np.ndarray], costs: Sequence[float]
) -> tuple[float, int, int, int] | None:
    """``(score, cuboid, element, hypothesis)`` of the best element with a positive score."""
    best: tuple[float, int, int, int] | None = None
    for index, (total, cost) in enumerate(zip(totals, costs, strict=True)):
        flat = int(np.argmax(total))
        score = float(total.flat[flat]) - cost
        if score > 0 and (best is None or score > best[0]):
            best = (score, index, flat % total.shape[1], flat // total.shape[1])
    return best


def _split_pays(
    cubes: Sequence[Cuboid],
    totals: Sequence[np.ndarray],
    costs: Sequence[float],
    inside: np.ndarray,
    index: int,
    hypothesis: int,
    score: float,
) -> bool:
    """Whether the descendants in one finer cuboid, each paying its own penalty, beat the element.

    The greedy step compares an element with each descendant alone; this compares it with
    their sum, so two causes under one ancestor are not merged into it.
    """
    dims = set(cubes[index].dims)
    for finer, cube in enumerate(cubes):
        if len(cube.dims) <= len(dims) or not dims.issubset(cube.dims):
            continue
        kids = np.unique(cube.codes[inside])
        scores = totals[finer][hypothesis, kids] - costs[finer]
        if float(scores[scores > 0].sum()) > score:
            return True
    return False
