"""The text building blocks: fixed-width digits, prices, lookups, broken lines, day blocks."""

import itertools

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gnomon.examples.retail import BROKEN_KINDS, _format
from gnomon.examples.retail.broken import broken_count, broken_line, plan_broken
from gnomon.examples.retail.generator import _BLOCK_ROWS, _blocks

VALID_ROW = st.builds(
    lambda number, customer, quantity, cents, discount, status: [
        f"O{number:09d}",
        "2024-05-17 09:30:00",
        "2024-05-18 10:00:00",
        "EMEA",
        "DE",
        "web",
        "books",
        "Cookbook",
        f"C{customer:07d}",
        str(quantity),
        f"{cents // 100}.{cents % 100:02d}",
        discount,
        status,
    ],
    number=st.integers(1, 999_999_999),
    customer=st.integers(1, 9_999_999),
    quantity=st.integers(1, 10),
    cents=st.integers(1, 10_000_000),
    discount=st.sampled_from(["0.00", "0.05", "0.50"]),
    status=st.sampled_from(["placed", "shipped", "returned", "cancelled"]),
)


@given(
    values=st.lists(st.integers(0, 10**9 - 1), max_size=50), prefix=st.sampled_from(["", "O", "C"])
)
def test_fixed_digits_match_python_formatting(values: list[int], prefix: str) -> None:
    array = np.array(values, dtype=np.int64)

    text = _format.fixed_digits(array, width=9, prefix=prefix).to_pylist()

    assert text == [f"{prefix}{value:09d}" for value in values]


@given(cents=st.lists(st.integers(0, 10**12), max_size=50))
def test_prices_have_two_decimals(cents: list[int]) -> None:
    text = _format.price_strings(np.array(cents, dtype=np.int64)).to_pylist()

    assert text == [f"{value // 100}.{value % 100:02d}" for value in cents]


@given(
    names=st.lists(st.text(), min_size=1, max_size=20),
    picks=st.lists(st.integers(0, 19), max_size=40),
)
def test_lookup_and_joining_keep_any_text(names: list[str], picks: list[int]) -> None:
    index = np.array([pick % len(names) for pick in picks], dtype=np.int64)

    looked_up = _format.lookup(names, index)
    joined = _format.join([looked_up, _format.literal("|"), looked_up], "")
    data, offsets = _format.line_bounds(joined)

    assert looked_up.to_pylist() == [names[i] for i in index]
    expected = "".join(f"{names[i]}|{names[i]}" for i in index)
    assert bytes(data[offsets[0] : offsets[-1]]).decode("utf-8") == expected
    assert len(offsets) == len(index) + 1


@given(row=VALID_ROW, kind=st.sampled_from(BROKEN_KINDS), variant=st.integers(0, 100))
def test_a_broken_line_has_exactly_its_own_defect(reader, row, kind, variant) -> None:
    assert reader.defects(",".join(row) + "\n") == []

    line = broken_line(row, kind, variant)

    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert reader.defects(line) == [kind]


@given(rows=st.integers(1, 10**8), fraction=st.floats(0, 0.01))
def test_broken_counts_have_a_floor(rows: int, fraction: float) -> None:
    count = broken_count(rows, fraction)

    if fraction == 0:
        assert count == 0
    else:
        assert count >= 10
        assert count == max(10, round(rows * fraction))


@given(total=st.integers(60, 100_000), count=st.integers(0, 60), seed=st.integers(0, 2**32))
def test_broken_lines_are_spread_over_all_kinds(total: int, count: int, seed: int) -> None:
    plan = plan_broken(total, count, rng=np.random.default_rng(seed))
    counts = plan.counts()

    assert sum(counts.values()) == count
    assert max(counts.values()) - min(counts.values()) <= 1
    assert len(set(plan.positions.tolist())) == count
    assert all(0 <= p < total for p in plan.positions.tolist())
    middle = total // 2
    low, _, _ = plan.within(0, middle)
    high, _, _ = plan.within(middle, total - middle)
    assert len(low) + len(high) == count


@given(per_day=st.lists(st.integers(0, 2 * _BLOCK_ROWS), min_size=1, max_size=60), data=st.data())
def test_blocks_cover_the_days_in_bounded_runs(per_day: list[int], data) -> None:
    first = data.draw(st.integers(0, len(per_day) - 1))
    stop = data.draw(st.integers(first + 1, len(per_day)))
    counts = np.array(per_day, dtype=np.int64)

    blocks = list(_blocks(counts, first, stop))

    assert blocks[0][0] == first and blocks[-1][1] == stop
    for (_, end), (start, _) in itertools.pairwise(blocks):
        assert end == start
    for low, high in blocks:
        assert high > low
        assert high - low == 1 or counts[low:high].sum() <= _BLOCK_ROWS
