"""AscendingKey: strictly ascending keys are distinct; anything it cannot vouch for breaks."""

import math
from itertools import pairwise

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnomon.ingest._order import AscendingKey

_TEXT = pa.string()


def _reader(*batches: list[object], type_: pa.DataType = _TEXT) -> pa.RecordBatchReader:
    schema = pa.schema([("k", type_), ("v", pa.int64())])
    items = [
        pa.RecordBatch.from_arrays(
            [pa.array(b, type=type_), pa.array(range(len(b)), type=pa.int64())], schema=schema
        )
        for b in batches
    ]
    return pa.RecordBatchReader.from_batches(schema, iter(items))


def _watch(*batches: list[object], type_: pa.DataType = _TEXT) -> tuple[AscendingKey, int]:
    breaks: list[int] = []
    order = AscendingKey("k", on_break=lambda: breaks.append(1))
    table = order.track(_reader(*batches, type_=type_)).read_all()
    assert table.num_rows == sum(len(b) for b in batches), "rows pass through unchanged"
    assert len(breaks) == (0 if order.ascending else 1), "told once, when the order breaks"
    return order, len(breaks)


def test_ascending_keys_across_batches_stay_ascending() -> None:
    order, _ = _watch(["a1", "a2"], [], ["a3"], ["b", "c"])
    assert order.ascending


@pytest.mark.parametrize(
    "batches",
    [
        [["a", "a"]],  # equal inside a batch
        [["a", "b"], ["b"]],  # equal across batches
        [["a", "c"], ["b"]],  # falls across batches
        [["b", "a"]],  # falls inside a batch
        [["a", None, "c"]],  # a missing key
    ],
)
def test_repeats_falls_and_nulls_break_the_order(batches: list[list[object]]) -> None:
    order, breaks = _watch(*batches)
    assert not order.ascending
    assert breaks == 1


def test_float_keys_break_at_nan_and_signed_zeros() -> None:
    assert _watch([1.0, 2.5], [3.0], type_=pa.float64())[0].ascending
    assert not _watch([1.0, math.nan], type_=pa.float64())[0].ascending
    assert not _watch([-1.0, -0.0], [0.0], type_=pa.float64())[0].ascending


def test_a_missing_column_breaks_at_once() -> None:
    breaks: list[int] = []
    order = AscendingKey("absent", on_break=lambda: breaks.append(1))
    order.track(_reader(["a"]))
    assert not order.ascending
    assert breaks == [1]


@given(st.lists(st.lists(st.integers(-5, 5), max_size=6), max_size=5))
def test_ascending_means_distinct(batches: list[list[int]]) -> None:
    order, _ = _watch(*batches, type_=pa.int64())
    flat = [v for b in batches for v in b]
    assert order.ascending == all(a < b for a, b in pairwise(flat))
    if order.ascending:
        assert len(set(flat)) == len(flat)
