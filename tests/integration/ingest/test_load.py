"""Loading files through contracts into the lake, in one process, with every real part."""

import gzip
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import fastavro
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from gnomon.app import Gnomon
from gnomon.catalog import hold_lease
from gnomon.errors import Conflict, InvalidInput
from gnomon.ingest import IngestResult
from tests.projects import HEADER, order_rows, write_contract, write_csv, write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "project")


def ingest(project: Path, tenant: str = "default") -> list[IngestResult]:
    with Gnomon.open(project) as app:
        return app.ingest.ingest("orders", ctx=app.context(tenant))


def sql(project: Path, text: str, tenant: str = "default") -> list[dict[str, object]]:
    with Gnomon.open(project) as app:
        return app.sql(text, ctx=app.context(tenant)).to_pylist()


def count(project: Path, table: str, tenant: str = "default") -> int:
    return int(sql(project, f"SELECT COUNT(*) AS n FROM {table}", tenant)[0]["n"])


# ---------------------------------------------------------------- idempotence


def test_reingesting_the_same_file_adds_nothing(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 100))
    [first] = ingest(project)
    assert (first.status, first.rows_read, first.rows_written) == ("succeeded", 100, 100)
    [again] = ingest(project)
    assert again.status == "skipped"
    assert [f.status for f in again.files] == ["skipped"]
    # The same bytes under another name are the same data.
    (project / "data" / "copy.csv").write_bytes((project / "data" / "a.csv").read_bytes())
    [copy] = ingest(project)
    assert copy.status == "skipped"
    assert count(project, "bronze.orders") == 100
    assert count(project, "silver.orders") == 100


def test_silver_holds_the_contract_columns_and_lineage_but_not_bronze_internals(
    project: Path,
) -> None:
    write_csv(project / "data" / "a.csv", [*order_rows(0, 10), ["O9", "bad", "EMEA", "1", "1"]])
    ingest(project)
    with Gnomon.open(project) as app:
        silver = set(app.snapshot("silver", "orders").schema.names)
        bronze = set(app.snapshot("bronze", "orders").schema.names)
    assert set(HEADER) <= silver
    assert {"_tenant_id", "_ingested_at", "_batch_id", "_source"} <= silver
    assert {"_row", "_record", "_parse_error", "_raw"} <= bronze
    assert not silver & {"_row", "_record", "_parse_error", "_raw"}


def test_only_new_files_are_loaded_and_latest_wins(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 50, day=1))
    ingest(project)
    changed = [[r[0], "2025-01-09 10:00:00", "APAC", r[3], r[4]] for r in order_rows(0, 10)]
    stale = [[r[0], "2024-12-31 10:00:00", "AMER", r[3], r[4]] for r in order_rows(10, 5)]
    write_csv(project / "data" / "b.csv", changed + stale + order_rows(100, 20))
    [result] = ingest(project)
    assert result.rows_read == 35
    assert [f.status for f in result.files] == ["skipped", "loaded"]
    regions = {
        r["order_id"]: r["region"]
        for r in sql(project, "SELECT order_id, region FROM silver.orders")
    }
    assert len(regions) == 70
    assert all(regions[f"O{i:06d}"] == "APAC" for i in range(10)), "newer rows win"
    assert all(regions[f"O{i:06d}"] == "EMEA" for i in range(10, 15)), "older rows lose"


def test_duplicate_keys_within_one_file_keep_the_latest(project: Path) -> None:
    rows = [
        ["O000001", "2025-01-01 10:00:00", "EMEA", "1", "1.00"],
        ["O000001", "2025-01-03 10:00:00", "AMER", "2", "1.00"],
        ["O000001", "2025-01-02 10:00:00", "APAC", "3", "1.00"],
    ]
    write_csv(project / "data" / "a.csv", rows)
    ingest(project)
    assert sql(project, "SELECT region, quantity FROM silver.orders") == [
        {"region": "AMER", "quantity": 2}
    ]


# ---------------------------------------------------------------- malformed input


def test_bad_rows_are_quarantined_with_rule_and_reason(project: Path) -> None:
    good = order_rows(0, 20)
    bad = [
        ["O900001", "2025-01-01 10:00:00", "EMEA", "many", "1.00"],  # not an integer
        ["O900002", "not a time", "EMEA", "1", "1.00"],  # bad timestamp
        ["", "2025-01-01 10:00:00", "EMEA", "1", "1.00"],  # missing key
        ["O900004", "2025-01-01 10:00:00", "MARS", "1", "1.00"],  # not allowed
        ["O900005", "2025-01-01 10:00:00", "EMEA", "0", "1.00"],  # below min
        ["O900006", "2025-01-01 10:00:00", "EMEA", "1", "-3"],  # below min
    ]
    path = write_csv(project / "data" / "a.csv", good + bad)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("O900007,2025-01-01 10:00:00,EMEA,1,1.00,surplus\n")  # ragged line
    [result] = ingest(project)
    assert (result.status, result.rows_written, result.rows_quarantined) == ("succeeded", 20, 7)
    quarantined = sql(project, "SELECT order_id, _rule, _reason, _raw FROM quarantine.orders")
    assert sorted((str(r["order_id"]), r["_rule"]) for r in quarantined) == sorted(
        [
            ("O900001", "quantity.type"),
            ("O900002", "updated_at.type"),
            ("None", "order_id.required"),
            ("O900004", "region.allowed"),
            ("O900005", "quantity.min"),
            ("O900006", "price.min"),
            ("None", "parse"),
        ]
    )
    [parse] = [r for r in quarantined if r["_rule"] == "parse"]
    assert "surplus" in str(parse["_raw"])
    assert "5 fields" in str(parse["_reason"]) or "6" in str(parse["_reason"])
    [bad_int] = [r for r in quarantined if r["_rule"] == "quantity.type"]
    assert "'many' is not a valid integer" in str(bad_int["_reason"])


def test_invalid_utf8_keeps_the_row_and_counts_it(project: Path) -> None:
    path = project / "data" / "a.csv"
    path.write_bytes(
        b"order_id,updated_at,region,quantity,price\n"
        b"O000001,2025-01-01 10:00:00,EMEA,1,1.00\n"
        b"O000002\xff\xfe,2025-01-01 10:00:00,EMEA,1,1.00\n"
    )
    [result] = ingest(project)
    assert result.rows_read == 2
    assert result.warnings.get("encoding") == 1
    assert count(project, "silver.orders") == 2


def test_empty_and_header_only_files_do_not_crash(project: Path) -> None:
    (project / "data" / "empty.csv").write_bytes(b"")
    write_csv(project / "data" / "header.csv", [])
    [result] = ingest(project)
    assert result.rows_read == 0
    assert result.status == "blocked", "row_count min 1 blocks an empty batch"
    assert "row_count" in json.dumps(result.checks)


def test_missing_required_column_quarantines_every_row(project: Path) -> None:
    rows = [[r[0], r[1], r[3], r[4]] for r in order_rows(0, 5)]
    write_csv(
        project / "data" / "a.csv", rows, header=("order_id", "updated_at", "quantity", "price")
    )
    [result] = ingest(project)
    assert result.rows_quarantined == 5
    assert result.drift is not None and "region" in json.dumps(result.drift["missing"])
    assert {r["_rule"] for r in sql(project, "SELECT _rule FROM quarantine.orders")} == {
        "region.required"
    }


def test_a_zero_byte_workbook_fails_naming_the_file(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", fmt="xlsx", pattern="data/*.xlsx")
    (project / "data" / "orders.xlsx").write_bytes(b"")
    with pytest.raises(InvalidInput, match=r"orders\.xlsx"):
        ingest(project)
    with Gnomon.open(project) as app:
        [run] = app.runs()
        assert run.status == "failed"
        assert "orders.xlsx" in json.dumps(run.error)
        assert app.tables() == []


# ---------------------------------------------------------------- blocking checks


def test_blocked_batch_leaves_silver_unchanged_and_is_rechecked(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", min_rows=1)
    write_csv(project / "data" / "a.csv", order_rows(0, 10))
    ingest(project)
    write_contract(project, min_rows=100, version=2)
    write_csv(project / "data" / "b.csv", order_rows(100, 5))
    [blocked] = ingest(project)
    assert blocked.status == "blocked"
    assert blocked.error is not None and "row_count" in blocked.error["message"]
    assert count(project, "silver.orders") == 10
    assert count(project, "bronze.orders") == 15, "bronze keeps what arrived"
    with Gnomon.open(project) as app:
        silver = Path(app.lake.uri("silver", "orders"))
        stored = {str(path) for path in silver.rglob("*.parquet")}
        assert stored == set(app.lake.snapshot("silver", "orders").files), (
            "the rows staged for the checks are deleted, not left behind"
        )

    write_contract(project, min_rows=1, version=3)
    results = ingest(project)
    assert [r.status for r in results] == ["succeeded", "skipped"]
    assert count(project, "silver.orders") == 15
    assert count(project, "bronze.orders") == 15, "the blocked batch is not landed twice"


def test_changing_a_contract_needs_a_version_bump(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 3))
    ingest(project)
    write_contract(project, min_rows=2, version=1)
    with pytest.raises(Conflict, match="version"):
        ingest(project)


# ---------------------------------------------------------------- schema drift


def test_drift_evolve_carries_new_columns(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", drift="evolve")
    rows = [[*r, "gift"] for r in order_rows(0, 4)]
    write_csv(project / "data" / "a.csv", rows, header=(*HEADER, "note"))
    [result] = ingest(project)
    assert result.status == "succeeded"
    assert result.drift is not None and "note" in json.dumps(result.drift["new"])
    assert {r["note"] for r in sql(project, "SELECT note FROM silver.orders")} == {"gift"}


def test_drift_quarantine_sends_the_batch_to_quarantine(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", drift="quarantine", min_rows=0)
    write_csv(
        project / "data" / "a.csv", [[*r, "x"] for r in order_rows(0, 4)], header=(*HEADER, "note")
    )
    [result] = ingest(project)
    assert (result.rows_written, result.rows_quarantined) == (0, 4)
    assert {r["_rule"] for r in sql(project, "SELECT _rule FROM quarantine.orders")} == {
        "schema_drift"
    }


def test_drift_fail_fails_the_run_and_publishes_nothing(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", drift="fail")
    write_csv(
        project / "data" / "a.csv", [[*r, "x"] for r in order_rows(0, 4)], header=(*HEADER, "note")
    )
    with pytest.raises(InvalidInput, match="note"):
        ingest(project)
    with Gnomon.open(project) as app:
        assert app.tables() == []
        assert app.runs()[0].status == "failed"
    # Fixing the file's schema (a new file without the column) then loads normally.
    (project / "data" / "a.csv").unlink()
    write_csv(project / "data" / "b.csv", order_rows(0, 4))
    assert [r.status for r in ingest(project)] == ["succeeded"]
    assert count(project, "bronze.orders") == 4, "the failed batch's bronze commit was rolled back"


# ---------------------------------------------------------------- tenants


def test_tenants_share_tables_but_never_rows(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 30))
    ingest(project, tenant="acme")
    [other] = ingest(project, tenant="globex")
    assert other.status == "succeeded", "files are recorded per tenant"
    write_csv(project / "data" / "b.csv", order_rows(500, 5))
    ingest(project, tenant="globex")
    assert count(project, "silver.orders", "acme") == 30
    assert count(project, "silver.orders", "globex") == 35
    with Gnomon.open(project) as app, app.catalog.transaction() as tx:
        tx.tenants.ensure("initech")  # reads are audited, so the reader's tenant must exist
    assert count(project, "silver.orders", "initech") == 0
    tenants = sql(project, "SELECT DISTINCT _tenant_id FROM bronze.orders", "acme")
    assert tenants == [{"_tenant_id": "acme"}]


# ---------------------------------------------------------------- formats


def _write_format(path_base: Path, fmt: str) -> str:
    rows = order_rows(0, 25)
    table = pa.table({name: [r[i] for r in rows] for i, name in enumerate(HEADER)})
    folder = path_base / "data"
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        pq.write_table(table, folder / "a.parquet")
        return "data/*.parquet"
    if fmt == "ndjson.gz":
        lines = "".join(json.dumps(r) + "\n" for r in table.to_pylist())
        (folder / "a.ndjson.gz").write_bytes(gzip.compress(lines.encode()))
        return "data/*.ndjson.gz"
    if fmt == "json":
        (folder / "a.json").write_text(json.dumps({"items": table.to_pylist()}), encoding="utf-8")
        return "data/*.json"
    if fmt == "tsv.zst":
        text = "\t".join(HEADER) + "\n" + "".join("\t".join(r) + "\n" for r in rows)
        (folder / "a.tsv.zst").write_bytes(zstandard.ZstdCompressor().compress(text.encode()))
        return "data/*.tsv.zst"
    if fmt == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(HEADER))
        for r in rows:
            sheet.append(r)
        book.save(folder / "a.xlsx")
        return "data/*.xlsx"
    if fmt == "avro":
        schema = {
            "type": "record",
            "name": "order",
            "fields": [{"name": n, "type": "string"} for n in HEADER],
        }
        with (folder / "a.avro").open("wb") as handle:
            fastavro.writer(handle, schema, table.to_pylist())
        return "data/*.avro"
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", ["parquet", "ndjson.gz", "json", "tsv.zst", "xlsx", "avro"])
def test_every_format_loads_through_the_contract(tmp_path: Path, fmt: str) -> None:
    pattern = _write_format(tmp_path / "p", fmt)
    project = write_project(tmp_path / "p", fmt="auto", pattern=pattern)
    if fmt == "json":
        source = project / "sources" / "orders.yaml"
        source.write_text(
            source.read_text(encoding="utf-8") + "options:\n  json_path: items\n", encoding="utf-8"
        )
    [result] = ingest(project)
    assert (result.status, result.rows_written, result.rows_quarantined) == ("succeeded", 25, 0)
    totals = sql(project, "SELECT SUM(quantity) AS q, SUM(price) AS p FROM silver.orders")
    expected = order_rows(0, 25)
    assert totals[0]["q"] == sum(int(r[3]) for r in expected)
    assert float(totals[0]["p"]) == pytest.approx(sum(float(r[4]) for r in expected))


# ---------------------------------------------------------------- time travel and runs


def test_time_travel_by_version_and_timestamp(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 10))
    ingest(project)
    with Gnomon.open(project) as app:
        first = app.snapshot("silver", "orders")
    write_csv(project / "data" / "b.csv", order_rows(10, 5))
    ingest(project)
    with Gnomon.open(project) as app:
        query = "SELECT COUNT(*) AS n FROM silver.orders"
        assert app.sql(query).to_pylist() == [{"n": 15}]
        old = app.sql(query, versions={"silver.orders": first.version}).to_pylist()
        assert old == [{"n": 10}]
        history = app.maintenance.history("silver.orders")
        at = next(h.timestamp for h in history if h.version == first.version)
        assert app.sql(query, as_of=at + timedelta(milliseconds=1)).to_pylist() == [{"n": 10}]
        with pytest.raises(InvalidInput, match="no published version"):
            app.sql(query, versions={"silver.orders": 99})


def test_runs_record_what_happened(project: Path) -> None:
    write_csv(project / "data" / "a.csv", [*order_rows(0, 8), ["O9", "x", "EMEA", "1", "1"]])
    [result] = ingest(project)
    with Gnomon.open(project) as app:
        run = app.run(result.run_id)
    assert (run.status, run.rows_read, run.rows_written, run.rows_quarantined) == (
        "succeeded",
        9,
        8,
        1,
    )
    assert run.bytes_read == (project / "data" / "a.csv").stat().st_size
    assert run.duration_s is not None and run.duration_s > 0
    assert run.watermark is not None and run.watermark.startswith("2025-01-01")
    assert run.files and run.files[0]["fingerprint"]


def test_a_second_load_of_a_dataset_waits_for_the_first(project: Path) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 3))
    with (
        Gnomon.open(project) as app,
        hold_lease(app.catalog, "load:orders", owner="elsewhere:1:x", ttl=timedelta(minutes=5)),
        pytest.raises(Conflict, match="load:orders"),
    ):
        app.ingest.ingest("orders", ctx=app.context())


# ---------------------------------------------------------------- PostgreSQL catalog


@pytest.fixture
def pg_env(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GNOMON_CATALOG_URL", postgres_url)
    yield postgres_url


@pytest.mark.postgres
def test_a_load_with_the_catalog_on_postgresql(project: Path, pg_env: str) -> None:
    write_csv(project / "data" / "a.csv", order_rows(0, 40))
    [result] = ingest(project)
    assert result.status == "succeeded"
    with Gnomon.open(project) as app:
        assert app.catalog.backend == "postgresql"
        assert [f"{t.layer}.{t.name}" for t in app.tables()] == [
            "bronze.orders",
            "quarantine.orders",
            "silver.orders",
        ]
    assert ingest(project)[0].status == "skipped"
    assert count(project, "silver.orders") == 40
