"""Scoring many series on Spark: one grouped pandas UDF call per series, on the executors.

When the engine is Spark, a scan of many series hands their values to the cluster instead of a
local process pool: each series becomes a group of (series, position, value) rows, and each
executor rebuilds the detector from the same JSON configuration the registry holds and scores
its groups. The verdicts are the same as :func:`gnomon.insights.scoring.score_many` gives,
because it is the same function that scores each series.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gnomon.insights.scoring import Flagged
from gnomon.optional import require

__all__ = ["score_on_spark"]

_SCHEMA = (
    "series long, position long, score double, direction int, expected double, lower double, "
    "upper double, severity string"
)


def score_on_spark(
    session: Any, config: Mapping[str, Any], series: Sequence[np.ndarray]
) -> list[Flagged]:
    """Score every series on ``session``'s cluster; the flagged points of each, in order."""
    pandas = require("pandas", extra="forecast")
    if not series:
        return []
    lengths = [int(values.size) for values in series]
    frame = pandas.DataFrame(
        {
            "series": np.repeat(np.arange(len(series), dtype=np.int64), lengths),
            "position": np.concatenate([np.arange(n, dtype=np.int64) for n in lengths]),
            "value": np.concatenate([np.asarray(v, dtype=np.float64) for v in series]),
        }
    )
    payload = json.dumps(dict(config))
    scored = (
        session.createDataFrame(frame, schema="series long, position long, value double")
        .groupBy("series")
        .applyInPandas(_scorer(payload), schema=_SCHEMA)
        .toPandas()
    )
    found: list[Flagged] = []
    groups = {int(key): group for key, group in scored.groupby("series")}
    for index in range(len(series)):
        group = groups.get(index)
        if group is None:
            found.append(_none())
            continue
        group = group.sort_values("position")
        found.append(
            Flagged(
                index=group["position"].to_numpy(dtype=np.int64),
                score=group["score"].to_numpy(dtype=np.float64),
                direction=group["direction"].to_numpy(dtype=np.int8),
                expected=group["expected"].to_numpy(dtype=np.float64),
                lower=group["lower"].to_numpy(dtype=np.float64),
                upper=group["upper"].to_numpy(dtype=np.float64),
                severity=group["severity"].to_numpy(dtype="<U8"),
            )
        )
    return found


def _scorer(payload: str) -> Any:
    """The function each executor runs on one series' rows (pickled with the configuration)."""

    def score(rows: Any) -> Any:
        pd = require("pandas", extra="forecast")

        from gnomon.insights.scoring import score_one

        rows = rows.sort_values("position")
        values = rows["value"].to_numpy(dtype=np.float64)
        marks = score_one(json.loads(payload), values)
        return pd.DataFrame(
            {
                "series": np.full(marks.index.size, int(rows["series"].iloc[0]), dtype=np.int64),
                "position": marks.index.astype(np.int64),
                "score": marks.score,
                "direction": marks.direction.astype(np.int32),
                "expected": marks.expected,
                "lower": marks.lower,
                "upper": marks.upper,
                "severity": marks.severity.astype(str),
            }
        )

    return score


def _none() -> Flagged:
    empty = np.array([], dtype=np.float64)
    return Flagged(
        index=np.array([], dtype=np.int64),
        score=empty,
        direction=np.array([], dtype=np.int8),
        expected=empty,
        lower=empty,
        upper=empty,
        severity=np.array([], dtype="<U8"),
    )
