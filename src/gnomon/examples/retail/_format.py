"""Column values as text, built column-wise in Arrow so no Python code runs per row.

Every value the order files hold comes from a small lookup table (names, dates, clock times,
quantities, discounts) or from fixed-width digits, so formatting is a gather, not a conversion.

Arrays are assembled from their buffers rather than with ``pa.array``/``pa.scalar``: those
conversions probe for pandas objects and import pandas on first use, which would cost more than
formatting a million rows.
"""

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "clock_strings",
    "date_strings",
    "fixed_digits",
    "integers",
    "join",
    "line_bounds",
    "literal",
    "lookup",
    "price_strings",
    "strings",
]

Ints = npt.NDArray[np.int64]


def integers(values: Ints) -> pa.Array:
    """An Arrow int64 array over the same memory as ``values``."""
    contiguous = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(contiguous), [None, pa.py_buffer(contiguous)])


def _from_parts(data: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64]) -> pa.Array:
    large = bool(offsets[-1] >= 2**31)
    kind = pa.large_string() if large else pa.string()
    packed = offsets if large else offsets.astype(np.int32)
    return pa.Array.from_buffers(
        kind, len(offsets) - 1, [None, pa.py_buffer(packed), pa.py_buffer(data)]
    )


def strings(values: Sequence[str]) -> pa.Array:
    """An Arrow string array of ``values``."""
    encoded = [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(value) for value in encoded])
    return _from_parts(np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets)


def literal(text: str) -> pa.Scalar:
    """A string scalar, for the constant pieces of joined text."""
    return strings([text])[0]


def join(pieces: Sequence[pa.Array | pa.Scalar], separator: str) -> pa.Array:
    """Element-wise concatenation of ``pieces`` with ``separator`` between them."""
    return pc.binary_join_element_wise(*pieces, literal(separator))


def fixed_digits(values: Ints, *, width: int, prefix: str = "") -> pa.Array:
    """Zero-padded decimal text of non-negative integers below ``10 ** width``."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    total = len(head) + width
    out = np.empty((len(values), total), dtype=np.uint8)
    out[:, : len(head)] = head
    rest = values.astype(np.int64, copy=True)
    for column in range(total - 1, len(head) - 1, -1):
        out[:, column] = 48 + rest % 10
        rest //= 10
    offsets = np.arange(len(values) + 1, dtype=np.int64) * total
    return _from_parts(out.ravel(), offsets)


def lookup(names: Sequence[str], index: Ints) -> pa.Array:
    """``names[index]`` for every element of ``index``."""
    return strings(names).take(integers(index))


def clock_strings() -> pa.Array:
    """``HH:MM:SS`` for every second of a day, indexed by second of the day."""
    seconds = np.arange(86_400, dtype=np.int64)
    hours = fixed_digits(seconds // 3600, width=2)
    minutes = fixed_digits(seconds // 60 % 60, width=2)
    secs = fixed_digits(seconds % 60, width=2)
    return join([hours, minutes, secs], ":")


def date_strings(start: date, days: int) -> pa.Array:
    """``YYYY-MM-DD`` of each day from ``start``, indexed by day number."""
    return strings([(start + timedelta(days=offset)).isoformat() for offset in range(days)])


def price_strings(cents: Ints) -> pa.Array:
    """Amounts with two decimals (``12.50``) from non-negative integer cents."""
    whole = pc.cast(integers(cents // 100), pa.string())
    fraction = fixed_digits(cents % 100, width=2)
    return join([whole, fraction], ".")


def line_bounds(lines: pa.Array) -> tuple[memoryview, Ints]:
    """The concatenated text of a string array and where each element starts in it.

    Returns the data buffer (``memoryview`` of the bytes) and ``n + 1`` offsets into it, so the
    elements can be written out as one block without copying.
    """
    width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
    stored = np.frombuffer(lines.buffers()[1], dtype=width)
    offsets: Ints = stored[lines.offset : lines.offset + len(lines) + 1].astype(np.int64)
    data = lines.buffers()[2]
    view = memoryview(data) if data is not None else memoryview(b"")
    return view, offsets
