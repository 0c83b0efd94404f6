"""How an insight ranks in the feed: size, recency and business impact multiplied, each in [0, 1].

Why a product and not a sum: a pattern matters only if it is big enough, recent enough *and*
in something that matters; a huge move of a negligible segment last year should not outrank
a clear move of the company's revenue yesterday. Each factor saturates, so no single one
dominates and the score stays in [0, 1]:

- size: ``|magnitude| / (|magnitude| + magnitude_half)``: a move of ``magnitude_half``
  (10 % by default) earns one half, large moves approach 1;
- recency: ``0.5 ** (age / half_life)``, with the age in buckets of the series' grain
  between the pattern's last bucket and *now* (so a daily and a monthly insight age alike
  per bucket);
- impact: ``1 - 2 ** (-4 w)`` for the weight ``w = share * importance`` (share 1 for a
  total, or when the metric has no shares): a total of importance 1 earns 0.94, a segment
  holding 5 % of it 0.13.

>>> round(score_parts(magnitude=0.1, age=0.0, weight=1.0, half_life=7.0, magnitude_half=0.1), 4)
0.4688
"""

import math

from gnomon.insights.findings import Insight

__all__ = ["score_insight", "score_parts"]

_IMPACT_RATE = 4.0


def score_parts(
    *, magnitude: float, age: float, weight: float, half_life: float, magnitude_half: float
) -> float:
    """The score from its ingredients (see the module docstring); NaN magnitudes score 0."""
    size = abs(magnitude)
    if math.isnan(size):
        return 0.0
    size_part = 1.0 if math.isinf(size) else size / (size + magnitude_half)
    recency = 0.5 ** (max(age, 0.0) / half_life)
    impact = 1.0 - 2.0 ** (-_IMPACT_RATE * max(weight, 0.0))
    return float(min(1.0, max(0.0, size_part * recency * impact)))


def score_insight(
    insight: Insight,
    *,
    age: float,
    share: float | None,
    half_life: float = 7.0,
    magnitude_half: float = 0.1,
) -> float:
    """An insight's score.

    Args:
        insight: the insight (its ``magnitude`` and ``metric.importance`` are used).
        age: buckets between the pattern's last bucket and now (negative counts as 0).
        share: the series' share of the metric's total; ``None`` counts as 1.
        half_life: buckets after which the recency factor halves.
        magnitude_half: the magnitude that earns half of the size factor.
    """
    weight = (1.0 if share is None else share) * insight.metric.importance
    return score_parts(
        magnitude=insight.magnitude,
        age=age,
        weight=weight,
        half_life=half_life,
        magnitude_half=magnitude_half,
    )
