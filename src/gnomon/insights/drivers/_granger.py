"""The Granger test of "the candidate's past helps predict the target", written as two OLS fits.

Why our own F test rather than ``statsmodels``' ``grangercausalitytests``: that function wants
gap-free series and leaves the choice among its orders, and the multiple comparisons that
choice hides, to the caller. Here every order ``p`` in ``1..max_lag`` is tested on one common
sample, and the smallest p-value, multiplied by the number of orders tried (Bonferroni), is
the candidate's one p-value. Choosing the order by AIC of the model with the candidate's lags
instead would let chance fits of those lags pick the order, and the F test at that order would
call independent noise a driver too often. Rows with a gap in any lag are left out, so NaN
needs no filling.

Why difference first: regressing one trending series on another finds "causality" between any
two trends. When the augmented Dickey-Fuller test cannot reject a unit root in either series
(p ≥ 0.05), both are differenced once and the test asks whether changes in the candidate
predict changes in the target.
"""

import math
import warnings

import numpy as np

from gnomon.insights.drivers._stats import stats, stattools
from gnomon.insights.drivers.models import Evidence

_ADF_ALPHA = 0.05
_MIN_ADF = 12
"""Points below which the ADF test is not run (and the series is taken as stationary)."""
_MIN_DF = 8
"""Residual degrees of freedom the unrestricted model must keep for the highest order tried."""
_EXACT = 1e-12
"""A residual sum of squares this small (relative) counts as an exact fit."""


def nonstationary(values: np.ndarray) -> bool:
    """The ADF test (constant, lags by AIC) cannot reject a unit root in ``values`` (NaN dropped).

    Gaps are closed up before the test, which blurs the lags around them; good enough for a
    yes/no on differencing.
    """
    known = values[np.isfinite(values)]
    if len(known) < _MIN_ADF or np.ptp(known) == 0.0:
        return False
    with warnings.catch_warnings():
        # statsmodels 0.15 announces a result object; the tuple's p-value stays at [1].
        warnings.simplefilter("ignore", FutureWarning)
        p_value = float(stattools().adfuller(known, regression="c", autolag="AIC")[1])
    return p_value >= _ADF_ALPHA


def _design(y: np.ndarray, x: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """The target at t and ``[1, y(t-1..order), x(t-1..order)]`` for rows with no gap."""
    n = len(y)
    columns = [np.ones(n - order)]
    columns += [y[order - k : n - k] for k in range(1, order + 1)]
    columns += [x[order - k : n - k] for k in range(1, order + 1)]
    design = np.column_stack(columns)
    response = y[order:]
    keep = np.isfinite(response) & np.isfinite(design).all(axis=1)
    return response[keep], design[keep]


def _rss(response: np.ndarray, design: np.ndarray) -> float:
    coefficients = np.linalg.lstsq(design, response, rcond=None)[0]
    residuals = response - design @ coefficients
    return float(residuals @ residuals)


def _columns(order: int, top: int, *, with_x: bool) -> list[int]:
    """The design columns of a model of ``order`` lags within a design built for ``top`` lags."""
    own = [0, *range(1, order + 1)]
    return own + list(range(1 + top, 1 + top + order)) if with_x else own


def _f_test(
    response: np.ndarray, unrestricted: np.ndarray, restricted: np.ndarray, total: float
) -> tuple[float, float]:
    """The p-value and F statistic of the columns ``unrestricted`` adds to ``restricted``."""
    extra = unrestricted.shape[1] - restricted.shape[1]
    df = len(response) - unrestricted.shape[1]
    rss_u, rss_r = _rss(response, unrestricted), _rss(response, restricted)
    if rss_r <= _EXACT * total:
        return 1.0, 0.0  # the target's own past predicts it exactly
    if rss_u <= _EXACT * rss_r:
        return 0.0, math.inf
    f_stat = max(0.0, (rss_r - rss_u) / extra / (rss_u / df))
    return float(stats().f.sf(f_stat, extra, df)), f_stat


def granger(
    target: np.ndarray, candidate: np.ndarray, *, max_lag: int
) -> tuple[Evidence | None, bool, str | None]:
    """Test candidate → target.

    Returns the evidence (p-value not yet adjusted), whether both series were differenced, and
    why there is no evidence when there is none.
    """
    differenced = nonstationary(target) or nonstationary(candidate)
    y, x = (np.diff(target), np.diff(candidate)) if differenced else (target, candidate)
    top = max(1, max_lag)
    response, design = _design(y, x, top)
    while top > 1 and len(response) - (2 * top + 1) < _MIN_DF:
        top -= 1
        response, design = _design(y, x, top)
    m = len(response)
    if m - (2 * top + 1) < _MIN_DF:
        return None, differenced, f"Granger left out: only {m} gap-free rows for lag 1."
    if np.ptp(response) == 0.0:
        return None, differenced, "Granger left out: the target does not vary."

    total = float(np.sum((response - response.mean()) ** 2))
    found = [
        (
            *_f_test(
                response,
                design[:, _columns(order, top, with_x=True)],
                design[:, _columns(order, top, with_x=False)],
                total,
            ),
            order,
        )
        for order in range(1, top + 1)
    ]
    p_value, f_stat, order = min(found, key=lambda test: test[0])
    evidence = Evidence(
        test="granger",
        statistic=f_stat,
        p_value=min(1.0, p_value * top),
        p_adjusted=math.nan,
        significant=False,
        n=m,
        n_effective=float(m),
        lag=order,
    )
    return evidence, differenced, None
