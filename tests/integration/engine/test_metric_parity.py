"""The same metric queries give the same answers on every engine.

The demo project (a few thousand generated orders) is built once; the twenty dashboard queries
(every metric kind, grains from day to fiscal year, filters, order and limit) are compiled for
each engine's dialect and their results compared row by row with DuckDB's: on Spark in local
mode over the lake's files, and on PostgreSQL over copies of the same table versions.
"""

import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gnomon.app import Gnomon
from gnomon.demo import run_demo
from gnomon.engine import Engine
from gnomon.examples.retail.queries import DASHBOARD_QUERIES
from gnomon.semantic import MetricQuery, SemanticService
from tests.conftest import unique_name

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gnomon]:
    project = tmp_path_factory.mktemp("parity") / "retail"
    run_demo(project, rows=6000, seed=11)
    with Gnomon.open(project) as app:
        yield app


@pytest.fixture(scope="module")
def spark(spark_session: Any, demo_app: Gnomon) -> Iterator[Engine]:
    from gnomon.engine.spark import SparkEngine

    with SparkEngine(session=spark_session, allowed_roots=[demo_app.settings.lake_root]) as engine:
        yield engine


@pytest.fixture(scope="module")
def postgres(postgres_server: str, demo_app: Gnomon) -> Iterator[Engine]:
    import psycopg

    from gnomon.engine.postgres import PostgresEngine

    url = f"{postgres_server}/test"
    schema = unique_name("gnomon_parity").lower()
    try:
        with PostgresEngine(url, schema=schema) as engine:
            yield engine
    finally:
        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _service(app: Gnomon, engines: dict[str, Engine]) -> SemanticService:
    return SemanticService(
        catalog=app.catalog,
        resolve=app.snapshot,
        engines={name: (lambda e=engine: e) for name, engine in engines.items()},
        default_engine="duckdb",
        metrics_dir=app.layout.metrics_dir,
        project_dir=app.layout.root,
    )


def _query(spec: dict[str, Any]) -> MetricQuery:
    return MetricQuery.build(
        spec["metrics"],
        by=spec.get("by", ()),
        grain=spec.get("grain"),
        start=date.fromisoformat(spec["start"]),
        end=date.fromisoformat(spec["end"]),
        where=spec.get("where"),
        order=spec.get("order", ()),
        limit=spec.get("limit"),
    )


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None:
            return left is right
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-6)
    return bool(left == right)


def assert_same_rows(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> None:
    assert len(actual) == len(expected)
    for want, got in zip(expected, actual, strict=True):
        assert want.keys() == got.keys()
        different = {k: (want[k], got[k]) for k in want if not _same(want[k], got[k])}
        assert not different, (want, got)


@pytest.mark.parametrize("spec", DASHBOARD_QUERIES, ids=[q["name"] for q in DASHBOARD_QUERIES])
def test_spark_answers_like_duckdb(demo_app: Gnomon, spark: Engine, spec: dict[str, Any]) -> None:
    service = _service(demo_app, {"duckdb": demo_app.engine, "spark": spark})
    ctx = demo_app.context()
    query = _query(spec)
    expected = service.query(query, ctx=ctx, engine="duckdb").table
    actual = service.query(query, ctx=ctx, engine="spark").table
    assert expected.num_rows > 0
    assert actual.column_names == expected.column_names
    assert_same_rows(expected.to_pylist(), actual.to_pylist())


@pytest.mark.parametrize("spec", DASHBOARD_QUERIES, ids=[q["name"] for q in DASHBOARD_QUERIES])
def test_postgres_answers_like_duckdb(
    demo_app: Gnomon, postgres: Engine, spec: dict[str, Any]
) -> None:
    service = _service(demo_app, {"duckdb": demo_app.engine, "postgres": postgres})
    ctx = demo_app.context()
    query = _query(spec)
    expected = service.query(query, ctx=ctx, engine="duckdb").table
    actual = service.query(query, ctx=ctx, engine="postgres").table
    assert expected.num_rows > 0
    assert actual.column_names == expected.column_names
    assert_same_rows(expected.to_pylist(), actual.to_pylist())


def test_the_demo_metrics_cover_every_kind(demo_app: Gnomon) -> None:
    layer = demo_app.semantic.layer(ctx=demo_app.context())
    used = {m for spec in DASHBOARD_QUERIES for m in spec["metrics"]}
    kinds = {layer.metric(name).kind for name in used}
    assert kinds == {"simple", "ratio", "derived", "cumulative", "period_over_period"}
    aggs = {b.measure.agg for name in used for b in layer.base_metrics(name) if b.measure}
    assert aggs >= {"sum", "count", "count_distinct", "median", "percentile"}
    assert Path(demo_app.layout.metrics_dir, "orders.yaml").is_file()
