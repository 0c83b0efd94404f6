import json
from typing import Any

import numpy as np
import pytest

from gnomon.errors import InvalidInput
from gnomon.insights.detect import MULTIVARIATE, FrameDetector, detector

ODD = (50, 120, 250)


def correlated(n: int = 300, seed: int = 0) -> np.ndarray:
    """Three KPIs that move together (orders, revenue, sessions) with a few broken rows."""
    rng = np.random.default_rng(seed)
    base = rng.normal(100.0, 10.0, n)
    frame = np.column_stack(
        [base, 2.0 * base + rng.normal(0, 2.0, n), 0.5 * base + rng.normal(0, 1.0, n)]
    )
    frame[ODD[0], 1] -= 120.0  # revenue collapses while orders are normal
    frame[ODD[1], 2] += 50.0  # sessions jump alone
    frame[ODD[2]] = [180.0, 60.0, 10.0]  # every relation broken
    return frame


def make(name: str, **params: Any) -> FrameDetector:
    made = detector(name, **params)
    assert isinstance(made, FrameDetector)
    return made


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_finds_rows_that_break_the_relations(name: str) -> None:
    frame = correlated()
    scored = make(name).score_frame(frame)
    assert scored.flagged[ODD[2]]  # the gross outlier
    if name == "autoencoder":  # learns the relations, so it sees each broken one
        assert scored.flagged[list(ODD)].all()
    # The forest splits on one column at a time: a broken relation ranks high, the gross
    # outlier clears the threshold.
    assert (scored.score[list(ODD)] >= np.quantile(scored.score, 0.97)).all()
    assert scored.flagged.sum() <= len(ODD) + 0.02 * len(frame)
    assert ((scored.score >= 0) & (scored.score <= 1)).all()
    assert scored.direction[ODD[0]] == -1 and scored.direction[ODD[1]] == 1
    assert np.isnan(scored.expected).all() and np.isnan(scored.upper).all()
    assert ((scored.severity != "none") == scored.flagged).all()


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_seeded_and_deterministic(name: str) -> None:
    frame = correlated()
    a = make(name, seed=3).score_frame(frame)
    b = make(name, seed=3).score_frame(frame)
    np.testing.assert_array_equal(a.score, b.score)


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_fit_then_score_new_rows(name: str) -> None:
    d = make(name)
    d.fit(correlated(seed=1)[300 // 2 :])
    fresh = correlated(seed=2)
    scored = d.score_frame(fresh)
    assert scored.flagged[ODD[2]]
    with pytest.raises(InvalidInput, match="columns"):
        d.score_frame(fresh[:, :2])


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_rows_with_gaps_are_skipped(name: str) -> None:
    frame = correlated()
    frame[ODD[2], 0] = np.nan
    scored = make(name).score_frame(frame)
    assert not scored.flagged[ODD[2]] and scored.score[ODD[2]] == 0.0


@pytest.mark.parametrize("name", MULTIVARIATE)
def test_feedback_params_and_sensitivity(name: str) -> None:
    frame = correlated()
    counts = [
        int(make(name, sensitivity=s).score_frame(frame).flagged.sum())
        for s in ("low", "medium", "high")
    ]
    assert counts[0] <= counts[1] <= counts[2] and counts[0] < counts[2]
    d = make(name)
    scored = d.score_frame(frame)
    flagged = np.flatnonzero(scored.flagged)
    mildest = int(flagged[np.argmin(scored.score[flagged])])
    d.feedback(scored.point(mildest), anomalous=False)
    params = json.loads(json.dumps(d.params()))
    again = detector(**params).score_frame(frame)
    assert not again.flagged[mildest]
    assert detector(**params).params() == params


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: detector("isolation_forest").score_frame(np.zeros(20)), "shape"),
        (lambda: detector("autoencoder").score_frame(np.zeros((20, 0))), "shape"),
        (lambda: detector("isolation_forest").score_frame(np.full((20, 2), np.nan)), "complete"),
        (lambda: detector("autoencoder", season=7), "season"),
        (lambda: detector("autoencoder", epochs=0), "epochs"),
        (lambda: detector("isolation_forest", trees=0), "trees"),
        (lambda: detector("isolation_forest", depth=3), "Unknown parameter"),
    ],
)
def test_bad_input_is_invalid_input(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()  # type: ignore[operator]
