"""PostgresEngine against real Delta tables under tmp_path and the local PostgreSQL server.

Every test uses this module's own schema, dropped at the end; lakes live under ``tmp_path``.
Results are compared with DuckDBEngine over the same snapshot: the engines must agree.
"""

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlglot
from sqlglot import exp

from gnomon.engine import (
    DuckDBEngine,
    Engine,
    EngineUnavailable,
    QueryError,
    UnboundTable,
    parse_read_only,
    scope_to_tenant,
)
from gnomon.engine.postgres import PostgresEngine
from gnomon.errors import ConfigError, InternalError, InvalidInput
from gnomon.lake import Lake, TableSnapshot
from tests.conftest import unique_name

pytestmark = pytest.mark.postgres

TENANTS = ("acme", "globex", "123")
REGIONS = ("north", "south", "east")


# ---------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pg_url(postgres_server: str) -> str:
    return f"{postgres_server}/test"


@pytest.fixture(scope="module")
def schema(pg_url: str) -> Iterator[str]:
    import psycopg

    name = unique_name("gnomon_t").lower()
    yield name
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def engine(pg_url: str, schema: str) -> Iterator[PostgresEngine]:
    with PostgresEngine(pg_url, schema=schema) as built:
        yield built


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture
def duck(lake: Lake) -> Iterator[DuckDBEngine]:
    with DuckDBEngine(threads=2, allowed_roots=[lake.root]) as built:
        yield built


def sales_rows(start: int, count: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(start, start + count):
        rows.append(
            {
                "id": i,
                "region": REGIONS[i % 3],
                "customer": f"c{i % 5}",
                "amount": None if i % 11 == 0 else round(10 + (i * 7.31) % 90, 2),
                "sold_at": datetime(2024, 1 + i % 4, 1 + i % 27, i % 24, 30, tzinfo=UTC),
                "_tenant_id": TENANTS[i % 3],
            }
        )
    return rows


def write_sales(lake: Lake) -> tuple[TableSnapshot, TableSnapshot]:
    """gold.sales at version 0, and at version 1 where ``channel`` and ``quantity`` appear."""
    lake.append("gold", "sales", pa.Table.from_pylist(sales_rows(0, 24)), batch_id="b0")
    first = lake.snapshot("gold", "sales")
    later = sales_rows(24, 12)
    for row in later:
        row["channel"] = "web" if row["id"] % 2 else "store"
        row["quantity"] = row["id"] % 4 + 1
    lake.append("gold", "sales", pa.Table.from_pylist(later), batch_id="b1")
    return first, lake.snapshot("gold", "sales")


def comparable(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows with numbers as rounded floats and instants in UTC, sorted: what both engines share."""

    def value(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int | float | Decimal):
            number = float(v)
            return "nan" if math.isnan(number) else round(number, 9)
        if isinstance(v, datetime):
            return v.astimezone(UTC).isoformat() if v.tzinfo else v.isoformat()
        return v

    rows = [tuple(value(v) for v in row.values()) for row in table.to_pylist()]
    return sorted(rows, key=repr)


def q(sql: str) -> exp.Query:
    """A tree as gnomon's read-only parser makes it from user text."""
    return parse_read_only(sql)


def pg(sql: str) -> exp.Expr:
    """A tree the read-only parser would refuse: the engine must stand on its own."""
    return sqlglot.parse_one(sql, read="postgres")


# ---------------------------------------------------------------------- the protocol


def test_satisfies_the_engine_protocol(engine: PostgresEngine) -> None:
    typed: Engine = engine
    assert (typed.name, typed.dialect) == ("postgres", "postgres")


PARITY_QUERIES = {
    "aggregates": (
        "SELECT _tenant_id, region, count(*) AS n, sum(amount) AS revenue, avg(amount) AS aov, "
        "min(amount) AS lo, max(amount) AS hi, count(DISTINCT customer) AS customers, "
        "count(*) FILTER (WHERE amount > 50) AS big "
        "FROM gold.sales GROUP BY _tenant_id, region"
    ),
    "date_trunc": (
        "SELECT date_trunc('month', sold_at) AS month, _tenant_id, sum(amount) AS revenue, "
        "count(amount) AS priced FROM gold.sales GROUP BY 1, 2"
    ),
    "windows": (
        "SELECT id, amount, "
        "sum(amount) OVER (PARTITION BY _tenant_id ORDER BY id) AS running, "
        "rank() OVER (PARTITION BY region ORDER BY amount DESC NULLS LAST, id) AS place, "
        "lag(amount) OVER (ORDER BY id) AS previous, "
        "avg(amount) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN 2 PRECEDING AND "
        "CURRENT ROW) AS moving FROM gold.sales"
    ),
    "late_column": (
        "SELECT channel, count(*) AS n, sum(quantity) AS units, "
        "coalesce(channel, 'none') AS label FROM gold.sales GROUP BY channel"
    ),
    "filters_and_having": (
        "WITH recent AS (SELECT * FROM gold.sales WHERE sold_at >= TIMESTAMPTZ '2024-02-01') "
        "SELECT region, sum(CASE WHEN amount > 40 THEN 1 ELSE 0 END) AS big, "
        "round(sum(amount) / count(*), 2) AS per_sale FROM recent "
        "GROUP BY region HAVING count(*) > 1"
    ),
    "period_over_period": (
        "WITH monthly AS (SELECT date_trunc('month', sold_at) AS month, sum(amount) AS revenue "
        "FROM gold.sales GROUP BY 1) SELECT month, revenue, "
        "revenue - lag(revenue) OVER (ORDER BY month) AS change FROM monthly"
    ),
}


@pytest.mark.parametrize("query", sorted(PARITY_QUERIES))
def test_gives_the_same_rows_as_duckdb(
    lake: Lake, engine: PostgresEngine, duck: DuckDBEngine, query: str
) -> None:
    _, head = write_sales(lake)
    tree = q(PARITY_QUERIES[query])
    tables = {"gold.sales": head}

    expected = duck.execute(tree, tables=tables)
    found = engine.execute(tree, tables=tables)

    assert found.column_names == expected.column_names
    assert comparable(found) == comparable(expected)
    assert found.num_rows > 0


def test_tenant_scoped_trees_give_the_same_rows_as_duckdb(
    lake: Lake, engine: PostgresEngine, duck: DuckDBEngine
) -> None:
    _, head = write_sales(lake)
    tree = scope_to_tenant(
        q("SELECT s.region, sum(s.amount) AS revenue FROM gold.sales AS s GROUP BY s.region"),
        tenant="123",
    )
    expected = duck.execute(tree, tables={"gold.sales": head})
    assert comparable(engine.execute(tree, tables={"gold.sales": head})) == comparable(expected)


def test_partition_values_come_from_the_paths_and_stay_strings(
    lake: Lake, engine: PostgresEngine
) -> None:
    _, head = write_sales(lake)
    assert head.partition_columns == ("_tenant_id",)

    table = engine.execute(
        q("SELECT _tenant_id, count(*) AS n FROM gold.sales GROUP BY _tenant_id"),
        tables={"gold.sales": head},
    )

    assert table.schema.field("_tenant_id").type == pa.string()
    assert sorted(table.to_pylist(), key=lambda r: r["_tenant_id"]) == [
        {"_tenant_id": "123", "n": 12},
        {"_tenant_id": "acme", "n": 12},
        {"_tenant_id": "globex", "n": 12},
    ]


def test_partition_values_with_special_characters(lake: Lake, engine: PostgresEngine) -> None:
    tenants = ["a b", "x/y", "ä%", "=q", "007"]
    data = pa.table({"id": list(range(len(tenants))), "_tenant_id": tenants})
    lake.append("bronze", "odd", data, batch_id="b0")

    table = engine.execute(
        q("SELECT id, _tenant_id FROM bronze.odd ORDER BY id"),
        tables={"bronze.odd": lake.snapshot("bronze", "odd")},
    )

    assert table.column("_tenant_id").to_pylist() == tenants


def test_files_written_before_a_column_was_added_read_it_as_null(
    lake: Lake, engine: PostgresEngine
) -> None:
    first, head = write_sales(lake)
    assert "channel" not in first.schema.names

    table = engine.execute(
        q("SELECT id, channel, quantity FROM gold.sales WHERE id IN (0, 1, 25, 26) ORDER BY id"),
        tables={"gold.sales": head},
    )

    assert table.schema.field("quantity").type == pa.int64()
    assert table.to_pylist() == [
        {"id": 0, "channel": None, "quantity": None},
        {"id": 1, "channel": None, "quantity": None},
        {"id": 25, "channel": "web", "quantity": 2},
        {"id": 26, "channel": "store", "quantity": 3},
    ]


def test_an_old_version_is_read_as_it_was(lake: Lake, engine: PostgresEngine) -> None:
    first, head = write_sales(lake)
    count = q("SELECT count(*) AS n FROM gold.sales")

    assert engine.execute(count, tables={"gold.sales": first}).to_pylist() == [{"n": 24}]
    assert engine.execute(count, tables={"gold.sales": head}).to_pylist() == [{"n": 36}]
    old = engine.execute(q("SELECT * FROM gold.sales"), tables={"gold.sales": first})
    assert "channel" not in old.column_names


def test_a_table_version_without_files_reads_as_empty(lake: Lake, engine: PostgresEngine) -> None:
    lake.append(
        "gold",
        "empty",
        pa.table({"x": pa.array([], pa.int64()), "_tenant_id": pa.array([], pa.string())}),
        batch_id="b0",
    )
    source = lake.snapshot("gold", "empty")

    table = engine.execute(q("SELECT * FROM gold.empty"), tables={"gold.empty": source})

    assert table.num_rows == 0
    assert table.schema.field("x").type == pa.int64()


# ---------------------------------------------------------------------- copies


def lake_copies(engine: PostgresEngine, lake: Lake) -> list[tuple[str, int]]:
    return sorted((c.label, c.version) for c in engine.copies() if c.uri.startswith(lake.root))


def test_a_version_is_copied_once_and_reused_by_other_engines(
    lake: Lake, engine: PostgresEngine, pg_url: str, schema: str
) -> None:
    first, head = write_sales(lake)
    count = q("SELECT count(*) AS n FROM gold.sales")

    engine.execute(count, tables={"gold.sales": first})
    engine.execute(count, tables={"gold.sales": first})
    assert engine.copies_created == 1

    with PostgresEngine(pg_url, schema=schema) as other:
        assert other.execute(count, tables={"gold.sales": first}).to_pylist() == [{"n": 24}]
        assert other.copies_created == 0

    engine.execute(count, tables={"gold.sales": head})
    assert engine.copies_created == 2
    assert lake_copies(engine, lake) == [("gold.sales", 0), ("gold.sales", 1)]
    rows = {c.version: c.rows for c in engine.copies() if c.uri.startswith(lake.root)}
    assert rows == {0: 24, 1: 36}


def test_two_engines_copying_the_same_version_at_once_make_one_copy(
    lake: Lake, pg_url: str, schema: str
) -> None:
    _, head = write_sales(lake)
    engines = [PostgresEngine(pg_url, schema=schema) for _ in range(3)]
    results: list[Any] = []
    barrier = threading.Barrier(len(engines))

    def run(engine: PostgresEngine) -> None:
        barrier.wait()
        results.append(
            engine.execute(q("SELECT count(*) AS n FROM gold.sales"), tables={"gold.sales": head})
        )

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        copies = lake_copies(engines[0], lake)
    finally:
        for e in engines:
            e.close()

    assert [r.to_pylist() for r in results] == [[{"n": 36}]] * 3
    assert sum(e.copies_created for e in engines) == 1
    assert copies == [("gold.sales", 1)]


def test_drop_copies_drops_superseded_versions_only(lake: Lake, engine: PostgresEngine) -> None:
    first, head = write_sales(lake)
    lake.append("gold", "other", pa.table({"x": [1], "_tenant_id": ["acme"]}), batch_id="b0")
    other = lake.snapshot("gold", "other")
    count = q("SELECT count(*) AS n FROM gold.sales")
    engine.execute(count, tables={"gold.sales": first})
    engine.execute(count, tables={"gold.sales": head})
    engine.execute(q("SELECT * FROM gold.other"), tables={"gold.other": other})

    dropped = engine.drop_copies(keep=[head])

    assert len(dropped) == 1
    assert lake_copies(engine, lake) == [("gold.other", 0), ("gold.sales", 1)]
    # The dropped version is copied again when asked for.
    assert engine.execute(count, tables={"gold.sales": first}).to_pylist() == [{"n": 24}]
    assert engine.copies_created == 4


def test_drop_copies_skips_a_copy_being_read(lake: Lake, engine: PostgresEngine) -> None:
    first, head = write_sales(lake)
    reader = engine.stream(
        q("SELECT id FROM gold.sales"), tables={"gold.sales": first}, batch_rows=5
    )
    engine.execute(q("SELECT count(*) FROM gold.sales"), tables={"gold.sales": head})

    assert engine.drop_copies(keep=[head]) == []
    assert len(reader.read_all()) == 24
    reader.close()

    assert len(engine.drop_copies(keep=[head])) == 1
    assert lake_copies(engine, lake) == [("gold.sales", 1)]


def test_a_copy_dropped_by_another_engine_is_made_again(
    lake: Lake, engine: PostgresEngine, pg_url: str, schema: str
) -> None:
    first, _ = write_sales(lake)
    count = q("SELECT count(*) AS n FROM gold.sales")
    engine.execute(count, tables={"gold.sales": first})
    with PostgresEngine(pg_url, schema=schema) as other:
        assert len(other.drop_copies(other_tables=True)) >= 1

    assert engine.execute(count, tables={"gold.sales": first}).to_pylist() == [{"n": 24}]
    assert engine.copies_created == 2


# ---------------------------------------------------------------------- errors


def test_an_unbound_lake_table_is_refused(engine: PostgresEngine) -> None:
    with pytest.raises(UnboundTable) as caught:
        engine.execute(q("SELECT * FROM gold.nowhere"), tables={})
    assert caught.value.details["tables"] == ["gold.nowhere"]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT * FROM public.anything",
        "SELECT * FROM pg_user",
        "SELECT * FROM gnomon_engine._copies",
    ],
)
def test_a_table_it_was_not_given_is_refused(engine: PostgresEngine, sql: str) -> None:
    with pytest.raises(QueryError, match="not given"):
        engine.execute(pg(sql), tables={})


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT no_such_column FROM gold.sales", "no_such_column"),
        ("SELECT 1 / 0 AS x FROM gold.sales", "division by zero"),
        ("SELECT CAST('x' AS INT) AS x", "invalid input syntax"),
        ("SELECT no_such_function(1) AS x", "no_such_function"),
        ("SELECT CAST('infinity' AS TIMESTAMPTZ) AS x", "too large"),
    ],
)
def test_bad_sql_is_a_query_error_with_postgres_message(
    lake: Lake, engine: PostgresEngine, sql: str, message: str
) -> None:
    _, head = write_sales(lake)
    with pytest.raises(QueryError) as caught:
        engine.execute(pg(sql), tables={"gold.sales": head})
    assert message in caught.value.details["engine_message"]
    assert caught.value.details["sql"]
    # The connection is fine afterwards.
    assert engine.execute(q("SELECT 1 AS one"), tables={}).to_pylist() == [{"one": 1}]


def test_a_write_is_refused_and_changes_nothing(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    tables = {"gold.sales": head}
    delete = pg("WITH gone AS (DELETE FROM gold.sales RETURNING id) SELECT count(*) FROM gone")

    with pytest.raises(QueryError):
        engine.execute(delete, tables=tables)
    with pytest.raises(QueryError) as caught:
        engine.execute(pg("SELECT set_config('transaction_read_only', 'off', true)"), tables={})
    assert "read-write" in caught.value.details["engine_message"]
    with pytest.raises(QueryError, match="single queries"):
        engine.execute(pg("DELETE FROM gold.sales"), tables=tables)
    count = q("SELECT count(*) AS n FROM gold.sales")
    assert engine.execute(count, tables=tables).to_pylist() == [{"n": 36}]


def test_nothing_a_query_did_outlives_it(pg_url: str, engine: PostgresEngine) -> None:
    """What READ ONLY lets through (large objects, session settings, advisory locks) is undone."""
    import psycopg

    created = engine.execute(pg("SELECT lo_create(0) AS oid"), tables={}).to_pylist()[0]["oid"]
    engine.execute(pg("SELECT set_config('TimeZone', 'Asia/Tokyo', false) AS z"), tables={})
    engine.execute(pg("SELECT pg_advisory_lock(424242) AS locked"), tables={})

    shown = engine.execute(pg("SELECT current_setting('TimeZone') AS z"), tables={})
    assert shown.to_pylist() == [{"z": "UTC"}]
    with psycopg.connect(pg_url.replace("+psycopg", ""), autocommit=True) as conn:
        large = conn.execute(
            "SELECT count(*) FROM pg_largeobject_metadata WHERE oid = %s", [created]
        ).fetchone()
        locks = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 424242"
        ).fetchone()
    assert (large, locks) == ((0,), (0,))


def test_an_unreachable_server_is_unavailable_and_hides_the_password() -> None:
    with (
        PostgresEngine("postgresql://someone:s3cret@127.0.0.1:1/db", connect_timeout_s=1) as engine,
        pytest.raises(EngineUnavailable) as caught,
    ):
        engine.execute(q("SELECT 1 AS x"), tables={})
    text = json.dumps(caught.value.to_dict(), default=str)
    assert "s3cret" not in text
    assert "postgresql://someone@127.0.0.1:1/db" in str(caught.value)
    assert caught.value.retryable


def test_the_statement_timeout_cancels_a_long_query(pg_url: str, schema: str) -> None:
    with PostgresEngine(pg_url, schema=schema, statement_timeout_s=0.2) as engine:
        with pytest.raises(EngineUnavailable, match="cancel"):
            engine.execute(pg("SELECT pg_sleep(30) AS x"), tables={})
        assert engine.execute(q("SELECT 1 AS x"), tables={}).to_pylist() == [{"x": 1}]


@pytest.mark.parametrize(
    "settings",
    [
        {"schema": "Bad-Schema"},
        {"schema": "pg_mine"},
        {"statement_timeout_s": 0},
        {"copy_batch_rows": 0},
    ],
)
def test_invalid_settings_are_config_errors(pg_url: str, settings: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        PostgresEngine(pg_url, **settings)


def test_a_closed_engine_refuses_queries(pg_url: str, schema: str) -> None:
    engine = PostgresEngine(pg_url, schema=schema)
    engine.close()
    with pytest.raises(InternalError, match="after close"):
        engine.execute(q("SELECT 1 AS x"), tables={})


# ---------------------------------------------------------------------- relations, limit, stream


def test_relations_are_readable_and_joinable(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    targets = pa.table({"region": ["north", "south"], "Target": [100.0, 200.0]})
    tree = pg(
        'SELECT t.region, t."Target" AS target, count(*) AS n FROM gold.sales AS s '
        'JOIN Targets AS t ON s.region = t.region GROUP BY t.region, t."Target"'
    )

    table = engine.execute(tree, tables={"gold.sales": head}, relations={"targets": targets})

    assert sorted(table.to_pylist(), key=lambda r: r["region"]) == [
        {"region": "north", "target": 100.0, "n": 12},
        {"region": "south", "target": 200.0, "n": 12},
    ]
    # The relation was temporary: the next query does not see it.
    with pytest.raises(QueryError):
        engine.execute(pg("SELECT * FROM targets"), tables={})


def test_a_relation_named_like_a_layer_is_refused(engine: PostgresEngine) -> None:
    with pytest.raises(InvalidInput):
        engine.execute(q("SELECT 1 AS x"), tables={}, relations={"gold": pa.table({"x": [1]})})


def test_limit_stops_after_enough_rows(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    tree = q("SELECT id, amount FROM gold.sales ORDER BY id")
    tables = {"gold.sales": head}

    assert engine.execute(tree, tables=tables, limit=3).column("id").to_pylist() == [0, 1, 2]
    empty = engine.execute(tree, tables=tables, limit=0)
    assert empty.num_rows == 0
    assert empty.column_names == ["id", "amount"]
    assert engine.execute(tree, tables=tables, limit=1000).num_rows == 36
    with pytest.raises(InvalidInput):
        engine.execute(tree, tables=tables, limit=-1)


def test_stream_hands_back_batches(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    reader = engine.stream(
        q("SELECT id FROM gold.sales ORDER BY id"), tables={"gold.sales": head}, batch_rows=10
    )

    batches = list(reader)

    assert [b.num_rows for b in batches] == [10, 10, 10, 6]
    assert pa.Table.from_batches(batches).column("id").to_pylist() == list(range(36))
    assert reader.schema.field("id").type == pa.int64()


def test_a_stream_closed_early_frees_its_connection(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    tables = {"gold.sales": head}
    for _ in range(8):  # more than the pool keeps: a leaked transaction would pile up
        reader = engine.stream(q("SELECT id FROM gold.sales"), tables=tables, batch_rows=5)
        assert reader.read_next_batch().num_rows == 5
        reader.close()
    assert engine.execute(q("SELECT count(*) AS n FROM gold.sales"), tables=tables).to_pylist() == [
        {"n": 36}
    ]


def test_stream_refuses_bad_sql_at_once(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    with pytest.raises(QueryError):
        engine.stream(q("SELECT nope FROM gold.sales"), tables={"gold.sales": head})
    with pytest.raises(InvalidInput):
        engine.stream(q("SELECT 1 AS x"), tables={}, batch_rows=0)


# ---------------------------------------------------------------------- materialize


def test_later_queries_read_the_materialised_rows(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    tree = scope_to_tenant(q("SELECT id, amount FROM gold.sales"), tenant="acme")

    with engine.materialize(tree, tables={"gold.sales": head}, name="acme_sales") as scratch:
        assert scratch.db == "pg_temp"
        total = exp.select(exp.func("count", exp.Star()).as_("n")).from_(scratch.copy())
        assert engine.execute(total, tables={}).to_pylist() == [{"n": 12}]
        joined = pg("SELECT count(*) AS n FROM gold.sales AS s JOIN scratch AS m ON s.id = m.id")
        for node in list(joined.find_all(exp.Table)):
            if node.name == "scratch":
                node.replace(scratch.copy().as_("m"))
        assert engine.execute(joined, tables={"gold.sales": head}).to_pylist() == [{"n": 12}]
        streamed = engine.stream(exp.select("id").from_(scratch.copy()), tables={}, batch_rows=5)
        assert sorted(streamed.read_all().column("id").to_pylist()) == list(range(0, 36, 3))
    with pytest.raises(QueryError):
        engine.execute(total, tables={})


def test_each_materialisation_has_its_own_table(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    tree = q("SELECT id FROM gold.sales")
    with (
        engine.materialize(tree, tables={"gold.sales": head}) as first,
        engine.materialize(tree, tables={"gold.sales": head}) as second,
    ):
        assert first.name != second.name


def test_materialize_refuses_writes_and_bad_queries(lake: Lake, engine: PostgresEngine) -> None:
    _, head = write_sales(lake)
    delete = pg("WITH gone AS (DELETE FROM gold.sales RETURNING id) SELECT id FROM gone")
    with pytest.raises(QueryError), engine.materialize(delete, tables={"gold.sales": head}):
        pass
    with (
        pytest.raises(QueryError),
        engine.materialize(q("SELECT nope FROM (SELECT 1 AS x) AS t"), tables={}),
    ):
        pass
    count = q("SELECT count(*) AS n FROM gold.sales")
    assert engine.execute(count, tables={"gold.sales": head}).to_pylist() == [{"n": 36}]


# ---------------------------------------------------------------------- types


def typed_table() -> pa.Table:
    spring = datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "small": pa.array([1, None, -32768, 32767], pa.int16()),
            "medium": pa.array([1, 2, None, -2_147_483_648], pa.int32()),
            "ratio": pa.array([0.1, None, float("inf"), -1e300], pa.float64()),
            "single": pa.array([1.5, None, 0.0, -2.25], pa.float32()),
            "price": pa.array(
                [Decimal("12.345"), None, Decimal("-0.001"), Decimal("999999999.999")],
                pa.decimal128(12, 3),
            ),
            "huge": pa.array(
                [Decimal("12345678901234567890.1234567890"), None, Decimal("0"), Decimal("-1")],
                pa.decimal128(38, 10),
            ),
            "text": pa.array(["plain", None, "", 'ünï "quoted", comma\nnewline 🎉']),
            "flag": pa.array([True, None, False, True]),
            "day": pa.array([date(2024, 2, 29), None, date(1970, 1, 1), date(9999, 12, 31)]),
            "at": pa.array(
                [spring, None, datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), spring],
                pa.timestamp("us", tz="UTC"),
            ),
            "naive": pa.array(
                [datetime(2024, 1, 1, 12), None, datetime(2000, 2, 29, 0, 0, 0, 1), None],
                pa.timestamp("us"),
            ),
            "blob": pa.array([b"\x00\x01\xff", None, b"", b"abc"], pa.binary()),
            "tags": pa.array([["a", "b"], None, [], ["ü"]], pa.list_(pa.string())),
            "_tenant_id": pa.array(["acme", "acme", "globex", "123"]),
        }
    )


def test_types_round_trip(lake: Lake, engine: PostgresEngine) -> None:
    data = typed_table()
    lake.append("silver", "typed", data, batch_id="b0")
    source = lake.snapshot("silver", "typed")
    columns = [name for name in data.column_names if name != "tags"]

    table = engine.execute(
        q(f"SELECT {', '.join(columns)}, tags FROM silver.typed ORDER BY id"),
        tables={"silver.typed": source},
    )

    for name in columns:
        assert table.schema.field(name).type == data.schema.field(name).type, name
        assert table.column(name).to_pylist() == data.column(name).to_pylist(), name
    # Nested values are stored as jsonb and come back as JSON text.
    assert table.schema.field("tags").type == pa.string()
    tags = [None if v is None else json.loads(v) for v in table.column("tags").to_pylist()]
    assert tags == data.column("tags").to_pylist()


def test_result_types_follow_the_declared_postgres_types(
    lake: Lake, engine: PostgresEngine
) -> None:
    lake.append("silver", "typed", typed_table(), batch_id="b0")
    source = lake.snapshot("silver", "typed")

    table = engine.execute(
        q(
            "SELECT sum(id) AS total, avg(medium) AS mean, sum(price) AS revenue, "
            "CAST(sum(price) AS DECIMAL(20, 2)) AS exact, max(at) AS latest, "
            "CAST(max(at) AS DATE) AS latest_day, count(*) AS n FROM silver.typed"
        ),
        tables={"silver.typed": source},
    )

    assert table.schema == pa.schema(
        [
            ("total", pa.float64()),
            ("mean", pa.float64()),
            ("revenue", pa.float64()),
            ("exact", pa.decimal128(20, 2)),
            ("latest", pa.timestamp("us", tz="UTC")),
            ("latest_day", pa.date32()),
            ("n", pa.int64()),
        ]
    )
    row = table.to_pylist()[0]
    assert row["total"] == 10.0
    assert row["exact"] == Decimal("1000000012.34")
    assert row["latest"] == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert row["latest_day"] == date(2024, 3, 31)


def test_timestamps_are_utc_whatever_the_session_zone_asked_for(
    lake: Lake, pg_url: str, schema: str
) -> None:
    _, head = write_sales(lake)
    tokyo = f"{pg_url}?options=-c%20TimeZone%3DAsia%2FTokyo"
    with PostgresEngine(tokyo, schema=schema) as engine:
        table = engine.execute(
            q(
                "SELECT date_trunc('day', sold_at) AS day, CAST(sold_at AS VARCHAR) AS shown "
                "FROM gold.sales WHERE id = 23"
            ),
            tables={"gold.sales": head},
        )
    # 23:30 UTC is already the next day in Tokyo: the day must still be the UTC one.
    assert table.to_pylist() == [
        {"day": datetime(2024, 4, 24, tzinfo=UTC), "shown": "2024-04-24 23:30:00+00"}
    ]
    assert table.schema.field("day").type == pa.timestamp("us", tz="UTC")
