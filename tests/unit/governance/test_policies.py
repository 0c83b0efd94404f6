"""Row policies, masks and roles: bound safely, resolved per principal, applied to every read."""

from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.context import Principal
from gnomon.engine import Access, ColumnMask, TableAccess, apply_access, parse_read_only
from gnomon.errors import Forbidden, InvalidInput
from gnomon.governance.policies import (
    MaskRule,
    PolicyTemplateError,
    RowRule,
    bind_predicate,
    predicate_columns,
    resolve_access,
)
from gnomon.governance.policies.rbac import parse_grant, permissions_of, require

EMEA = Principal(
    tenant="acme",
    user="emea@acme",
    roles=frozenset({"analyst"}),
    attributes={"region": "EMEA", "regions": ["EMEA", "APAC"], "level": 2},
)
ADMIN = Principal(tenant="acme", user="admin@acme", roles=frozenset({"admin"}))
COLUMNS = ("order_id", "region", "customer_id", "amount", "_tenant_id")
ROWS = [
    ("O1", "EMEA", "C0001234", 10.0, "acme"),
    ("O2", "AMER", "C0005678", 20.0, "acme"),
    ("O3", "EMEA", None, 30.0, "acme"),
    ("O4", "APAC", "C0009999", 40.0, "acme"),
    ("O1", "EMEA", "C0001234", 99.0, "globex"),
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA silver")
    connection.execute(
        "CREATE TABLE silver.orders (order_id VARCHAR, region VARCHAR, customer_id VARCHAR, "
        "amount DOUBLE, _tenant_id VARCHAR)"
    )
    connection.executemany("INSERT INTO silver.orders VALUES (?, ?, ?, ?, ?)", ROWS)
    yield connection
    connection.close()


def run(con: duckdb.DuckDBPyConnection, sql: str, access: Access) -> list[tuple[Any, ...]]:
    tree = apply_access(parse_read_only(sql), access)
    return sorted(con.execute(tree.sql(dialect="duckdb")).fetchall(), key=repr)


def emea_access() -> Access:
    return resolve_access(
        EMEA,
        rows=[
            RowRule("emea", "silver.orders", "region = {{ user.region }}", frozenset({"analyst"}))
        ],
        masks=[MaskRule("ids", "silver.orders", "customer_id", "partial", frozenset({"analyst"}))],
        columns={"silver.orders": COLUMNS},
        mask_key=b"secret",
    )


# ---------------------------------------------------------------- templates


def test_attribute_values_are_literals_never_sql() -> None:
    evil = Principal(tenant="acme", user="x", attributes={"region": "EMEA' OR 1=1 --"})
    tree = bind_predicate("region = {{ user.region }}", evil)
    literal = tree.find(exp.Literal)
    assert literal is not None and literal.this == "EMEA' OR 1=1 --"
    assert not list(tree.find_all(exp.Or))


def test_lists_numbers_names_and_missing_attributes() -> None:
    assert (
        bind_predicate("region IN {{ user.regions }}", EMEA).sql() == "region IN ('EMEA', 'APAC')"
    )
    assert bind_predicate("lvl <= {{ user.attributes.level }}", EMEA).sql() == "lvl <= 2"
    assert bind_predicate("owner = {{ user.name }}", EMEA).sql() == "owner = 'emea@acme'"
    assert bind_predicate("dept = {{ user.department }}", EMEA).sql() == "FALSE"


@pytest.mark.parametrize(
    "text",
    [
        "region IN (SELECT region FROM silver.regions)",
        "COUNT(*) > 1",
        "o.region = 'x'",
        "region = {{ user.region",
        "region = {{ 1 + 1 }}",
        "region = ",
    ],
)
def test_bad_predicates_are_refused(text: str) -> None:
    with pytest.raises(PolicyTemplateError):
        predicate_columns(text)


def test_predicate_columns_skip_placeholders() -> None:
    assert predicate_columns("region = {{ user.region }} AND amount > 0") == ["region", "amount"]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_any_attribute_value_binds_as_one_literal(value: str) -> None:
    principal = Principal(tenant="t", user="u", attributes={"region": value})
    tree = bind_predicate("region = {{ user.region }}", principal)
    assert isinstance(tree, exp.EQ)
    assert tree.expression.this == value


# ---------------------------------------------------------------- resolution


def test_row_policy_and_mask_apply_to_the_roles_named() -> None:
    access = emea_access()
    assert access.restricts("silver.orders")
    rules = access.tables["silver.orders"]
    assert rules.row_filter is not None and rules.row_filter.sql() == "region = 'EMEA'"
    assert rules.masks["customer_id"].strategy == "partial"


def test_admins_and_other_roles_are_not_narrowed() -> None:
    for principal in (ADMIN, Principal(tenant="acme", user="v", roles=frozenset({"viewer"}))):
        access = resolve_access(
            principal,
            rows=[RowRule("r", "silver.orders", "region = 'EMEA'", frozenset({"analyst"}))],
            masks=[],
            columns={"silver.orders": COLUMNS},
            mask_key=b"k",
        )
        assert not access.restricts("silver.orders")


def test_several_row_policies_all_hold_and_the_strongest_mask_wins(
    con: duckdb.DuckDBPyConnection,
) -> None:
    access = resolve_access(
        EMEA,
        rows=[
            RowRule("a", "silver.orders", "region IN {{ user.regions }}"),
            RowRule("b", "silver.orders", "amount < 35"),
        ],
        masks=[
            MaskRule("p", "silver.orders", "customer_id", "partial"),
            MaskRule("r", "silver.orders", "customer_id", "redact"),
        ],
        columns={"silver.orders": COLUMNS},
        mask_key=b"k",
    )
    rows = run(con, "SELECT order_id, customer_id FROM silver.orders", access)
    assert rows == [("O1", None), ("O3", None)]


# ---------------------------------------------------------------- applied to reads


def test_policies_hold_in_every_position_of_a_query(con: duckdb.DuckDBPyConnection) -> None:
    access = emea_access()
    queries = [
        "SELECT order_id, customer_id FROM silver.orders",
        "WITH o AS (SELECT * FROM silver.orders) SELECT order_id, customer_id FROM o",
        "SELECT order_id, customer_id FROM (SELECT * FROM silver.orders) AS x",
        "SELECT order_id, customer_id FROM silver.orders WHERE order_id IN "
        "(SELECT order_id FROM silver.orders)",
        "SELECT order_id, customer_id FROM silver.orders UNION ALL "
        "SELECT order_id, customer_id FROM silver.orders WHERE 1 = 0",
        "SELECT a.order_id, b.customer_id FROM silver.orders AS a "
        "JOIN silver.orders AS b USING (order_id)",
    ]
    for sql in queries:
        assert run(con, sql, access) == [("O1", "****1234"), ("O3", None)], sql


def test_a_cte_named_like_the_table_cannot_shadow_the_policy(
    con: duckdb.DuckDBPyConnection,
) -> None:
    sql = (
        "WITH orders AS (SELECT * FROM silver.orders) "
        "SELECT order_id, customer_id FROM orders WHERE region <> 'EMEA'"
    )
    assert run(con, sql, emea_access()) == []


def test_aggregates_only_see_allowed_rows(con: duckdb.DuckDBPyConnection) -> None:
    rows = run(con, "SELECT COUNT(*), SUM(amount) FROM silver.orders", emea_access())
    assert rows == [(2, 40.0)]


def test_every_mask_strategy(con: duckdb.DuckDBPyConnection) -> None:
    def masked(mask: ColumnMask) -> list[Any]:
        access = Access(
            "acme",
            {"silver.orders": TableAccess(masks={"customer_id": mask}, columns=COLUMNS)},
        )
        return [r[1] for r in run(con, "SELECT order_id, customer_id FROM silver.orders", access)]

    assert masked(ColumnMask("partial", reveal=2)) == ["******34", "******78", None, "******99"]
    assert masked(ColumnMask("redact")) == [None, None, None, None]
    assert masked(ColumnMask("substitute", value="hidden")) == ["hidden", "hidden", None, "hidden"]
    hashed = masked(ColumnMask("hash", key="k1"))
    assert hashed[2] is None and len({hashed[0], hashed[1], hashed[3]}) == 3
    assert all(len(h) == 64 for h in hashed if h is not None)
    assert masked(ColumnMask("hash", key="k2"))[0] != hashed[0]


def test_shown_sql_hides_the_mask_key() -> None:
    access = Access(
        "acme",
        {"silver.orders": TableAccess(masks={"customer_id": ColumnMask("hash", key="s3cr3t")},
                                      columns=COLUMNS)},
    )  # fmt: skip
    shown = apply_access(parse_read_only("SELECT * FROM silver.orders"), access, show_keys=False)
    assert "s3cr3t" not in shown.sql()
    assert "s3cr3t" in apply_access(parse_read_only("SELECT * FROM silver.orders"), access).sql()


def test_masks_need_the_column_list() -> None:
    access = Access("acme", {"silver.orders": TableAccess(masks={"x": ColumnMask("redact")})})
    with pytest.raises(InvalidInput, match="column list"):
        apply_access(parse_read_only("SELECT * FROM silver.orders"), access)


# ---------------------------------------------------------------- roles


def test_builtin_roles_and_custom_roles_with_conditions() -> None:
    viewer = Principal(tenant="t", user="v", roles=frozenset({"viewer"}))
    assert "metrics:query" in permissions_of(viewer, {})
    assert "sql:query" not in permissions_of(viewer, {})
    with pytest.raises(Forbidden, match="sql:query"):
        require(viewer, "sql:query", {})
    finance = Principal(
        tenant="t", user="f", roles=frozenset({"fin"}), attributes={"department": "finance"}
    )
    custom = {"fin": ["metrics:read", "sql:query if department = finance"]}
    assert permissions_of(finance, custom) == {"metrics:read", "sql:query"}
    sales = Principal(
        tenant="t", user="s", roles=frozenset({"fin"}), attributes={"department": "x"}
    )
    assert permissions_of(sales, custom) == {"metrics:read"}
    assert "audit:read" in permissions_of(ADMIN, {})


@pytest.mark.parametrize("text", ["metrics:fly", "read", "metrics:read if", "sql:query if = x"])
def test_bad_grants_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_grant(text)
