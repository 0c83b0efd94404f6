"""Explanations over a real project: the right segment, ratios split into rate, policies obeyed.

Seventy days of orders in three regions and two channels. On day 60 the EMEA web shop takes no
orders (an outage); on day 63 APAC's store sells at half price (a rate change of the average
price, with volumes unchanged). A region analyst's explanation must only ever use their region.
"""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from gnomon.app import Gnomon
from gnomon.context import Principal, RequestContext
from gnomon.errors import InvalidInput, NotFound
from gnomon.insights.explain.metric import ExplainRequest, cause_rows
from gnomon.semantic import UnknownMetric
from tests.projects import (
    EXPLAIN_CHEAP,
    EXPLAIN_OUTAGE,
    EXPLAIN_START,
    write_explain_project,
)

pytestmark = pytest.mark.integration

START, OUTAGE, CHEAP = EXPLAIN_START, EXPLAIN_OUTAGE, EXPLAIN_CHEAP


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_explain_project(tmp_path_factory.mktemp("explain") / "project")
    with Gnomon.open(root) as app:
        ctx = app.context()
        app.ingest.ingest("orders", ctx=ctx)
        app.semantic.apply(ctx=ctx)
        app.policies.save(
            ctx=ctx,
            name="analysts_see_their_region",
            kind="row",
            table="silver.orders",
            roles=["analyst"],
            spec={"predicate": "region = {{ user.region }}"},
        )
    return root


@pytest.fixture()
def app(project: Path) -> Iterator[Gnomon]:
    with Gnomon.open(project) as opened:
        yield opened


def _analyst(region: str) -> RequestContext:
    return RequestContext(
        Principal(
            tenant="default",
            user=region.lower(),
            roles=frozenset({"analyst"}),
            attributes={"region": region},
        )
    )


def test_the_outage_is_explained_by_its_segment(app: Gnomon) -> None:
    found = app.insights.explain(ExplainRequest("orders", at=OUTAGE), ctx=app.context())
    assert found.causes, "an outage of a third of the orders must be explained"
    top = found.causes[0]
    assert dict(top.segment) == {"region": "EMEA", "channel": "web"}
    assert top.after == 0.0
    assert top.before is not None and 25 < top.before < 60
    assert 0.7 < top.contribution < 1.3
    assert found.after is not None and found.before is not None and found.after < found.before
    assert found.baseline_windows == 4
    assert found.focus == (OUTAGE, OUTAGE + timedelta(days=1))
    rows = cause_rows(found)
    assert rows[0]["rank"] == 1 and rows[0]["segment"] == {"region": "EMEA", "channel": "web"}


def test_the_baseline_is_the_same_weekday_of_four_weeks_before(app: Gnomon) -> None:
    found = app.insights.explain(ExplainRequest("orders", at=OUTAGE), ctx=app.context())
    assert found.baseline is not None
    start, end = found.baseline
    assert (OUTAGE - start, OUTAGE - end) == (timedelta(days=28), timedelta(days=6))


def test_a_price_cut_in_a_ratio_is_a_rate_effect(app: Gnomon) -> None:
    found = app.insights.explain(ExplainRequest("average_order_value", at=CHEAP), ctx=app.context())
    assert found.causes
    top = found.causes[0]
    assert dict(top.segment) == {"region": "APAC", "channel": "store"}
    assert top.effect == "rate"
    assert top.after is not None and top.before is not None
    assert top.after == pytest.approx(top.before / 2, rel=0.15)


def test_an_analyst_is_explained_only_their_own_rows(app: Gnomon) -> None:
    admin = app.insights.explain(ExplainRequest("orders", at=OUTAGE), ctx=app.context())
    emea = app.insights.explain(ExplainRequest("orders", at=OUTAGE), ctx=_analyst("EMEA"))
    assert emea.after is not None and admin.after is not None and emea.after < admin.after
    assert all(c.segment.get("region", "EMEA") == "EMEA" for c in emea.causes)
    assert emea.causes and emea.causes[0].segment.get("channel") == "web"
    amer = app.insights.explain(ExplainRequest("orders", at=OUTAGE), ctx=_analyst("AMER"))
    assert not any("EMEA" in c.segment.values() for c in amer.causes)
    # Asking for a segment outside the policy finds no rows at all, not EMEA's.
    hidden = app.insights.explain(
        ExplainRequest("orders", at=OUTAGE, segment={"region": "EMEA"}), ctx=_analyst("AMER")
    )
    assert hidden.after == 0.0 and hidden.causes == ()


def test_a_segment_restricts_the_explanation(app: Gnomon) -> None:
    found = app.insights.explain(
        ExplainRequest("orders", at=OUTAGE, segment={"channel": "web"}), ctx=app.context()
    )
    assert found.dimensions == ("region",)
    assert found.causes and dict(found.causes[0].segment) == {"region": "EMEA"}


def test_an_explicit_baseline_and_a_longer_focus(app: Gnomon) -> None:
    found = app.insights.explain(
        ExplainRequest(
            "orders",
            at=OUTAGE - timedelta(days=1),
            until=OUTAGE + timedelta(days=1),
            baseline=(OUTAGE - timedelta(days=30), OUTAGE - timedelta(days=10)),
        ),
        ctx=app.context(),
    )
    assert found.baseline_windows == 1
    assert found.causes and dict(found.causes[0].segment) == {"region": "EMEA", "channel": "web"}


def test_what_cannot_be_explained_is_refused_with_a_hint(app: Gnomon) -> None:
    ctx = app.context()
    with pytest.raises(InvalidInput, match="median") as refused:
        app.insights.explain(ExplainRequest("median_price", at=OUTAGE), ctx=ctx)
    assert refused.value.hint
    with pytest.raises(InvalidInput, match="no dimension 'country'"):
        app.insights.explain(ExplainRequest("orders", at=OUTAGE, by=("country",)), ctx=ctx)
    with pytest.raises(InvalidInput, match="overlaps"):
        app.insights.explain(
            ExplainRequest("orders", at=OUTAGE, baseline=(OUTAGE, OUTAGE)), ctx=ctx
        )
    with pytest.raises(InvalidInput, match="before it starts"):
        app.insights.explain(
            ExplainRequest("orders", at=OUTAGE, until=OUTAGE - timedelta(days=2)), ctx=ctx
        )
    with pytest.raises(UnknownMetric):
        app.insights.explain(ExplainRequest("nope", at=OUTAGE), ctx=ctx)


def test_an_anomaly_is_explained_against_its_expected_value(app: Gnomon) -> None:
    ctx = app.context()
    app.insights.scan(ctx=ctx, metrics=["orders"])
    web = [
        a for a in app.insights.anomalies(ctx=ctx, metric="orders")
        if dict(a.segment) == {"channel": "web"} and a.time.date() == OUTAGE
    ]  # fmt: skip
    assert web, "the scan flags the outage in the web channel's series"
    found = app.insights.explain_anomaly(web[0].id, ctx=ctx)
    assert found.segment == {"channel": "web"} and found.dimensions == ("region",)
    assert found.before == pytest.approx(web[0].expected)
    assert found.after == pytest.approx(web[0].actual)
    assert found.causes and dict(found.causes[0].segment) == {"region": "EMEA"}
    with pytest.raises(NotFound):
        app.insights.explain_anomaly(web[0].id, ctx=_analyst("EMEA"))
