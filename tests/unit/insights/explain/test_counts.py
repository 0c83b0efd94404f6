"""The count search: sparse leaves, tiny tables, segments held to their own variation."""

import itertools

import numpy as np
import pytest

from gnomon.insights.explain import LeafTable, localize
from gnomon.insights.explain._counts import counts_like

DIMS = {"country": 8, "channel": 4, "category": 6}


def grid() -> dict[str, np.ndarray]:
    rows = list(itertools.product(*[[f"{d}{j}" for j in range(n)] for d, n in DIMS.items()]))
    return {d: np.array([r[i] for r in rows]) for i, d in enumerate(DIMS)}


def inside(labels: dict[str, np.ndarray], segment: dict[str, str]) -> np.ndarray:
    mask = np.ones(len(next(iter(labels.values()))), dtype=bool)
    for dim, value in segment.items():
        mask &= labels[dim] == value
    return mask


def sparse(
    labels: dict[str, np.ndarray],
    seed: int,
    *,
    rate: float = 1.5,
    windows: int = 4,
    shape: float = 2.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts: expected rates per leaf (gamma, mean ``rate``; a smaller ``shape`` is
    more skewed), a focus draw and ``windows`` baseline draws."""
    rng = np.random.default_rng(seed)
    n = len(labels["country"])
    rates = rng.gamma(shape, rate / shape, n)
    history = rng.poisson(rates[:, None], (n, windows)).astype(float)
    real = rng.poisson(rates).astype(float)
    return real, history.mean(axis=1), history


def segments(causes: tuple[object, ...]) -> list[dict[str, object]]:
    return [dict(c.segment) for c in causes]  # type: ignore[attr-defined]


def test_sparse_counts_take_the_count_search() -> None:
    labels = grid()
    real, predict, history = sparse(labels, 1)
    assert counts_like(LeafTable.additive(labels, real, predict, history=history))
    dense = predict * 1000 + 0.5
    assert not counts_like(LeafTable.additive(labels, dense * 1.01, dense))


@pytest.mark.parametrize("seed", range(4))
def test_noise_in_sparse_counts_names_nothing(seed: int) -> None:
    labels = grid()
    real, predict, history = sparse(labels, seed)
    assert localize(LeafTable.additive(labels, real, predict, history=history)) == ()


@pytest.mark.parametrize(
    "cause", [{"channel": "channel1"}, {"country": "country2", "category": "category3"}]
)
def test_a_tripled_segment_of_sparse_leaves_is_found_exactly(cause: dict[str, str]) -> None:
    labels = grid()
    for seed in range(3):
        # Leaves of similar size: when one leaf holds most of a segment's volume, the segment
        # and that leaf explain the data equally well and either answer is fair.
        real, predict, history = sparse(labels, 10 + seed, rate=3.0, shape=8.0)
        rng = np.random.default_rng(seed)
        hit = inside(labels, cause)
        real[hit] += rng.poisson(2.0 * predict[hit])
        causes = localize(LeafTable.additive(labels, real, predict, history=history))
        assert causes and segments(causes)[0] == cause, segments(causes)
        assert causes[0].after > 2 * causes[0].before and causes[0].confidence > 0.99


def test_an_outage_in_sparse_leaves_is_found_exactly() -> None:
    labels = grid()
    real, predict, history = sparse(labels, 7, rate=3.0)
    cause = {"country": "country5", "channel": "channel0"}
    real[inside(labels, cause)] = 0.0
    causes = localize(LeafTable.additive(labels, real, predict, history=history))
    assert causes and segments(causes)[0] == cause
    assert causes[0].after == 0.0


def test_a_segment_that_always_swings_is_held_to_its_own_variation() -> None:
    labels = grid()
    real, predict, history = sparse(labels, 3, rate=3.0)
    volatile = inside(labels, {"category": "category4"})
    # Its windows swing between half and double; today's high is one of those swings.
    history[volatile] *= np.array([0.5, 2.0, 0.5, 2.0])
    predict = history.mean(axis=1)
    real[volatile] = np.round(predict[volatile] * 1.8)
    with_history = localize(LeafTable.additive(labels, real, predict, history=history))
    assert {"category": "category4"} not in segments(with_history)
    without = localize(LeafTable.additive(labels, real, predict))
    assert {"category": "category4"} in segments(without)


def test_a_segment_empty_in_the_baseline_is_not_blamed_for_a_few_orders() -> None:
    labels = grid()
    real, predict, history = sparse(labels, 5)
    leaf = inside(labels, {"country": "country1", "channel": "channel1", "category": "category1"})
    history[leaf] = 0.0
    predict[leaf] = 0.0
    real[leaf] = 2.0
    causes = localize(LeafTable.additive(labels, real, predict, history=history))
    assert causes == ()


def test_a_two_leaf_table_with_a_drop_to_zero() -> None:
    labels = {"channel": np.array(["web", "store"])}
    causes = localize(LeafTable.additive(labels, [0.0, 25.0], [40.0, 25.0]))
    assert segments(causes) == [{"channel": "web"}]
    assert causes[0].after == 0.0 and causes[0].before == 40.0


def test_a_shift_every_segment_shares_names_nothing() -> None:
    labels = grid()
    real, predict, history = sparse(labels, 2, rate=4.0)
    rng = np.random.default_rng(2)
    real = rng.poisson(predict * 1.3).astype(float)
    causes = localize(LeafTable.additive(labels, real, predict, history=history))
    assert causes == ()


def test_history_must_have_a_row_per_leaf_and_two_windows() -> None:
    labels = {"channel": np.array(["web", "store"])}
    with pytest.raises(Exception, match="history"):
        LeafTable.additive(labels, [1.0, 2.0], [1.0, 2.0], history=np.ones((2, 1)))
    with pytest.raises(Exception, match="history"):
        LeafTable.additive(labels, [1.0, 2.0], [1.0, 2.0], history=np.ones((3, 2)))
