"""Whether a stream's key comes in strictly ascending order, noted as the valid rows pass.

Why: silver holds one row per primary key, and proving that no key of a batch repeats costs a
query that hashes every key (about a tenth of the CPU of a large load). Exports very often list
their rows in key order (a table dumped by its primary key, a log by its sequence number), and
keys that only ever increase are all distinct; checking that while the rows stream into silver
costs one comparison per row. When the order breaks, the caller is told at once and starts the
query then, so unordered input loses nothing against running the query from the start.
"""

from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["AscendingKey"]


class AscendingKey:
    """Watches one column of the batches passed through :meth:`track`.

    Attributes:
        ascending: every value so far was present and greater than the one before it, in the
            order Arrow compares values of the type; once false it stays false. Floating-point
            keys break the order at ``NaN`` and where ``0.0`` and ``-0.0`` meet (equal to the
            engine), so ``ascending`` never claims distinct keys the engine finds equal.
    """

    def __init__(self, column: str, *, on_break: Callable[[], None] | None = None) -> None:
        self._column = column
        self._on_break = on_break
        self._last: pa.Scalar | None = None
        self.ascending = True

    def track(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """``reader`` unchanged, its key column noted batch by batch as it is read."""
        index = reader.schema.get_field_index(self._column)
        if index < 0:
            self._break()
            return reader

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                if self.ascending:
                    self._note(batch.column(index))
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _note(self, values: pa.Array) -> None:
        count = len(values)
        if count == 0:
            return
        if values.null_count:
            self._break()
            return
        try:
            joined = self._last is None or pc.less(self._last, values[0]).as_py()
            inside = (
                count == 1 or pc.all(pc.less(values.slice(0, count - 1), values.slice(1))).as_py()
            )
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            self._break()
            return
        if not (joined and inside):
            self._break()
            return
        self._last = values[count - 1]

    def _break(self) -> None:
        if not self.ascending:
            return
        self.ascending = False
        self._last = None
        if self._on_break is not None:
            self._on_break()
