"""SparkEngine over real Delta tables, checked against DuckDB on the same table versions."""

import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
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
    TableSource,
    UnboundTable,
)
from gnomon.errors import ConfigError, InternalError, InvalidInput, MissingDependency, NotFound
from gnomon.lake import Lake, TableSnapshot
from gnomon.quality import CheckPlan, ContractSpec, compile_contract

pytestmark = pytest.mark.spark

TENANT = "_tenant_id"
SALES_V0 = pa.table(
    {
        "order_id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], pa.int64()),
        "region": ["north", "north", "south", "south", "east", "north", "south", None],
        "channel": ["web", "shop", "web", "web", "shop", "web", "shop", "web"],
        "amount": [10.5, 20.0, 7.25, 100.0, 3.0, 42.0, 0.5, 9.0],
        "qty": pa.array([1, 2, 1, 5, 1, 3, 1, 2], pa.int64()),
        "sold_at": pa.array(
            [
                datetime(2024, 1, 3, 10, 0, tzinfo=UTC),
                datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC),
                datetime(2024, 2, 1, 0, 0, tzinfo=UTC),
                datetime(2024, 2, 14, 12, 30, tzinfo=UTC),
                datetime(2024, 3, 10, 7, 30, tzinfo=UTC),
                datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
                datetime(2024, 12, 30, 8, 0, tzinfo=UTC),
                datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        "sold_on": pa.array(
            [date(2024, 1, 3), date(2024, 1, 31), date(2024, 2, 1), date(2024, 2, 14)] * 2,
            pa.date32(),
        ),
        "price": pa.array(
            [Decimal("10.50"), Decimal("10.00"), Decimal("7.25"), Decimal("20.00")] * 2,
            pa.decimal128(10, 2),
        ),
        TENANT: ["acme", "acme", "acme", "007", "007", "ä b", "ä b", "acme"],
    }
)
SALES_V1 = pa.table(
    {
        "order_id": pa.array([9, 10], pa.int64()),
        "region": ["north", "east"],
        "channel": ["web", "web"],
        "amount": [1.0, 2.0],
        "qty": pa.array([1, 1], pa.int64()),
        "sold_at": pa.array(
            [datetime(2024, 1, 4, tzinfo=UTC), datetime(2024, 3, 11, tzinfo=UTC)],
            pa.timestamp("us", tz="UTC"),
        ),
        "sold_on": pa.array([date(2024, 1, 4), date(2024, 3, 11)], pa.date32()),
        "price": pa.array([Decimal("1.00"), Decimal("2.00")], pa.decimal128(10, 2)),
        "discount": [0.1, None],
        TENANT: ["acme", "007"],
    }
)

PARITY_QUERIES = {
    "group_by": """
        SELECT region, channel, sum(amount) AS revenue, count(*) AS orders,
               count(DISTINCT order_id) AS distinct_orders, avg(qty) AS avg_qty,
               min(sold_at) AS first_sale, max(price) AS top_price
        FROM silver.sales GROUP BY region, channel""",
    "month": """
        SELECT date_trunc('month', sold_at) AS month, sum(amount) AS revenue, count(*) AS n
        FROM silver.sales GROUP BY 1""",
    "week_and_year": """
        SELECT date_trunc('week', sold_at) AS week, date_trunc('year', sold_at) AS year,
               sum(qty) AS qty
        FROM silver.sales GROUP BY 1, 2""",
    "window": """
        SELECT order_id, region,
               sum(amount) OVER (PARTITION BY region ORDER BY sold_at, order_id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
               row_number() OVER (PARTITION BY region ORDER BY amount DESC, order_id) AS rank,
               lag(amount) OVER (ORDER BY sold_at, order_id) AS previous
        FROM silver.sales""",
    "trailing_window": """
        SELECT day,
               sum(revenue) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS r7
        FROM (SELECT sold_on AS day, sum(amount) AS revenue FROM silver.sales
              GROUP BY sold_on) AS d""",
    "column_added_later": """
        SELECT order_id, discount, coalesce(discount, 0) AS d FROM silver.sales""",
    "partition_column": """
        SELECT _tenant_id, count(*) AS n, sum(amount) AS revenue FROM silver.sales
        GROUP BY _tenant_id HAVING count(*) > 0""",
    "ratio_cte_join": """
        WITH per_region AS (
            SELECT region, sum(amount) AS revenue, sum(qty) AS qty FROM silver.sales
            WHERE channel = 'web' GROUP BY region
        )
        SELECT p.region, p.revenue / nullif(p.qty, 0) AS per_unit, t.total
        FROM per_region AS p
        CROSS JOIN (SELECT sum(amount) AS total FROM silver.sales) AS t""",
    "filters_and_case": """
        SELECT CASE WHEN amount >= 10 THEN 'big' ELSE 'small' END AS size, count(*) AS n,
               sum(CASE WHEN channel = 'web' THEN amount ELSE 0 END) AS web
        FROM silver.sales
        WHERE sold_at >= TIMESTAMP '2024-02-01 00:00:00' AND region IS NOT NULL
        GROUP BY 1""",
}


def parse(sql: str) -> exp.Query:
    tree = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(tree, exp.Query)
    return tree


def normal(value: Any) -> Any:
    """Values as both engines agree on them: numbers as rounded floats, instants in UTC."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float | int):
        return round(float(value), 9)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return value


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    data = table.to_pylist()
    return sorted(
        (tuple(normal(row[name]) for name in table.column_names) for row in data),
        key=repr,
    )


def write(lake: Lake, layer: str, name: str, data: pa.Table, batch: str = "b1") -> TableSnapshot:
    lake.append(layer, name, data, batch_id=batch)
    return lake.snapshot(layer, name)


@pytest.fixture
def sales(lake: Lake) -> dict[str, TableSnapshot]:
    """silver.sales in two versions: ``discount`` arrives with the second."""
    write(lake, "silver", "sales", SALES_V0, batch="v0")
    return {"silver.sales": write(lake, "silver", "sales", SALES_V1, batch="v1")}


def test_satisfies_the_engine_protocol(spark_engine: Any) -> None:
    typed: Engine = spark_engine
    assert (typed.name, typed.dialect) == ("spark", "spark")
    assert spark_engine.session.conf.get("spark.sql.session.timeZone") == "UTC"


@pytest.mark.parametrize("query", sorted(PARITY_QUERIES))
def test_gives_the_same_rows_as_duckdb(
    query: str, sales: dict[str, TableSnapshot], spark_engine: Any, duckdb_engine: DuckDBEngine
) -> None:
    tree = parse(PARITY_QUERIES[query])

    expected = duckdb_engine.execute(tree, tables=sales)
    found = spark_engine.execute(tree, tables=sales)

    assert found.column_names == expected.column_names
    assert rows(found) == rows(expected)
    assert found.num_rows > 0


def test_types_are_those_of_the_table(sales: dict[str, TableSnapshot], spark_engine: Any) -> None:
    table = spark_engine.execute(parse("SELECT * FROM silver.sales"), tables=sales)

    schema = sales["silver.sales"].schema
    assert table.column_names == schema.names
    assert table.schema.field("sold_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("sold_on").type == pa.date32()
    assert table.schema.field("price").type == pa.decimal128(10, 2)
    assert table.schema.field(TENANT).type == pa.string()
    assert all(field.nullable for field in table.schema)
    assert table.num_rows == 10


def test_partition_values_are_read_from_the_paths(lake: Lake, spark_engine: Any) -> None:
    tenants = ["a b", "x/y", "ä%", "=q", "007", "p+q", "日本", "100%"]
    source = write(
        lake,
        "bronze",
        "odd",
        pa.table({"id": pa.array(range(len(tenants)), pa.int64()), TENANT: tenants}),
    )
    assert source.partition_columns == (TENANT,)

    table = spark_engine.execute(
        parse("SELECT id, _tenant_id FROM bronze.odd"), tables={"bronze.odd": source}
    )
    assert sorted((r["id"], r[TENANT]) for r in table.to_pylist()) == list(enumerate(tenants))
    scoped = spark_engine.execute(
        parse("SELECT id FROM bronze.odd WHERE _tenant_id = 'ä%'"), tables={"bronze.odd": source}
    )
    assert scoped.column("id").to_pylist() == [2]


def test_columns_added_later_read_as_null_in_old_files(
    lake: Lake, sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    head = sales["silver.sales"]
    old_files = lake.snapshot("silver", "sales", version=0).files
    only_old = replace(head, files=old_files)

    table = spark_engine.execute(
        parse("SELECT count(*) AS n, count(discount) AS d FROM silver.sales"),
        tables={"silver.sales": only_old},
    )
    assert table.to_pylist() == [{"n": 8, "d": 0}]
    table = spark_engine.execute(
        parse("SELECT order_id, discount FROM silver.sales WHERE order_id IN (1, 9)"),
        tables={"silver.sales": head},
    )
    assert sorted(table.to_pylist(), key=lambda r: r["order_id"]) == [
        {"order_id": 1, "discount": None},
        {"order_id": 9, "discount": 0.1},
    ]


def test_a_table_without_files_is_empty_with_its_columns(
    lake: Lake, sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    empty = replace(sales["silver.sales"], version=99, files=())

    table = spark_engine.execute(
        parse("SELECT * FROM silver.sales"), tables={"silver.sales": empty}
    )
    assert table.num_rows == 0
    assert table.column_names == sales["silver.sales"].schema.names
    counted = spark_engine.execute(
        parse("SELECT count(*) AS n, max(amount) AS m FROM silver.sales"),
        tables={"silver.sales": empty},
    )
    assert counted.to_pylist() == [{"n": 0, "m": None}]


def test_each_version_is_read_as_given_and_views_are_cached(
    lake: Lake, sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    first = lake.snapshot("silver", "sales", version=0)
    second = sales["silver.sales"]
    query = parse("SELECT count(*) AS n FROM silver.sales")

    counts = [
        spark_engine.execute(query, tables={"silver.sales": s}).column("n")[0].as_py()
        for s in (first, second, first, second)
    ]

    assert counts == [8, 10, 8, 10]
    assert spark_engine.views_created == 2
    both = spark_engine.execute(
        parse("SELECT (SELECT count(*) FROM silver.sales) AS n, count(*) AS m FROM gold.copy"),
        tables={"silver.sales": first, "gold.copy": replace(second, version=50)},
    )
    assert both.to_pylist() == [{"n": 8, "m": 10}]


def test_least_recently_used_views_are_dropped(
    lake: Lake, sales: dict[str, TableSnapshot], spark_session: Any
) -> None:
    from gnomon.engine.spark import SparkEngine

    first = lake.snapshot("silver", "sales", version=0)
    second = sales["silver.sales"]
    query = parse("SELECT count(*) AS n FROM silver.sales")
    with SparkEngine(session=spark_session, max_cached_views=1) as engine:
        counts = [
            engine.execute(query, tables={"silver.sales": s}).column("n")[0].as_py()
            for s in (first, second, first, first)
        ]
        assert counts == [8, 10, 8, 8]
        assert engine.views_created == 3
        views = {t.name for t in spark_session.catalog.listTables() if t.isTemporary}
        assert len({v for v in views if v.startswith("gnomon_silver_sales")}) == 1


def test_a_lake_table_without_a_source_is_unbound(
    sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    with pytest.raises(UnboundTable) as caught:
        spark_engine.execute(
            parse("SELECT * FROM silver.sales JOIN gold.daily USING (order_id)"), tables=sales
        )
    assert isinstance(caught.value, NotFound)
    assert caught.value.details["tables"] == ["gold.daily"]


def test_engine_errors_become_query_errors(
    sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    with pytest.raises(QueryError) as caught:
        spark_engine.execute(parse("SELECT nope FROM silver.sales"), tables=sales)
    assert isinstance(caught.value, InvalidInput)
    assert "nope" in caught.value.message
    assert caught.value.details["condition"].startswith("UNRESOLVED_COLUMN")
    assert "UNRESOLVED_COLUMN" in caught.value.details["engine_message"]
    assert "FROM" in caught.value.details["sql"]

    with pytest.raises(QueryError, match="CAST_INVALID_INPUT"):
        spark_engine.execute(
            parse("SELECT CAST(region AS INT) AS r FROM silver.sales"), tables=sales
        )


def test_only_single_queries_run(spark_engine: Any, spark_session: Any) -> None:
    drop = exp.Drop(this=exp.to_table("anything"), kind="VIEW", exists=True)
    with pytest.raises(QueryError, match="single queries only"):
        spark_engine.execute(drop, tables={})
    create = sqlglot.parse_one("CREATE TEMPORARY VIEW sneaky AS SELECT 1 AS x", read="spark")
    with pytest.raises(QueryError, match="single queries only"):
        spark_engine.execute(create, tables={})
    assert not spark_session.catalog.tableExists("sneaky")


def test_sql_on_files_is_refused(
    lake: Lake, sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    path = sales["silver.sales"].files[0]
    tree = exp.select("*").from_(exp.Table(this=exp.to_identifier(path, quoted=True), db="parquet"))
    with pytest.raises(QueryError, match="TABLE_OR_VIEW_NOT_FOUND"):
        spark_engine.execute(tree, tables={})


def test_the_engines_own_views_cannot_be_named(
    sales: dict[str, TableSnapshot], spark_engine: Any, spark_session: Any
) -> None:
    spark_engine.execute(parse("SELECT 1 AS x FROM silver.sales"), tables=sales)
    names = [t.name for t in spark_session.catalog.listTables() if t.isTemporary]
    internal = next(n for n in names if n.startswith("gnomon_silver_sales"))

    with pytest.raises(QueryError, match="own views"):
        spark_engine.execute(exp.select("*").from_(exp.to_table(internal)), tables={})


def test_relations_are_registered_for_one_call(spark_engine: Any, spark_session: Any) -> None:
    tree = parse("SELECT sum(a) AS s, max(b) AS b FROM extra")
    extra = pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]})

    table = spark_engine.execute(tree, tables={}, relations={"extra": extra})

    assert table.to_pylist() == [{"s": 6, "b": "z"}]
    assert not [t for t in spark_session.catalog.listTables() if "relation" in t.name]
    with pytest.raises(QueryError, match="extra"):
        spark_engine.execute(tree, tables={})
    with pytest.raises(InvalidInput, match="layer"):
        spark_engine.execute(tree, tables={}, relations={"silver": extra})


def test_relations_join_lake_tables_and_yield_to_ctes(
    sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    targets = pa.table({"region": ["north", "south"], "target": [50.0, 100.0]})
    tree = parse(
        "SELECT s.region, sum(s.amount) / max(t.target) AS attainment "
        "FROM silver.sales AS s JOIN targets AS t ON s.region = t.region GROUP BY s.region"
    )
    table = spark_engine.execute(tree, tables=sales, relations={"targets": targets})
    assert rows(table) == [("north", normal(73.5 / 50)), ("south", normal(107.75 / 100))]

    shadowed = parse("WITH targets AS (SELECT 1 AS one) SELECT one FROM targets")
    assert spark_engine.execute(
        shadowed, tables={}, relations={"targets": targets}
    ).to_pylist() == [{"one": 1}]


def test_materialized_results_are_read_until_the_block_ends(
    sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    tree = parse("SELECT order_id, amount FROM silver.sales WHERE _tenant_id = 'acme'")
    with spark_engine.materialize(tree, tables=sales, name="acme orders") as scratch:
        total = exp.select(exp.func("sum", exp.column("amount")).as_("total")).from_(scratch.copy())
        count = exp.select(exp.func("count", exp.Star()).as_("n")).from_(scratch.copy())
        assert spark_engine.execute(total, tables={}).to_pylist() == [{"total": 47.75}]
        assert spark_engine.execute(count, tables={}).to_pylist() == [{"n": 5}]
        streamed = spark_engine.stream(exp.select("*").from_(scratch.copy()), tables={})
        assert sorted(streamed.read_all().column("order_id").to_pylist()) == [1, 2, 3, 8, 9]
    with pytest.raises(QueryError):
        spark_engine.execute(count, tables={})


def test_materializing_a_failing_query_raises_at_once(
    sales: dict[str, TableSnapshot], spark_engine: Any
) -> None:
    bad = parse("SELECT CAST(channel AS INT) AS c FROM silver.sales")
    with (
        pytest.raises(QueryError, match="CAST_INVALID_INPUT"),
        spark_engine.materialize(bad, tables=sales),
    ):
        pass


def test_limit_is_honoured(sales: dict[str, TableSnapshot], spark_engine: Any) -> None:
    query = parse("SELECT order_id, amount FROM silver.sales ORDER BY amount DESC")

    top = spark_engine.execute(query, tables=sales, limit=2)
    none = spark_engine.execute(query, tables=sales, limit=0)

    assert top.column("amount").to_pylist() == [100.0, 42.0]
    assert none.num_rows == 0
    assert none.column_names == ["order_id", "amount"]
    with pytest.raises(InvalidInput, match="negative"):
        spark_engine.execute(query, tables=sales, limit=-1)


def test_stream_returns_every_row_in_bounded_batches(lake: Lake, spark_engine: Any) -> None:
    data = pa.table(
        {
            "id": pa.array(range(3_000), pa.int64()),
            TENANT: ["acme" if i % 3 else "globex" for i in range(3_000)],
        }
    )
    source = write(lake, "bronze", "big", data)

    reader = spark_engine.stream(
        parse("SELECT id FROM bronze.big ORDER BY id"),
        tables={"bronze.big": source},
        batch_rows=256,
    )

    assert isinstance(reader, pa.RecordBatchReader)
    sizes, ids = [], []
    for batch in reader:
        sizes.append(batch.num_rows)
        ids.extend(batch.column("id").to_pylist())
    assert len(sizes) > 1
    assert max(sizes) <= 256
    assert ids == list(range(3_000))
    with pytest.raises(InvalidInput, match="batch_rows"):
        spark_engine.stream(parse("SELECT 1 AS x"), tables={}, batch_rows=0)


@pytest.fixture
def new_york() -> Iterator[None]:
    """The Python process in a zone with daylight saving, as pyspark's conversions see it."""
    import os

    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_streamed_values_equal_executed_values(
    sales: dict[str, TableSnapshot], spark_engine: Any, new_york: None
) -> None:
    tree = parse(
        "SELECT order_id, sold_at, sold_on, price, discount, "
        "struct_pack(at := sold_at, r := region) AS s, [sold_at] AS l, "
        "map([region], [sold_at]) AS m FROM silver.sales WHERE region IS NOT NULL"
    )

    executed = spark_engine.execute(tree, tables=sales)
    streamed = spark_engine.stream(tree, tables=sales, batch_rows=3).read_all()

    assert streamed.schema == executed.schema
    assert streamed.sort_by("order_id").to_pylist() == executed.sort_by("order_id").to_pylist()
    march = next(r for r in executed.to_pylist() if r["order_id"] == 5)
    assert march["sold_at"] == datetime(2024, 3, 10, 7, 30, tzinfo=UTC)


def test_errors_while_streaming_are_query_errors(lake: Lake, spark_engine: Any) -> None:
    data = pa.table({"v": [str(i) for i in range(500)] + ["x"], TENANT: ["acme"] * 501})
    source = write(lake, "bronze", "texts", data)
    reader = spark_engine.stream(
        parse("SELECT CAST(v AS INT) AS n FROM bronze.texts"),
        tables={"bronze.texts": source},
        batch_rows=10,
    )
    with pytest.raises(QueryError, match="CAST_INVALID_INPUT"):
        reader.read_all()


def test_files_outside_the_allowed_roots_are_refused(
    sales: dict[str, TableSnapshot], spark_session: Any, tmp_path: Path
) -> None:
    from gnomon.engine.spark import SparkEngine

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with SparkEngine(session=spark_session, allowed_roots=[str(elsewhere)]) as engine:
        with pytest.raises(ConfigError, match="allowed roots"):
            engine.execute(parse("SELECT * FROM silver.sales"), tables=sales)
        assert engine.views_created == 0


def test_file_uris_are_read(sales: dict[str, TableSnapshot], spark_engine: Any) -> None:
    source = sales["silver.sales"]
    as_uris = replace(source, version=7, files=tuple(Path(f).as_uri() for f in source.files))
    table = spark_engine.execute(
        parse("SELECT count(*) AS n FROM silver.sales"), tables={"silver.sales": as_uris}
    )
    assert table.to_pylist() == [{"n": 10}]


def test_an_engine_reusing_the_session_leaves_it_running(spark_session: Any) -> None:
    from gnomon.engine.spark import SparkEngine

    engine = SparkEngine()
    assert engine.session.sparkContext is spark_session.sparkContext
    engine.close()
    engine.close()

    assert spark_session.sql("SELECT 1 AS x").collect()[0].x == 1
    with pytest.raises(InternalError, match="close"):
        engine.execute(parse("SELECT 1 AS x"), tables={})


def test_invalid_settings_are_config_errors(spark_session: Any) -> None:
    from gnomon.engine.spark import SparkEngine

    with pytest.raises(ConfigError, match="max_cached_views"):
        SparkEngine(session=spark_session, max_cached_views=0)


# ---------------------------------------------------------------------- contract checks

CONTRACT = ContractSpec.model_validate(
    {
        "dataset": "orders",
        "version": 1,
        "primary_key": ["id"],
        "ordering": "at",
        "columns": {
            "id": {"type": "string", "regex": "^O[0-9]+$", "unique": True},
            "at": {"type": "timestamp", "required": True},
            "n": {"type": "integer", "min": 1, "max": 100},
            "price": {"type": "decimal(8,2)", "max": 500, "severity": "warn"},
            "flag": {"type": "boolean"},
            "day": {"type": "date", "min": "2020-01-01"},
            "tag": {"type": "string", "allowed": ["a", "b"], "severity": "warn"},
        },
        "checks": {
            "row_count": {"min": 1, "max": 100},
            "freshness": {"column": "at", "max_age": "30d"},
        },
    }
)
RAW_COLUMNS = ["id", "at", "n", "price", "flag", "day", "tag"]
RAW_ROWS: list[tuple[str | None, ...]] = [
    ("O1", "2024-01-01 10:00:00", "5", "9.99", "true", "2024-01-01", "a"),
    ("O1", "2024-01-02T10:00:00Z", " 7 ", "600", "Y", " 2024-05-05 ", "c"),
    ("O1", "2024-01-03 10:00:00+02:00", "1.5", "1", "0", "2024-01-01", "a"),
    ("O2", "2024-03-01 00:00:00.123456", "100", "12.345", "no", None, ""),
    ("O2", "2024-03-01 00:00:00", "3", "x", "1", "2024-01-01", "a"),
    ("O3", "2024-05-05", "0", " 3.5 ", "maybe", "2019-12-31", "b"),
    ("bad", "2024-05-05 10:00", "101", "-1", "TRUE", "01/02/2024", "a"),
    (" ", "   ", "", "", "", "", "a"),
    ("O4", "2024-01-01T10", "1e3", "1e3", "yes", "2021-06-30", "b"),
    ("O5", "2024-07-07 07:07:07", "+4", ".5", " N ", "2024-07-07", "b"),
]
NOW = datetime(2024, 7, 20, tzinfo=UTC)


@pytest.fixture
def bronze(lake: Lake) -> dict[str, TableSnapshot]:
    columns = list(zip(*RAW_ROWS, strict=True))
    data = {n: pa.array(v, pa.string()) for n, v in zip(RAW_COLUMNS, columns, strict=True)}
    table = pa.table(
        {
            **data,
            "_row": pa.array(range(1, len(RAW_ROWS) + 1), pa.int64()),
            TENANT: pa.array(["t1"] * len(RAW_ROWS), pa.string()),
        }
    )
    return {"bronze.orders": write(lake, "bronze", "orders", table)}


def contract_plan(source: TableSource, dialect: Any) -> CheckPlan:
    raw = {field.name: field.type for field in source.schema}
    return compile_contract(CONTRACT, raw_columns=raw, dialect=dialect)


def check_results(
    engine: Any, plan: CheckPlan, tables: Mapping[str, TableSource]
) -> list[dict[str, Any]]:
    source = exp.to_table("bronze.orders")
    with engine.materialize(plan.valid(source), tables=tables, name="valid") as candidate:
        results = []
        for check in plan.dataset_checks:
            table = engine.execute(check.query(candidate.copy(), None), tables=tables)
            row = table.to_pylist()[0] if table.num_rows else {}
            results.append(check.evaluate(row, now=NOW).to_dict())
    return results


@pytest.mark.parametrize("method", ["checked", "valid", "quarantined", "warnings"])
def test_contract_row_checks_agree_with_duckdb(
    method: str, bronze: dict[str, TableSnapshot], spark_engine: Any, duckdb_engine: DuckDBEngine
) -> None:
    source_table = exp.to_table("bronze.orders")
    snapshot = bronze["bronze.orders"]
    on_duckdb = getattr(contract_plan(snapshot, "duckdb"), method)(source_table)
    on_spark = getattr(contract_plan(snapshot, "spark"), method)(source_table)

    expected = duckdb_engine.execute(on_duckdb, tables=bronze)
    found = spark_engine.execute(on_spark, tables=bronze)

    assert found.column_names == expected.column_names
    assert rows(found) == rows(expected)
    assert found.num_rows > 0


def test_contract_counts_and_dataset_checks_agree_with_duckdb(
    bronze: dict[str, TableSnapshot], spark_engine: Any, duckdb_engine: DuckDBEngine
) -> None:
    snapshot = bronze["bronze.orders"]
    source = exp.to_table("bronze.orders")
    counts = {}
    for name, engine in (("duckdb", duckdb_engine), ("spark", spark_engine)):
        plan = contract_plan(snapshot, name)
        valid = engine.execute(plan.valid(source.copy()), tables=bronze)
        quarantined = engine.execute(plan.quarantined(source.copy()), tables=bronze)
        counts[name] = (
            sorted(valid.column("id").to_pylist()),
            quarantined.num_rows,
            check_results(engine, plan, bronze),
        )

    assert counts["spark"] == counts["duckdb"]
    valid_ids, quarantined, checks = counts["spark"]
    assert valid_ids == ["O1", "O2", "O5"]
    assert quarantined == 6
    by_rule = {c["rule"]: c for c in checks}
    assert by_rule["row_count"]["passed"] is True
    assert by_rule["row_count"]["observed"] == 3
    assert by_rule["freshness"]["passed"] is True
    assert by_rule["id.unique"]["passed"] is True


def test_unique_check_finds_repeats_on_spark(spark_engine: Any) -> None:
    plan = compile_contract(
        CONTRACT, raw_columns={n: pa.string() for n in RAW_COLUMNS}, dialect="spark"
    )
    unique = next(c for c in plan.dataset_checks if c.name == "id.unique")
    candidate = exp.to_table("candidate")
    data = pa.table({"id": ["O1", "O1", "O2", None, None]})

    table = spark_engine.execute(
        unique.query(candidate, None), tables={}, relations={"candidate": data}
    )
    result = unique.evaluate(table.to_pylist()[0], now=NOW)

    assert (result.passed, result.observed, result.failed_rows) == (False, 1, 2)
    assert "'O1'" in result.message


def test_freshness_uses_utc_instants(spark_engine: Any) -> None:
    plan = compile_contract(
        CONTRACT, raw_columns={n: pa.string() for n in RAW_COLUMNS}, dialect="spark"
    )
    freshness = next(c for c in plan.dataset_checks if c.name == "freshness")
    latest = datetime(2024, 7, 1, 23, 30, tzinfo=UTC)
    data = pa.table({"at": pa.array([latest, None], pa.timestamp("us", tz="UTC"))})

    table = spark_engine.execute(
        freshness.query(exp.to_table("candidate"), None), tables={}, relations={"candidate": data}
    )
    row = table.to_pylist()[0]

    assert row["latest"] == latest
    assert freshness.evaluate(row, now=latest + timedelta(days=31)).passed is False
    assert freshness.evaluate(row, now=latest + timedelta(days=29)).passed is True


def test_concurrent_calls_see_only_their_own_relations(spark_engine: Any) -> None:
    tree = parse("SELECT sum(a) AS s FROM extra")

    def total(i: int) -> tuple[int, int]:
        extra = pa.table({"a": [i, i, i]})
        table = spark_engine.execute(tree, tables={}, relations={"extra": extra})
        return i, table.column("s")[0].as_py()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(total, range(12)))

    assert results == [(i, 3 * i) for i in range(12)]


def test_a_missing_pyspark_is_a_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    from gnomon.engine.spark import SparkEngine

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(MissingDependency) as caught:
        SparkEngine()
    assert "gnomon[spark]" in str(caught.value.hint)


def test_missing_java_is_reported_with_a_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    from gnomon.engine import _spark_session

    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(EngineUnavailable) as caught:
        _spark_session._check_java()
    assert "Java 17" in str(caught.value.hint)
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("raw", "spark_reads"),
    [
        ("a%20b", "a b"),
        ("%C3%A4", "\u00c3\u00a4"),
        ("100%", "100%"),
        ("%-1x", "%-1x"),
        ("%+1", "\x01"),
    ],
)
def test_partition_values_are_unescaped_as_spark_does(raw: str, spark_reads: str) -> None:
    from gnomon.engine import _spark_files

    assert _spark_files._spark_unescape(raw) == spark_reads
