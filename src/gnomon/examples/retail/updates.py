"""Status updates after the fact: the change feed that silver merges with "latest wins".

About ``fraction`` of all orders get one later change: a shipped order is returned, or a placed
order is cancelled. The update repeats every column of the order unchanged except ``status`` and
``updated_at``, which is strictly later than the order line's and still inside the data window.
"""

import dataclasses
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from gnomon.examples.retail import _format
from gnomon.examples.retail.models import COLUMNS
from gnomon.examples.retail.orders import (
    CANCELLED,
    DAY_SECONDS,
    PLACED,
    RETURNED,
    SHIPPED,
    OrderBatch,
    TextTables,
    format_columns,
)

__all__ = ["UpdateCollector", "format_ndjson"]

_CHANGES: Final = {
    SHIPPED: (RETURNED, 3 * DAY_SECONDS, 30 * DAY_SECONDS),
    PLACED: (CANCELLED, 600, DAY_SECONDS),
}
"""Old status -> (new status, shortest and longest delay after the order line's update)."""

_NUMERIC: Final = frozenset({"quantity", "unit_price", "discount"})


class UpdateCollector:
    """Chooses updates block by block and hands them back in ``updated_at`` order.

    Updates are kept as integer columns (a few dozen bytes each) rather than text, so even the
    updates of tens of millions of orders fit comfortably in memory until they are sorted.
    """

    def __init__(self, *, fraction: float, end_seconds: int) -> None:
        self._fraction = fraction
        self._end = end_seconds
        self._parts: list[OrderBatch] = []

    def collect(
        self, batch: OrderBatch, good: npt.NDArray[np.bool_], rng: np.random.Generator
    ) -> None:
        """Pick updates among the well-formed rows of one block."""
        eligible = good & np.isin(batch.status, list(_CHANGES))
        n_eligible = int(eligible.sum())
        if self._fraction <= 0 or n_eligible == 0:
            return
        chance = min(1.0, self._fraction * int(good.sum()) / n_eligible)
        chosen = np.flatnonzero(eligible & (rng.random(len(batch)) < chance))
        picked = batch.take(chosen)
        status = picked.status.copy()
        updated = picked.updated.copy()
        for old, (new, low, high) in _CHANGES.items():
            match = picked.status == old
            status[match] = new
            updated[match] += rng.integers(low, high, size=int(match.sum()))
        inside = np.flatnonzero(updated < self._end)
        self._parts.append(dataclasses.replace(picked, status=status, updated=updated).take(inside))

    def merged(self) -> OrderBatch | None:
        """Every update, ordered by ``updated_at`` then order number; ``None`` when empty."""
        if not self._parts:
            return None
        fields = {
            field.name: np.concatenate([getattr(part, field.name) for part in self._parts])
            for field in dataclasses.fields(OrderBatch)
        }
        merged = OrderBatch(**fields)
        return merged.take(np.lexsort((merged.number, merged.updated)))


def format_ndjson(batch: OrderBatch, text: TextTables) -> pa.Array:
    """One JSON object per line, keys in column order.

    Quantity, unit price and discount are JSON numbers written with the same digits as in the
    CSV files (``59.90``), so the values are the order line's, character for character.
    """
    columns = format_columns(batch, text)
    pieces: list[pa.Array | pa.Scalar] = []
    closing = ""
    for position, (name, column) in enumerate(zip(COLUMNS, columns, strict=True)):
        quote = "" if name in _NUMERIC else '"'
        pieces.append(_format.literal(f'{closing}{"{" if position == 0 else ","}"{name}":{quote}'))
        pieces.append(column)
        closing = quote
    pieces.append(_format.literal(closing + "}\n"))
    return _format.join(pieces, "")
