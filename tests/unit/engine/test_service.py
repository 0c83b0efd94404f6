"""QueryService: tenants never see each other's rows, whatever the shape of the query."""

import itertools
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.context import RequestContext
from gnomon.engine import (
    TENANT_COLUMN,
    DuckDBEngine,
    QueryResult,
    QueryService,
    ReadOnlyViolation,
    parse_read_only,
)
from gnomon.errors import ConfigError, InvalidInput, NotFound

TENANT = TENANT_COLUMN


@pytest.fixture(scope="module")
def shop(make_lake, tmp_path_factory) -> Iterator[tuple[Any, DuckDBEngine, QueryService]]:
    lake = make_lake(tmp_path_factory.mktemp("shop") / "lake")
    lake.write_shop()
    with DuckDBEngine(threads=2, allowed_roots=[str(lake.root)]) as engine:
        yield lake, engine, QueryService(engine, resolve=lake.snapshot)


@pytest.fixture(scope="module")
def service(shop) -> QueryService:
    return shop[2]


def _ctx(tenant: str) -> RequestContext:
    return RequestContext.system(tenant)


def _rows(result: QueryResult) -> list[tuple[Any, ...]]:
    return sorted(tuple(row.values()) for row in result.table.to_pylist())


ISOLATION = {
    "join": (
        "SELECT o.order_id, c.name FROM silver.orders o "
        "JOIN silver.customers c USING (customer_id)",
        {
            "acme": [(1, "Ann"), (2, "Bob"), (3, "Ann")],
            "globex": [(1, "Gina"), (4, "Gus")],
            "123": [(5, "Num")],
        },
    ),
    "join-without-aliases": (
        "SELECT orders.order_id, customers.name FROM silver.orders "
        "JOIN silver.customers ON orders.customer_id = customers.customer_id",
        {
            "acme": [(1, "Ann"), (2, "Bob"), (3, "Ann")],
            "globex": [(1, "Gina"), (4, "Gus")],
            "123": [(5, "Num")],
        },
    ),
    "cross-join": (
        "SELECT count(*) AS n FROM silver.orders, silver.customers",
        {"acme": [(6,)], "globex": [(4,)], "123": [(1,)]},
    ),
    "in-subquery": (
        "SELECT name FROM silver.customers WHERE customer_id IN "
        "(SELECT customer_id FROM silver.orders WHERE amount > 20)",
        {"acme": [("Ann",), ("Bob",)], "globex": [("Gina",)], "123": []},
    ),
    "cte": (
        "WITH big AS (SELECT * FROM silver.orders WHERE amount >= 25) SELECT order_id FROM big",
        {"acme": [(1,), (2,), (3,)], "globex": [(1,)], "123": []},
    ),
    "cte-named-like-the-table": (
        "WITH orders AS (SELECT * FROM silver.orders) SELECT count(*) AS n FROM orders",
        {"acme": [(3,)], "globex": [(2,)], "123": [(1,)]},
    ),
    "cte-shadowing-inside-a-subquery": (
        "SELECT order_id FROM silver.orders WHERE order_id NOT IN "
        "(WITH orders AS (SELECT 1 AS order_id) SELECT order_id FROM orders)",
        {"acme": [(2,), (3,)], "globex": [(4,)], "123": [(5,)]},
    ),
    "cte-shadowing-then-union": (
        "SELECT * FROM (WITH orders AS (SELECT 42 AS order_id) SELECT order_id FROM orders) s "
        "UNION ALL SELECT order_id FROM silver.orders",
        {"acme": [(1,), (2,), (3,), (42,)], "globex": [(1,), (4,), (42,)], "123": [(5,), (42,)]},
    ),
    "union-all": (
        "SELECT _tenant_id AS t, order_id AS id FROM silver.orders "
        "UNION ALL SELECT _tenant_id, customer_id FROM silver.customers",
        {
            "acme": [("acme", 1), ("acme", 2), ("acme", 3), ("acme", 10), ("acme", 11)],
            "globex": [("globex", 1), ("globex", 4), ("globex", 10), ("globex", 12)],
            "123": [("123", 5), ("123", 10)],
        },
    ),
    "correlated-exists": (
        "SELECT c.name FROM silver.customers c WHERE EXISTS "
        "(SELECT 1 FROM silver.orders o WHERE o.customer_id = c.customer_id AND o.amount > 500)",
        {"acme": [], "globex": [("Gina",)], "123": []},
    ),
    "correlated-scalar": (
        "SELECT c.name, (SELECT sum(o.amount) FROM silver.orders o "
        "WHERE o.customer_id = c.customer_id) AS total FROM silver.customers c",
        {
            "acme": [("Ann", 125.0), ("Bob", 50.0)],
            "globex": [("Gina", 999.0), ("Gus", 7.0)],
            "123": [("Num", 1.0)],
        },
    ),
    "lateral": (
        "SELECT c.name, l.n FROM silver.customers c, LATERAL (SELECT count(*) AS n "
        "FROM silver.orders o WHERE o.customer_id = c.customer_id) AS l",
        {
            "acme": [("Ann", 2), ("Bob", 1)],
            "globex": [("Gina", 1), ("Gus", 1)],
            "123": [("Num", 1)],
        },
    ),
    "aggregate": (
        "SELECT count(*) AS n, sum(amount) AS s FROM silver.orders",
        {"acme": [(3, 175.0)], "globex": [(2, 1006.0)], "123": [(1, 1.0)]},
    ),
    "tenant-filter-on-another-tenant": (
        "SELECT count(*) AS n FROM silver.orders WHERE _tenant_id = 'globex'",
        {"acme": [(0,)], "globex": [(2,)], "123": [(0,)]},
    ),
}


@pytest.mark.parametrize("case", sorted(ISOLATION))
@pytest.mark.parametrize("tenant", ["acme", "globex", "123"])
def test_tenants_see_only_their_rows(service: QueryService, case: str, tenant: str) -> None:
    sql, expected = ISOLATION[case]
    result = service.sql(sql, ctx=_ctx(tenant))
    assert _rows(result) == sorted(expected[tenant])
    assert not result.truncated


def test_a_tenant_without_rows_sees_nothing(service: QueryService) -> None:
    result = service.sql(
        "SELECT o.* FROM silver.orders o JOIN silver.customers USING (customer_id)",
        ctx=_ctx("nobody"),
    )
    assert result.table.num_rows == 0


def test_the_result_carries_the_scoped_sql(service: QueryService) -> None:
    result = service.sql("SELECT order_id FROM silver.orders", ctx=_ctx("acme"))
    assert "_tenant_id = 'acme'" in result.sql
    assert result.elapsed_s >= 0
    assert len(sqlglot.parse(result.sql, read="duckdb")) == 1


def test_limit_and_max_rows_truncate_and_say_so(shop) -> None:
    lake, engine, service = shop
    ctx = _ctx("acme")
    sql = "SELECT order_id FROM silver.orders ORDER BY order_id"
    two = service.sql(sql, ctx=ctx, limit=2)
    assert (two.table.column("order_id").to_pylist(), two.truncated) == ([1, 2], True)
    three = service.sql(sql, ctx=ctx, limit=3)
    assert (three.table.num_rows, three.truncated) == (3, False)
    capped = QueryService(engine, resolve=lake.snapshot, max_rows=2)
    for limit in (None, 10):
        result = capped.sql(sql, ctx=ctx, limit=limit)
        assert (result.table.num_rows, result.truncated) == (2, True)
    with pytest.raises(InvalidInput, match="negative"):
        service.sql(sql, ctx=ctx, limit=-1)
    with pytest.raises(ConfigError):
        QueryService(engine, resolve=lake.snapshot, max_rows=0)


def test_unknown_tables_are_not_found(service: QueryService) -> None:
    with pytest.raises(NotFound):
        service.sql("SELECT * FROM silver.nope", ctx=_ctx("acme"))
    with pytest.raises(NotFound):
        service.explain("SELECT * FROM gold.orders JOIN silver.orders USING (x)", ctx=_ctx("a"))


def test_refused_text_never_reaches_the_lake(shop) -> None:
    lake, engine, _ = shop
    asked: list[tuple[str, str]] = []

    def resolve(layer: str, name: str) -> Any:
        asked.append((layer, name))
        return lake.snapshot(layer, name)

    service = QueryService(engine, resolve=resolve)
    with pytest.raises(ReadOnlyViolation):
        service.sql("SELECT * FROM silver.orders; DROP TABLE silver.orders", ctx=_ctx("acme"))
    with pytest.raises(ReadOnlyViolation):
        service.sql("SELECT * FROM silver.orders, read_parquet('x')", ctx=_ctx("acme"))
    assert asked == []
    service.sql(
        "SELECT 1 FROM silver.orders JOIN silver.customers USING (customer_id)", ctx=_ctx("x")
    )
    assert sorted(asked) == [("silver", "customers"), ("silver", "orders")]


def test_explain_shows_the_scoped_query_without_running_it(shop) -> None:
    _, engine, service = shop
    before = engine.views_created
    text = service.explain(
        "WITH orders AS (SELECT * FROM silver.orders) SELECT count(*) FROM orders",
        ctx=_ctx("acme"),
    )
    assert engine.views_created == before
    assert "_tenant_id = 'acme'" in text
    tree = sqlglot.parse_one(text, read="duckdb")
    assert [t.db for t in tree.find_all(exp.Table) if t.db] == ["silver"]


def test_run_scopes_trees_built_in_code(service: QueryService) -> None:
    tree = exp.select(exp.func("sum", exp.column("amount")).as_("s")).from_("silver.orders")
    result = service.run(tree, ctx=_ctx("globex"))
    assert result.table.to_pylist() == [{"s": 1006.0}]


def test_stream_is_scoped_and_batched(lake, engine: DuckDBEngine) -> None:
    rows = [{"id": i, TENANT: ("acme", "globex")[i % 2]} for i in range(3_000)]
    lake.write("bronze", "events", rows)
    service = QueryService(engine, resolve=lake.snapshot)
    reader = service.stream(
        parse_read_only("SELECT id, _tenant_id FROM bronze.events"),
        ctx=_ctx("globex"),
        batch_rows=200,
    )
    batches = list(reader)
    assert len(batches) > 1
    table = pa.Table.from_batches(batches)
    assert set(table.column(TENANT).to_pylist()) == {"globex"}
    assert sorted(table.column("id").to_pylist()) == list(range(1, 3_000, 2))


def test_time_travel_through_the_resolver(lake, engine: DuckDBEngine) -> None:
    lake.write("gold", "daily", [{"day": 1, "n": 1, TENANT: "acme"}])
    lake.write("gold", "daily", [{"day": 2, "n": 5, TENANT: "acme"}])
    sql = "SELECT sum(n) AS n FROM gold.daily"
    old = QueryService(engine, resolve=lambda layer, name: lake.snapshot(layer, name, version=0))
    new = QueryService(engine, resolve=lake.snapshot)
    assert old.sql(sql, ctx=_ctx("acme")).table.to_pylist() == [{"n": 1}]
    assert new.sql(sql, ctx=_ctx("acme")).table.to_pylist() == [{"n": 6}]


# ---------------------------------------------------------------- hypothesis

_LEAVES = {
    "orders": "SELECT _tenant_id AS t, customer_id AS k, amount AS v FROM {orders} AS {alias}",
    "customers": (
        "SELECT _tenant_id AS t, customer_id AS k, CAST(length(name) AS DOUBLE) AS v "
        "FROM {customers} AS {alias}"
    ),
}


def _shapes() -> st.SearchStrategy[tuple[Any, ...]]:
    leaf = st.sampled_from(sorted(_LEAVES)).map(lambda name: ("leaf", name))

    def extend(children: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[tuple[Any, ...]]:
        return st.one_of(
            st.tuples(st.sampled_from(["join", "union", "in"]), children, children),
            st.tuples(
                st.sampled_from(["cte", "cte_like_table", "exists", "scalar", "agg", "lateral"]),
                children,
            ),
            st.tuples(st.just("filter"), children, st.sampled_from([0.0, 4.0, 30.0, 100.0])),
        )

    return st.recursive(leaf, extend, max_leaves=5)


def _render(shape: tuple[Any, ...], tables: dict[str, str], names: Iterator[int]) -> str:
    """A query with columns (t, k, v); lake tables are spelled as ``tables`` says."""
    kind, *parts = shape
    n = next(names)
    if kind == "leaf":
        return _LEAVES[parts[0]].format(alias=f"a{n}", **tables)
    inner = [_render(p, tables, names) if isinstance(p, tuple) else p for p in parts]
    queries = {
        "join": "SELECT x.t, x.k, y.v FROM ({0}) AS x JOIN ({1}) AS y ON x.k = y.k",
        "union": "SELECT * FROM (({0}) UNION ALL ({1})) AS u{n}",
        "in": "SELECT t, k, v FROM ({0}) AS s{n} WHERE k IN (SELECT k FROM ({1}) AS z{n})",
        "cte": "WITH c{n} AS ({0}) SELECT t, k, v FROM c{n}",
        "cte_like_table": "WITH orders AS ({0}) SELECT t, k, v FROM orders",
        "exists": (
            "SELECT t, k, v FROM ({0}) AS s{n} WHERE EXISTS "
            "(SELECT 1 FROM {customers} AS e{n} WHERE e{n}.customer_id = s{n}.k)"
        ),
        "scalar": (
            "SELECT t, k, (SELECT count(*) FROM {orders} AS q{n} "
            "WHERE q{n}.customer_id = s{n}.k) + 0.0 AS v FROM ({0}) AS s{n}"
        ),
        "agg": "SELECT min(t) AS t, k, sum(v) AS v FROM ({0}) AS s{n} GROUP BY k",
        "lateral": (
            "SELECT s{n}.t, s{n}.k, l{n}.v FROM ({0}) AS s{n}, LATERAL "
            "(SELECT amount AS v FROM {orders} AS r{n} WHERE r{n}.customer_id = s{n}.k) AS l{n}"
        ),
        "filter": "SELECT t, k, v FROM ({0}) AS s{n} WHERE v >= {1}",
    }
    return queries[kind].format(*inner, n=n, **tables)


def _normalised(table: pa.Table) -> list[tuple[Any, ...]]:
    return sorted(
        (row["t"], row["k"], None if row["v"] is None else round(row["v"], 6))
        for row in table.to_pylist()
    )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(shape=_shapes(), tenant=st.sampled_from(["acme", "globex", "123", "nobody"]))
def test_scoping_any_composition_returns_exactly_the_tenants_rows(
    shop, shape: tuple[Any, ...], tenant: str
) -> None:
    lake, engine, service = shop
    scoped_sql = _render(
        shape, {"orders": "silver.orders", "customers": "silver.customers"}, itertools.count()
    )
    reference_sql = _render(
        shape, {"orders": "ref_orders", "customers": "ref_customers"}, itertools.count()
    )
    relations = {
        f"ref_{name}": pa.Table.from_pylist(
            [row for row in rows if row[TENANT] == tenant],
            schema=lake.snapshot("silver", name).schema,
        )
        for name, rows in (("orders", lake.ORDERS), ("customers", lake.CUSTOMERS))
    }
    expected = engine.execute(
        sqlglot.parse_one(reference_sql, read="duckdb"), tables={}, relations=relations
    )
    result = service.sql(scoped_sql, ctx=_ctx(tenant))
    assert not result.truncated
    assert {row["t"] for row in result.table.to_pylist()} <= {tenant, None}
    assert _normalised(result.table) == _normalised(expected)
