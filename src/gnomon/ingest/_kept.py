"""Which bronze rows of a batch became valid rows, noted as the valid rows stream past.

Why: the quarantine judges only the batch's rows that are not valid (a row a rule rejects is
never valid), which are few in most batches. The valid rows pass through Python on their way
into silver's files, so noting their ``_row`` ordinals there costs one byte per row of the batch,
where asking the engine which bronze rows the files lack would read both again. ``_row`` is a
dense ordinal from 1 (see ``_landing``), so a flag per ordinal is the whole record.
"""

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KeptRows"]

_MIN_CAPACITY = 1 << 16


class KeptRows:
    """The ``_row`` ordinals of the rows passed through :meth:`track`.

    Attributes:
        count: rows passed through.
        tracked: whether every row passed had an ordinal this can note (``_row`` present, not
            null, not negative); when not, nothing can be said about which rows were left out.
    """

    def __init__(self, column: str) -> None:
        self._column = column
        self._seen = np.zeros(0, dtype=np.bool_)
        self.count = 0
        self.tracked = True

    def track(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """``reader`` without the ordinal column, noting each batch's ordinals as it passes."""
        index = reader.schema.get_field_index(self._column)
        if index < 0:
            self.tracked = False
            return reader
        schema = reader.schema.remove(index)

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                self._note(batch.column(index))
                yield batch.remove_column(index)

        return pa.RecordBatchReader.from_batches(schema, batches())

    def clear(self) -> None:
        """Forget every row noted, for the rows of the batch to pass through again."""
        self._seen = np.zeros(0, dtype=np.bool_)
        self.count = 0
        self.tracked = True

    def missing(self, low: int, high: int) -> pa.Array:
        """The ordinals from ``low`` to ``high`` (both included) that did not pass, ascending."""
        if high < low:
            return pa.array([], type=pa.int64())
        low = max(low, 0)
        seen = np.zeros(high - low + 1, dtype=np.bool_)
        known = self._seen[low : high + 1]
        seen[: len(known)] = known
        return pa.array(np.flatnonzero(~seen).astype(np.int64) + low, type=pa.int64())

    def _note(self, ordinals: pa.Array) -> None:
        self.count += len(ordinals)
        if not self.tracked or len(ordinals) == 0:
            return
        if ordinals.null_count or pc.min(ordinals).as_py() < 0:
            self.tracked = False
            return
        values = np.asarray(ordinals.to_numpy(zero_copy_only=False), dtype=np.int64)
        top = int(values.max())
        if top >= len(self._seen):
            grown = np.zeros(max(top + 1, 2 * len(self._seen), _MIN_CAPACITY), dtype=np.bool_)
            grown[: len(self._seen)] = self._seen
            self._seen = grown
        self._seen[values] = True
