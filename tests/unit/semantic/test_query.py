"""Building a metric query from plain values, as the CLI, the API and Python callers give them."""

from datetime import date, datetime

import pytest

from gnomon.semantic import MetricQuery, OrderKey


def test_dates_and_times_may_be_iso_text() -> None:
    query = MetricQuery.build(["revenue"], start="2025-01-01", end="2025-02-01T10:30")
    assert query.start == date(2025, 1, 1)
    assert query.end == datetime(2025, 2, 1, 10, 30)
    assert MetricQuery.build(["revenue"], start=date(2025, 1, 1)).start == date(2025, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "yesterday"}, "the start 'yesterday' is not a date"),
        ({"end": "2025-13-01"}, "the end '2025-13-01' is not a date"),
        ({"grain": "fortnight"}, "'fortnight' is not a grain"),
        ({"limit": -1}, "must not be negative"),
        ({"by": ["region", "region"]}, "dimension 'region' is named twice"),
    ],
)
def test_bad_values_are_explained(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetricQuery.build(["revenue"], **kwargs)  # type: ignore[arg-type]


def test_order_keys() -> None:
    query = MetricQuery.build(["revenue"], order=["-revenue", " region ", ""])
    assert query.order == (OrderKey("revenue", True), OrderKey("region", False))
