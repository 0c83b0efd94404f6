"""Drivers between metrics on seeded synthetic series whose true relations are known."""

import subprocess
import sys

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.drivers import Evidence, Relation, diff_in_diff, importance, relate

pytest.importorskip("statsmodels")
pytest.importorskip("sklearn")


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A zero-mean AR(1) series with unit innovations."""
    shocks = rng.normal(0.0, 1.0, n)
    values = np.zeros(n)
    for i in range(n):
        values[i] = (phi * values[i - 1] if i else 0.0) + shocks[i]
    return values


def led(n: int, seed: int, lag: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """``x`` white noise and ``y = 0.8 x(t - lag) + noise``: x drives y ``lag`` buckets later."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n + lag)
    y = 0.8 * x[:-lag] + rng.normal(0.0, 0.5, n)
    return x[lag:], y


def evidence_of(relation: Relation) -> list[Evidence]:
    found = (relation.pearson, relation.spearman, relation.lagged, relation.granger)
    return [e for e in found if e is not None]


# Relations between a target and candidate series.


def test_a_leading_driver_is_found_at_its_lag_and_granger_points_one_way() -> None:
    x, y = led(200, seed=1)
    noise = np.random.default_rng(2).normal(size=200)
    forward = relate(y, {"noise": noise, "x": x})
    assert [r.candidate for r in forward] == ["x", "noise"]
    driver = forward[0]
    assert driver.lag == 3
    assert driver.lagged is not None and driver.lagged.statistic > 0.6
    assert driver.granger is not None and driver.granger.significant
    assert driver.granger.lag >= 3  # the order must reach back to the lag that carries x
    assert not forward[1].significant

    backward = relate(x, {"y": y})[0]
    assert backward.lag == -3  # y follows x: as a candidate for x it lags
    assert backward.granger is not None and not backward.granger.significant


@pytest.mark.parametrize("walk", [False, True], ids=["white-noise", "random-walks"])
def test_independent_series_are_rarely_significant_after_correction(walk: bool) -> None:
    # Under the global null, BH keeps the chance of any discovery near alpha per call; 20
    # seeds should see about one such call. Random walks correlate strongly by chance, so
    # they also check that autocorrelation shrinks the sample the p-values assume.
    flagged = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        draw = rng.normal(size=(6, 120))
        series = np.cumsum(draw, axis=1) if walk else draw
        relations = relate(series[0], {f"c{i}": series[i] for i in range(1, 6)})
        flagged += any(r.significant for r in relations)
    assert flagged <= 3


def test_spearman_sees_a_monotone_curve_that_pearson_underrates() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=150)
    y = np.exp(2.5 * x) + rng.normal(0.0, 0.05, 150)  # monotone: the ranks of y are those of x
    relation = relate(y, {"x": x}, granger=False)[0]
    assert relation.pearson is not None and relation.spearman is not None
    assert relation.spearman.statistic > 0.95
    assert relation.spearman.statistic > relation.pearson.statistic + 0.2
    assert relation.spearman.p_value < relation.pearson.p_value


def test_gaps_are_dropped_pairwise() -> None:
    x, y = led(200, seed=5)
    x[::7] = np.nan
    y[3::11] = np.inf
    relation = relate(y, {"x": x})[0]
    known = int((np.isfinite(x) & np.isfinite(y)).sum())
    assert relation.pearson is not None and relation.pearson.n == known
    assert relation.lag == 3
    assert relation.granger is not None and relation.granger.significant


def test_trending_series_are_differenced_for_granger() -> None:
    rng = np.random.default_rng(6)
    walk = np.cumsum(rng.normal(size=203))
    target = walk[:-2] + rng.normal(0.0, 0.3, 201)  # the walk, two buckets late
    relation = relate(target, {"walk": walk[2:]})[0]
    assert relation.differenced
    assert relation.granger is not None and relation.granger.significant


def test_p_values_are_benjamini_hochberg_adjusted_together() -> None:
    x, y = led(120, seed=7)
    rng = np.random.default_rng(8)
    candidates = {"x": x, "a": rng.normal(size=120), "b": 0.3 * x + rng.normal(size=120)}
    relations = relate(y, candidates, alpha=0.1)
    found = [e for r in relations for e in evidence_of(r)]
    raw = np.array([e.p_value for e in found])
    m = len(raw)
    order = np.argsort(raw)
    stepped = np.minimum.accumulate((raw[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    expected = np.empty(m)
    expected[order] = np.minimum(stepped, 1.0)
    assert np.allclose([e.p_adjusted for e in found], expected)
    assert all(e.significant == (e.p_adjusted <= 0.1) for e in found)
    assert all(r.significant == any(e.significant for e in evidence_of(r)) for r in relations)


def test_results_are_sorted_by_strength_with_skipped_candidates_last() -> None:
    x, y = led(100, seed=9)
    rng = np.random.default_rng(10)
    sparse = rng.normal(size=100)
    sparse[5:] = np.nan
    candidates = {
        "flat": np.full(100, 3.0),
        "weak": 0.2 * x + rng.normal(size=100),
        "sparse": sparse,
        "x": x,
    }
    relations = relate(y, candidates)
    assert [r.candidate for r in relations[:2]] == ["x", "weak"]
    assert relations[0].strength >= relations[1].strength
    skipped = {r.candidate: r.skipped for r in relations[2:]}
    assert set(skipped) == {"flat", "sparse"}
    assert skipped["flat"] is not None and "constant" in skipped["flat"]
    assert skipped["sparse"] is not None and "only 5 buckets" in skipped["sparse"]
    assert all(r.pearson is None and not r.significant for r in relations[2:])


def test_granger_can_be_left_out() -> None:
    x, y = led(60, seed=11)
    relation = relate(y, {"x": x}, granger=False, max_lag=0)[0]
    assert relation.granger is None
    assert relation.lag == 0


@pytest.mark.parametrize(
    ("target", "candidates", "options", "match"),
    [
        (np.full(30, 1.0), {"x": np.arange(30.0)}, {}, "constant"),
        (np.r_[np.arange(5.0), np.full(25, np.nan)], {"x": np.arange(30.0)}, {}, "5 known"),
        (np.arange(30.0), {"x": np.arange(29.0)}, {}, "lengths"),
        (np.arange(30.0), {"x": np.arange(30.0)}, {"max_lag": -1}, "max_lag"),
        (np.arange(30.0), {"x": np.arange(30.0)}, {"alpha": 1.5}, "alpha"),
        (np.ones((2, 15)), {}, {}, "1-D"),
    ],
)
def test_relate_refuses_bad_input(
    target: np.ndarray, candidates: dict[str, np.ndarray], options: dict[str, float], match: str
) -> None:
    with pytest.raises(InvalidInput, match=match) as raised:
        relate(target, candidates, **options)  # type: ignore[arg-type]
    assert raised.value.hint


# Importance of features to a model of the target.


def test_importance_ranks_the_true_driver_first() -> None:
    rng = np.random.default_rng(12)
    x1, x2, x3 = rng.normal(size=(3, 200))
    y = 2.0 * x1 + 0.7 * x2 + rng.normal(0.0, 0.5, 200)
    ranked = importance(y, {"noise": x3, "minor": x2, "main": x1}, seed=0)
    assert [i.feature for i in ranked] == ["main", "minor", "noise"]
    assert ranked[0].mean > 5 * ranked[1].mean > 0
    assert abs(ranked[2].mean) < 0.05
    assert ranked[0].r2 > 0.7
    assert (ranked[0].n_train, ranked[0].n_test) == (150, 50)


def test_importance_finds_the_lag_that_carries_the_driver() -> None:
    rng = np.random.default_rng(13)
    x = rng.normal(size=150)
    y = np.r_[np.zeros(2), x[:-2]] + rng.normal(0.0, 0.2, 150)
    ranked = importance(y, {"x": x}, lags=(0, 1, 2, 3), repeats=5)
    assert (ranked[0].feature, ranked[0].lag) == ("x", 2)
    assert ranked[0].n_train + ranked[0].n_test == 147  # 3 rows lost to the longest lag
    assert all(item.mean < 0.1 * ranked[0].mean for item in ranked[1:])


def test_importance_is_repeatable_with_a_seed() -> None:
    rng = np.random.default_rng(14)
    x1, x2 = rng.normal(size=(2, 60))
    y = x1 + rng.normal(0.0, 0.3, 60)
    first = importance(y, {"a": x1, "b": x2}, seed=3, repeats=3)
    assert importance(y, {"a": x1, "b": x2}, seed=3, repeats=3) == first


@pytest.mark.parametrize(
    ("features", "options", "match"),
    [
        ({}, {}, "none given"),
        ({"x": np.arange(15.0)}, {}, "15 complete rows"),
        ({"x": np.arange(30.0)}, {"lags": (-1,)}, "lag"),
        ({"x": np.arange(30.0)}, {"holdout": 1.0}, "holdout"),
    ],
)
def test_importance_refuses_bad_input(
    features: dict[str, np.ndarray], options: dict[str, object], match: str
) -> None:
    length = len(next(iter(features.values()))) if features else 30
    target = np.random.default_rng(0).normal(size=length)
    with pytest.raises(InvalidInput, match=match):
        importance(target, features, **options)  # type: ignore[arg-type]


# Difference in differences.


def panel(seed: int, effect: float, n: int = 80, change: int = 50) -> tuple[np.ndarray, ...]:
    """A treated and a control series sharing a persistent shock, each with AR(1) noise."""
    rng = np.random.default_rng(seed)
    shared = 3.0 * ar1(rng, n, 0.9)
    control = 100.0 + shared + ar1(rng, n, 0.4)
    treated = 60.0 + shared + ar1(rng, n, 0.4) + effect * (np.arange(n) >= change)
    return treated, control


def test_diff_in_diff_recovers_a_known_effect() -> None:
    treated, control = panel(seed=15, effect=2.5)
    result = diff_in_diff(treated, control, 50)
    before, after = slice(0, 50), slice(50, None)
    by_means = (treated[after].mean() - treated[before].mean()) - (
        control[after].mean() - control[before].mean()
    )
    assert result.estimate == pytest.approx(by_means)
    assert result.ci_low < 2.5 < result.ci_high
    assert result.significant
    assert result.parallel_trends
    assert result.counterfactual == pytest.approx(treated[after].mean() - result.estimate)
    assert result.relative_effect == pytest.approx(result.estimate / result.counterfactual)
    assert (result.n_before, result.n_after) == (50, 30)


def test_diff_in_diff_intervals_cover_and_placebos_stay_quiet() -> None:
    # Nominal 95 %: about 190 of 200 intervals cover the truth, and about 10 placebo changes
    # and 10 pre-trend checks reject. Plain Newey-West errors reject two to three times that
    # often on series this short and autocorrelated; the bounds leave room for chance only.
    covered = placebos = diverging = 0
    for seed in range(200):
        treated, control = panel(seed=100 + seed, effect=2.0)
        result = diff_in_diff(treated, control, 50)
        covered += result.ci_low <= 2.0 <= result.ci_high
        diverging += not result.parallel_trends
        placebo = diff_in_diff(treated[:50], control[:50], 30)  # no change before bucket 50
        placebos += placebo.significant
    assert covered >= 176
    assert placebos <= 18
    assert diverging <= 20


def test_diverging_pre_trends_are_flagged() -> None:
    treated, control = panel(seed=16, effect=0.0)
    drift = 0.15 * np.arange(80)
    result = diff_in_diff(treated + drift, control, 50)
    assert not result.parallel_trends
    assert result.pre_trend_p_value < 0.05
    assert result.pre_trend_difference == pytest.approx(0.15, abs=0.08)


def test_diff_in_diff_drops_buckets_with_a_gap() -> None:
    treated, control = panel(seed=17, effect=1.0)
    treated[[3, 60]] = np.nan
    control[10] = np.nan
    result = diff_in_diff(treated, control, 50)
    assert (result.n_before, result.n_after) == (48, 29)


@pytest.mark.parametrize(
    ("treated", "control", "change", "match"),
    [
        (np.arange(20.0), np.arange(19.0), 10, "buckets"),
        (np.arange(20.0), np.arange(20.0), 20, "change_index"),
        (np.arange(20.0), np.arange(20.0), True, "change_index"),
        (np.arange(20.0), np.arange(20.0), 3, "3 buckets before"),
        (np.arange(20.0), np.arange(20.0), 19, "1 from it on"),
    ],
)
def test_diff_in_diff_refuses_bad_input(
    treated: np.ndarray, control: np.ndarray, change: int, match: str
) -> None:
    with pytest.raises(InvalidInput, match=match):
        diff_in_diff(treated, control, change)


# What importing the package costs.


def test_importing_the_package_does_not_load_the_optional_libraries() -> None:
    code = (
        "import sys, gnomon.insights.drivers\n"
        "heavy = {'statsmodels', 'sklearn', 'scipy'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
