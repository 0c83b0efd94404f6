"""Root causes found for the injected incidents, judged against their ground truth.

Each incident is explained on the metric it moved (order counts for outages, spikes and
declines; for a pricing error, which multiplies prices, the average order value: a change of
rate in the category, told apart from the mix shift its cheap orders cause), over the days it
lasted:
short incidents against the same weekdays of the four weeks before (the explainer's default),
a gradual decline by its last two weeks against the four weeks before it began, when the
decline has reached its depth, with the baseline adjusted for the season's change shared by
every segment (months apart, the season moves all of them). A hit is a top-ranked cause
naming exactly the incident's segment: the same dimensions with the same values. A region's
only country would name the same rows as the region itself; the demo's regions all hold
several countries, so no such tie arises.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from gnomon.examples.retail.models import Incident
from gnomon.insights.explain.metric import ExplainRequest
from gnomon.insights.findings import Explanation

__all__ = ["IncidentExplanation", "hit_rate", "incident_request"]

_METRIC = {"orders": "orders", "unit_price": "average_order_value"}
_DECLINE_FOCUS_DAYS = 14
_DECLINE_BASELINE_DAYS = 28


@dataclass(frozen=True, slots=True)
class IncidentExplanation:
    """An incident next to what the explainer found for it."""

    incident: Incident
    explanation: Explanation

    @property
    def found(self) -> Mapping[str, Any] | None:
        """The top-ranked cause's segment, if any cause was found."""
        causes = self.explanation.causes
        return causes[0].segment if causes else None

    @property
    def hit(self) -> bool:
        """Whether the top-ranked cause is exactly the incident's segment."""
        found = self.found
        return found is not None and _same(found, self.incident.segment)

    @property
    def listed(self) -> bool:
        """Whether the incident's segment is among the causes at all."""
        return any(_same(c.segment, self.incident.segment) for c in self.explanation.causes)


def incident_request(incident: Incident) -> ExplainRequest:
    """The explanation to ask for: the incident's metric over its days."""
    metric = _METRIC[str(incident.effect.get("metric", "orders"))]
    last = incident.end - timedelta(days=1)
    if incident.effect.get("persists"):
        start = incident.end - timedelta(days=_DECLINE_FOCUS_DAYS)
        baseline = (
            incident.start - timedelta(days=_DECLINE_BASELINE_DAYS),
            incident.start - timedelta(days=1),
        )
        return ExplainRequest(metric=metric, at=start, until=last, baseline=baseline, adjust=True)
    return ExplainRequest(metric=metric, at=incident.start, until=last)


def hit_rate(explained: Sequence[IncidentExplanation]) -> float:
    """The share of incidents whose top cause is their segment (0 when there are none)."""
    return sum(e.hit for e in explained) / len(explained) if explained else 0.0


def _same(found: Mapping[str, Any], truth: Mapping[str, str]) -> bool:
    return {k: str(v) for k, v in found.items()} == dict(truth)
