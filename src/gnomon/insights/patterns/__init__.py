"""Significant patterns in KPI series, as a ranked, de-duplicated, personalised insight feed.

Pure and data-in/data-out: series (:class:`SeriesInput`) in, :class:`Insight` values out,
nothing read or stored. Each finder tests one kind of pattern and says how sure it is (a test,
its statistic and p-value); :func:`find_insights` runs them all, corrects for how many tests it
ran, scores, merges the views of one root event, and sorts; :func:`personalise` orders and
filters the result for one reader.

>>> from datetime import date, timedelta
>>> from gnomon.insights.findings import MetricFacts
>>> days = [date(2024, 1, 1) + timedelta(days=i) for i in range(60)]
>>> values = [100.0 + (i % 7) * 0.5 + (i % 3) * 0.2 for i in range(59)] + [160.0]
>>> feed = find_insights([SeriesInput(MetricFacts("orders"), days, values, season=0)])
>>> [(one.kind, one.start) for one in feed]
[('spike', datetime.date(2024, 2, 29))]
"""

from gnomon.insights.patterns.correlation import (
    CorrelationTests,
    correlation_tests,
    find_correlation_changes,
)
from gnomon.insights.patterns.dedup import deduplicate, same_event
from gnomon.insights.patterns.feed import find_insights
from gnomon.insights.patterns.finders import (
    find_level_shifts,
    find_records,
    find_seasonality_change,
    find_spikes,
    find_trend,
)
from gnomon.insights.patterns.models import Correction, PatternOptions, SeriesInput
from gnomon.insights.patterns.personalise import ROLES, personalise
from gnomon.insights.patterns.scoring import score_insight
from gnomon.insights.patterns.significance import adjust

__all__ = [
    "ROLES",
    "Correction",
    "CorrelationTests",
    "PatternOptions",
    "SeriesInput",
    "adjust",
    "correlation_tests",
    "deduplicate",
    "find_correlation_changes",
    "find_insights",
    "find_level_shifts",
    "find_records",
    "find_seasonality_change",
    "find_spikes",
    "find_trend",
    "personalise",
    "same_event",
    "score_insight",
]
