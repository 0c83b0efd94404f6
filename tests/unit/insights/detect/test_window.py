import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.insights.detect._window import SortedWindow


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(1, 30),
    values=st.lists(
        st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=80,
    ),
    offset=st.floats(-10, 10),
)
def test_order_statistics_match_numpy(size: int, values: list[float], offset: float) -> None:
    window = SortedWindow(size)
    for i, value in enumerate(values):
        window.push(value)
        held = np.array(values[max(0, i + 1 - size) : i + 1])
        median = float(np.median(held))
        assert window.median() == median or np.isclose(window.median(), median)
        for centre in (median, median + offset):
            expected = float(np.median(np.abs(held - centre)))
            assert np.isclose(window.mad(centre), expected, rtol=1e-12, atol=1e-9)
        assert np.isclose(window.quantile(0.25), np.quantile(held, 0.25), rtol=1e-12, atol=1e-9)
