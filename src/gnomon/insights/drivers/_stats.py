"""Shared pieces of the driver analyses: input checks, the optional libraries, correlations.

Correlation p-values use an effective sample size because KPI series are autocorrelated: two
independent random walks routinely show ``|r| > 0.5``, and the textbook p-value, which assumes
independent pairs, calls that certain. The lag-1 approximation (Bretherton et al., 1999)
``n_eff = n (1 - a b) / (1 + a b)``, with ``a`` and ``b`` the series' lag-1 autocorrelations,
leaves white noise untouched and shrinks ``n`` towards nothing as the series approach random
walks.
"""

import math
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.optional import require

EXTRA = "insights"


def stats() -> ModuleType:
    """``scipy.stats`` (installed with statsmodels and scikit-learn)."""
    return require("scipy.stats", extra=EXTRA)


def statsmodels_api() -> ModuleType:
    """``statsmodels.api``."""
    return require("statsmodels.api", extra=EXTRA)


def multitest() -> ModuleType:
    """``statsmodels.stats.multitest``."""
    return require("statsmodels.stats.multitest", extra=EXTRA)


def stattools() -> ModuleType:
    """``statsmodels.tsa.stattools``."""
    return require("statsmodels.tsa.stattools", extra=EXTRA)


def as_series(name: str, values: Any) -> np.ndarray:
    """A 1-D float64 copy of ``values`` (infinities become NaN), or :class:`InvalidInput`."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid series {name!r}: {exc}.",
            hint="Pass a 1-D sequence of numbers (NaN for gaps).",
            series=name,
        ) from exc
    if array.ndim != 1:
        raise InvalidInput(
            f"Invalid series {name!r}: expected a 1-D array, got shape {array.shape}.",
            hint="Pass one series per name.",
            series=name,
        )
    array[~np.isfinite(array)] = np.nan
    return array


def aligned(target: Any, others: Mapping[str, Any], *, kind: str) -> dict[str, np.ndarray]:
    """The ``others`` as float arrays, each as long as ``target`` (same buckets), or an error."""
    if not isinstance(others, Mapping):
        raise InvalidInput(
            f"Invalid {kind}: expected a mapping of name to series, got {type(others).__name__}.",
            hint=f"Pass {kind} as {{'name': array, ...}}.",
        )
    arrays = {str(name): as_series(str(name), values) for name, values in others.items()}
    wrong = {name: len(a) for name, a in arrays.items() if len(a) != len(target)}
    if wrong:
        raise InvalidInput(
            f"Invalid {kind}: lengths {wrong} differ from the target's {len(target)}.",
            hint="Align every series on the same buckets first (NaN where a value is missing).",
            lengths=wrong,
        )
    return arrays


def check_int(name: str, value: Any, *, minimum: int) -> int:
    """``value`` as an int of at least ``minimum``, or :class:`InvalidInput`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InvalidInput(
            f"Invalid {name} {value!r}: expected an integer of at least {minimum}.",
            hint=f"Pass a whole number, {minimum} or more.",
            parameter=name,
        )
    return int(value)


def check_alpha(alpha: Any) -> float:
    """``alpha`` as a float in (0, 1), or :class:`InvalidInput`."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise InvalidInput(
            f"Invalid alpha {alpha!r}: expected a significance level in (0, 1).",
            hint="0.05 is the usual choice.",
            parameter="alpha",
        )
    return float(alpha)


def lag1(values: np.ndarray) -> float:
    """The lag-1 autocorrelation of ``values`` (no NaN), 0 when undefined."""
    if len(values) < 3:
        return 0.0
    centred = values - values.mean()
    denominator = float(centred @ centred)
    if denominator == 0.0:
        return 0.0
    return float(centred[1:] @ centred[:-1]) / denominator


def effective_n(a: np.ndarray, b: np.ndarray) -> float:
    """The effective number of independent pairs of ``a`` and ``b`` (see the module docstring)."""
    n = len(a)
    product = lag1(a) * lag1(b)
    shrunk = n * (1.0 - product) / (1.0 + product) if product > -1.0 else float(n)
    return float(min(n, max(3.0, shrunk)))


def correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Pearson's r of two NaN-free arrays, its two-sided p-value, and the effective n.

    The p-value is the t test of r with ``n_eff - 2`` degrees of freedom. Either array
    constant gives ``(0, 1, n)``: no linear relation can be seen.
    """
    n = len(a)
    a_centred = a - a.mean()
    b_centred = b - b.mean()
    scale = math.sqrt(float(a_centred @ a_centred) * float(b_centred @ b_centred))
    if scale == 0.0:
        return 0.0, 1.0, float(n)
    r = max(-1.0, min(1.0, float(a_centred @ b_centred) / scale))
    n_eff = effective_n(a, b)
    if abs(r) >= 1.0:
        return r, 0.0, n_eff
    df = n_eff - 2.0
    t = r * math.sqrt(df / (1.0 - r * r))
    return r, float(2.0 * stats().t.sf(abs(t), df)), n_eff


def rank_correlation(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Spearman's rho (Pearson's r of the ranks, ties averaged), its p-value and effective n."""
    rankdata = stats().rankdata
    return correlation(
        np.asarray(rankdata(a), dtype=np.float64), np.asarray(rankdata(b), dtype=np.float64)
    )
