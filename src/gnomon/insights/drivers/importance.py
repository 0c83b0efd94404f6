"""How much a model of the target leans on each driver: permutation importance on a later tail.

Why permutation importance: it asks the question people mean ("how much worse does the
prediction get without this driver?") in the target's own terms (R² lost), it works for any
model, and measured on data the model has not seen it credits only what generalises. The
forest's built-in impurity importance is measured on the training rows and favours
noisy continuous features; SHAP would explain single predictions, which is more than this
ranking needs, and is not a dependency of gnomon.

Why a random forest: few settings to get wrong, no scaling, non-linear and interacting
effects, and a fixed seed makes it repeatable. Like any tree model it cannot extrapolate: a
target that trends out of its training range scores a poor held-out R²; pass changes (first
differences) for trending metrics.

Why a time-ordered split: rows of a series are not exchangeable; a random split lets the
model see the neighbours of every test row and overstates both R² and importance. The model
is fitted on the earlier rows and judged on the latest ``holdout`` fraction.

Two correlated drivers share their importance: shuffling one leaves the other to carry the
information, so both can look unimportant. Read importance together with
:func:`~gnomon.insights.drivers.relate`.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.drivers._stats import EXTRA, aligned, as_series, check_int
from gnomon.insights.drivers.models import Importance
from gnomon.optional import require

__all__ = ["MIN_ROWS", "importance"]

MIN_ROWS = 20
"""Complete rows (target and every column known) needed to fit and judge a model."""
_MIN_TEST = 5
_TREES = 200


def _shift(values: np.ndarray, lag: int) -> np.ndarray:
    """``values`` moved ``lag`` buckets later (the value at t is the one at ``t - lag``)."""
    if lag == 0:
        return values
    shifted = np.full_like(values, np.nan)
    shifted[lag:] = values[:-lag]
    return shifted


def _check_lags(lags: Sequence[int]) -> tuple[int, ...]:
    if isinstance(lags, str | bytes) or not isinstance(lags, Sequence) or not lags:
        raise InvalidInput(
            f"Invalid lags {lags!r}: expected a non-empty sequence of integers.",
            hint="Use (0,) for the same bucket, (0, 1, 7) to add yesterday and last week.",
            parameter="lags",
        )
    return tuple(dict.fromkeys(check_int("lag", lag, minimum=0) for lag in lags))


def _split(rows: int, holdout: float) -> int:
    """The number of training rows: the rest, the latest ones, are held out."""
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise InvalidInput(
            f"Invalid holdout {holdout!r}: expected a fraction in (0, 1).",
            hint="0.25 holds out the latest quarter of the rows.",
            parameter="holdout",
        )
    test = max(_MIN_TEST, round(rows * holdout))
    if rows < MIN_ROWS or rows - test < _MIN_TEST:
        raise InvalidInput(
            f"Too little data: {rows} complete rows; at least {MIN_ROWS} are needed.",
            hint="Use a longer window, fewer lags, or features with fewer gaps.",
            rows=rows,
        )
    return rows - test


def importance(
    target: np.ndarray,
    features: Mapping[str, np.ndarray],
    *,
    seed: int = 0,
    lags: Sequence[int] = (0,),
    holdout: float = 0.25,
    repeats: int = 10,
) -> list[Importance]:
    """Fit a random forest of the target on the features; rank them by permutation importance.

    Args:
        target: the metric to explain, one value per bucket (NaN for a gap).
        features: name → series on the same buckets as ``target``.
        seed: seeds the forest and the shuffles: the same call gives the same result.
        lags: which lags of every feature become columns, each at least 0 (``0`` is the same
            bucket, ``1`` the previous one). Each (feature, lag) is ranked on its own.
        holdout: the fraction of the latest complete rows held out to judge the model.
        repeats: shuffles per column; ``std`` is over them.

    Returns:
        One :class:`Importance` per feature and lag, most important first. Rows with a gap
        in the target or any column are left out (lags leave gaps at the edges).

    Raises:
        InvalidInput: no features, lengths differ, too few complete rows (see
            :data:`MIN_ROWS`), a constant target, or a parameter out of range.
    """
    y = as_series("target", target)
    arrays = aligned(y, features, kind="features")
    if not arrays:
        raise InvalidInput("Invalid features: none given.", hint="Pass at least one feature.")
    lags = _check_lags(lags)
    repeats = check_int("repeats", repeats, minimum=1)
    columns = [(name, lag) for name in arrays for lag in lags]
    matrix = np.column_stack([_shift(arrays[name], lag) for name, lag in columns])
    complete = np.isfinite(y) & np.isfinite(matrix).all(axis=1)
    y, matrix = y[complete], matrix[complete]
    train = _split(len(y), holdout)
    if np.ptp(y[:train]) == 0.0 or np.ptp(y[train:]) == 0.0:
        raise InvalidInput(
            "Invalid target: it is constant in the training rows or in the held-out tail.",
            hint="Pick a window in which the target moves throughout.",
        )
    ensemble = require("sklearn.ensemble", extra=EXTRA)
    inspection = require("sklearn.inspection", extra=EXTRA)
    model = ensemble.RandomForestRegressor(
        n_estimators=_TREES, min_samples_leaf=2, random_state=seed, n_jobs=1
    )
    model.fit(matrix[:train], y[:train])
    found = inspection.permutation_importance(
        model,
        matrix[train:],
        y[train:],
        scoring="r2",
        n_repeats=repeats,
        random_state=seed,
        n_jobs=1,
    )
    r2 = float(model.score(matrix[train:], y[train:]))
    ranked = [
        Importance(
            feature=name,
            lag=lag,
            mean=float(found.importances_mean[i]),
            std=float(found.importances_std[i]),
            r2=r2,
            n_train=train,
            n_test=len(y) - train,
        )
        for i, (name, lag) in enumerate(columns)
    ]
    return sorted(ranked, key=lambda item: -item.mean)
