"""SemanticService through Gnomon: apply stores versions, queries answer per tenant."""

import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from gnomon.app import Gnomon
from gnomon.errors import Conflict, NotFound
from gnomon.semantic import Definition, DefinitionError, MetricQuery, MetricQueryError

METRICS = """
calendar: {time_zone: UTC}
semantic_models:
  orders:
    table: silver.orders
    time: {column: order_time}
    dimensions:
      region: {}
    measures:
      revenue: {agg: sum, expr: amount}
      orders: {agg: count}
metrics:
  revenue: {measure: orders.revenue, description: Money in, unit: EUR}
  orders: {measure: orders.orders}
  aov: {type: ratio, numerator: revenue, denominator: orders}
"""
SCHEMA = pa.schema(
    [
        ("order_time", pa.timestamp("us", tz="UTC")),
        ("region", pa.string()),
        ("amount", pa.float64()),
        ("_tenant_id", pa.string()),
    ]
)


def _rows(tenant: str, first: date, count: int, amount: float) -> pa.Table:
    start = datetime(first.year, first.month, first.day, 12, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "order_time": start + timedelta(days=2 * i),
                "region": ("EMEA", "AMER")[i % 2],
                "amount": amount,
                "_tenant_id": tenant,
            }
            for i in range(count)
        ],
        SCHEMA,
    )


def new_project(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "gnomon.yaml").write_text("tenant: default\n", encoding="utf-8")
    (root / "metrics").mkdir()
    return root


@contextmanager
def opened(root: Path) -> Iterator[Gnomon]:
    """The project's app over a lake holding silver.orders for tenants default and other."""
    with Gnomon.open(root) as app:
        lake = app.lake
        lake.append("silver", "orders", _rows("default", date(2025, 1, 3), 10, 10.0), batch_id="a")
        version = lake.append(
            "silver", "orders", _rows("other", date(2024, 6, 1), 50, 1000.0), batch_id="b"
        )
        with app.catalog.transaction() as tx:
            tx.tenants.ensure("other")
            tx.tables.publish({("silver", "orders"): version}, run_id=None)
        yield app


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return new_project(tmp_path_factory.mktemp("semantic_project"))


@pytest.fixture(scope="module")
def applied(project: Path) -> Iterator[Gnomon]:
    """An app whose definitions are applied for both tenants."""
    with opened(project) as app:
        write_metrics(project, METRICS)
        app.semantic.apply(ctx=app.context())
        app.semantic.apply(ctx=app.context("other"))
        yield app


def write_metrics(project: Path, text: str) -> None:
    (project / "metrics" / "orders.yaml").write_text(textwrap.dedent(text), encoding="utf-8")


def test_apply_lifecycle(tmp_path: Path) -> None:
    project = new_project(tmp_path / "project")
    with opened(project) as app:
        check_apply_lifecycle(app, project)


def check_apply_lifecycle(app: Gnomon, project: Path) -> None:
    ctx = app.context()
    with pytest.raises(NotFound, match="No metrics are defined yet"):
        app.semantic.layer(ctx=ctx)

    write_metrics(project, METRICS)
    planned = app.semantic.apply(ctx=ctx, dry_run=True)
    assert {(k, n, v) for k, n, v in planned.created} == {
        ("calendar", "calendar", 1),
        ("semantic_model", "orders", 1),
        ("metric", "revenue", 1),
        ("metric", "orders", 1),
        ("metric", "aov", 1),
    }
    assert app.semantic.stored(ctx=ctx) == []

    first = app.semantic.apply(ctx=ctx)
    assert set(first.created) == set(planned.created)
    assert (first.updated, first.unchanged, first.retired) == ((), (), ())
    stored = app.semantic.stored(ctx=ctx)
    assert {(r.kind, r.name, r.version) for r in stored} == set(first.created)
    assert all(r.source == "metrics/orders.yaml" for r in stored)

    again = app.semantic.apply(ctx=ctx)
    assert again.created == again.updated == again.retired == ()
    assert set(again.unchanged) == set(first.created)
    assert {(r.kind, r.name, r.version) for r in app.semantic.stored(ctx=ctx)} == set(first.created)

    # A bad definition stores nothing, and the applied ones keep answering.
    write_metrics(project, METRICS.replace("expr: amount", "expr: amuont"))
    with pytest.raises(DefinitionError) as caught:
        app.semantic.apply(ctx=ctx)
    issue = caught.value.issues[0]
    assert issue.file == "metrics/orders.yaml"
    assert issue.issue.path == "semantic_models.orders.measures.revenue.expr"
    assert "did you mean 'amount'" in issue.issue.message
    assert {(r.kind, r.name, r.version) for r in app.semantic.stored(ctx=ctx)} == set(first.created)

    # A changed definition gets a new version; a removed one is retired.
    changed = METRICS.replace("description: Money in", "description: Net money in").replace(
        "  aov: {type: ratio, numerator: revenue, denominator: orders}\n", ""
    )
    write_metrics(project, changed)
    result = app.semantic.apply(ctx=ctx)
    assert result.updated == (("metric", "revenue", 2),)
    assert result.retired == (("metric", "aov", 2),)
    assert result.created == ()
    assert {r.name for r in app.semantic.stored(ctx=ctx)} == {"calendar", "orders", "revenue"}
    history = app.semantic.history("metric", "aov", ctx=ctx)
    assert [(h.version, h.deleted) for h in history] == [(1, False), (2, True)]
    assert app.semantic.history("metric", "revenue", ctx=ctx)[-1].spec["description"] == (
        "Net money in"
    )
    rows = [r for r in result.rows() if r["change"] != "unchanged"]
    assert rows == [
        {"kind": "metric", "name": "aov", "version": 2, "change": "retired"},
        {"kind": "metric", "name": "revenue", "version": 2, "change": "updated"},
    ]

    # Without prune nothing is retired; the other tenant sees none of it.
    write_metrics(project, METRICS)
    assert app.semantic.apply(ctx=ctx, prune=False).created == (("metric", "aov", 3),)
    with pytest.raises(NotFound):
        app.semantic.layer(ctx=app.context("other"))


def test_query_with_grain_and_no_range_covers_the_data(applied: Gnomon) -> None:
    result = applied.query(["revenue", "orders"], grain="day")
    rows = result.table.to_pylist()
    assert rows[0]["time"] == datetime(2025, 1, 3)
    assert rows[-1]["time"] == datetime(2025, 1, 21)
    assert len(rows) == 19
    assert sum(r["orders"] for r in rows) == 10
    assert sum(r["revenue"] for r in rows) == 100.0
    assert result.columns == ["time", "revenue", "orders"]
    assert result.versions == {"silver.orders": applied.lake.head_version("silver", "orders")}
    assert "_tenant_id" in result.sql


def test_each_tenant_sees_only_its_rows(applied: Gnomon) -> None:
    mine = applied.query(["revenue", "orders"], by=["region"]).table.to_pylist()
    theirs = applied.query(["revenue", "orders"], by=["region"], ctx=applied.context("other"))
    assert mine == [
        {"region": "AMER", "revenue": 50.0, "orders": 5},
        {"region": "EMEA", "revenue": 50.0, "orders": 5},
    ]
    assert theirs.table.to_pylist() == [
        {"region": "AMER", "revenue": 25_000.0, "orders": 25},
        {"region": "EMEA", "revenue": 25_000.0, "orders": 25},
    ]
    span = applied.query(["orders"], grain="month", ctx=applied.context("other")).table
    assert span.column("time").to_pylist()[0] == datetime(2024, 6, 1)


def test_describe_and_explain(applied: Gnomon) -> None:
    ctx = applied.context()
    described = applied.semantic.describe("aov", ctx=ctx)
    assert described["type"] == "ratio"
    assert described["inputs"] == ["revenue", "orders"]
    assert described["dimensions"] == ["region"]
    assert described["definition"]["numerator"] == "revenue"
    assert "silver.orders" in described["sql"] or '"silver"."orders"' in described["sql"]
    assert "NULLIF" in described["sql"]
    assert "'default'" in described["sql"]
    listed = {row["name"]: row for row in applied.semantic.metrics(ctx=ctx)}
    assert listed["revenue"]["unit"] == "EUR"
    query = MetricQuery.build(
        ["revenue"], grain="week", start=date(2025, 1, 1), end=date(2025, 1, 31)
    )
    plan = applied.semantic.explain(query, ctx=ctx)
    assert plan["engine"] == "duckdb"
    assert plan["grain"] == "week"
    assert plan["start"] == "2025-01-01T00:00:00"
    assert plan["end_exclusive"] == "2025-02-01T00:00:00"
    assert plan["spine_buckets"] == 5
    assert "silver.orders" in plan["tables"]


def test_query_mistakes_reach_the_caller(applied: Gnomon) -> None:
    with pytest.raises(MetricQueryError, match="not a dimension"):
        applied.query(["revenue"], by=["country"])
    with pytest.raises(NotFound, match="No metric is called 'revenu'"):
        applied.query(["revenu"])


def test_a_changed_definition_is_compiled_afresh(tmp_path: Path) -> None:
    project = new_project(tmp_path / "project")
    with opened(project) as app:
        write_metrics(project, METRICS)
        app.semantic.apply(ctx=app.context())
        service = app.semantic_service(cache_entries=0)  # no result cache: every query runs
        first = service.query(MetricQuery.build(["revenue"]), ctx=app.context())
        again = service.query(MetricQuery.build(["revenue"]), ctx=app.context())
        assert again.compiled is first.compiled  # the same question is compiled once
        assert first.table.to_pylist() == [{"revenue": 100.0}]

        write_metrics(project, METRICS.replace("expr: amount", "expr: amount * 2"))
        app.semantic.apply(ctx=app.context())
        changed = service.query(MetricQuery.build(["revenue"]), ctx=app.context())
        assert changed.compiled is not first.compiled
        assert changed.table.to_pylist() == [{"revenue": 200.0}]


def test_a_change_checked_against_definitions_that_have_moved_on_stores_nothing(
    tmp_path: Path,
) -> None:
    project = new_project(tmp_path / "project")
    with opened(project) as app:
        ctx = app.context()
        write_metrics(project, METRICS)
        app.semantic.apply(ctx=ctx)
        read = app.semantic.stored(ctx=ctx)  # what a change to "revenue" is made from
        # Meanwhile another request changes "orders".
        changed = METRICS.replace(
            "orders: {measure: orders.orders}", "orders: {measure: orders.orders, unit: orders}"
        )
        write_metrics(project, changed)
        app.semantic.apply(ctx=ctx)
        before = {(r.kind, r.name, r.version) for r in app.semantic.stored(ctx=ctx)}
        # Storing "revenue" with the others as read would undo that change; it is refused.
        stale = [Definition(r.kind, r.name, r.spec, r.source or "") for r in read]
        with pytest.raises(Conflict, match="changed while this change was being checked"):
            app.semantic.apply(ctx=ctx, definitions=stale, prune=True, expected=read)
        assert {(r.kind, r.name, r.version) for r in app.semantic.stored(ctx=ctx)} == before
        # Made from what is stored now, the same kind of change goes through.
        now = app.semantic.stored(ctx=ctx)
        fresh = [Definition(r.kind, r.name, r.spec, r.source or "") for r in now]
        assert (
            app.semantic.apply(ctx=ctx, definitions=fresh, prune=True, expected=now).created == ()
        )
