"""Findings shared by the narration tests: a revenue drop, its causes, one of each insight."""

from datetime import date

from gnomon.insights.findings import Cause, Effect, Explanation, Insight, InsightKind, MetricFacts

DAY = date(2025, 3, 4)
"""A Tuesday."""

REVENUE = MetricFacts("revenue", unit="EUR", format="currency", direction="up")
RETURN_RATE = MetricFacts("return_rate", label="return rate", format="percent", direction="down")
ORDERS = MetricFacts("orders", unit="orders", format="integer")
AOV = MetricFacts("aov", label="average order value", unit="EUR", format="currency")

CAUSES = (
    Cause({"country": "DE", "channel": "web"}, 0.83, 5000.0, 3000.0, 0.92, surprise=0.12),
    Cause({"country": "FR"}, 0.10, 2000.0, 1700.0, 0.70),
    Cause({"channel": "app"}, -0.05, 1000.0, 1100.0, 0.60),
)

KINDS: tuple[InsightKind, ...] = (
    "trend",
    "spike",
    "drop",
    "level_shift",
    "seasonality_change",
    "record_high",
    "record_low",
    "correlation_appeared",
    "correlation_broke",
)


def explanation(
    causes: int = 0,
    *,
    metric: MetricFacts = REVENUE,
    before: float | None = 12345.5,
    after: float | None = 10123.0,
    effect: Effect = "volume",
    segment: dict[str, str] | None = None,
) -> Explanation:
    """A change on DAY against the day a week before, with the first ``causes`` of CAUSES."""
    chosen = tuple(
        Cause(c.segment, c.contribution, c.before, c.after, c.confidence, effect, c.surprise)
        for c in CAUSES[:causes]
    )
    return Explanation(
        metric=metric,
        focus=(DAY, date(2025, 3, 5)),
        baseline=(date(2025, 2, 25), date(2025, 2, 26)),
        before=before,
        after=after,
        causes=chosen,
        dimensions=("country", "channel"),
        segment=segment or {},
    )


def insight(
    kind: InsightKind,
    *,
    value: float | None = 20000.0,
    reference: float | None = 12000.0,
    segment: dict[str, str] | None = None,
) -> Insight:
    """An insight of ``kind`` on revenue; correlations get values as coefficients."""
    correlation = kind.startswith("correlation")
    falling = kind in ("drop", "record_low")
    if correlation:
        value, reference = (0.81, 0.12) if value is not None else (None, None)
    elif falling and value is not None and reference is not None:
        value, reference = reference, value
    magnitude = 0.69 if correlation else (-0.4 if falling else 0.6667)
    return Insight(
        kind=kind,
        metric=REVENUE,
        segment=segment if segment is not None else {"country": "DE"},
        start=date(2025, 2, 3) if kind in ("trend", "level_shift") else DAY,
        end=DAY,
        value=value,
        reference=reference,
        magnitude=magnitude,
        test="mann-kendall",
        statistic=4.2,
        p_value=0.0004,
        other_metric=MetricFacts("sessions") if correlation else None,
        details={"lag": 2} if correlation else {},
    )
