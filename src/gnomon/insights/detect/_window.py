"""A trailing window kept sorted, for medians, quantiles and the MAD in O(log window) searches.

The values live twice: in arrival order (to know which one leaves) and sorted (bisect inserts
and removes, a memmove each). The MAD is the median of distances from the median; those
distances form two sorted runs on either side of the median, so their k-th smallest is a
binary search over how many come from each run rather than a sort.
"""

import bisect
from collections import deque


class SortedWindow:
    """The last ``size`` values, with order statistics."""

    __slots__ = ("_arrivals", "_size", "_sorted")

    def __init__(self, size: int) -> None:
        self._size = size
        self._arrivals: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def push(self, value: float) -> None:
        """Add ``value``, dropping the oldest value once the window is full."""
        if len(self._arrivals) == self._size:
            old = self._arrivals.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._arrivals.append(value)
        bisect.insort(self._sorted, value)

    def quantile(self, q: float) -> float:
        """The ``q`` quantile with linear interpolation between order statistics."""
        s = self._sorted
        position = q * (len(s) - 1)
        lo = int(position)
        hi = min(lo + 1, len(s) - 1)
        frac = position - lo
        return s[lo] * (1.0 - frac) + s[hi] * frac

    def rank_above(self, value: float) -> int:
        """How many values are at least ``value``."""
        return len(self._sorted) - bisect.bisect_left(self._sorted, value)

    def rank_below(self, value: float) -> int:
        """How many values are at most ``value``."""
        return bisect.bisect_right(self._sorted, value)

    def median(self) -> float:
        s = self._sorted
        n = len(s)
        mid = n // 2
        return s[mid] if n % 2 else s[mid - 1] * 0.5 + s[mid] * 0.5

    def mad(self, center: float) -> float:
        """Median absolute deviation from ``center`` (unscaled)."""
        s = self._sorted
        n = len(s)
        split = bisect.bisect_left(s, center)
        k = n // 2
        if n % 2:
            return self._kth_distance(k, split, center)
        return (
            self._kth_distance(k - 1, split, center) * 0.5
            + self._kth_distance(k, split, center) * 0.5
        )

    def _kth_distance(self, k: int, split: int, center: float) -> float:
        """The k-th smallest (0-based) of ``|x - center|`` over the window."""
        s = self._sorted
        n_left = split
        n_right = len(s) - split

        def left(j: int) -> float:  # j-th nearest below the centre
            return center - s[split - 1 - j]

        def right(j: int) -> float:  # j-th nearest at or above the centre
            return s[split + j] - center

        lo = max(0, k + 1 - n_right)
        hi = min(k + 1, n_left)
        while lo < hi:
            i = (lo + hi) // 2
            if left(i) < right(k - i):
                lo = i + 1
            else:
                hi = i
        taken_right = k + 1 - lo
        best = -1.0
        if lo > 0:
            best = left(lo - 1)
        if taken_right > 0:
            best = max(best, right(taken_right - 1))
        return best
