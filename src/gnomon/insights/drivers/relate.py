"""Which other metrics move with a target metric, and which ones move first.

Each candidate gets four tests: Pearson (linear, same bucket), Spearman (any monotone relation,
robust to outliers), the cross-correlation at its best lag in ``-max_lag..max_lag`` and the
Granger test of candidate → target (see :mod:`gnomon.insights.drivers._granger`). Searching
many candidates with many tests finds something by chance, so:

- correlation p-values use an effective sample size shrunk for autocorrelation (see
  :mod:`gnomon.insights.drivers._stats`);
- the best lag's p-value is multiplied by the number of lags searched, and Granger's by the
  number of orders tested (Bonferroni: the tests are correlated, so this errs on the safe side);
- every p-value of the call is then adjusted together with Benjamini-Hochberg, and only the
  adjusted one decides ``significant``: among the tests called significant, at most ``alpha``
  of them are expected to be false discoveries.

Correlation is not causation, and neither is Granger's "helps predict": a third metric driving
both shows up as a driver. The tests say where to look.
"""

import dataclasses
import math
from collections.abc import Iterator, Mapping

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.drivers._granger import granger as granger_test
from gnomon.insights.drivers._stats import (
    aligned,
    as_series,
    check_alpha,
    check_int,
    correlation,
    multitest,
    rank_correlation,
)
from gnomon.insights.drivers.models import Evidence, Relation

__all__ = ["MIN_POINTS", "relate"]

MIN_POINTS = 10
"""Buckets where both series are known below which a candidate (or a lag) is skipped."""


def _evidence(test: str, found: tuple[float, float, float], n: int, lag: int = 0) -> Evidence:
    statistic, p_value, n_effective = found
    return Evidence(test, statistic, p_value, math.nan, False, n, n_effective, lag)


def _lags(max_lag: int) -> Iterator[int]:
    """0, 1, -1, 2, -2 …: on ties the shorter lag wins."""
    yield 0
    for lag in range(1, max_lag + 1):
        yield lag
        yield -lag


def _shifted(y: np.ndarray, x: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(y[t], x[t - lag])`` where both are known."""
    n = len(y)
    a, b = (y[lag:], x[: n - lag]) if lag >= 0 else (y[: n + lag], x[-lag:])
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def _best_lag(y: np.ndarray, x: np.ndarray, max_lag: int) -> Evidence | None:
    best: Evidence | None = None
    tried = 0
    for lag in _lags(max_lag):
        a, b = _shifted(y, x, lag)
        if len(a) < MIN_POINTS or np.ptp(a) == 0.0 or np.ptp(b) == 0.0:
            continue
        tried += 1
        found = _evidence("cross-correlation", correlation(a, b), len(a), lag)
        if best is None or abs(found.statistic) > abs(best.statistic):
            best = found
    if best is None:
        return None
    return dataclasses.replace(best, p_value=min(1.0, best.p_value * tried))


def _skipped(name: str, reason: str) -> Relation:
    return Relation(name, None, None, None, None, False, 0.0, False, skipped=reason)


def _analyse(name: str, y: np.ndarray, x: np.ndarray, *, max_lag: int, granger: bool) -> Relation:
    """One candidate's uncorrected evidence."""
    known = np.isfinite(y) & np.isfinite(x)
    n = int(known.sum())
    if n < MIN_POINTS:
        return _skipped(
            name, f"only {n} buckets where it and the target are known; {MIN_POINTS} are needed"
        )
    if np.ptp(x[known]) == 0.0:
        return _skipped(name, "constant where the target is known")
    if np.ptp(y[known]) == 0.0:
        return _skipped(name, "the target is constant where this candidate is known")
    pearson = _evidence("pearson", correlation(y[known], x[known]), n)
    spearman = _evidence("spearman", rank_correlation(y[known], x[known]), n)
    lagged = _best_lag(y, x, max_lag)
    found, differenced, note = (
        granger_test(y, x, max_lag=max_lag) if granger else (None, False, None)
    )
    strength = max(abs(pearson.statistic), abs(spearman.statistic))
    if lagged is not None:
        strength = max(strength, abs(lagged.statistic))
    return Relation(
        candidate=name,
        pearson=pearson,
        spearman=spearman,
        lagged=lagged,
        granger=found,
        differenced=differenced,
        strength=strength,
        significant=False,
        notes=() if note is None else (note,),
    )


def _tests(relation: Relation) -> list[Evidence]:
    found = (relation.pearson, relation.spearman, relation.lagged, relation.granger)
    return [evidence for evidence in found if evidence is not None]


def _adjusted(relations: list[Relation], alpha: float) -> list[Relation]:
    """The relations with every p-value adjusted together (Benjamini-Hochberg)."""
    p_values = [e.p_value for relation in relations for e in _tests(relation)]
    if not p_values:
        return relations
    reject, corrected, _, _ = multitest().multipletests(p_values, alpha=alpha, method="fdr_bh")
    position = iter(zip(reject.tolist(), corrected.tolist(), strict=True))

    def take(evidence: Evidence | None) -> Evidence | None:
        if evidence is None:
            return None
        significant, p_adjusted = next(position)
        return dataclasses.replace(
            evidence, p_adjusted=float(p_adjusted), significant=bool(significant)
        )

    adjusted: list[Relation] = []
    for relation in relations:
        # The order of _tests: pearson, spearman, lagged, granger.
        pearson, spearman = take(relation.pearson), take(relation.spearman)
        lagged, granger = take(relation.lagged), take(relation.granger)
        tests = (pearson, spearman, lagged, granger)
        adjusted.append(
            dataclasses.replace(
                relation,
                pearson=pearson,
                spearman=spearman,
                lagged=lagged,
                granger=granger,
                significant=any(e is not None and e.significant for e in tests),
            )
        )
    return adjusted


def relate(
    target: np.ndarray,
    candidates: Mapping[str, np.ndarray],
    *,
    max_lag: int = 7,
    alpha: float = 0.05,
    granger: bool = True,
) -> list[Relation]:
    """How each candidate relates to the target: correlations, best lag, Granger, corrected.

    Args:
        target: the metric to explain, one value per bucket (NaN for a gap).
        candidates: name → series on the same buckets as ``target``. Each pair drops the
            buckets where either is NaN.
        max_lag: the cross-correlation searches lags ``-max_lag..max_lag`` buckets; Granger
            tests the orders ``1..max(1, max_lag)`` (fewer when the series are short).
        alpha: the false discovery rate at which tests are called significant.
        granger: run the Granger test (the slowest part: ADF tests and ``2 max_lag`` fits).

    Returns:
        One :class:`Relation` per candidate, strongest first, skipped ones (fewer than
        :data:`MIN_POINTS` shared buckets, or constant) last with their reason.

    Raises:
        InvalidInput: the target has fewer than :data:`MIN_POINTS` known values or is
            constant, a candidate's length differs from the target's, or a parameter is out
            of range.
    """
    y = as_series("target", target)
    max_lag = check_int("max_lag", max_lag, minimum=0)
    alpha = check_alpha(alpha)
    arrays = aligned(y, candidates, kind="candidates")
    known = y[np.isfinite(y)]
    if len(known) < MIN_POINTS:
        raise InvalidInput(
            f"Invalid target: {len(known)} known values; at least {MIN_POINTS} are needed.",
            hint="Use a longer window or a finer grain.",
        )
    if np.ptp(known) == 0.0:
        raise InvalidInput(
            "Invalid target: it is constant, so nothing can relate to it.",
            hint="Pick a window in which the target moves.",
        )
    drafts = [_analyse(name, y, x, max_lag=max_lag, granger=granger) for name, x in arrays.items()]
    relations = _adjusted(drafts, alpha)
    return sorted(relations, key=lambda r: (r.skipped is not None, -r.strength))
