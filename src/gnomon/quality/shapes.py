"""Text columns proven to hold one canonical shape of value, so their casts can skip the guard.

Why: a typed column read from text is cast only where a regular expression first finds the text
in the type's shape, after trimming it (see ``_casts``); on a large CSV batch those guards and
trims are about a third of the check query's CPU. Files usually write every value of a numeric or
time column in one plain shape (``12``, ``1098.41``, ``2024-01-01 00:01:16``), and proving that
for a column of Arrow text is one vectorised pass over its bytes, done while the batch is read
anyway. A plan told that every value of a column has such a shape casts it directly: the guard
would have passed on every row and the trim would have changed nothing, so each row gets the same
value, the same rule results and the same reasons as with the guard.

A shape speaks only of the values that are present: nulls stay null either way. A shaped value is
never blank and has no surrounding spaces. The proof is exact, never sampled: one value outside
the shape, anywhere in the stream, and the column keeps its guard.
"""

from collections.abc import Iterator, Mapping
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from gnomon.quality.contract import ColumnSpec, ContractSpec

__all__ = ["TextShape", "TextShapes", "guard_shapes", "has_shape", "skips_guard"]


class TextShape(StrEnum):
    """A canonical spelling of values; each is a subset of the pattern its types guard with.

    ``integer``: ``[+-]?[0-9]+``. ``decimal``: ``[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)`` (no
    exponent). ``date``: ``YYYY-MM-DD``. ``wall_clock``: ``YYYY-MM-DD HH:MM:SS``, with ``T`` or a
    space between date and time, and no fraction or offset. Digits are ASCII digits only.
    """

    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    WALL_CLOCK = "wall_clock"


_SKIPPED: Final[Mapping[str, frozenset[TextShape]]] = {
    "integer": frozenset({TextShape.INTEGER}),
    "decimal": frozenset({TextShape.INTEGER, TextShape.DECIMAL}),
    "float": frozenset({TextShape.INTEGER, TextShape.DECIMAL}),
    "date": frozenset({TextShape.DATE}),
    "timestamp": frozenset({TextShape.DATE, TextShape.WALL_CLOCK}),
}
"""For each type whose text is guarded, the shapes its guard pattern accepts in full."""

_WANTED: Final[Mapping[str, TextShape]] = {
    "integer": TextShape.INTEGER,
    "decimal": TextShape.DECIMAL,
    "float": TextShape.DECIMAL,
    "date": TextShape.DATE,
    "timestamp": TextShape.WALL_CLOCK,
}
"""The shape worth proving for each type: the widest one its guard accepts in full."""


def skips_guard(shape: TextShape | None, spec: ColumnSpec) -> bool:
    """Whether text known to have ``shape`` can be cast to ``spec``'s type without its guard.

    Never for a column with a ``format`` (it is parsed by its format, not guarded by a shape).

    >>> from gnomon.quality.contract import ColumnSpec
    >>> skips_guard(TextShape.INTEGER, ColumnSpec(type="decimal(12,2)"))
    True
    >>> skips_guard(TextShape.DECIMAL, ColumnSpec(type="integer"))
    False
    """
    if shape is None or spec.format is not None:
        return False
    return shape in _SKIPPED.get(spec.column_type.name, frozenset())


def guard_shapes(contract: ContractSpec) -> dict[str, TextShape]:
    """The shape worth proving for each column read from guarded text, by its name in the files."""
    wanted: dict[str, TextShape] = {}
    for name, spec in contract.columns.items():
        shape = _WANTED.get(spec.column_type.name)
        if shape is not None and spec.format is None:
            wanted[contract.raw_name(name)] = shape
    return wanted


_ZERO: Final = 48  # ord("0")
_NINE: Final = 57  # ord("9")
_POINT: Final = 46  # ord(".")
_SLASH: Final = 47  # ord("/"), the only byte between the point and the digits
_SIGNS: Final = (43, 45)  # ord("+"), ord("-")
_DIGIT: Final = b"0"
_DATE_LAYOUT: Final = (b"0", b"0", b"0", b"0", b"-", b"0", b"0", b"-", b"0", b"0")
_WALL_CLOCK_LAYOUT: Final = (
    *_DATE_LAYOUT,
    b" T",
    *(b"0", b"0", b":", b"0", b"0", b":", b"0", b"0"),
)
"""Fixed-width shapes, one entry per byte: ``0`` stands for any ASCII digit, anything else lists
the bytes allowed there."""

_Bytes = npt.NDArray[np.uint8]
_Offsets = npt.NDArray[np.int64]


def has_shape(values: pa.Array, shape: TextShape) -> bool:
    """Whether every present value of ``values`` has ``shape`` (true when none is present).

    ``values`` must be ``string`` or ``large_string``; any other type has no proven shape.
    Cost: a few passes over the column's bytes, in numpy and Arrow kernels.

    >>> has_shape(pa.array(["12", "-3", None]), TextShape.INTEGER)
    True
    >>> has_shape(pa.array(["12", " 3"]), TextShape.INTEGER)
    False
    """
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return False
    if values.null_count:
        values = values.drop_null()
    if len(values) == 0:
        return True
    data, starts = _layout(values)
    match shape:
        case TextShape.INTEGER:
            return _is_number(values, data, starts, point=False)
        case TextShape.DECIMAL:
            return _is_number(values, data, starts, point=True)
        case TextShape.DATE:
            return _is_fixed(data, starts, _DATE_LAYOUT)
        case TextShape.WALL_CLOCK:
            return _is_fixed(data, starts, _WALL_CLOCK_LAYOUT)


def _layout(values: pa.Array) -> tuple[_Bytes, _Offsets]:
    """The bytes of all values back to back, and where each value starts (plus the end)."""
    _, offset_buffer, data_buffer = values.buffers()
    width = 8 if pa.types.is_large_string(values.type) else 4
    offsets = np.frombuffer(
        offset_buffer,
        dtype=np.int64 if width == 8 else np.int32,
        count=len(values) + 1,
        offset=values.offset * width,
    ).astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    if data_buffer is None or last == first:
        return np.zeros(0, dtype=np.uint8), offsets - first
    data = np.frombuffer(data_buffer, dtype=np.uint8)[first:last]
    return data, offsets - first


def _is_number(values: pa.Array, data: _Bytes, starts: _Offsets, *, point: bool) -> bool:
    """Digits, one optional sign first, at most one point if ``point``, and at least one digit."""
    lengths = np.diff(starts)
    if int(lengths.min()) < 1:
        return False
    low, high = int(data.min()), int(data.max())
    if low >= _ZERO and high <= _NINE:
        return True
    if point and low >= _POINT and high <= _NINE and not bool((data == _SLASH).any()):
        # Digits and points only (the commonest spelling of a decimal): count the points.
        counted = pc.count_substring(values, ".").to_numpy(zero_copy_only=False)
        return int(counted.max()) <= 1 and bool((lengths - counted >= 1).all())
    digits = (data - np.uint8(_ZERO)) < 10
    points = data == _POINT if point else np.zeros(data.size, dtype=np.bool_)
    others = np.flatnonzero(~(digits | points))
    signs_per_value = np.zeros(lengths.size, dtype=np.int64)
    if others.size:
        if not bool(np.isin(data[others], _SIGNS).all()):
            return False
        owner = np.searchsorted(starts, others)
        # Lengths are at least 1, so each start belongs to exactly one value.
        if not bool((starts[owner] == others).all()):
            return False
        signs_per_value[owner] = 1
    points_per_value = np.zeros(lengths.size, dtype=np.int64)
    if point and bool(points.any()):
        counted = pc.count_substring(values, ".").to_numpy(zero_copy_only=False)
        if int(counted.max()) > 1:
            return False
        points_per_value = counted.astype(np.int64)
    return bool((lengths - signs_per_value - points_per_value >= 1).all())


def _is_fixed(data: _Bytes, starts: _Offsets, layout: tuple[bytes, ...]) -> bool:
    """Every value is ``len(layout)`` bytes long, each byte allowed by its place in ``layout``."""
    count, width = starts.size - 1, len(layout)
    if data.size != count * width or not bool((np.diff(starts) == width).all()):
        return False
    # One row per place (a transposed copy, so each place's bytes lie together): the lowest
    # and highest byte of a place settle it, but for a place allowing two bytes, both in use,
    # which is then checked byte by byte.
    places = np.ascontiguousarray(data.reshape(count, width).T)
    lows, highs = places.min(axis=1), places.max(axis=1)
    for place, allowed in enumerate(layout):
        low, high = int(lows[place]), int(highs[place])
        if allowed == _DIGIT:
            if low < _ZERO or high > _NINE:
                return False
        elif low == high:
            if low not in allowed:
                return False
        elif low not in allowed or high not in allowed or not _only(places[place], allowed):
            return False
    return True


def _only(column: _Bytes, allowed: bytes) -> bool:
    fits = np.zeros(column.size, dtype=np.bool_)
    for byte in allowed:
        fits |= column == byte
    return bool(fits.all())


class TextShapes:
    """Proves, batch by batch as a stream passes, which text columns hold only a wanted shape.

    Args:
        wanted: the shape to prove for each column, by name (see :func:`guard_shapes`).
    """

    def __init__(self, wanted: Mapping[str, TextShape]) -> None:
        self._wanted = dict(wanted)
        self._failed: set[str] = set()
        self._finished = False

    def track(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """``reader`` unchanged, each batch judged as it is read."""

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                self._note(batch)
                yield batch
            self._finished = True

        return pa.RecordBatchReader.from_batches(reader.schema, batches())

    def _note(self, batch: pa.RecordBatch) -> None:
        """Judge one batch: a wanted column missing from it, or any value out of shape, fails."""
        for name, shape in self._wanted.items():
            if name in self._failed:
                continue
            index = batch.schema.get_field_index(name)
            if index < 0 or not has_shape(batch.column(index), shape):
                self._failed.add(name)

    @property
    def proven(self) -> dict[str, TextShape]:
        """The columns whose every value so far had its shape; none until the stream has ended.

        Nothing is claimed for a stream read only in part (the rest was never judged).
        """
        if not self._finished:
            return {}
        return {n: s for n, s in self._wanted.items() if n not in self._failed}
