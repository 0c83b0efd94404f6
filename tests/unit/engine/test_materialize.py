"""Materialising a result once for several later queries."""

import pytest
import sqlglot
from sqlglot import exp

from gnomon.engine import DuckDBEngine, scope_to_tenant
from gnomon.engine.errors import QueryError


def test_later_queries_read_the_materialised_rows(shop, engine: DuckDBEngine) -> None:
    orders = {"silver.orders": shop.snapshot("silver", "orders")}
    tree = scope_to_tenant(
        sqlglot.parse_one("SELECT order_id, amount FROM silver.orders", read="duckdb"),
        tenant="acme",
    )
    with engine.materialize(tree, tables=orders, name="acme_orders") as scratch:
        assert scratch.db == "_scratch"
        total = exp.select(exp.func("sum", exp.column("amount")).as_("total")).from_(scratch.copy())
        count = exp.select(exp.func("count", exp.Star()).as_("n")).from_(scratch.copy())
        assert engine.execute(total, tables={}).to_pylist() == [{"total": 175.0}]
        assert engine.execute(count, tables={}).to_pylist() == [{"n": 3}]
        streamed = engine.stream(exp.select("*").from_(scratch.copy()), tables={}, batch_rows=1)
        assert sorted(r["order_id"] for r in streamed.read_all().to_pylist()) == [1, 2, 3]
    with pytest.raises(QueryError):
        engine.execute(count, tables={})


def test_each_materialisation_has_its_own_table(shop, engine: DuckDBEngine) -> None:
    orders = {"silver.orders": shop.snapshot("silver", "orders")}
    tree = sqlglot.parse_one("SELECT order_id FROM silver.orders", read="duckdb")
    with (
        engine.materialize(tree, tables=orders) as first,
        engine.materialize(tree, tables=orders) as second,
    ):
        assert first.name != second.name


def test_a_bad_query_raises_and_leaves_nothing(engine: DuckDBEngine) -> None:
    bad = sqlglot.parse_one("SELECT no_such_column FROM (SELECT 1 AS x)", read="duckdb")
    with pytest.raises(QueryError), engine.materialize(bad, tables={}):
        pass
