import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnomon.errors import InvalidInput
from gnomon.insights.explain import LeafTable, LocalizeOptions, localize
from gnomon.insights.findings import Cause

Segments = set[frozenset[tuple[str, Any]]]

DIMS = {"country": 6, "channel": 5, "device": 4}


def grid(sizes: dict[str, int] = DIMS) -> dict[str, np.ndarray]:
    """Every combination of values ``<dim><j>``, first dimension slowest."""
    rows = list(itertools.product(*[[f"{d}{j}" for j in range(n)] for d, n in sizes.items()]))
    return {d: np.array([r[i] for r in rows]) for i, d in enumerate(sizes)}


def base(labels: dict[str, np.ndarray], *, noise: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = len(next(iter(labels.values())))
    predict = rng.uniform(20.0, 200.0, n)
    real = predict * (1.0 + rng.normal(0.0, noise, n))
    return real, predict


def inside(labels: dict[str, np.ndarray], segment: dict[str, str]) -> np.ndarray:
    mask = np.ones(len(next(iter(labels.values()))), dtype=bool)
    for dim, value in segment.items():
        mask &= labels[dim] == value
    return mask


def segments(causes: tuple[Cause, ...]) -> Segments:
    return {frozenset(c.segment.items()) for c in causes}


def as_set(*segs: dict[str, str]) -> Segments:
    return {frozenset(s.items()) for s in segs}


def test_single_attribute_cause_holds_the_whole_change() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.0, seed=1)
    cause = {"channel": "channel2"}
    real[inside(labels, cause)] *= 0.5
    causes = localize(LeafTable.additive(labels, real, predict))
    assert segments(causes) == as_set(cause)
    (found,) = causes
    mask = inside(labels, cause)
    assert found.contribution == pytest.approx(1.0)
    assert found.before == pytest.approx(predict[mask].sum())
    assert found.after == pytest.approx(real[mask].sum())
    assert found.effect == "volume"
    assert 0.0 < found.confidence <= 1.0


def test_two_attribute_cause_in_noise_not_its_ancestors() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.02, seed=2)
    cause = {"country": "country3", "device": "device1"}
    real[inside(labels, cause)] *= 0.4
    causes = localize(LeafTable.additive(labels, real, predict))
    assert segments(causes) == as_set(cause)
    assert causes[0].contribution == pytest.approx(
        (real - predict)[inside(labels, cause)].sum() / (real - predict).sum()
    )


def test_two_causes_in_different_cuboids_both_directions_allowed() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.01, seed=3)
    up = {"country": "country0", "channel": "channel4"}
    down = {"device": "device3"}
    real[inside(labels, up)] *= 2.5
    real[inside(labels, down)] *= 0.3
    causes = localize(LeafTable.additive(labels, real, predict))
    assert segments(causes) == as_set(up, down)
    by_segment = {frozenset(c.segment.items()): c for c in causes}
    change = (real - predict).sum()
    rose, fell = by_segment[frozenset(up.items())], by_segment[frozenset(down.items())]
    assert rose.after is not None and rose.before is not None and rose.after > rose.before
    assert fell.after is not None and fell.before is not None and fell.after < fell.before
    for segment in (up, down):
        mask = inside(labels, segment)
        share = by_segment[frozenset(segment.items())].contribution
        assert share == pytest.approx((real - predict)[mask].sum() / change)
    # Sorted by the size of their share.
    assert abs(causes[0].contribution) >= abs(causes[1].contribution)


@pytest.mark.parametrize("factor", [0.2, 3.0])
def test_direction_of_a_cause(factor: float) -> None:
    labels = grid()
    real, predict = base(labels, noise=0.01, seed=4)
    cause = {"country": "country5"}
    real[inside(labels, cause)] *= factor
    (found,) = localize(LeafTable.additive(labels, real, predict))
    assert dict(found.segment) == cause
    assert found.after is not None and found.before is not None
    assert (found.after - found.before) * (factor - 1.0) > 0
    assert found.contribution == pytest.approx(1.0, abs=0.05)


def test_nothing_changed_gives_no_cause() -> None:
    labels = grid()
    _, predict = base(labels, noise=0.0, seed=5)
    assert localize(LeafTable.additive(labels, predict.copy(), predict)) == ()


def test_noise_alone_gives_no_cause() -> None:
    labels = grid()
    for seed in range(5):
        real, predict = base(labels, noise=0.1, seed=seed)
        assert localize(LeafTable.additive(labels, real, predict)) == ()


def test_zero_leaves_carry_no_evidence_and_a_vanished_segment_is_found() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.01, seed=6)
    rng = np.random.default_rng(6)
    zeros = rng.uniform(size=real.size) < 0.3
    real[zeros] = 0.0
    predict[zeros] = 0.0
    cause = {"channel": "channel0", "device": "device2"}
    real[inside(labels, cause)] = 0.0
    causes = localize(LeafTable.additive(labels, real, predict))
    assert segments(causes) == as_set(cause)
    assert causes[0].after == 0.0


def test_a_single_leaf_cause() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.01, seed=7)
    cause = {"country": "country1", "channel": "channel3", "device": "device0"}
    real[inside(labels, cause)] *= 0.1
    assert segments(localize(LeafTable.additive(labels, real, predict))) == as_set(cause)


def ratio_base(seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    labels = grid({"country": 5, "channel": 4, "device": 3})
    rng = np.random.default_rng(seed)
    visits = rng.uniform(2_000.0, 5_000.0, len(labels["country"])).round()
    rate = np.where(labels["channel"] == "channel0", 0.02, 0.08)
    return labels, visits, rate


def test_ratio_rate_change() -> None:
    labels, visits, rate = ratio_base(8)
    cause = {"country": "country2"}
    real_rate = np.where(inside(labels, cause), rate * 0.5, rate)
    table = LeafTable.ratio(labels, visits * real_rate, visits, visits * rate, visits)
    (found,) = localize(table)
    assert dict(found.segment) == cause
    assert found.effect == "rate"
    mask = inside(labels, cause)
    assert found.before == pytest.approx((visits * rate)[mask].sum() / visits[mask].sum())
    assert found.before is not None
    assert found.after == pytest.approx(found.before * 0.5)
    assert found.contribution == pytest.approx(1.0)


def test_ratio_mix_shift() -> None:
    labels, visits, rate = ratio_base(9)
    cause = {"channel": "channel0"}
    # The low-converting channel's traffic triples; every leaf keeps its rate.
    real_visits = np.where(inside(labels, cause), visits * 3.0, visits)
    table = LeafTable.ratio(labels, real_visits * rate, real_visits, visits * rate, visits)
    causes = localize(table)
    assert segments(causes) == as_set(cause)
    (found,) = causes
    assert found.effect == "mix"
    assert found.before == pytest.approx(found.after)
    # Mix part of the decomposition: (share after - share before) * (rate - overall rate).
    mask = inside(labels, cause)
    overall_before = (visits * rate).sum() / visits.sum()
    overall_after = (real_visits * rate).sum() / real_visits.sum()
    share_before = visits[mask].sum() / visits.sum()
    share_after = real_visits[mask].sum() / real_visits.sum()
    assert found.before is not None
    mix = (share_after - share_before) * (found.before - overall_before)
    assert found.contribution == pytest.approx(mix / (overall_after - overall_before))
    assert 0.5 < found.contribution < 1.0  # the other channels' shrinking shares did the rest


def test_ratio_without_change_gives_no_cause() -> None:
    labels, visits, rate = ratio_base(10)
    table = LeafTable.ratio(labels, visits * rate, visits, visits * rate, visits)
    assert table.is_ratio
    assert localize(table) == ()


def test_mixed_label_types_and_none_values() -> None:
    labels = {
        "region": np.array([None, "None", 3, "x"] * 6, dtype=object),
        "tier": np.repeat(np.arange(6), 4),
    }
    predict = np.full(24, 50.0)
    real = predict.copy()
    real[labels["region"] == "None"] = 10.0
    (found,) = localize(LeafTable.additive(labels, real, predict))
    assert dict(found.segment) == {"region": "None"}


def test_nan_is_refused_with_a_hint() -> None:
    labels = grid({"a": 2, "b": 2})
    real = np.array([1.0, np.nan, 3.0, 4.0])
    with pytest.raises(InvalidInput) as info:
        LeafTable.additive(labels, real, np.ones(4))
    assert "real" in info.value.message
    assert info.value.hint


@pytest.mark.parametrize(
    ("labels", "real", "predict"),
    [
        ({}, [1.0], [1.0]),
        ({"a": ["x", "y"]}, [1.0], [1.0, 2.0]),
        ({"a": ["x"]}, ["many"], [1.0]),
    ],
)
def test_invalid_tables_are_refused(
    labels: dict[str, list[str]], real: list[Any], predict: list[float]
) -> None:
    with pytest.raises(InvalidInput):
        LeafTable.additive(labels, real, predict)


def test_incomplete_ratio_is_refused() -> None:
    with pytest.raises(InvalidInput):
        LeafTable(
            dimensions=("a",),
            labels={"a": np.array(["x"])},
            real=np.ones(1),
            predict=np.ones(1),
            real_num=np.ones(1),
        )


@pytest.mark.parametrize(
    "kwargs", [{"max_causes": 0}, {"purity": 1.0}, {"penalty": -1.0}, {"max_layer": 0}]
)
def test_invalid_options_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        LocalizeOptions(**kwargs)


def test_max_layer_bounds_the_search() -> None:
    labels = grid()
    real, predict = base(labels, noise=0.0, seed=11)
    cause = {"country": "country1", "channel": "channel1"}
    real[inside(labels, cause)] *= 0.2
    assert segments(localize(LeafTable.additive(labels, real, predict))) == as_set(cause)
    shallow = localize(LeafTable.additive(labels, real, predict), LocalizeOptions(max_layer=1))
    assert all(len(c.segment) == 1 for c in shallow)


SIZES = {"a": 4, "b": 3, "c": 5}
LABELS = grid(SIZES)


@settings(max_examples=40, deadline=None)
@given(
    dims=st.lists(st.sampled_from(list(SIZES)), min_size=1, max_size=3, unique=True),
    data=st.data(),
    factor=st.sampled_from([0.0, 0.3, 0.5, 1.8, 4.0]),
    seed=st.integers(0, 2**16),
)
def test_one_strong_element_in_clean_data_is_found_exactly(
    dims: list[str], data: st.DataObject, factor: float, seed: int
) -> None:
    segment = {d: f"{d}{data.draw(st.integers(0, SIZES[d] - 1))}" for d in sorted(dims)}
    rng = np.random.default_rng(seed)
    predict = rng.uniform(1.0, 1_000.0, len(LABELS["a"]))
    real = predict.copy()
    mask = inside(LABELS, segment)
    real[mask] *= factor
    causes = localize(LeafTable.additive(LABELS, real, predict))
    assert segments(causes) == as_set(segment)
    assert causes[0].contribution == pytest.approx(1.0)


def test_ratio_that_is_not_a_proportion() -> None:
    """An average (revenue per order) is weighed by orders, not binomially."""
    labels = grid()
    rng = np.random.default_rng(12)
    orders = rng.uniform(50.0, 500.0, len(labels["country"])).round()
    value = rng.uniform(20.0, 80.0, orders.size)
    real_value = value * (1.0 + rng.normal(0.0, 0.01, orders.size))
    cause = {"device": "device2", "channel": "channel1"}
    real_value[inside(labels, cause)] *= 1.6
    table = LeafTable.ratio(labels, orders * real_value, orders, orders * value, orders)
    (found,) = localize(table)
    assert dict(found.segment) == cause
    assert found.effect == "rate"
    assert found.after is not None and found.before is not None
    assert found.after > found.before
