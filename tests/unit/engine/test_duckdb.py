"""DuckDBEngine against real Delta tables under tmp_path."""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
from deltalake import DeltaTable
from sqlglot import exp

from gnomon.engine import (
    TENANT_COLUMN,
    DuckDBEngine,
    Engine,
    EngineUnavailable,
    QueryError,
    UnboundTable,
    parse_read_only,
)
from gnomon.errors import ConfigError, InternalError, InvalidInput, NotFound

TENANT = TENANT_COLUMN


def _rows(table: pa.Table, *columns: str) -> list[tuple[object, ...]]:
    data = table.to_pylist()
    return sorted(tuple(row[c] for c in columns) for row in data)


def _orders(lake):
    return lake.write("silver", "orders", lake.ORDERS)


def _append_order(lake):
    row = {"order_id": 9, "customer_id": 1, "amount": 5.0, TENANT: "acme"}
    return lake.write("silver", "orders", [row])


def test_satisfies_the_engine_protocol(engine: DuckDBEngine) -> None:
    typed: Engine = engine
    assert (typed.name, typed.dialect) == ("duckdb", "duckdb")


def test_reads_a_partitioned_delta_table(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    assert len(source.files) == 3
    table = engine.execute(
        parse_read_only("SELECT * FROM silver.orders"), tables={"silver.orders": source}
    )
    assert table.column_names == ["order_id", "customer_id", "amount", TENANT]
    assert _rows(table, TENANT, "order_id", "amount") == sorted(
        (r[TENANT], r["order_id"], r["amount"]) for r in lake.ORDERS
    )


def test_running_a_query_leaves_its_tree_as_it_was(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    tree = parse_read_only(
        "SELECT silver.orders.order_id, o.amount FROM silver.orders "
        "JOIN silver.orders AS o ON o.order_id = silver.orders.order_id"
    )
    before = tree.sql(dialect="duckdb")
    tables_before = [t.parent for t in tree.find_all(exp.Table)]
    table = engine.execute(tree, tables={"silver.orders": source})
    ids = [row["order_id"] for row in lake.ORDERS]
    assert table.num_rows == sum(ids.count(i) for i in ids)  # each id joined with its repeats
    assert tree.sql(dialect="duckdb") == before
    assert [t.parent for t in tree.find_all(exp.Table)] == tables_before
    again = engine.execute(tree, tables={"silver.orders": source})
    assert _rows(again, "order_id", "amount") == _rows(table, "order_id", "amount")


def test_a_tree_run_again_over_a_new_version_reads_the_new_version(
    lake, engine: DuckDBEngine
) -> None:
    tree = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    first = engine.execute(tree, tables={"silver.orders": _orders(lake)})
    later = engine.execute(tree, tables={"silver.orders": _append_order(lake)})
    assert later.column("n")[0].as_py() == first.column("n")[0].as_py() + 1


def test_partition_values_stay_strings(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    table = engine.execute(
        parse_read_only(
            "SELECT _tenant_id, typeof(_tenant_id) AS t, count(*) AS n FROM silver.orders "
            "WHERE _tenant_id = '123' GROUP BY ALL"
        ),
        tables={"silver.orders": source},
    )
    assert table.to_pylist() == [{TENANT: "123", "t": "VARCHAR", "n": 1}]
    assert table.schema.field(TENANT).type == pa.string()


def test_partition_values_with_special_characters(lake, engine: DuckDBEngine) -> None:
    tenants = ["a b", "x/y", "ä%", "=q", "007"]
    source = lake.write("bronze", "odd", [{"id": i, TENANT: t} for i, t in enumerate(tenants)])
    table = engine.execute(
        parse_read_only("SELECT id, _tenant_id FROM bronze.odd"), tables={"bronze.odd": source}
    )
    assert _rows(table, "id", TENANT) == list(enumerate(tenants))


def test_a_table_without_files_reads_as_empty_with_its_columns(lake, engine: DuckDBEngine) -> None:
    schema = pa.schema(
        [("id", pa.int64()), ("at", pa.timestamp("us", tz="UTC")), (TENANT, pa.string())]
    )
    source = lake.write("gold", "empty", pa.Table.from_pylist([], schema))
    assert source.files == ()
    table = engine.execute(
        parse_read_only("SELECT * FROM gold.empty WHERE _tenant_id = 'acme'"),
        tables={"gold.empty": source},
    )
    assert table.num_rows == 0
    assert table.schema.names == ["id", "at", TENANT]
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field(TENANT).type == pa.string()
    assert pa.types.is_timestamp(table.schema.field("at").type)


def test_a_table_whose_rows_were_all_deleted_is_empty(lake, engine: DuckDBEngine) -> None:
    _orders(lake)
    DeltaTable(str(lake.path("silver", "orders"))).delete()
    source = lake.snapshot("silver", "orders")
    assert source.files == ()
    table = engine.execute(
        parse_read_only("SELECT count(*) AS n, max(amount) AS m FROM silver.orders"),
        tables={"silver.orders": source},
    )
    assert table.to_pylist() == [{"n": 0, "m": None}]


def test_columns_added_later_read_as_null_in_old_files(lake, engine: DuckDBEngine) -> None:
    lake.write("silver", "events", [{"id": 1, TENANT: "acme"}])
    lake.write("silver", "events", [{"id": 2, "note": "new", TENANT: "acme"}])
    head = lake.snapshot("silver", "events")
    table = engine.execute(
        parse_read_only("SELECT id, note FROM silver.events ORDER BY id"),
        tables={"silver.events": head},
    )
    assert table.to_pylist() == [{"id": 1, "note": None}, {"id": 2, "note": "new"}]
    only_old = replace(head, files=lake.snapshot("silver", "events", version=0).files)
    table = engine.execute(
        parse_read_only("SELECT id, note FROM silver.events"), tables={"silver.events": only_old}
    )
    assert table.to_pylist() == [{"id": 1, "note": None}]
    assert table.schema.field("note").type == pa.string()


def test_time_travel_two_versions_in_one_process(lake, engine: DuckDBEngine) -> None:
    first = _orders(lake)
    second = _append_order(lake)
    assert (first.version, second.version) == (0, 1)
    query = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    counts = [
        engine.execute(query, tables={"silver.orders": source}).column("n")[0].as_py()
        for source in (first, second, first)
    ]
    assert counts == [6, 7, 6]


def test_two_versions_of_one_table_in_one_query(lake, engine: DuckDBEngine) -> None:
    first = _orders(lake)
    second = _append_order(lake)
    lake.write("gold", "marker", [{"id": 1, TENANT: "acme"}])
    query = parse_read_only(
        "SELECT (SELECT count(*) FROM silver.orders) AS n, count(*) AS m FROM gold.marker"
    )
    assert engine.execute(
        query, tables={"silver.orders": second, "gold.marker": lake.snapshot("gold", "marker")}
    ).to_pylist() == [{"n": 7, "m": 1}]
    assert engine.execute(
        query, tables={"silver.orders": first, "gold.marker": lake.snapshot("gold", "marker")}
    ).to_pylist() == [{"n": 6, "m": 1}]


def test_a_repeated_query_creates_no_view(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    query = parse_read_only("SELECT sum(amount) AS s FROM silver.orders")
    engine.execute(query, tables={"silver.orders": source})
    assert engine.views_created == 1
    for _ in range(3):
        engine.execute(query, tables={"silver.orders": lake.snapshot("silver", "orders")})
    assert engine.views_created == 1
    lake.write("silver", "orders", [{"order_id": 9, "customer_id": 1, "amount": 5.0, TENANT: "x"}])
    engine.execute(query, tables={"silver.orders": lake.snapshot("silver", "orders")})
    assert engine.views_created == 2


def test_same_version_with_other_files_is_another_view(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    acme_only = replace(source, files=tuple(f for f in source.files if "=acme" in f))
    query = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    full = engine.execute(query, tables={"silver.orders": source})
    part = engine.execute(query, tables={"silver.orders": acme_only})
    assert (full.column("n")[0].as_py(), part.column("n")[0].as_py()) == (6, 3)
    assert engine.views_created == 2


def test_least_recently_used_views_are_dropped_and_recreated(lake) -> None:
    first = _orders(lake)
    second = _append_order(lake)
    query = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    with DuckDBEngine(allowed_roots=[str(lake.root)], max_cached_views=1) as engine:
        counts = [
            engine.execute(query, tables={"silver.orders": source}).column("n")[0].as_py()
            for source in (first, second, first, first)
        ]
        assert counts == [6, 7, 6, 6]
        assert engine.views_created == 3


def test_dropping_a_view_does_not_break_a_running_stream(lake) -> None:
    first = _orders(lake)
    second = _append_order(lake)
    count = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    with DuckDBEngine(allowed_roots=[str(lake.root)], max_cached_views=1) as engine:
        reader = engine.stream(
            parse_read_only("SELECT * FROM silver.orders"),
            tables={"silver.orders": first},
            batch_rows=1,
        )
        first_batch = reader.read_next_batch()
        engine.execute(count, tables={"silver.orders": second})
        engine.execute(count, tables={"silver.orders": first})
        assert engine.views_created == 3
        rest = reader.read_all()
        assert first_batch.num_rows + rest.num_rows == 6


def test_stream_returns_every_row_in_several_batches(lake, engine: DuckDBEngine) -> None:
    rows = [{"id": i, "v": i * 2, TENANT: "acme" if i % 3 else "globex"} for i in range(5_000)]
    source = lake.write("bronze", "big", rows)
    reader = engine.stream(
        parse_read_only("SELECT id, v FROM bronze.big"),
        tables={"bronze.big": source},
        batch_rows=512,
    )
    assert isinstance(reader, pa.RecordBatchReader)
    sizes = []
    ids = []
    for batch in reader:
        sizes.append(batch.num_rows)
        ids.extend(batch.column("id").to_pylist())
    assert len(sizes) > 1
    assert max(sizes) <= 512
    assert sorted(ids) == list(range(5_000))


def test_a_stream_outlives_later_calls(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    reader = engine.stream(
        parse_read_only("SELECT order_id FROM silver.orders"),
        tables={"silver.orders": source},
        batch_rows=1,
    )
    engine.execute(parse_read_only("SELECT 1"), tables={})
    assert reader.read_all().num_rows == 6


def test_errors_while_streaming_are_query_errors(engine: DuckDBEngine) -> None:
    tree = sqlglot.parse_one(
        "SELECT CAST(CASE WHEN i < 200000 THEN CAST(i AS VARCHAR) ELSE 'x' END AS INT) AS v "
        "FROM range(300000) AS t(i)",
        read="duckdb",
    )
    reader = engine.stream(tree, tables={}, batch_rows=1_000)
    with pytest.raises(QueryError, match="Conversion Error"):
        reader.read_all()


def test_limit_stops_reading(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    query = parse_read_only("SELECT * FROM silver.orders ORDER BY amount DESC")
    top = engine.execute(query, tables={"silver.orders": source}, limit=2)
    assert top.column("amount").to_pylist() == [999.0, 100.0]
    none = engine.execute(query, tables={"silver.orders": source}, limit=0)
    assert none.num_rows == 0
    assert none.schema.names == ["order_id", "customer_id", "amount", TENANT]
    with pytest.raises(InvalidInput, match="negative"):
        engine.execute(query, tables={"silver.orders": source}, limit=-1)


def test_a_query_duckdb_runs_as_several_statements_is_refused(lake, engine) -> None:
    source = _orders(lake)
    with pytest.raises(QueryError, match="MULTI"):
        engine.execute(
            parse_read_only("SELECT * FROM (PIVOT silver.orders ON customer_id USING sum(amount))"),
            tables={"silver.orders": source},
        )


def test_relations_are_registered_for_one_call(engine: DuckDBEngine) -> None:
    tree = sqlglot.parse_one("SELECT sum(a) AS s FROM extra", read="duckdb")
    table = engine.execute(tree, tables={}, relations={"extra": pa.table({"a": [1, 2, 3]})})
    assert table.column("s").to_pylist() == [6]
    with pytest.raises(QueryError, match="extra"):
        engine.execute(tree, tables={})
    with pytest.raises(InvalidInput, match="layer"):
        engine.execute(tree, tables={}, relations={"silver": pa.table({"a": [1]})})


def test_a_lake_table_without_a_source_is_unbound(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    with pytest.raises(UnboundTable) as caught:
        engine.execute(
            parse_read_only("SELECT * FROM silver.orders JOIN gold.daily USING (order_id)"),
            tables={"silver.orders": source},
        )
    assert isinstance(caught.value, NotFound)
    assert caught.value.details["tables"] == ["gold.daily"]


def test_engine_errors_become_query_errors(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    with pytest.raises(QueryError) as caught:
        engine.execute(
            parse_read_only("SELECT nope FROM silver.orders"), tables={"silver.orders": source}
        )
    assert isinstance(caught.value, InvalidInput)
    assert "nope" in caught.value.message
    assert "Binder Error" in caught.value.details["engine_message"]
    with pytest.raises(QueryError, match="Conversion Error"):
        engine.execute(parse_read_only("SELECT CAST('x' AS INT)"), tables={})


def test_running_out_of_memory_is_unavailable(tmp_path: Path) -> None:
    with DuckDBEngine(threads=1, memory_limit="20MB", allowed_roots=[str(tmp_path)]) as engine:
        tree = sqlglot.parse_one(
            "SELECT list(CAST(i AS VARCHAR)) AS l FROM range(20000000) AS t(i)", read="duckdb"
        )
        with pytest.raises(EngineUnavailable) as caught:
            engine.execute(tree, tables={})
    assert caught.value.retryable


def test_files_outside_the_lake_cannot_be_read(lake, engine: DuckDBEngine) -> None:
    secret = lake.root.parent / "secret.txt"
    secret.write_text("top secret", encoding="utf-8")
    tree = sqlglot.parse_one(f"SELECT * FROM read_text('{secret}')", read="duckdb")
    with pytest.raises(InternalError) as caught:
        engine.execute(tree, tables={})
    assert "top secret" not in str(caught.value.to_dict())
    assert "Permission" in caught.value.details["engine_message"]


def test_the_configuration_cannot_be_changed_by_a_query(tmp_path: Path) -> None:
    with DuckDBEngine(allowed_roots=[str(tmp_path)]) as engine:
        with pytest.raises(QueryError, match="single queries only"):
            engine.execute(sqlglot.parse_one("SET enable_external_access = true"), tables={})
        check = sqlglot.parse_one("SELECT current_setting('enable_external_access') AS v")
        assert engine.execute(check, tables={}).to_pylist() == [{"v": False}]
        locked = sqlglot.parse_one("SELECT current_setting('lock_configuration') AS v")
        assert engine.execute(locked, tables={}).to_pylist() == [{"v": True}]


def test_lake_files_outside_the_allowed_roots_are_refused(lake, tmp_path: Path) -> None:
    source = _orders(lake)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with DuckDBEngine(allowed_roots=[str(elsewhere)]) as engine:
        with pytest.raises(ConfigError, match="allowed roots"):
            engine.execute(
                parse_read_only("SELECT * FROM silver.orders"), tables={"silver.orders": source}
            )
        assert engine.views_created == 0


def test_file_uris_are_read_and_remote_uris_refused(lake, engine: DuckDBEngine) -> None:
    source = _orders(lake)
    as_uris = replace(source, files=tuple(Path(f).as_uri() for f in source.files))
    table = engine.execute(
        parse_read_only("SELECT count(*) AS n FROM silver.orders"),
        tables={"silver.orders": as_uris},
    )
    assert table.to_pylist() == [{"n": 6}]
    remote = replace(source, version=99, files=("s3://bucket/x.parquet",))
    with pytest.raises(ConfigError, match="local files only"):
        engine.execute(
            parse_read_only("SELECT count(*) FROM silver.orders"), tables={"silver.orders": remote}
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"threads": 0}, "threads"), ({"memory_limit": "lots"}, "memory_limit")],
)
def test_invalid_settings_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DuckDBEngine(**kwargs)  # type: ignore[arg-type]


def test_a_closed_engine_refuses_work(tmp_path: Path) -> None:
    engine = DuckDBEngine(allowed_roots=[str(tmp_path)])
    engine.close()
    engine.close()
    with pytest.raises(InternalError, match="close"):
        engine.execute(exp.select("1"), tables={})


def test_concurrent_queries_on_different_versions(lake, engine: DuckDBEngine) -> None:
    first = _orders(lake)
    second = _append_order(lake)
    query = parse_read_only("SELECT count(*) AS n FROM silver.orders")
    start = threading.Barrier(8)

    def count(i: int) -> tuple[int, int]:
        source = first if i % 2 else second
        start.wait()
        table = engine.execute(query, tables={"silver.orders": source})
        return source.version, table.column("n")[0].as_py()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(count, range(32)))
    assert set(results) == {(0, 6), (1, 7)}
    assert len(results) == 32
    assert engine.views_created == 2


def test_a_stream_survives_closing_the_engine(lake) -> None:
    source = _orders(lake)
    engine = DuckDBEngine(allowed_roots=[str(lake.root)])
    reader = engine.stream(
        parse_read_only("SELECT order_id FROM silver.orders"),
        tables={"silver.orders": source},
        batch_rows=1,
    )
    first = reader.read_next_batch()
    engine.close()
    assert first.num_rows + reader.read_all().num_rows == 6
