from datetime import date

import pytest

from gnomon.insights.findings import Cause, Explanation, InsightKind, MetricFacts
from gnomon.insights.narrate.facts import explanation_facts, insight_facts, segment_phrase
from gnomon.insights.narrate.language import language_for
from tests.unit.insights.narrate.samples import (
    AOV,
    KINDS,
    RETURN_RATE,
    REVENUE,
    explanation,
    insight,
)

EN = language_for("en")


@pytest.mark.parametrize(
    ("metric", "before", "after", "up", "good"),
    [
        (REVENUE, 100.0, 80.0, False, False),  # revenue down is bad
        (REVENUE, 80.0, 100.0, True, True),
        (RETURN_RATE, 0.05, 0.04, False, True),  # return rate down is good
        (RETURN_RATE, 0.04, 0.05, True, False),
        (REVENUE, 100.0, 100.0, None, None),  # unchanged: neither
    ],
)
def test_up_and_good_follow_the_change_and_the_metrics_direction(
    metric: MetricFacts, before: float, after: float, up: bool | None, good: bool | None
) -> None:
    facts = explanation_facts(explanation(metric=metric, before=before, after=after), EN, digits=0)
    assert facts.up is up
    assert facts.good is good


def test_unknown_totals_leave_the_change_unknown() -> None:
    facts = explanation_facts(explanation(before=None, after=5.0), EN, digits=0)
    assert not facts.known
    assert facts.up is None and facts.pct is None and facts.before is None


def _mix(cause_after: float, contribution: float) -> Explanation:
    # Average order value fell from 60 to 55.
    cause = Cause({"category": "x"}, contribution, cause_after, cause_after, 0.9, "mix")
    return Explanation(AOV, (date(2025, 3, 4), date(2025, 3, 5)), None, 60.0, 55.0, (cause,))


def test_mix_effect_says_whether_a_cheaper_or_dearer_segment_gained_weight() -> None:
    # A segment below the average that pulled the average down must have gained weight.
    cheap = explanation_facts(_mix(40.0, 0.7), EN, digits=0).causes[0]
    assert cheap.lower is True and cheap.more is True
    # A segment above the average that pulled it down must have lost weight.
    dear = explanation_facts(_mix(80.0, 0.3), EN, digits=0).causes[0]
    assert dear.lower is False and dear.more is False
    # A cheap segment that pushed against the fall lost weight.
    against = explanation_facts(_mix(40.0, -0.2), EN, digits=0).causes[0]
    assert against.against and against.more is False


def test_covered_sums_only_the_shares_that_moved_with_the_total() -> None:
    facts = explanation_facts(explanation(3), EN, digits=0)
    assert facts.covered == EN.percent(0.93, digits=0)
    assert explanation_facts(explanation(1), EN, digits=0).covered is None


def test_segment_phrase_uses_dimension_labels_and_the_locales_list() -> None:
    segment = {"country": "DE", "channel": "web"}
    assert segment_phrase(segment, EN, {}) == "country DE and channel web"
    german = segment_phrase(segment, language_for("de"), {"country": "Land", "channel": "Kanal"})
    assert german == language_for("de").and_list(["Land DE", "Kanal web"])
    assert segment_phrase({"country": None}, EN, {}) == "country (missing)"


@pytest.mark.parametrize("kind", KINDS)
def test_insight_direction_follows_the_kind(kind: InsightKind) -> None:
    facts = insight_facts(insight(kind), EN, digits=0)
    if kind in ("drop", "record_low"):
        assert facts.up is False and facts.good is False
    elif kind in ("spike", "record_high", "trend", "level_shift"):
        assert facts.up is True and facts.good is True
    else:
        assert facts.good is None
