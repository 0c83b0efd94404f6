"""Which other metrics drive a KPI, and what a change did to it.

When a KPI moves, "which segment" is one question; "which other metric" is the next. This is
the statistics for it, on plain aligned numeric series (one value per bucket, NaN for gaps),
knowing nothing of metrics, tenants or storage:

- :func:`relate` tests each candidate against the target (correlations, best lead or lag,
  Granger) and corrects every p-value of the search together;
- :func:`importance` ranks drivers by how much a model of the target needs them;
- :func:`diff_in_diff` estimates a change's effect on a series against a control series.

They need the ``insights`` extra (statsmodels, scikit-learn); importing this package does not.
"""

from gnomon.insights.drivers.did import diff_in_diff
from gnomon.insights.drivers.importance import importance
from gnomon.insights.drivers.models import DiDResult, Evidence, Importance, Relation
from gnomon.insights.drivers.relate import relate

__all__ = [
    "DiDResult",
    "Evidence",
    "Importance",
    "Relation",
    "diff_in_diff",
    "importance",
    "relate",
]
