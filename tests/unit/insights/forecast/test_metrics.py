import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.forecast import mase, smape
from gnomon.insights.forecast.intervals import calibrate
from gnomon.insights.forecast.metrics import coverage, mase_scale
from gnomon.insights.forecast.seasonal import adjust, is_seasonal


def test_smape_is_symmetric_bounded_and_skips_missing_actuals() -> None:
    assert smape([100.0], [50.0]) == pytest.approx(200 * 50 / 150)
    assert smape([50.0], [100.0]) == smape([100.0], [50.0])
    assert smape([1.0], [-1.0]) == 200.0
    assert smape([0.0, 10.0], [0.0, 10.0]) == 0.0
    assert smape([np.nan, 10.0], [3.0, 5.0]) == pytest.approx(200 * 5 / 15)
    assert np.isnan(smape([np.nan], [1.0]))


def test_mase_scales_by_the_seasonal_naive_error_in_sample() -> None:
    insample = np.tile([1.0, 5.0], 5) + np.arange(10)  # lag-2 differences are all 2
    assert mase_scale(insample, 2) == 2.0
    assert mase([10.0, 12.0], [11.0, 15.0], insample, 2) == pytest.approx(1.0)
    assert mase([3.0], [3.0], np.ones(5), 1) == 0.0
    assert mase([3.0], [4.0], np.ones(5), 1) == np.inf
    with pytest.raises(InvalidInput, match="period"):
        mase_scale(insample, 0)
    with pytest.raises(InvalidInput, match="shape"):
        smape([1.0, 2.0], [1.0])


def test_coverage_counts_known_values_inside_the_band() -> None:
    assert coverage([1.0, 2.0, np.nan, 9.0], [0.0] * 4, [5.0] * 4) == pytest.approx(2 / 3)


def test_seasonal_adjustment_removes_and_restores_a_multiplicative_season() -> None:
    t = np.arange(120)
    season = np.array([0.8, 1.0, 1.2, 1.0])
    values = (100 + t) * season[t % 4]
    assert is_seasonal(values, 4)
    adjustment = adjust(values, 4)
    assert adjustment.multiplicative
    assert np.std(np.diff(adjustment.adjusted[4:-4])) < 0.2 * np.std(np.diff(values))
    restored = adjustment.restore(np.full(4, 220.0))
    assert restored == pytest.approx(220 * season[np.arange(120, 124) % 4], rel=0.02)
    flat = adjust(np.r_[values[:-1], -1.0], 4)
    assert not flat.multiplicative


def test_conformal_quantiles_grow_with_the_level_and_use_a_normal_fallback_when_few() -> None:
    rng = np.random.default_rng(0)
    errors = rng.normal(0, 1, (3, 40))
    bands = calibrate(errors, (50, 80, 95))
    q = bands.quantiles
    assert q[50] < q[80] < q[95]
    assert q[95] == pytest.approx(1.96, rel=0.25)
    few = calibrate(errors[:, :2], (80, 99))
    assert few.quantiles[99] > few.quantiles[80] > 0
    assert few.growth == 0.5
    growing = calibrate(np.outer([1.0, -1.0, 0.5], np.arange(1, 21)), (80,))
    assert growing.growth == pytest.approx(1.0)
