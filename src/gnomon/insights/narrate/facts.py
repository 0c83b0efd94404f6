"""What a template sees: a finding's facts, decided and formatted, with nothing left to compute.

Why decide here and not in templates: whether a change is up or down, good or bad, whether a
segment's share of the mix grew, and how each figure reads in the locale are the same for
every language and tone. Deciding them once, in typed code, keeps the templates to wording
(which verb, which sentence form) and makes the decisions testable without rendering.

Every field a template prints is a string or ``None``; templates test ``None`` before
printing, so "None" never reaches a reader.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gnomon.insights.findings import Cause, Effect, Explanation, Insight, InsightKind, MetricFacts
from gnomon.insights.narrate.language import Language, When

__all__ = ["CauseFacts", "ExplanationFacts", "InsightFacts", "explanation_facts", "insight_facts"]

_RISING_KINDS = frozenset({"spike", "record_high"})
_FALLING_KINDS = frozenset({"drop", "record_low"})
_NEUTRAL_KINDS = frozenset({"seasonality_change", "correlation_appeared", "correlation_broke"})


@dataclass(frozen=True, slots=True)
class CauseFacts:
    """One cause, ready to print.

    Attributes:
        segment: the segment as a phrase ("country DE and channel web").
        share: the size of its share of the change ("83 %"), unsigned.
        against: it moved against the total (a negative share).
        effect: how it moved the metric (see :data:`gnomon.insights.findings.Effect`).
        up: its own value rose (``None`` when unknown or unchanged).
        before: its value in the baseline, formatted, if known.
        after: its value in the focus window, formatted, if known.
        confidence: how sure the search is, as a percentage.
        surprise: its surprise score, formatted, if computed.
        more: for a mix effect, whether its weight in the mix grew (``None`` when unknown).
        lower: for a mix effect, whether its value is below the metric's (``None``: unknown).
    """

    segment: str
    share: str
    against: bool
    effect: Effect
    up: bool | None
    before: str | None
    after: str | None
    confidence: str
    surprise: str | None
    more: bool | None
    lower: bool | None


@dataclass(frozen=True, slots=True)
class ExplanationFacts:
    """An explanation of a metric change, ready to print.

    Attributes:
        kind: always ``explanation`` (templates and layouts dispatch on it).
        label: the metric as people call it.
        plural: the label names a plural ("orders"), so verbs take their plural form.
        known: both totals are known (otherwise only ``after`` or nothing is).
        up: the metric rose (``None`` when unchanged or unknown).
        good: the change is welcome given the metric's direction (``None`` when neutral).
        pct: the size of the relative change ("18 %"), if it has one.
        signed_pct: the relative change with its sign ("-18.3 %").
        before: the baseline total, formatted.
        after: the focus total, formatted.
        delta: the size of the change in the metric's unit.
        before_exact: the baseline total with all its decimals.
        after_exact: the focus total with all its decimals.
        when: the focus window.
        baseline: the baseline window, or ``None`` when it was the expected value.
        causes: the causes, most important first.
        covered: for two causes or more, the sum of the shares that moved with the total.
        ratio: the metric is a ratio (its causes have rate or mix effects).
        scope: the segment the whole explanation is restricted to, as a phrase ("" for all).
        dimensions: how many dimensions were searched, as a counted phrase ("" when none).
    """

    kind: str
    label: str
    plural: bool
    known: bool
    up: bool | None
    good: bool | None
    pct: str | None
    signed_pct: str | None
    before: str | None
    after: str | None
    delta: str | None
    before_exact: str | None
    after_exact: str | None
    when: When
    baseline: When | None
    causes: tuple[CauseFacts, ...]
    covered: str | None
    ratio: bool
    scope: str
    dimensions: str


@dataclass(frozen=True, slots=True)
class InsightFacts:
    """A pattern in a series, ready to print.

    Attributes:
        kind: the insight kind (``trend``, ``spike`` …).
        label: the metric as people call it.
        plural: the label names a plural ("orders"), so verbs take their plural form.
        other: the second metric of a correlation insight, if any.
        scope: the series' segment as a phrase ("" for the metric's total).
        up: the pattern goes up (a rise, a spike, a stronger correlation).
        good: it is welcome given the metric's direction (``None`` when neutral).
        pct: the size of the magnitude (a percentage; a correlation change as a number).
        signed_pct: the magnitude with its sign.
        value: the value the pattern is about, formatted, if known.
        reference: what it is compared with, formatted, if known.
        value_exact: ``value`` with all its decimals.
        reference_exact: ``reference`` with all its decimals.
        when: where the pattern lies (a moment, or a range for several buckets).
        since: where it starts.
        test: the significance test's name.
        statistic: the test statistic, formatted.
        p: the p-value with its relation ("= 0.012", "< 0.001").
        lag: for correlations, the lag in buckets, if given in the details.
    """

    kind: InsightKind
    label: str
    plural: bool
    other: str | None
    scope: str
    up: bool
    good: bool | None
    pct: str
    signed_pct: str
    value: str | None
    reference: str | None
    value_exact: str | None
    reference_exact: str | None
    when: When
    since: When
    test: str
    statistic: str
    p: str
    lag: str | None


def label_of(metric: MetricFacts) -> str:
    """How to call a metric: its label, else its name with underscores as spaces."""
    return metric.label or metric.name.replace("_", " ")


def segment_phrase(
    segment: Mapping[str, Any], language: Language, labels: Mapping[str, str]
) -> str:
    """``{"country": "DE", "channel": "web"}`` → "country DE and channel web" (in the locale).

    ``labels`` renames dimensions (``{"country": "Land"}``); a missing value reads as the
    language's word for missing.
    """
    if not segment:
        return language.words["total"]
    parts = [
        f"{labels.get(name, name)} {language.words['missing'] if value is None else value}"
        for name, value in segment.items()
    ]
    return language.and_list(parts)


def _good(up: bool | None, metric: MetricFacts) -> bool | None:
    if up is None:
        return None
    return up if metric.direction == "up" else not up


def explanation_facts(
    explanation: Explanation,
    language: Language,
    *,
    digits: int,
    today: date | None = None,
    labels: Mapping[str, str] | None = None,
) -> ExplanationFacts:
    """The facts of ``explanation``; shares and changes are rounded to ``digits`` decimals."""
    labels = labels or {}
    metric = explanation.metric
    label = label_of(metric)
    before, after, change = explanation.before, explanation.after, explanation.change
    relative = explanation.relative_change
    up = None if change is None or change == 0 else change > 0
    value = _formatter(language, metric)
    exact = _formatter(language, metric, exact=True)
    causes = tuple(
        _cause(cause, explanation, language, digits=digits, labels=labels)
        for cause in explanation.causes
    )
    moved_with = [c.contribution for c in explanation.causes if c.contribution > 0]
    return ExplanationFacts(
        kind="explanation",
        label=label,
        plural=language.is_plural(label),
        known=change is not None,
        up=up,
        good=_good(up, metric),
        pct=None if relative is None else language.percent(abs(relative), digits=digits),
        signed_pct=(
            None if relative is None else language.percent(relative, digits=digits, signed=True)
        ),
        before=value(before),
        after=value(after),
        delta=None if change is None else value(abs(change)),
        before_exact=exact(before),
        after_exact=exact(after),
        when=language.window(*explanation.focus, today=today),
        baseline=(
            None
            if explanation.baseline is None
            else language.window(*explanation.baseline, today=today)
        ),
        causes=causes,
        covered=(language.percent(sum(moved_with), digits=digits) if len(causes) >= 2 else None),
        ratio=any(c.effect != "volume" for c in explanation.causes),
        scope=segment_phrase(explanation.segment, language, labels) if explanation.segment else "",
        dimensions=(
            language.count(len(explanation.dimensions), "dimension")
            if explanation.dimensions
            else ""
        ),
    )


def _cause(
    cause: Cause,
    explanation: Explanation,
    language: Language,
    *,
    digits: int,
    labels: Mapping[str, str],
) -> CauseFacts:
    metric = explanation.metric
    value = _formatter(language, metric)
    up = None
    if cause.before is not None and cause.after is not None and cause.before != cause.after:
        up = cause.after > cause.before
    more = lower = None
    total_change = explanation.change
    if (
        cause.after is not None
        and explanation.after is not None
        and cause.after != explanation.after
    ):
        lower = cause.after < explanation.after
        if total_change:
            # The segment pushed the total the way it moved (or against it); its weight grew
            # when it pushed up while above the total, or down while below it.
            pushed_up = (total_change > 0) == (cause.contribution > 0)
            more = pushed_up != lower
    return CauseFacts(
        segment=segment_phrase(cause.segment, language, labels),
        share=language.percent(abs(cause.contribution), digits=digits),
        against=cause.contribution < 0,
        effect=cause.effect,
        up=up,
        before=value(cause.before),
        after=value(cause.after),
        confidence=language.percent(cause.confidence, digits=0),
        surprise=None if cause.surprise is None else language.number(cause.surprise, digits=3),
        more=more,
        lower=lower,
    )


def _formatter(
    language: Language, metric: MetricFacts, *, exact: bool = False
) -> Callable[[float | None], str | None]:
    def format_value(number: float | None) -> str | None:
        return None if number is None else language.value(number, metric, exact=exact)

    return format_value


def insight_facts(
    insight: Insight,
    language: Language,
    *,
    digits: int,
    today: date | None = None,
    labels: Mapping[str, str] | None = None,
) -> InsightFacts:
    """The facts of ``insight``; percentages are rounded to ``digits`` decimals."""
    labels = labels or {}
    kind = insight.kind
    metric = insight.metric
    label = label_of(metric)
    correlation = kind in ("correlation_appeared", "correlation_broke")
    if kind in _RISING_KINDS:
        up = True
    elif kind in _FALLING_KINDS:
        up = False
    else:
        up = insight.magnitude > 0
    if correlation:
        magnitude = language.number(abs(insight.magnitude), digits=2)
        signed = language.number(insight.magnitude, digits=2)
        if insight.magnitude > 0:
            signed = "+" + signed
        value = _correlation(language)
        exact = _correlation(language, digits=4)
    else:
        magnitude = language.percent(abs(insight.magnitude), digits=digits)
        signed = language.percent(insight.magnitude, digits=digits, signed=True)
        value = _formatter(language, metric)
        exact = _formatter(language, metric, exact=True)
    lag = insight.details.get("lag")
    return InsightFacts(
        kind=kind,
        label=label,
        plural=language.is_plural(label),
        other=None if insight.other_metric is None else label_of(insight.other_metric),
        scope=segment_phrase(insight.segment, language, labels) if insight.segment else "",
        up=up,
        good=None if kind in _NEUTRAL_KINDS else _good(up, metric),
        pct=magnitude,
        signed_pct=signed,
        value=value(insight.value),
        reference=value(insight.reference),
        value_exact=exact(insight.value),
        reference_exact=exact(insight.reference),
        when=language.span(insight.start, insight.end, today=today),
        since=language.moment(insight.start, today=today),
        test=insight.test,
        statistic=language.number(insight.statistic, digits=3),
        p=language.p_value(insight.p_value),
        lag=language.count(lag, "bucket") if isinstance(lag, int) and lag else None,
    )


def _correlation(language: Language, *, digits: int = 2) -> Callable[[float | None], str | None]:
    def format_value(number: float | None) -> str | None:
        return None if number is None else language.number(number, digits=digits)

    return format_value
