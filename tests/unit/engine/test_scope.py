"""scope_to_tenant: every lake table read, in every position, reads one tenant's rows."""

import pytest
import sqlglot
from sqlglot import exp

from gnomon.engine import TENANT_COLUMN, parse_read_only, referenced_tables, scope_to_tenant
from gnomon.errors import InvalidInput


def _lake_tables(tree: exp.Expr) -> list[exp.Table]:
    return [
        table
        for table in tree.find_all(exp.Table)
        if table.db.lower() in {"bronze", "silver", "gold", "quarantine"}
    ]


def _assert_scoped(tree: exp.Expr, tenant: str) -> None:
    """Each lake table is the only FROM of a SELECT * … WHERE _tenant_id = <tenant> subquery."""
    tables = _lake_tables(tree)
    assert tables
    for table in tables:
        select = table.parent.parent if table.parent else None
        assert isinstance(table.parent, exp.From)
        assert isinstance(select, exp.Select)
        assert isinstance(select.parent, exp.Subquery)
        assert select.args.get("joins") is None
        assert table.args.get("alias") is None
        where = select.args["where"].this
        assert isinstance(where, exp.EQ)
        assert where.this == exp.column(TENANT_COLUMN)
        assert isinstance(where.expression, exp.Literal)
        assert where.expression.is_string
        assert where.expression.this == tenant


POSITIONS = [
    "SELECT * FROM silver.orders",
    "SELECT * FROM silver.orders o JOIN silver.customers c ON o.cid = c.id",
    "SELECT * FROM silver.orders LEFT JOIN silver.customers USING (cid)",
    "SELECT * FROM silver.orders, silver.customers",
    "SELECT * FROM (SELECT * FROM silver.orders) AS s",
    "SELECT * FROM gold.x WHERE id IN (SELECT id FROM silver.orders)",
    "SELECT * FROM gold.x g WHERE EXISTS (SELECT 1 FROM silver.orders o WHERE o.id = g.id)",
    "SELECT (SELECT max(amount) FROM silver.orders) AS top FROM gold.x",
    "WITH c AS (SELECT * FROM silver.orders) SELECT * FROM c",
    "WITH orders AS (SELECT * FROM silver.orders) SELECT * FROM orders",
    "SELECT id FROM silver.orders UNION ALL SELECT id FROM bronze.orders",
    "SELECT id FROM silver.orders INTERSECT SELECT id FROM gold.orders",
    "SELECT * FROM gold.x g, LATERAL (SELECT * FROM silver.orders o WHERE o.id = g.id) AS l",
    "SELECT * FROM (silver.orders AS x JOIN silver.customers AS y ON x.cid = y.id)",
    "SELECT * FROM silver.orders PIVOT (sum(amount) FOR cid IN (1, 2))",
    "SELECT * FROM silver.orders TABLESAMPLE 10%",
    "SELECT * FROM quarantine.orders AS q(a, b, c)",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r, gold.lim WHERE n < m) "
    "SELECT * FROM r",
]


@pytest.mark.parametrize("sql", POSITIONS)
def test_every_lake_table_is_scoped_in_every_position(sql: str) -> None:
    tree = parse_read_only(sql)
    before = len(_lake_tables(tree))
    scoped = scope_to_tenant(tree, tenant="acme")
    assert len(_lake_tables(scoped)) == before
    _assert_scoped(scoped, "acme")
    assert referenced_tables(scoped) == referenced_tables(tree)
    again = parse_read_only(scoped.sql(dialect="duckdb"))
    _assert_scoped(again, "acme")


def test_the_input_tree_is_not_modified() -> None:
    tree = parse_read_only("SELECT * FROM silver.orders o JOIN silver.customers c USING (cid)")
    before = tree.sql()
    scoped = scope_to_tenant(tree, tenant="acme")
    assert tree.sql() == before
    assert scoped.sql() != before


def test_alias_is_kept_or_set_to_the_table_name() -> None:
    scoped = scope_to_tenant(
        parse_read_only("SELECT o.id, customers.name FROM silver.orders AS o, silver.customers"),
        tenant="acme",
    )
    aliases = [sub.alias for sub in scoped.find_all(exp.Subquery)]
    assert sorted(aliases) == ["customers", "o"]


def test_layer_qualified_columns_follow_the_alias() -> None:
    scoped = scope_to_tenant(
        parse_read_only("SELECT silver.orders.id FROM silver.orders"), tenant="acme"
    )
    column = scoped.expressions[0]
    assert isinstance(column, exp.Column)
    assert (column.table, column.name, column.args.get("db")) == ("orders", "id", None)


def test_a_cte_named_like_a_table_is_not_scoped_but_its_body_is() -> None:
    scoped = scope_to_tenant(
        parse_read_only("WITH orders AS (SELECT * FROM silver.orders) SELECT * FROM orders"),
        tenant="acme",
    )
    outer_from = scoped.args["from_"].this
    assert isinstance(outer_from, exp.Table)
    assert (outer_from.name, outer_from.db) == ("orders", "")
    _assert_scoped(scoped, "acme")


def test_a_cte_shadowing_inside_a_subquery_is_not_scoped() -> None:
    scoped = scope_to_tenant(
        parse_read_only(
            "SELECT * FROM silver.orders WHERE id IN "
            "(WITH orders AS (SELECT 1 AS id) SELECT id FROM orders)"
        ),
        tenant="acme",
    )
    assert len(list(scoped.find_all(exp.Subquery))) == 2
    cte_reads = [t for t in scoped.find_all(exp.Table) if not t.db]
    assert [t.name for t in cte_reads] == ["orders"]
    assert isinstance(cte_reads[0].parent, exp.From)
    assert cte_reads[0].parent.parent.args.get("where") is None


@pytest.mark.parametrize(
    "tenant", ["o'brien", "x'; DROP TABLE silver.orders; --", "a\\'b", "ümlaut", "123", " "]
)
def test_the_tenant_is_a_literal_whatever_it_contains(tenant: str) -> None:
    scoped = scope_to_tenant(parse_read_only("SELECT * FROM silver.orders"), tenant=tenant)
    rendered = scoped.sql(dialect="duckdb")
    statements = [s for s in sqlglot.parse(rendered, read="duckdb") if s is not None]
    assert len(statements) == 1
    _assert_scoped(statements[0], tenant)


def test_an_empty_tenant_is_refused() -> None:
    with pytest.raises(InvalidInput, match="tenant"):
        scope_to_tenant(parse_read_only("SELECT * FROM silver.orders"), tenant="")


def test_trees_built_in_code_are_scoped_too() -> None:
    tree = exp.select("*").from_(exp.to_table("gold.daily")).where(exp.column("x").eq(1))
    scoped = scope_to_tenant(tree, tenant="t1")
    _assert_scoped(scoped, "t1")
    assert scoped.args["where"].this == exp.column("x").eq(1)
