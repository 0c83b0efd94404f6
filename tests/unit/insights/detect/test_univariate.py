import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gnomon.errors import InvalidInput
from gnomon.insights.detect import DETECTORS, SEVERITIES, Detector, Scored, detector

"""Synthetic KPI series: a daily cycle of 24 points with noise, and injected anomalies."""

SEASON = 24
LENGTH = 480
AT = 400
NOISE = 0.5


def seasonal(seed: int = 0, length: int = LENGTH) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return 100.0 + 5.0 * np.sin(2 * np.pi * t / SEASON) + rng.normal(0.0, NOISE, length)


def with_anomaly(kind: str, seed: int = 0) -> np.ndarray:
    values = seasonal(seed)
    if kind == "spike":
        values[AT] += 16 * NOISE + 5.0
    elif kind == "drop":
        values[AT] -= 16 * NOISE + 5.0
    elif kind == "shift":
        values[AT:] += 12 * NOISE + 5.0
    else:
        raise AssertionError(kind)
    return values


# Every univariate detector, configured for the test series' daily cycle.
CONFIGS: dict[str, dict[str, Any]] = {
    "robust_z": {"season": SEASON},
    "iqr": {"season": SEASON},
    "ewma": {"season": SEASON},
    "stl": {"season": SEASON},
    "forecast_interval": {"season": SEASON},
    "ensemble": {"season": SEASON},
    "novelty": {"season": SEASON},
    "kpi": {"season": SEASON},
}


def make(name: str, **extra: Any) -> Detector:
    params: dict[str, Any] = {**CONFIGS[name], **extra}
    made = detector(name, **params)
    assert isinstance(made, Detector)
    return made


def test_every_univariate_detector_is_covered() -> None:
    assert set(CONFIGS) == set(DETECTORS)


FIELDS = ("score", "flagged", "direction", "expected", "lower", "upper", "severity")


def warm(scored: Scored) -> np.ndarray:
    live: np.ndarray = ~np.isnan(scored.expected)
    return live


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize("kind", ["spike", "drop"])
def test_finds_an_injected_spike_or_drop(name: str, kind: str) -> None:
    scored = make(name).score_series(with_anomaly(kind))
    assert scored.flagged[AT]
    assert scored.direction[AT] == (1 if kind == "spike" else -1)
    assert scored.severity[AT] != "none"
    assert scored.score[AT] >= scored.score[:AT].max()


@pytest.mark.parametrize("name", DETECTORS)
def test_finds_a_level_shift_when_it_starts(name: str) -> None:
    scored = make(name).score_series(with_anomaly("shift"))
    assert scored.flagged[AT : AT + SEASON].any()
    assert scored.flagged[AT]  # a jump of 17 noise sigmas is visible at once


@pytest.mark.parametrize("name", DETECTORS)
def test_flags_few_points_of_a_clean_series(name: str) -> None:
    clean = seasonal(1)
    scored = make(name).score_series(clean)
    assert scored.flagged.sum() <= 0.01 * len(clean)
    assert warm(scored)[-1]


@pytest.mark.parametrize("name", DETECTORS)
def test_no_look_ahead(name: str) -> None:
    values = seasonal(2)
    changed = values.copy()
    changed[300:] = np.random.default_rng(3).normal(0.0, 50.0, values.size - 300)
    a = make(name).score_series(values)
    b = make(name).score_series(changed)
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(a, field)[:300], getattr(b, field)[:300])


@pytest.mark.parametrize("name", DETECTORS)
def test_update_continues_score_series_exactly(name: str) -> None:
    values = with_anomaly("spike")
    values[100] = np.nan
    whole = make(name).score_series(values)
    online = make(name)
    head = online.score_series(values[:250])
    tail = [online.update(v) for v in values[250:]]
    joined = Scored(
        *(np.concatenate([getattr(head, f), getattr(Scored.from_points(tail), f)]) for f in FIELDS)
    )
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(joined, field), getattr(whole, field))


@pytest.mark.parametrize("name", DETECTORS)
def test_missing_values_are_skipped_never_flagged(name: str) -> None:
    values = with_anomaly("spike")
    values[AT] = np.nan
    values[AT + 5] = np.inf
    scored = make(name).score_series(values)
    assert not scored.flagged[AT] and not scored.flagged[AT + 5]
    assert scored.score[AT] == 0.0 and scored.direction[AT] == 0
    assert not np.isnan(scored.expected[AT])


@pytest.mark.parametrize("name", DETECTORS)
def test_warm_up_is_never_flagged_and_has_no_band(name: str) -> None:
    scored = make(name).score_series(with_anomaly("spike"))
    cold = ~warm(scored)
    assert cold[0]
    assert not scored.flagged[cold].any()
    assert (scored.score[cold] == 0).all()
    assert np.isnan(scored.lower[cold]).all() and np.isnan(scored.upper[cold]).all()
    assert not np.isnan(scored.lower[~cold]).any()


@pytest.mark.parametrize("name", DETECTORS)
def test_verdicts_are_consistent(name: str) -> None:
    d = make(name)
    scored = d.score_series(with_anomaly("spike"))
    assert scored.score.dtype == np.float64 and scored.direction.dtype == np.int8
    assert ((scored.score >= 0) & (scored.score <= 1)).all()
    assert set(np.unique(scored.severity)) <= set(SEVERITIES)
    assert ((scored.severity != "none") == scored.flagged).all()
    live = warm(scored)
    assert (scored.lower[live] <= scored.upper[live]).all()
    if name != "ensemble":  # its vote is not a threshold on its own score
        assert ((scored.score >= d.threshold) | ~scored.flagged).all()


@pytest.mark.parametrize("name", DETECTORS)
def test_feedback_not_anomalous_widens_past_the_point(name: str) -> None:
    values = seasonal(5, 1200) + np.random.default_rng(5).standard_t(2, 1200)
    d = make(name)
    scored = d.score_series(values)
    flagged = np.flatnonzero(scored.flagged)
    mildest = int(flagged[np.argmin(scored.score[flagged])])
    point = scored.point(mildest)
    before = d.threshold
    d.feedback(point, anomalous=False)
    assert d.threshold > before
    again = detector(**d.params()).score_series(values)
    assert not again.flagged[mildest]
    assert again.flagged.sum() < scored.flagged.sum()


@pytest.mark.parametrize("name", ["robust_z", "ewma", "forecast_interval", "novelty"])
def test_feedback_anomalous_tightens_within_bounds(name: str) -> None:
    d = make(name)
    point = d.score_series(with_anomaly("spike")).point(AT)
    before = d.threshold
    d.feedback(point, anomalous=True)
    assert 0.95 <= d.threshold < before
    for _ in range(100):
        d.feedback(point, anomalous=True)
    assert d.threshold >= 0.95


@pytest.mark.parametrize("name", DETECTORS)
def test_sensitivity_orders_the_flags(name: str) -> None:
    rng = np.random.default_rng(7)
    values = seasonal(7, 1200) + rng.standard_t(2, 1200)
    counts = [
        int(make(name, sensitivity=s).score_series(values).flagged.sum())
        for s in ("low", "medium", "high")
    ]
    assert counts[0] < counts[1] < counts[2], counts


@pytest.mark.parametrize("name", DETECTORS)
def test_params_round_trip_as_json(name: str) -> None:
    d = make(name, sensitivity="high")
    d.score_series(with_anomaly("spike"))
    d.feedback(d.update(1e6), anomalous=False)
    params = json.loads(json.dumps(d.params()))
    assert params["name"] == name and params["sensitivity"] == "high"
    assert params["season"] == SEASON and params["threshold"] == d.threshold
    rebuilt = detector(**params)
    assert rebuilt.params() == params
    values = with_anomaly("drop")
    a = rebuilt.score_series(values)
    b = detector(**params).score_series(values)
    np.testing.assert_array_equal(a.score, b.score)


def test_severity_grows_with_the_size_of_the_anomaly() -> None:
    levels = []
    for size in (5.0, 8.0, 20.0, 200.0):
        values = seasonal(0)
        values[AT] += size
        point = detector("robust_z", season=SEASON).score_series(values).point(AT)
        levels.append(SEVERITIES.index(point.severity))
    assert levels == sorted(levels) and levels[0] >= 1 and levels[-1] == 4


def test_scores_are_calibrated_alike() -> None:
    """On Gaussian noise about one point in a thousand passes the medium threshold."""
    values = np.random.default_rng(11).normal(0.0, 1.0, 20000)
    for name in ("robust_z", "ewma", "forecast_interval"):
        rate = detector(name).score_series(values).flagged.mean()
        assert 0.0002 < rate < 0.006, (name, rate)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: detector("nope"), "Use one of"),
        (lambda: detector("robust_z", windw=3), "window"),
        (lambda: detector("robust_z", sensitivity="extreme"), "low, medium, high"),
        (lambda: detector("robust_z", window=1), "window"),
        (lambda: detector("robust_z", season=1), "season"),
        (lambda: detector("stl"), "season"),
        (lambda: detector("ewma", alpha=2.0), "alpha"),
        (lambda: detector("ensemble", members=["robust_z", "isolation_forest"]), "members"),
        (lambda: detector("ensemble", members=[]), "members"),
        (lambda: detector("ensemble", mode="max"), "vote, mean"),
        (lambda: detector("ensemble", k=4), "k"),
        (lambda: detector("novelty", margins={"colour": 1.0}), "value"),
        (lambda: detector("robust_z", threshold=0.5), "threshold"),
        (lambda: detector("robust_z").score_series([]), "empty"),
        (lambda: detector("robust_z").score_series([np.nan, np.inf]), "finite"),
        (lambda: detector("robust_z").score_series(np.zeros((4, 2))), "1-D"),
        (lambda: detector("robust_z").score_series(["a", "b"]), "series"),
        (lambda: detector("robust_z").update("x"), "not a number"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_is_invalid_input(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()  # type: ignore[operator]


def test_forecast_interval_takes_a_plugged_in_predictor() -> None:
    calls: list[int] = []

    def last_value(history: np.ndarray) -> tuple[float, float]:
        calls.append(history.size)
        return float(history[-1]), 1.0

    d = detector("forecast_interval", predictor=last_value, min_history=10, history=50)
    values = np.r_[np.zeros(30), 10.0, np.zeros(5)]
    scored = d.score_series(values)
    assert scored.flagged[30] and scored.flagged.sum() == 2  # the jump up and back down
    assert scored.expected[30] == 0.0 and max(calls) <= 50
    assert "predictor" not in d.params()


def test_ensemble_vote_and_mean() -> None:
    values = with_anomaly("spike")
    vote = detector("ensemble", season=SEASON, members=["robust_z", "iqr", "ewma"], k=3)
    mean = detector("ensemble", season=SEASON, members=["robust_z", "iqr"], mode="mean")
    assert vote.score_series(values).flagged[AT]
    assert mean.score_series(values).flagged[AT]
    members = vote.params()["members"]
    assert [m["name"] for m in members] == ["robust_z", "iqr", "ewma"]


def test_novelty_finds_the_period_itself() -> None:
    d = detector("novelty", period_search=200)
    d.score_series(seasonal(0))
    assert d.period == SEASON  # type: ignore[attr-defined]


def test_novelty_raises_one_alert_per_event() -> None:
    values = seasonal(0)
    values[AT : AT + 10] += 30.0
    scored = detector("novelty", season=SEASON).score_series(values)
    assert scored.flagged[AT] and scored.flagged[AT : AT + 30].sum() == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["robust_z", "iqr", "ewma", "forecast_interval", "novelty", "ensemble"]),
    values=hnp.arrays(
        np.float64,
        st.integers(1, 80),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    ),
)
def test_arbitrary_floats_give_scores_or_invalid_input(name: str, values: np.ndarray) -> None:
    d = make(name, season=None, **({} if name == "ensemble" else {"min_history": 10}))
    try:
        scored = d.score_series(values)
    except InvalidInput:
        assert not np.isfinite(values).any()
        return
    assert len(scored) == values.size
    assert not np.isnan(scored.score).any()
    assert ((scored.score >= 0) & (scored.score <= 1)).all()
    assert not scored.flagged[~np.isfinite(values)].any()


@settings(max_examples=15, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.integers(60, 120),
        elements=st.floats(-1e6, 1e6, allow_nan=False, width=64),
    )
)
def test_stl_on_arbitrary_series(values: np.ndarray) -> None:
    scored = detector("stl", season=12).score_series(values)
    assert not np.isnan(scored.score).any()
    assert ((scored.score >= 0) & (scored.score <= 1)).all()
