"""What the driver analyses hand back: plain frozen values, one per candidate, feature or test.

Every p-value here has a documented meaning (what it corrects for, what it does not), because a
driver is only worth reporting when its evidence survives the multiple comparisons made to
find it: several candidates, several tests each, and a lag picked as the best of many.
"""

from dataclasses import dataclass

__all__ = ["DiDResult", "Evidence", "Importance", "Relation"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One test of a candidate against the target.

    Attributes:
        test: ``pearson``, ``spearman``, ``cross-correlation`` or ``granger``.
        statistic: the correlation (r or rho, in [-1, 1]) or, for ``granger``, the F statistic.
        p_value: the test's own p-value. Correlations use the effective sample size
            :attr:`n_effective`; the cross-correlation's is Bonferroni-corrected for the number
            of lags searched, Granger's for the number of orders tested.
        p_adjusted: ``p_value`` after Benjamini-Hochberg across every test of every candidate
            of one :func:`~gnomon.insights.drivers.relate` call.
        significant: ``p_adjusted`` is below the call's ``alpha``.
        n: the number of pairs (correlations) or regression rows (``granger``) used.
        n_effective: the sample size the p-value assumes: ``n`` shrunk for autocorrelation
            (correlations), or ``n`` (``granger``, whose lags model the autocorrelation).
        lag: the lag in buckets: the best one for ``cross-correlation`` (positive when the
            candidate leads the target), for ``granger`` the order (lags of both series in
            the model) with the smallest p-value, else 0.
    """

    test: str
    statistic: float
    p_value: float
    p_adjusted: float
    significant: bool
    n: int
    n_effective: float
    lag: int = 0


@dataclass(frozen=True, slots=True)
class Relation:
    """How one candidate metric relates to the target.

    Attributes:
        candidate: the candidate's name (the key in ``candidates``).
        pearson: linear correlation at lag 0; ``None`` when skipped.
        spearman: rank correlation at lag 0 (any monotone relation); ``None`` when skipped.
        lagged: the cross-correlation at the lag in ``-max_lag..max_lag`` where it is largest
            in absolute value (its ``lag``: positive means the candidate leads); ``None``
            when skipped.
        granger: whether the candidate's past improves the prediction of the target beyond
            the target's own past; ``None`` when not asked for, skipped, or too short.
        differenced: the Granger test ran on first differences because a series looked
            non-stationary (ADF test).
        strength: the largest of ``|r|``, ``|rho|`` and the best lag's ``|r|``; the sort key;
            0 when skipped.
        significant: any of the tests is significant after the correction.
        skipped: why the candidate was not analysed (too short, constant), else ``None``.
        notes: anything that limits the result (why Granger was left out …).
    """

    candidate: str
    pearson: Evidence | None
    spearman: Evidence | None
    lagged: Evidence | None
    granger: Evidence | None
    differenced: bool
    strength: float
    significant: bool
    skipped: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def lag(self) -> int | None:
        """The best lag (positive: the candidate leads the target), ``None`` when skipped."""
        return None if self.lagged is None else self.lagged.lag


@dataclass(frozen=True, slots=True)
class Importance:
    """How much a model of the target relies on one feature (at one lag).

    Attributes:
        feature: the feature's name (the key in ``features``).
        lag: the buckets by which the feature leads the target in this column (0: same bucket).
        mean: the mean drop of the model's held-out R² when this column is shuffled; about 0
            for a feature the model does not use, negative when shuffling happened to help.
        std: the standard deviation of that drop over the shuffles.
        r2: the model's R² on the held-out tail (the same for every feature of one call); the
            importances mean little when it is low.
        n_train: rows the model was fitted on (the earlier part).
        n_test: rows of the held-out tail the importances were measured on.
    """

    feature: str
    lag: int
    mean: float
    std: float
    r2: float
    n_train: int
    n_test: int


@dataclass(frozen=True, slots=True)
class DiDResult:
    """A difference-in-differences estimate of a change's effect on a treated series.

    Attributes:
        estimate: the treated series' mean change (after minus before) minus the control's,
            in the series' unit.
        std_error: its standard error, robust to the autocorrelation of the series and to
            shocks they share (the larger of Driscoll-Kraay and an AR(1) effective-size
            correction; see :mod:`gnomon.insights.drivers.did`).
        p_value: two-sided p-value of ``estimate`` = 0 (t with the effective degrees of
            freedom).
        ci_low: lower end of the ``level`` confidence interval of ``estimate``.
        ci_high: upper end of that interval.
        level: the interval's confidence level (``1 - alpha``).
        significant: ``p_value`` is below ``alpha``.
        treated_before: the treated series' mean before the change.
        treated_after: its mean from the change on.
        control_before: the control's mean before the change.
        control_after: its mean from the change on.
        counterfactual: what the treated series' mean after the change would have been had it
            moved like the control: ``treated_before + control_after - control_before``.
        relative_effect: ``estimate / |counterfactual|`` (``0.12`` for +12 %); ``None`` when
            the counterfactual is 0.
        pre_trend_difference: the treated minus the control slope (per bucket) before the
            change; parallel trends make it about 0.
        pre_trend_p_value: two-sided p-value of that difference being 0.
        parallel_trends: ``pre_trend_p_value`` is at least ``alpha``: nothing contradicts the
            assumption the estimate rests on (a short pre-period cannot confirm it either).
        n_before: buckets before the change where both series are known.
        n_after: buckets from the change on where both are known.
        maxlags: the Newey-West lag truncation used.
    """

    estimate: float
    std_error: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float
    significant: bool
    treated_before: float
    treated_after: float
    control_before: float
    control_after: float
    counterfactual: float
    relative_effect: float | None
    pre_trend_difference: float
    pre_trend_p_value: float
    parallel_trends: bool
    n_before: int
    n_after: int
    maxlags: int
