"""Scoring series on Spark (grouped pandas UDFs) gives exactly the verdicts of local scoring."""

from typing import Any

import numpy as np
import pytest

from gnomon.insights.scoring import score_many
from gnomon.insights.spark_scoring import score_on_spark

pytestmark = [pytest.mark.integration, pytest.mark.spark]

CONFIG = {"name": "robust_z", "sensitivity": "medium", "season": 7}


def _series(seed: int, length: int, *, spike_at: int | None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = 100 + 10 * np.sin(np.arange(length) * 2 * np.pi / 7) + rng.normal(0, 2, length)
    if spike_at is not None:
        values[spike_at] += 80
    values[5] = np.nan
    return values


def test_spark_flags_what_local_scoring_flags(spark_session: Any) -> None:
    series = [
        _series(1, 120, spike_at=100),
        _series(2, 90, spike_at=None),
        _series(3, 150, spike_at=140),
        _series(4, 40, spike_at=None),
    ]
    local = score_many(CONFIG, series, workers=1, parallel_from=1_000)
    remote = score_on_spark(spark_session, CONFIG, series)
    assert len(remote) == len(series)
    assert 100 in remote[0].index.tolist() and 140 in remote[2].index.tolist()
    for mine, theirs in zip(local, remote, strict=True):
        np.testing.assert_array_equal(mine.index, theirs.index)
        np.testing.assert_allclose(mine.score, theirs.score)
        np.testing.assert_allclose(mine.expected, theirs.expected)
        np.testing.assert_array_equal(mine.direction, theirs.direction)
        assert mine.severity.tolist() == theirs.severity.tolist()
