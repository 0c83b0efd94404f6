"""Deliberately broken lines, one known defect each, for quarantine to catch.

A broken line is a real order line with exactly one field spoiled (or one field too many), so a
strict reader rejects it for one reason only and the counts per kind are unambiguous. Positions
are drawn uniformly over all lines of the data set; a broken line takes the place of the order it
spoils, and its order number is not reused.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from gnomon.examples.retail.models import BROKEN_KINDS, COLUMNS, BrokenKind

__all__ = ["BrokenPlan", "broken_count", "broken_line", "plan_broken"]

Ints = npt.NDArray[np.int64]

MIN_BROKEN: Final = 10
"""A data set with any broken lines has at least this many, so every kind shows up."""

_BAD_QUANTITIES: Final = ("two", "n/a", "1x", "several")
_BAD_TIMES: Final = ("not-a-date", "yesterday", "2024-02-30 12:00:00", "32/13/2024 25:61")
_BAD_STATUSES: Final = ("lost", "on_hold", "pending_review", "unknown")
_EXTRA_VALUES: Final = ("gift-wrap", "note", "EXTRA")


@dataclass(frozen=True, slots=True)
class BrokenPlan:
    """Which lines of the data set are broken, and how.

    Attributes:
        positions: 0-based line numbers over all order lines (headers excluded), ascending.
        kinds: position in :data:`BROKEN_KINDS` of each broken line's defect.
        variants: which spoiled value each line uses (an index into that kind's choices).
    """

    positions: Ints
    kinds: Ints
    variants: Ints

    def counts(self) -> Mapping[str, int]:
        """Broken lines per kind; every kind is present, possibly with zero."""
        tally = np.bincount(self.kinds, minlength=len(BROKEN_KINDS))
        return {kind: int(tally[i]) for i, kind in enumerate(BROKEN_KINDS)}

    def within(self, first: int, count: int) -> tuple[Ints, Ints, Ints]:
        """Broken lines among lines ``first … first + count - 1``, as local line numbers."""
        low, high = np.searchsorted(self.positions, [first, first + count])
        return (
            self.positions[low:high] - first,
            self.kinds[low:high],
            self.variants[low:high],
        )


def broken_count(rows: int, fraction: float) -> int:
    """How many lines to break: the fraction of ``rows``, at least :data:`MIN_BROKEN`."""
    if fraction <= 0:
        return 0
    return max(MIN_BROKEN, round(rows * fraction))


def plan_broken(total_lines: int, count: int, *, rng: np.random.Generator) -> BrokenPlan:
    """Spread ``count`` broken lines over ``total_lines`` lines, kinds in near-equal shares."""
    positions = np.sort(rng.choice(total_lines, size=count, replace=False)).astype(np.int64)
    kinds = rng.permutation(np.arange(count, dtype=np.int64) % len(BROKEN_KINDS))
    variants = rng.integers(0, 12, size=count)
    return BrokenPlan(positions=positions, kinds=kinds.astype(np.int64), variants=variants)


def _pick(choices: Sequence[str], variant: int) -> str:
    return choices[variant % len(choices)]


def broken_line(fields: Sequence[str], kind: BrokenKind, variant: int) -> str:
    """The CSV line of a well-formed row's ``fields`` with one defect of ``kind``."""
    values = dict(zip(COLUMNS, fields, strict=True))
    extra: list[str] = []
    if kind == "non_numeric_quantity":
        values["quantity"] = _pick(_BAD_QUANTITIES, variant)
    elif kind == "negative_unit_price":
        values["unit_price"] = "-" + values["unit_price"]
    elif kind == "missing_order_id":
        values["order_id"] = ""
    elif kind == "unknown_status":
        values["status"] = _pick(_BAD_STATUSES, variant)
    elif kind == "unparseable_order_time":
        values["order_time"] = _pick(_BAD_TIMES, variant)
    else:
        extra.append(_pick(_EXTRA_VALUES, variant))
    return ",".join([*(values[column] for column in COLUMNS), *extra]) + "\n"
