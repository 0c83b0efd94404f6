"""parse_read_only: what user SQL may do, and referenced_tables."""

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from gnomon.engine import QueryError, ReadOnlyViolation, parse_read_only, referenced_tables
from gnomon.errors import InvalidInput

ACCEPTED = [
    "SELECT 1",
    "SELECT 1;",
    "  select 1 ;  ",
    "SeLeCt * FrOm SiLvEr.OrDeRs",
    'SELECT * FROM "silver"."orders"',
    "/* a comment; with a semicolon */ SELECT * FROM silver.orders",
    "SELECT * FROM silver.orders -- trailing; comment",
    "WITH o AS (SELECT * FROM silver.orders) SELECT count(*) FROM o",
    "SELECT id FROM silver.a UNION ALL SELECT id FROM gold.b",
    "SELECT id FROM silver.a INTERSECT SELECT id FROM gold.b",
    "SELECT id FROM silver.a EXCEPT SELECT id FROM gold.b",
    "VALUES (1, 'a'), (2, 'b')",
    "(SELECT 1) LIMIT 1",
    "FROM silver.orders SELECT id",
    "SELECT * FROM (VALUES (1, 2)) AS v(a, b)",
    "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r",
    "SELECT o.id FROM silver.orders o JOIN silver.customers c ON o.cid = c.id "
    "WHERE EXISTS (SELECT 1 FROM gold.flags f WHERE f.id = o.id)",
    "SELECT * FROM silver.a, LATERAL (SELECT * FROM silver.b WHERE b.k = a.k) AS l",
    "SELECT * FROM (silver.a AS x JOIN silver.b AS y ON x.k = y.k)",
    "SELECT lower(name), date_trunc('day', ts), row_number() OVER (ORDER BY ts), "
    "list_transform([1, 2], x -> x + 1), regexp_matches(name, 'a'), struct_pack(a := 1), "
    "strftime(ts, '%Y'), epoch_ms(ts), md5(name) FROM quarantine.rows",
    "SELECT sum(amount) FILTER (WHERE amount > 0) FROM bronze.raw GROUP BY ALL",
    "SELECT * EXCLUDE (secret) FROM silver.orders QUALIFY row_number() OVER () = 1",
    "SELECT * FROM silver.orders TABLESAMPLE 10%",
    "SELECT * FROM silver.orders ASOF JOIN silver.prices USING (ts)",
]


@pytest.mark.parametrize("sql", ACCEPTED)
def test_accepts_one_read_only_query(sql: str) -> None:
    tree = parse_read_only(sql)
    assert isinstance(tree, exp.Query)
    rendered = tree.sql(dialect="duckdb")
    assert len(sqlglot.parse(rendered, read="duckdb")) == 1


def test_values_becomes_a_select_over_values() -> None:
    tree = parse_read_only("VALUES (1, 'a')")
    assert isinstance(tree, exp.Select)
    assert isinstance(tree.args["from_"].this.this, exp.Values)


def test_comments_do_not_survive_into_the_tree() -> None:
    tree = parse_read_only("SELECT /* hidden */ 1 AS x -- tail")
    assert "hidden" not in tree.sql(dialect="duckdb")
    assert "tail" not in tree.sql(dialect="duckdb")


REFUSED = [
    # empty text
    pytest.param("", "nothing", id="empty"),
    pytest.param("   \n\t ", "nothing", id="blank"),
    pytest.param("-- only a comment", "nothing", id="only-comment"),
    pytest.param("/* */ ;", "nothing", id="only-semicolon"),
    # several statements
    pytest.param("SeLeCt 1; DROP TABLE x", "2 statements", id="select-then-drop"),
    pytest.param("SELECT 1; /* */ SELECT 2", "2 statements", id="two-selects"),
    pytest.param("SELECT 1;SELECT 2;SELECT 3;", "3 statements", id="three"),
    pytest.param("SELECT ';'; DELETE FROM t", "2 statements", id="quoted-semicolon-then-delete"),
    # DDL and DML
    pytest.param("CREATE TABLE t (a INT)", "CREATE", id="create"),
    pytest.param("create or replace view v as select 1", "CREATE", id="create-view"),
    pytest.param("CREATE MACRO m(a) AS a", "CREATE", id="create-macro"),
    pytest.param("INSERT INTO silver.orders VALUES (1)", "INSERT", id="insert"),
    pytest.param("UPDATE silver.orders SET a = 1", "UPDATE", id="update"),
    pytest.param("DELETE FROM silver.orders", "DELETE", id="delete"),
    pytest.param("DROP TABLE silver.orders", "DROP", id="drop"),
    pytest.param("/* innocent */ dRoP VIEW x", "DROP", id="drop-after-comment"),
    pytest.param("ALTER TABLE t ADD COLUMN b INT", "ALTER", id="alter"),
    pytest.param("COPY silver.orders TO '/tmp/x.csv'", "COPY", id="copy"),
    pytest.param("EXPORT DATABASE '/tmp/x'", "EXPORT", id="export"),
    pytest.param("TRUNCATE silver.orders", "TRUNCATE", id="truncate"),
    pytest.param("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE", id="merge"),
    pytest.param("SELECT * INTO t FROM silver.orders", "SELECT … INTO", id="select-into"),
    pytest.param(
        "WITH x AS (DELETE FROM silver.t RETURNING *) SELECT * FROM x",
        "DELETE",
        id="data-modifying-cte",
    ),
    pytest.param(
        "WITH x AS (INSERT INTO silver.t VALUES (1) RETURNING *) SELECT * FROM x",
        "INSERT",
        id="inserting-cte",
    ),
    pytest.param("PIVOT silver.orders ON x USING sum(y)", "PIVOT", id="pivot-statement"),
    # ATTACH, PRAGMA, SET, extensions, CALL, other commands
    pytest.param("ATTACH 'other.db' AS other", "ATTACH", id="attach"),
    pytest.param("DETACH other", "DETACH", id="detach"),
    pytest.param("PRAGMA version", "PRAGMA", id="pragma"),
    pytest.param("SET enable_external_access = true", "SET", id="set"),
    pytest.param("RESET memory_limit", "RESET", id="reset"),
    pytest.param("INSTALL httpfs", "INSTALL", id="install"),
    pytest.param("LOAD httpfs", "LOAD", id="load"),
    pytest.param("CALL pragma_version()", "CALL", id="call"),
    pytest.param("CHECKPOINT", "CHECKPOINT", id="checkpoint"),
    pytest.param("VACUUM", "VACUUM", id="vacuum"),
    pytest.param("USE silver", "USE", id="use"),
    pytest.param("BEGIN TRANSACTION", "BEGIN", id="begin"),
    pytest.param("DESCRIBE silver.orders", "DESCRIBE", id="describe"),
    pytest.param("SUMMARIZE silver.orders", "SUMMARIZE", id="summarize"),
    pytest.param("SHOW TABLES", "SHOW", id="show"),
    pytest.param("SELECT * FROM (DESCRIBE silver.orders)", "DESCRIBE", id="describe-in-from"),
    # table functions in FROM
    pytest.param("SELECT * FROM read_csv('/etc/passwd')", "read_csv", id="read_csv"),
    pytest.param("SELECT * FROM read_parquet('x.parquet')", "read_parquet", id="read_parquet"),
    pytest.param("SELECT * FROM read_json_auto('x.json')", "read_json_auto", id="read_json"),
    pytest.param("SELECT * FROM glob('/*')", "glob", id="glob"),
    pytest.param("SELECT * FROM range(10)", "generate_series", id="range"),
    pytest.param("SELECT * FROM unnest([1, 2])", "unnest", id="unnest"),
    pytest.param("SELECT * FROM query('SELECT 1')", "query", id="query"),
    pytest.param("SELECT * FROM silver.a, LATERAL read_csv('x')", "read_csv", id="lateral"),
    pytest.param(
        "SELECT * FROM silver.a WHERE id IN (SELECT * FROM read_csv('x'))",
        "read_csv",
        id="table-function-in-subquery",
    ),
    pytest.param(
        "WITH c AS (SELECT * FROM READ_PARQUET('x')) SELECT * FROM c",
        "read_parquet",
        id="table-function-in-cte",
    ),
    # file and system functions anywhere
    pytest.param("SELECT read_text('/etc/passwd')", "read_text", id="read_text"),
    pytest.param("SELECT * FROM silver.a WHERE read_blob('x') IS NULL", "read_blob", id="blob"),
    pytest.param("SELECT getenv('HOME')", "getenv", id="getenv"),
    pytest.param("SELECT 'HOME'.getenv()", "getenv", id="getenv-method-call"),
    pytest.param("SELECT \"READ_TEXT\"('/etc/passwd')", "read_text", id="quoted-upper"),
    pytest.param("SELECT current_setting('allowed_directories')", "current_setting", id="setting"),
    pytest.param("SELECT getvariable('x')", "getvariable", id="getvariable"),
    pytest.param("SELECT version()", "version", id="version"),
    pytest.param("SELECT nextval('seq')", "nextval", id="nextval"),
    pytest.param("SELECT json_execute_serialized_sql('x')", "json_execute", id="exec-sql"),
    pytest.param("SELECT duckdb_secrets_hidden()", "duckdb_secrets_hidden", id="duckdb-prefix"),
    pytest.param("SELECT my_udf(1)", "my_udf", id="unknown-function"),
    pytest.param("SELECT h3_cell_to_parent(1, 2)", "h3_cell_to_parent", id="extension-function"),
    pytest.param(
        "SELECT list_transform([1], x -> read_text('y'))", "read_text", id="inside-lambda"
    ),
    # system catalogs
    pytest.param("SELECT * FROM information_schema.tables", "information_schema", id="info"),
    pytest.param("SELECT information_schema.tables", "information_schema", id="info-column"),
    pytest.param("SELECT pg_class.relname", "pg_class", id="pg-column"),
    pytest.param("SELECT main.t.x FROM silver.orders AS t", "main.t.x", id="main-column"),
    pytest.param("SELECT * FROM pg_catalog.pg_class", "pg_catalog", id="pg_catalog"),
    pytest.param("SELECT * FROM sqlite_master", "sqlite_master", id="sqlite_master"),
    pytest.param("SELECT * FROM duckdb_tables()", "duckdb_tables", id="duckdb_tables"),
    pytest.param("SELECT * FROM duckdb_settings", "duckdb_settings", id="duckdb_settings-table"),
    pytest.param(
        "SELECT * FROM silver.a WHERE id IN (SELECT oid FROM pg_catalog.pg_namespace)",
        "pg_catalog",
        id="catalog-in-subquery",
    ),
    # table references that are neither layer.name nor a CTE in scope
    pytest.param("SELECT * FROM orders", "orders", id="unqualified"),
    pytest.param("SELECT * FROM main.orders", "main.orders", id="main-schema"),
    pytest.param("SELECT * FROM platinum.orders", "platinum.orders", id="unknown-layer"),
    pytest.param("SELECT * FROM memory.silver.orders", "memory.silver.orders", id="catalog"),
    pytest.param("SELECT * FROM '/etc/passwd'", "/etc/passwd", id="string-path"),
    pytest.param('SELECT * FROM "data.parquet"', "data.parquet", id="quoted-path"),
    pytest.param(
        "SELECT * FROM (WITH c AS (SELECT 1) SELECT * FROM c) AS x, c",
        "c",
        id="cte-out-of-scope",
    ),
    pytest.param(
        "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a",
        "b",
        id="cte-used-before-defined",
    ),
    pytest.param(
        "WITH orders AS (SELECT * FROM orders) SELECT * FROM orders",
        "orders",
        id="cte-reading-itself-without-recursive",
    ),
    pytest.param("SELECT * FROM silver.orders AT (VERSION => 1)", "silver.orders", id="version"),
]


@pytest.mark.parametrize(("sql", "found"), REFUSED)
def test_refuses_everything_but_reading_lake_tables(sql: str, found: str) -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        parse_read_only(sql)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert found.lower() in str(error.details["found"]).lower()
    assert found.lower() in error.message.lower()
    assert error.hint


def test_refusal_says_what_is_allowed() -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        parse_read_only("DROP TABLE silver.orders")
    assert caught.value.message == "Only read-only queries are allowed: found DROP."
    assert "SELECT" in (caught.value.hint or "")
    assert caught.value.to_dict()["code"] == "read_only_violation"


def test_bad_table_reference_lists_the_layers() -> None:
    with pytest.raises(ReadOnlyViolation) as caught:
        parse_read_only("SELECT * FROM orders")
    hint = caught.value.hint or ""
    assert all(layer in hint for layer in ("bronze", "silver", "gold", "quarantine"))


def test_parse_error_has_line_and_column() -> None:
    with pytest.raises(QueryError) as caught:
        parse_read_only("SELECT 1 +\n  FROM silver.orders WHERE")
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.details["line"] == 2
    assert isinstance(caught.value.details["column"], int)
    assert "line 2" in caught.value.message


@pytest.mark.parametrize("sql", ["(DROP TABLE x)", "(SELECT 1) UNION (DELETE FROM x)"])
def test_statements_hidden_in_parentheses_are_refused(sql: str) -> None:
    with pytest.raises(InvalidInput):
        parse_read_only(sql)


def test_absurd_nesting_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="nested too deeply"):
        parse_read_only("SELECT " + "(" * 3000 + "1" + ")" * 3000)


def test_unterminated_string_is_a_query_error() -> None:
    with pytest.raises(QueryError, match="does not parse"):
        parse_read_only("SELECT 'abc")


REFERENCES = [
    ("SELECT 1", set()),
    ("SELECT * FROM silver.orders", {("silver", "orders")}),
    ('SELECT * FROM "SILVER"."Orders"', {("silver", "orders")}),
    (
        "SELECT * FROM silver.orders o JOIN gold.daily d USING (day) "
        "WHERE o.id IN (SELECT id FROM quarantine.orders)",
        {("silver", "orders"), ("gold", "daily"), ("quarantine", "orders")},
    ),
    (
        "WITH orders AS (SELECT * FROM silver.orders) SELECT * FROM orders",
        {("silver", "orders")},
    ),
    (
        "WITH daily AS (SELECT 1 AS d) SELECT * FROM daily "
        "WHERE d IN (WITH daily AS (SELECT * FROM gold.daily) SELECT d FROM daily)",
        {("gold", "daily")},
    ),
    (
        "WITH a AS (SELECT * FROM bronze.a), b AS (SELECT * FROM a) "
        "SELECT * FROM b UNION ALL SELECT * FROM silver.b",
        {("bronze", "a"), ("silver", "b")},
    ),
    (
        "WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
        set(),
    ),
]


@pytest.mark.parametrize(("sql", "expected"), REFERENCES)
def test_referenced_tables(sql: str, expected: set[tuple[str, str]]) -> None:
    assert referenced_tables(parse_read_only(sql)) == expected


def test_a_cte_shadowing_a_table_name_inside_a_subquery_is_not_a_lake_table() -> None:
    sql = (
        "SELECT * FROM silver.orders o "
        "WHERE o.id IN (WITH orders AS (SELECT 2 AS id) SELECT id FROM orders)"
    )
    assert referenced_tables(parse_read_only(sql)) == {("silver", "orders")}


# ---------------------------------------------------------------- hypothesis

SQL_WORDS = [
    "SELECT", "FROM", "WHERE", "WITH", "AS", "UNION", "ALL", "JOIN", "ON", "(", ")", ",", ";",
    "silver.orders", "gold.daily", "orders", "x", "1", "'a'", "*", "=", "read_text('x')",
    "DROP", "TABLE", "INSERT", "INTO", "VALUES", "/*", "*/", "--", "\n", "count(*)", "LATERAL",
    "read_csv('y')", "information_schema.tables", "SET", "ATTACH", "PRAGMA", "CALL", "getenv('H')",
    '"silver"', ".", '"orders"', "lower(x)", "foo(1)", "GROUP BY", "ORDER BY", "LIMIT", "EXISTS",
]  # fmt: skip


def test_a_table_alias_named_like_a_schema_is_allowed() -> None:
    tree = parse_read_only("SELECT temp.x FROM silver.orders AS temp")
    assert tree.sql() == "SELECT temp.x FROM silver.orders AS temp"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(SQL_WORDS), max_size=25).map(" ".join))
def test_random_sql_is_refused_cleanly_or_yields_a_safe_query(sql: str) -> None:
    try:
        tree = parse_read_only(sql)
    except InvalidInput:
        return
    rendered = tree.sql(dialect="duckdb")
    assert len([s for s in sqlglot.parse(rendered, read="duckdb") if s is not None]) == 1
    lowered = rendered.lower()
    for forbidden in ("read_text", "read_csv", "getenv", "information_schema", "drop", "insert"):
        assert forbidden not in lowered
    for table in tree.find_all(exp.Table):
        assert table.db.lower() in {"silver", "gold"} or not table.db


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_never_raises_anything_but_invalid_input(sql: str) -> None:
    try:
        tree = parse_read_only(sql)
    except InvalidInput:
        return
    assert isinstance(tree, exp.Query)
