"""The ``gnomon`` command driven as a user drives it: a subprocess per command, its exit code,
stdout and stderr.

Starting the CLI costs seconds of imports, so each scenario (a loaded project, a built one, the
demo) is played once by a module fixture that records every command's result; the tests then
read the recordings. No command may ever print a stack trace, which the runner itself checks.
"""

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import typer

from gnomon.cli.main import app as cli_app
from tests.projects import (
    HEADER,
    daily_orders,
    order_rows,
    write_contract,
    write_csv,
    write_project,
)

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
BAD_ROWS = [
    ["O900001", "2025-01-01 10:00:00", "MARS", "1", "1.00"],
    ["O900002", "2025-01-01 10:00:00", "EMEA", "0", "1.00"],
    ["O900003", "2025-01-01 10:00:00", "EMEA", "x", "1.00"],
]
COUNTS_SQL = (
    "SELECT 'bronze' AS layer, COUNT(*) AS n FROM bronze.orders "
    "UNION ALL SELECT 'silver', COUNT(*) FROM silver.orders "
    "UNION ALL SELECT 'quarantine', COUNT(*) FROM quarantine.orders"
)
BRONZE_SILVER_SQL = (
    "SELECT 'bronze' AS layer, COUNT(*) AS n FROM bronze.orders "
    "UNION ALL SELECT 'silver', COUNT(*) FROM silver.orders"
)
REGIONS_SQL = "SELECT region, COUNT(*) AS n FROM silver.orders GROUP BY ALL ORDER BY region"


@dataclass(frozen=True, slots=True)
class Result:
    """One finished command."""

    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def message(self) -> str:
        """stderr with the terminal's line wrapping undone."""
        return " ".join(self.err.split())

    def rows(self) -> list[dict[str, Any]]:
        """stdout as ``--format json`` promises it: only a JSON array of row objects."""
        data = json.loads(self.out)
        assert isinstance(data, list), self.out
        assert all(isinstance(row, dict) for row in data), self.out
        return data

    def csv_rows(self) -> list[list[str]]:
        """stdout parsed as CSV, header first."""
        return list(csv.reader(io.StringIO(self.out)))


Gnomon = Callable[..., Result]


def _environment(extra: Mapping[str, str], *, bytecode: Path) -> dict[str, str]:
    """The caller's environment without gnomon settings; bytecode cached in a private folder.

    Without a bytecode cache every command would compile gnomon and its libraries afresh; the
    cache lives under pytest's temporary folder, so nothing is written into the source tree.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GNOMON_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(bytecode)
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def gnomon(tmp_path_factory: pytest.TempPathFactory) -> Gnomon:
    """Run ``gnomon ARGS…`` in a subprocess from an empty folder (so only --project counts)."""
    cwd = tmp_path_factory.mktemp("cwd")
    bytecode = tmp_path_factory.mktemp("bytecode")

    def run(
        *args: str | Path, stdin: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        argv = tuple(str(a) for a in args)
        proc = subprocess.run(
            [sys.executable, "-m", "gnomon.cli", *argv],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=cwd,
            env=_environment(env or {}, bytecode=bytecode),
            check=False,
        )
        result = Result(argv, proc.returncode, proc.stdout, proc.stderr)
        assert "Traceback" not in result.err, f"gnomon {' '.join(argv)} crashed:\n{result.err}"
        assert "internal error" not in result.err, result.err
        return result

    return run


def assert_user_error(result: Result, *fragments: str, code: int = 2) -> None:
    """A mistake reported as "error: …" on stderr with the exit code of its kind."""
    assert result.code == code, (result.code, result.out, result.err)
    assert result.message.startswith("error:"), result.err
    for fragment in fragments:
        assert fragment in result.message, (fragment, result.message)


def by_key(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    return {row[key]: row for row in rows}


# --------------------------------------------------------------------------- the command itself


def test_version_and_help(gnomon: Gnomon) -> None:
    version = gnomon("--version")
    assert version.code == 0
    assert re.fullmatch(r"gnomon \d+\.\d+\.\d+\S*\n", version.out)
    helped = gnomon("--help")
    assert helped.code == 0
    for command in (
        "init", "ingest", "sql", "build", "demo", "sources", "runs", "lake", "models", "apply",
        "metrics",
    ):  # fmt: skip
        assert command in helped.out


def test_bad_option_values_are_usage_errors(gnomon: Gnomon, tmp_path: Path) -> None:
    bad_format = gnomon("sources", "list", "--project", tmp_path, "--format", "xml")
    assert bad_format.code == 2
    assert "xml" in bad_format.message
    assert bad_format.out == ""


def _leaf_commands() -> dict[str, Any]:
    leaves: dict[str, Any] = {}

    def walk(command: Any, path: list[str]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, [*path, name])
        else:
            leaves[" ".join(path)] = command

    walk(typer.main.get_command(cli_app), [])
    return leaves


def test_every_command_takes_project_and_listings_take_format() -> None:
    leaves = _leaf_commands()
    listings = {
        "ingest", "sql", "build", "sources list", "runs list", "runs show", "datasets list",
        "datasets show", "lake tables", "lake history", "lake vacuum", "lake compact",
        "models list", "apply", "metrics list", "metrics show", "metrics query", "metrics refresh",
        "metrics rollups", "tenants list", "users list", "keys create", "keys list", "roles list",
        "policies list", "audit list", "token create", "scan", "forecast", "registry",
        "anomalies confirm", "anomalies dismiss", "triggers list", "triggers show", "triggers test",
        "triggers run", "alerts list", "alerts show", "alerts ack", "alerts silence",
        "alerts silences", "alerts unsilence", "events send", "alerting", "explain", "drivers",
        "impact", "insights",
    }  # fmt: skip
    others = {
        "init", "demo", "serve", "tenants create", "users create", "users disable", "keys revoke",
        "roles set", "roles delete", "policies set", "policies delete", "audit verify",
    }  # fmt: skip
    assert listings | others == set(leaves)
    for name, command in leaves.items():
        options = {opt for param in command.params for opt in param.opts}
        if name != "init":  # init names the folder to create as its argument
            assert "--project" in options, name
        if name in listings:
            assert "--format" in options, name


# --------------------------------------------------------------------------- gnomon init


@dataclass(frozen=True, slots=True)
class Fresh:
    project: Path
    init: Result
    again: Result
    ingest_all: Result
    build: Result


@pytest.fixture(scope="module")
def fresh(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Fresh:
    project = tmp_path_factory.mktemp("fresh") / "shop"
    return Fresh(
        project=project,
        init=gnomon("init", project),
        again=gnomon("init", project),
        ingest_all=gnomon("ingest", "--all", "--project", project),
        build=gnomon("build", "--project", project, "--format", "json"),
    )


def test_init_creates_the_project_layout(fresh: Fresh) -> None:
    assert fresh.init.code == 0, fresh.init.err
    assert (fresh.project / "gnomon.yaml").is_file()
    for folder in ("sources", "contracts", "models", "metrics", "triggers"):
        assert (fresh.project / folder).is_dir(), folder
    assert str(fresh.project.resolve()) in " ".join(fresh.init.out.split())


def test_init_refuses_an_existing_project(fresh: Fresh) -> None:
    assert fresh.again.code != 0
    assert_user_error(fresh.again, "already a gnomon project", "--force", code=fresh.again.code)


def test_fresh_project_has_nothing_to_ingest(fresh: Fresh) -> None:
    assert_user_error(fresh.ingest_all, "no sources are defined")
    assert "sources" in fresh.ingest_all.message


def test_fresh_project_builds_nothing_from_the_commented_example(fresh: Fresh) -> None:
    assert fresh.build.code == 0, fresh.build.err
    assert fresh.build.rows() == []
    assert (fresh.project / "models" / "example.sql").is_file()


def test_init_force_adds_missing_files_and_keeps_edited_ones(fresh: Fresh, gnomon: Gnomon) -> None:
    settings = fresh.project / "gnomon.yaml"
    edited = settings.read_text(encoding="utf-8") + "# edited by hand\n"
    settings.write_text(edited, encoding="utf-8")
    (fresh.project / "models" / "example.sql").unlink()
    forced = gnomon("init", fresh.project, "--force")
    assert forced.code == 0, forced.err
    assert (fresh.project / "models" / "example.sql").is_file()
    assert settings.read_text(encoding="utf-8") == edited


# --------------------------------------------------------------------------- a loaded project


@dataclass(frozen=True, slots=True)
class Loaded:
    """orders loaded from a.csv (50 good rows, 3 bad), again (skipped), then b.csv."""

    project: Path
    first: Result
    again: Result
    counts_after_again: Result
    second: Result
    history: Result


@pytest.fixture(scope="module")
def loaded(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    project = write_project(tmp_path_factory.mktemp("loaded") / "shop")
    write_csv(project / "data" / "a.csv", order_rows(0, 50) + BAD_ROWS)
    first = gnomon("ingest", "orders", "--project", project, "--format", "json")
    again = gnomon("ingest", "orders", "--project", project, "--format", "json")
    counts = gnomon("sql", COUNTS_SQL, "--project", project, "--format", "json")
    # Five orders move to APAC (a later updated_at wins), twenty new ones arrive in AMER.
    moved = [[r[0], "2025-01-05 10:00:00", "APAC", r[3], r[4]] for r in order_rows(0, 5)]
    write_csv(project / "data" / "b.csv", moved + order_rows(100, 20, day=3, region="AMER"))
    second = gnomon("ingest", "orders", "--project", project, "--format", "json")
    history = gnomon("lake", "history", "silver.orders", "--project", project, "--format", "json")
    return Loaded(project, first, again, counts, second, history)


def test_ingest_reports_rows_read_written_and_quarantined(loaded: Loaded) -> None:
    assert loaded.first.code == 0, loaded.first.err
    [row] = loaded.first.rows()
    assert RUN_ID.match(row["run_id"])
    assert (row["source"], row["dataset"], row["status"]) == ("orders", "orders", "succeeded")
    assert (row["rows_read"], row["rows_written"], row["rows_quarantined"]) == (53, 50, 3)
    assert (row["files_loaded"], row["files_skipped"]) == (1, 0)
    assert row["bytes_read"] == (loaded.project / "data" / "a.csv").stat().st_size
    assert row["versions"] == {"bronze.orders": 0, "quarantine.orders": 0, "silver.orders": 0}
    [check] = row["checks"]
    assert (check["rule"], check["passed"], check["observed"]) == ("row_count", True, 50)
    assert row["error"] is None


def test_ingesting_the_same_file_again_is_skipped_and_adds_nothing(loaded: Loaded) -> None:
    assert loaded.again.code == 0, loaded.again.err
    [row] = loaded.again.rows()
    assert row["status"] == "skipped"
    assert (row["rows_read"], row["rows_written"], row["files_skipped"]) == (0, 0, 1)
    assert row["versions"] == {}
    counts = {r["layer"]: r["n"] for r in loaded.counts_after_again.rows()}
    assert counts == {"bronze": 53, "silver": 50, "quarantine": 3}


def test_ingest_of_a_new_file_merges_latest_wins(loaded: Loaded) -> None:
    assert loaded.second.code == 0, loaded.second.err
    [row] = loaded.second.rows()
    assert (row["status"], row["rows_read"], row["rows_quarantined"]) == ("succeeded", 25, 0)
    assert (row["files_loaded"], row["files_skipped"]) == (1, 1)
    assert row["versions"]["silver.orders"] == 1


def test_ingest_unknown_source_lists_the_known_ones(gnomon: Gnomon, loaded: Loaded) -> None:
    result = gnomon("ingest", "nope", "--project", loaded.project)
    assert_user_error(result, "nope", "known: orders")


def test_ingest_without_a_name_asks_for_one(gnomon: Gnomon, loaded: Loaded) -> None:
    assert_user_error(gnomon("ingest", "--project", loaded.project), "--all")


def test_sources_list(gnomon: Gnomon, loaded: Loaded) -> None:
    as_json = gnomon("sources", "list", "--project", loaded.project, "--format", "json")
    assert as_json.rows() == [
        {"name": "orders", "kind": "file", "dataset": "orders", "format": "csv",
         "path": "data/*.csv"}
    ]  # fmt: skip


def test_project_can_come_from_the_environment(gnomon: Gnomon, loaded: Loaded) -> None:
    result = gnomon(
        "sources", "list", "--format", "json", env={"GNOMON_PROJECT": str(loaded.project)}
    )
    assert [r["name"] for r in result.rows()] == ["orders"]


def test_runs_list_newest_first(gnomon: Gnomon, loaded: Loaded) -> None:
    runs = gnomon("runs", "list", "--project", loaded.project, "--format", "json").rows()
    ids = [r.rows()[0]["run_id"] for r in (loaded.second, loaded.again, loaded.first)]
    assert [r["id"] for r in runs] == ids
    assert [r["status"] for r in runs] == ["succeeded", "skipped", "succeeded"]
    assert {(r["kind"], r["source"], r["dataset"]) for r in runs} == {
        ("ingest", "orders", "orders")
    }
    first = runs[-1]
    assert (first["rows_read"], first["rows_written"], first["rows_quarantined"]) == (53, 50, 3)
    assert datetime.fromisoformat(first["started_at"]) <= datetime.fromisoformat(
        first["finished_at"]
    )
    skipped = gnomon(
        "runs", "list", "--status", "skipped", "--project", loaded.project, "--format", "json"
    )
    assert [r["id"] for r in skipped.rows()] == [ids[1]]


def test_runs_show(gnomon: Gnomon, loaded: Loaded) -> None:
    run_id = loaded.first.rows()[0]["run_id"]
    [run] = gnomon("runs", "show", run_id, "--project", loaded.project, "--format", "json").rows()
    assert (run["id"], run["status"], run["rows_quarantined"]) == (run_id, "succeeded", 3)
    assert [c["rule"] for c in run["checks"]] == ["row_count"]
    assert {"stage", "drift", "files", "correlation_id", "batch_id"} <= set(run)
    assert run["files"], "the run records the file it loaded"


def test_runs_show_unknown_id(gnomon: Gnomon, loaded: Loaded) -> None:
    result = gnomon("runs", "show", "0" * 32, "--project", loaded.project, "-f", "json")
    assert result.code == 2, result.err
    error = json.loads(result.out)["error"]
    assert error["code"] and error["message"]


def test_datasets_list_and_show(gnomon: Gnomon, loaded: Loaded) -> None:
    listed = gnomon("datasets", "list", "--project", loaded.project, "--format", "json").rows()
    assert [(d["name"], d["columns"], d["contract_version"]) for d in listed] == [("orders", 5, 1)]
    shown = gnomon("datasets", "show", "orders", "--project", loaded.project, "--format", "json")
    columns = by_key(shown.rows(), "name")
    assert list(columns) == list(HEADER)
    assert columns["quantity"] == {"name": "quantity", "type": "integer", "nullable": False}
    assert columns["price"]["type"] == "decimal(10,2)"
    assert columns["price"]["nullable"] is True


def test_lake_tables_and_history(gnomon: Gnomon, loaded: Loaded) -> None:
    tables = by_key(
        gnomon("lake", "tables", "--project", loaded.project, "--format", "json").rows(), "table"
    )
    assert set(tables) == {"bronze.orders", "quarantine.orders", "silver.orders"}
    second_run = loaded.second.rows()[0]["run_id"]
    assert (tables["silver.orders"]["version"], tables["silver.orders"]["run_id"]) == (
        1,
        second_run,
    )
    history = loaded.history.rows()
    assert [h["version"] for h in history] == [1, 0]
    assert all(h["published"] is True for h in history)
    assert history[1]["run_id"] == loaded.first.rows()[0]["run_id"]


# --------------------------------------------------------------------------- gnomon sql


def sql(gnomon: Gnomon, project: Path, *args: str, stdin: str | None = None) -> Result:
    return gnomon("sql", *args, "--project", project, stdin=stdin)


def test_sql_csv_gives_header_and_rows(gnomon: Gnomon, loaded: Loaded) -> None:
    query = "SELECT order_id, _rule FROM quarantine.orders ORDER BY order_id"
    result = sql(gnomon, loaded.project, query, "--format", "csv")
    assert result.code == 0, result.err
    assert result.csv_rows() == [
        ["order_id", "_rule"],
        ["O900001", "region.allowed"],
        ["O900002", "quantity.min"],
        ["O900003", "quantity.type"],
    ]


def test_sql_time_travel_by_version_and_by_time(gnomon: Gnomon, loaded: Loaded) -> None:
    now = sql(gnomon, loaded.project, REGIONS_SQL, "--format", "json").rows()
    assert now == [
        {"region": "AMER", "n": 20},
        {"region": "APAC", "n": 5},
        {"region": "EMEA", "n": 45},
    ]
    pinned = sql(gnomon, loaded.project, REGIONS_SQL, "--version", "silver.orders=0", "-f", "json")
    assert pinned.rows() == [{"region": "EMEA", "n": 50}]

    v1, v0 = (datetime.fromisoformat(h["timestamp"]) for h in loaded.history.rows())
    between = (v0 + (v1 - v0) / 2).isoformat()
    as_of = sql(gnomon, loaded.project, REGIONS_SQL, "--as-of", between, "--format", "json")
    assert as_of.rows() == [{"region": "EMEA", "n": 50}]


def test_sql_version_beyond_the_published_one(gnomon: Gnomon, loaded: Loaded) -> None:
    result = sql(
        gnomon, loaded.project, "SELECT 1 AS x FROM silver.orders", "--version", "silver.orders=7"
    )
    assert_user_error(result, "no published version 7", "latest is 1")


def test_sql_explain_shows_the_tenant_filter(gnomon: Gnomon, loaded: Loaded) -> None:
    result = sql(gnomon, loaded.project, "SELECT order_id FROM silver.orders", "--explain")
    assert result.code == 0, result.err
    assert "_tenant_id = 'default'" in result.out
    assert "O000000" not in result.out, "--explain must not run the query"


def test_sql_is_scoped_to_the_tenant(gnomon: Gnomon, loaded: Loaded) -> None:
    query = "SELECT COUNT(*) AS n FROM silver.orders"
    unknown = sql(gnomon, loaded.project, query, "--tenant", "other", "--format", "json")
    assert_user_error(unknown, "Unknown tenant 'other'")
    assert gnomon("tenants", "create", "other", "--project", loaded.project).code == 0
    other = sql(gnomon, loaded.project, query, "--tenant", "other", "--format", "json")
    assert other.rows() == [{"n": 0}]
    mine = sql(gnomon, loaded.project, query, "--format", "json")
    assert mine.rows()[0]["n"] > 0


def test_sql_from_stdin(gnomon: Gnomon, loaded: Loaded) -> None:
    stdin = "SELECT COUNT(*) AS n\nFROM silver.orders\n"
    result = sql(gnomon, loaded.project, "-", "--format", "json", stdin=stdin)
    assert result.rows() == [{"n": 70}]


def test_sql_limit(gnomon: Gnomon, loaded: Loaded) -> None:
    query = "SELECT order_id FROM silver.orders ORDER BY order_id"
    result = sql(gnomon, loaded.project, query, "--limit", "3", "--format", "json")
    assert result.rows() == [{"order_id": f"O00000{i}"} for i in range(3)]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("DROP TABLE silver.orders", "read-only"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * FROM read_csv('x')", "read_csv"),
    ],
)
def test_sql_refuses_what_is_not_one_read_only_query(
    gnomon: Gnomon, loaded: Loaded, query: str, fragment: str
) -> None:
    result = sql(gnomon, loaded.project, query)
    assert_user_error(result, fragment)
    assert result.out == ""


def test_sql_syntax_error_names_the_position(gnomon: Gnomon, loaded: Loaded) -> None:
    result = sql(gnomon, loaded.project, "SELECT * FROM silver.orders WHERE")
    assert_user_error(result, "does not parse")
    assert re.search(r"line 1, column \d+", result.message), result.message


def test_sql_unknown_table_lists_tables_and_json_gets_an_error_object(
    gnomon: Gnomon, loaded: Loaded
) -> None:
    result = sql(gnomon, loaded.project, "SELECT * FROM silver.nope", "--format", "json")
    assert_user_error(result, "silver.nope", "bronze.orders", "silver.orders")
    error = json.loads(result.out)["error"]
    assert "silver.nope" in error["message"]
    assert error["hint"]


# --------------------------------------------------------------------------- a blocked load


def test_blocked_load_exits_1_and_leaves_silver_unchanged(gnomon: Gnomon, tmp_path: Path) -> None:
    project = write_project(tmp_path / "shop")
    write_csv(project / "data" / "a.csv", order_rows(0, 10))
    assert gnomon("ingest", "orders", "--project", project).code == 0

    write_contract(project, min_rows=1000, version=2)
    write_csv(project / "data" / "b.csv", order_rows(100, 10, region="APAC"))
    blocked = gnomon("ingest", "orders", "--project", project, "--format", "json")
    assert blocked.code == 1, blocked.err
    [row] = blocked.rows()
    assert (row["status"], row["rows_written"]) == ("blocked", 0)
    assert any(c["rule"] == "row_count" and not c["passed"] for c in row["checks"])

    after = gnomon("sql", REGIONS_SQL, "--project", project, "--format", "json")
    assert after.rows() == [{"region": "EMEA", "n": 10}]


# --------------------------------------------------------------------------- build and models

MODELS = {
    "region_totals": "-- gnomon:\n--   description: Units per region.\n"
    "SELECT region, SUM(quantity) AS units, COUNT(*) AS orders FROM silver.orders GROUP BY ALL\n",
    "top_region": "SELECT region, units FROM gold.region_totals ORDER BY units DESC LIMIT 1\n",
    "broken": "SELECT no_such_column FROM silver.orders\n",
    "after_broken": "SELECT * FROM gold.broken\n",
}
GOLD_SQL = (
    "SELECT r.region, r.units, r.orders, t.region AS top "
    "FROM gold.region_totals r CROSS JOIN gold.top_region t ORDER BY r.region"
)


@dataclass(frozen=True, slots=True)
class Built:
    """Two loads of orders, four models (one broken), built; then lake maintenance."""

    project: Path
    models: Result
    build: Result
    gold: Result
    tables: Result
    build_selected: Result


@pytest.fixture(scope="module")
def built(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Built:
    project = write_project(tmp_path_factory.mktemp("built") / "shop")
    write_csv(project / "data" / "a.csv", order_rows(0, 30))
    assert gnomon("ingest", "orders", "--project", project).code == 0
    write_csv(project / "data" / "b.csv", order_rows(100, 10, day=2, region="AMER"))
    assert gnomon("ingest", "orders", "--project", project).code == 0
    (project / "models").mkdir()
    for name, text in MODELS.items():
        (project / "models" / f"{name}.sql").write_text(text, encoding="utf-8")
    json_out = ("--project", project, "--format", "json")
    return Built(
        project=project,
        models=gnomon("models", "list", *json_out),
        build=gnomon("build", *json_out),
        gold=gnomon("sql", GOLD_SQL, *json_out),
        tables=gnomon("lake", "tables", *json_out),
        build_selected=gnomon("build", "top_region", *json_out),
    )


def test_models_list_in_build_order(built: Built) -> None:
    models = built.models.rows()
    order = [m["model"] for m in models]
    assert set(order) == set(MODELS)
    assert order.index("region_totals") < order.index("top_region")
    assert order.index("broken") < order.index("after_broken")
    listed = by_key(models, "model")
    assert listed["top_region"]["depends_on"] == "gold.region_totals"
    assert listed["region_totals"]["depends_on"] == "silver.orders"
    assert listed["region_totals"]["description"] == "Units per region."


def test_build_failure_skips_dependants_and_builds_the_rest(built: Built) -> None:
    assert built.build.code == 1, built.build.err
    results = by_key(built.build.rows(), "model")
    assert {m: r["status"] for m, r in results.items()} == {
        "region_totals": "succeeded",
        "top_region": "succeeded",
        "broken": "failed",
        "after_broken": "skipped",
    }
    assert "no_such_column" in results["broken"]["error"]
    assert "gold.broken" in results["after_broken"]["error"]
    assert (results["region_totals"]["rows"], results["top_region"]["rows"]) == (2, 1)


def test_built_gold_tables_hold_the_right_answer(built: Built) -> None:
    assert built.gold.rows() == [
        {"region": "AMER", "units": 30, "orders": 10, "top": "EMEA"},
        {"region": "EMEA", "units": 90, "orders": 30, "top": "EMEA"},
    ]
    tables = {t["table"] for t in built.tables.rows()}
    assert {"gold.region_totals", "gold.top_region"} <= tables
    assert not {"gold.broken", "gold.after_broken"} & tables


def test_build_selection_builds_the_model_and_what_it_reads(built: Built) -> None:
    assert built.build_selected.code == 0, built.build_selected.err
    rows = built.build_selected.rows()
    assert [r["model"] for r in rows] == ["region_totals", "top_region"]
    assert all(r["status"] == "succeeded" and r["version"] == 1 for r in rows)


def test_build_is_recorded_as_a_run(gnomon: Gnomon, built: Built) -> None:
    listed = gnomon("runs", "list", "--project", built.project, "--format", "csv")
    header, *rows = listed.csv_rows()
    runs = [dict(zip(header, row, strict=True)) for row in rows]
    builds = [r for r in runs if r["kind"] == "build"]
    assert [r["status"] for r in builds] == ["succeeded", "failed"]
    assert builds[0]["error"] == "", "an empty cell for no value"
    error = json.loads(builds[1]["error"])  # nested values are JSON in a CSV cell
    assert "broken" in error["message"]
    assert [r["status"] for r in runs if r["kind"] == "ingest"] == ["succeeded", "succeeded"]


# --------------------------------------------------------------------------- lake maintenance


@dataclass(frozen=True, slots=True)
class Maintained:
    """An old orphaned file vacuumed (dry run, then applied), then bronze's two files compacted."""

    vacuum_dry: Result
    orphan_kept_by_dry_run: bool
    vacuum: Result
    orphan_kept_by_vacuum: bool
    compact: Result
    ingest: Result
    tables: Result
    history: Result
    counts: Result


@pytest.fixture(scope="module")
def maintained(gnomon: Gnomon, built: Built) -> Maintained:
    project = built.project
    orphan = project / ".gnomon" / "lake" / "bronze" / "orders" / "part-00000-orphan.parquet"
    orphan.write_bytes(b"left by a write that crashed before its commit")
    month_ago = time.time() - 30 * 86_400
    os.utime(orphan, (month_ago, month_ago))
    json_out = ("--project", project, "--format", "json")
    vacuum_dry = gnomon("lake", "vacuum", *json_out)
    kept_by_dry_run = orphan.exists()
    vacuum = gnomon("lake", "vacuum", "bronze.orders", "--apply", *json_out)
    return Maintained(
        vacuum_dry=vacuum_dry,
        orphan_kept_by_dry_run=kept_by_dry_run,
        vacuum=vacuum,
        orphan_kept_by_vacuum=orphan.exists(),
        compact=gnomon("lake", "compact", *json_out),
        ingest=gnomon("ingest", "orders", *json_out),
        tables=gnomon("lake", "tables", *json_out),
        history=gnomon("lake", "history", "bronze.orders", *json_out),
        counts=gnomon("sql", BRONZE_SILVER_SQL, *json_out),
    )


def test_vacuum_is_a_dry_run_unless_applied(maintained: Maintained, built: Built) -> None:
    dry = by_key(maintained.vacuum_dry.rows(), "table")
    assert set(dry) == {t["table"] for t in built.tables.rows()}
    assert dry["bronze.orders"] == {"table": "bronze.orders", "files": 1, "deleted": False}
    assert all(r["files"] == 0 for name, r in dry.items() if name != "bronze.orders")
    assert maintained.orphan_kept_by_dry_run, "a dry run deletes nothing"

    applied = maintained.vacuum.rows()
    assert applied == [{"table": "bronze.orders", "files": 1, "deleted": True}]
    assert not maintained.orphan_kept_by_vacuum


def test_compact_publishes_a_new_version_with_the_same_rows(
    maintained: Maintained,
) -> None:
    compacted = by_key(maintained.compact.rows(), "table")
    assert "bronze.orders" in compacted, "a vacuumed table must still be compacted"
    bronze = compacted["bronze.orders"]
    assert bronze["files_removed"] >= 2
    assert bronze["files_added"] == 1

    tables = by_key(maintained.tables.rows(), "table")
    assert tables["bronze.orders"]["version"] == bronze["version"]
    history = maintained.history.rows()
    assert history[0]["version"] == bronze["version"]
    assert history[0]["operation"] == "OPTIMIZE"
    assert all(h["published"] is True for h in history)

    counts = {r["layer"]: r["n"] for r in maintained.counts.rows()}
    assert counts == {"bronze": 40, "silver": 40}


def test_load_after_maintenance_has_nothing_to_undo(maintained: Maintained) -> None:
    [row] = maintained.ingest.rows()
    assert (row["status"], row["resumed"]) == ("skipped", False)
    operations = [h["operation"] for h in maintained.history.rows()]
    assert "RESTORE" not in operations, "maintenance commits were taken for a crashed load"


# --------------------------------------------------------------------------- gnomon demo

BROKEN_RULES = {
    "non_numeric_quantity": "quantity.type",
    "negative_unit_price": "unit_price.min",
    "missing_order_id": "order_id.required",
    "unknown_status": "status.allowed",
    "unparseable_order_time": "order_time.type",
    "extra_field": "parse",
}
DEMO_SQL = {
    "gold": "SELECT region, SUM(orders) AS orders, SUM(revenue) AS revenue "
    "FROM gold.daily_sales GROUP BY ALL ORDER BY region",
    "quarantine": "SELECT _rule AS rule, COUNT(*) AS n FROM quarantine.orders GROUP BY ALL",
    "counts": "SELECT (SELECT COUNT(*) FROM bronze.orders) AS bronze, "
    "(SELECT COUNT(*) FROM silver.orders) AS silver, "
    "(SELECT COUNT(DISTINCT order_id) FROM silver.orders) AS orders",
}


@dataclass(frozen=True, slots=True)
class Demo:
    project: Path
    first: Result
    gold: Result
    quarantine: Result
    again: Result
    after_again: Result
    kpis: Result


@pytest.fixture(scope="module")
def demo(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Demo:
    project = tmp_path_factory.mktemp("demo") / "retail"
    run = ("demo", "--project", project, "--rows", "20000", "--seed", "3")
    json_out = ("--project", project, "--format", "json")
    first = gnomon(*run)
    gold = gnomon("sql", DEMO_SQL["gold"], *json_out)
    quarantine = gnomon("sql", DEMO_SQL["quarantine"], *json_out)
    again = gnomon(*run)
    counts = gnomon("sql", DEMO_SQL["counts"], *json_out)
    kpis = gnomon("metrics", "query", "revenue", "orders", "average_order_value", "--by", "region",
                  *json_out)  # fmt: skip
    return Demo(project, first, gold, quarantine, again, counts, kpis)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _broken(result: Result) -> tuple[int, dict[str, int]]:
    """The generator's own count of broken rows, as the demo prints it."""
    found = re.search(r"([\d,]+) deliberately broken rows \(([^)]*)\)", result.out)
    assert found, result.out
    kinds = dict(part.split(": ") for part in found.group(2).split(", "))
    return _number(found.group(1)), {k: _number(v) for k, v in kinds.items()}


def _updates(result: Result) -> int:
    found = re.search(r"([\d,]+) status updates", result.out)
    assert found, result.out
    return _number(found.group(1))


@pytest.mark.slow
def test_demo_runs_end_to_end(demo: Demo) -> None:
    assert demo.first.code == 0, demo.first.err
    assert "Generated 20,000 orders" in demo.first.out
    incidents = json.loads((demo.project / "data" / "incidents.json").read_text(encoding="utf-8"))
    assert incidents and all({"kind", "start", "end", "segment"} <= set(i) for i in incidents)
    regions = demo.gold.rows()
    assert regions, "gold.daily_sales is empty"
    assert all(r["orders"] > 0 and r["revenue"] > 0 for r in regions)


@pytest.mark.slow
def test_demo_scans_for_the_incidents_and_forecasts_revenue(demo: Demo) -> None:
    out = demo.first.out
    found = re.search(r"Injected incidents found by the scan: (\d) of (\d)", out)
    assert found, out
    incidents = json.loads((demo.project / "data" / "incidents.json").read_text(encoding="utf-8"))
    assert int(found.group(2)) == len(incidents)
    for incident in incidents:
        assert incident["kind"] in out
    assert "Revenue forecast, next 30 days" in out
    charts = sorted((demo.project / "reports").glob("*.png"))
    assert demo.project / "reports" / "forecast-revenue.png" in charts
    assert len(charts) == 1 + int(found.group(1)), "one chart per incident found, and the forecast"
    assert all(c.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for c in charts)


@pytest.mark.slow
def test_demo_explains_each_incident_in_two_languages(demo: Demo) -> None:
    out = demo.first.out
    found = re.search(r"Root causes: (\d) of (\d) incidents named exactly", out)
    assert found, out
    incidents = json.loads((demo.project / "data" / "incidents.json").read_text(encoding="utf-8"))
    assert int(found.group(2)) == len(incidents)
    section = out[found.start() :]
    for incident in incidents:
        assert re.search(rf"^{incident['kind']}$", section, flags=re.MULTILINE), incident
    english = re.findall(r"^  en: (.+)$", section, flags=re.MULTILINE)
    german = re.findall(r"^  de: (.+)$", section, flags=re.MULTILINE)
    assert len(english) == len(german) == len(incidents)
    assert all(e != g for e, g in zip(english, german, strict=True))
    assert "The insight feed" in out


@pytest.mark.slow
def test_demo_alerts_reach_its_webhook_and_mail_server(demo: Demo) -> None:
    out = demo.first.out
    summary = re.search(
        r"Alerting: (\d+) rules .* raised (\d+) alerts; "
        r"(\d+) notifications delivered, (\d+) failed",
        out,
    )
    assert summary, out
    rules, alerts, delivered, failed = (int(g) for g in summary.groups())
    assert (rules, failed) == (5, 0)
    assert alerts >= 3 and delivered >= 3
    hooks = re.search(r"The webhook receiver got (\d+) requests", out)
    mails = re.search(r"The mail server got (\d+) messages", out)
    assert hooks and mails
    assert int(hooks.group(1)) + int(mails.group(1)) == delivered
    assert "big_web_order" in out and "big_orders_in_a_row" in out
    assert (demo.project / "channels.yaml").exists()


@pytest.mark.slow
def test_demo_applies_kpis_that_agree_with_the_gold_tables(demo: Demo) -> None:
    for title in ("KPIs by month", "KPIs by region, all time", "Last 7 days"):
        assert title in demo.first.out, title
    kpis = by_key(demo.kpis.rows(), "region")
    gold = by_key(demo.gold.rows(), "region")
    assert set(kpis) == set(gold) == {"EMEA", "AMER", "APAC"}
    for region, row in kpis.items():
        assert row["average_order_value"] == pytest.approx(row["revenue"] / row["orders"])
        assert row["orders"] <= gold[region]["orders"]  # gold counts cancelled orders too


@pytest.mark.slow
def test_demo_has_two_tenants_and_answers_each_user_within_its_policies(demo: Demo) -> None:
    out = demo.first.out
    assert "Tenants (each sees only its own orders)" in out
    tenants = re.search(r"acme\s*│\s*([\d,]+).*?globex\s*│\s*([\d,]+)", out, re.S)
    assert tenants and _number(tenants.group(1)) == 20_000 and _number(tenants.group(2)) == 5_000
    analyst = out.split("as emea@acme (analyst)")[1].split("Revenue by region, as")[0]
    assert "EMEA" in analyst and "AMER" not in analyst and "APAC" not in analyst
    admin = out.split("as admin@acme (admin)")[1].split("Revenue by region, as")[0]
    assert all(region in admin for region in ("EMEA", "AMER", "APAC"))


@pytest.mark.slow
def test_demo_quarantine_holds_exactly_the_broken_rows(demo: Demo) -> None:
    total, kinds = _broken(demo.first)
    assert total == sum(kinds.values()) > 0
    assert set(kinds) == set(BROKEN_RULES)
    quarantined = {r["rule"]: r["n"] for r in demo.quarantine.rows()}
    assert quarantined == {BROKEN_RULES[kind]: n for kind, n in kinds.items()}


@pytest.mark.slow
def test_demo_again_rebuilds_the_same_project(demo: Demo) -> None:
    assert demo.again.code == 0, demo.again.err
    assert _broken(demo.again) == _broken(demo.first)
    landed = 20_000 + _broken(demo.again)[0] + _updates(demo.again)
    assert demo.after_again.rows() == [{"bronze": landed, "silver": 20_000, "orders": 20_000}], (
        "the second run must replace the first, not add to it"
    )


def test_demo_refuses_a_folder_that_is_not_a_demo(gnomon: Gnomon, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = gnomon("demo", "--project", tmp_path, "--rows", "1000")
    assert result.code != 0
    assert_user_error(result, "not empty", "not a demo project", code=result.code)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# --------------------------------------------------------------------------- gnomon apply / metrics

METRICS_YAML = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions:
      region: {}
    measures:
      units: {agg: sum, expr: quantity}
      orders: {agg: count}
metrics:
  units: {measure: orders.units, description: Units sold}
  orders: {measure: orders.orders}
  units_per_order: {type: ratio, numerator: units, denominator: orders}
  units_2d: {type: cumulative, metric: units, window: 2 days}
"""


@dataclass(frozen=True, slots=True)
class Metered:
    project: Path
    dry_run: Result
    apply: Result
    again: Result
    listed: Result
    show: Result
    daily: Result
    csv: Result
    explain: Result
    filtered: Result
    bad_dimension: Result
    bad_filter: Result
    bad_grain: Result
    unknown_metric: Result
    bad_date: Result
    bad_definition: Result
    after_bad: Result
    refresh: Result
    rollups: Result
    rolled_explain: Result
    raw_explain: Result


@pytest.fixture(scope="module")
def metered(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Metered:
    project = write_project(tmp_path_factory.mktemp("metered") / "shop")
    # 10 EMEA orders on 1 January, 5 AMER orders on 3 January.
    write_csv(
        project / "data" / "a.csv", order_rows(0, 10) + order_rows(10, 5, day=3, region="AMER")
    )
    assert gnomon("ingest", "orders", "--project", project).code == 0
    (project / "metrics").mkdir()
    (project / "metrics" / "orders.yaml").write_text(METRICS_YAML, encoding="utf-8")
    json_out = ("--project", project, "--format", "json")
    days = ("--grain", "day", "--start", "2025-01-01", "--end", "2025-01-04")
    dry_run = gnomon("apply", "--dry-run", *json_out)
    applied = gnomon("apply", *json_out)
    again = gnomon("apply", *json_out)
    listed = gnomon("metrics", "list", *json_out)
    show = gnomon("metrics", "show", "units_per_order", *json_out)
    daily = gnomon("metrics", "query", "units", "orders", "units_per_order", "units_2d", *days,
                   *json_out)  # fmt: skip
    as_csv = gnomon("metrics", "query", "orders", "--by", "region", "--project", project,
                    "--format", "csv", "--order", "-orders")  # fmt: skip
    explain = gnomon("metrics", "query", "units", *days, "--explain", *json_out)
    refresh = gnomon("metrics", "refresh", *json_out)
    rollups = gnomon("metrics", "rollups", *json_out)
    rolled_explain = gnomon("metrics", "query", "units_per_order", *days, "--explain", *json_out)
    raw_explain = gnomon("metrics", "query", "units_per_order", *days, "--explain", "--no-rollup",
                         *json_out)  # fmt: skip
    filtered = gnomon("metrics", "query", "orders", "--where", "region = 'AMER'", *json_out)
    bad_dimension = gnomon("metrics", "query", "units", "--by", "country", *json_out)
    bad_filter = gnomon("metrics", "query", "units", "--where", "quantity > 1", *json_out)
    bad_grain = gnomon("metrics", "query", "units", "--grain", "fortnight", *json_out)
    unknown = gnomon("metrics", "query", "unitz", *json_out)
    bad_date = gnomon("metrics", "query", "units", "--start", "yesterday", "--end", "2025-01-02",
                      *json_out)  # fmt: skip
    (project / "metrics" / "orders.yaml").write_text(
        METRICS_YAML.replace("denominator: orders", "denominator: order").replace(
            "expr: quantity", "expr: quantty"
        ),
        encoding="utf-8",
    )
    bad_definition = gnomon("apply", "--project", project)
    after_bad = gnomon("metrics", "query", "units_per_order", *json_out)
    return Metered(project, dry_run, applied, again, listed, show, daily, as_csv, explain,
                   filtered, bad_dimension, bad_filter, bad_grain, unknown, bad_date,
                   bad_definition, after_bad, refresh, rollups, rolled_explain,
                   raw_explain)  # fmt: skip


def test_apply_stores_versions_and_again_changes_nothing(metered: Metered) -> None:
    assert {r["change"] for r in metered.dry_run.rows()} == {"created"}
    assert {(r["name"], r["change"], r["version"]) for r in metered.apply.rows()} == {
        ("orders", "created", 1),  # the semantic model
        ("orders", "created", 1),  # the metric of the same name
        ("units", "created", 1),
        ("units_per_order", "created", 1),
        ("units_2d", "created", 1),
    }
    assert len(metered.apply.rows()) == 5
    assert {r["change"] for r in metered.again.rows()} == {"unchanged"}


def test_metrics_list_and_show(metered: Metered) -> None:
    listed = by_key(metered.listed.rows(), "name")
    assert set(listed) == {"units", "orders", "units_per_order", "units_2d"}
    assert listed["units"]["description"] == "Units sold"
    assert listed["units_per_order"]["type"] == "ratio"
    assert listed["units"]["dimensions"] == ["region"]
    [shown] = metered.show.rows()
    assert shown["inputs"] == ["units", "orders"]
    assert "silver.orders" in shown["sql"] and "NULLIF" in shown["sql"]


def test_metrics_query_by_day_with_a_complete_spine(metered: Metered) -> None:
    assert metered.daily.code == 0, metered.daily.err
    rows = metered.daily.rows()
    units = [sum(1 + i % 5 for i in range(0, 10)), 0, sum(1 + i % 5 for i in range(10, 15)), 0]
    assert [r["time"][:10] for r in rows] == [
        "2025-01-01",
        "2025-01-02",
        "2025-01-03",
        "2025-01-04",
    ]
    assert [r["units"] for r in rows] == units
    assert [r["orders"] for r in rows] == [10, 0, 5, 0]
    assert rows[0]["units_per_order"] == pytest.approx(units[0] / 10)
    assert rows[1]["units_per_order"] is None  # 0 / 0
    assert [r["units_2d"] for r in rows] == [units[0], units[0], units[2], units[2]]


def test_metrics_query_csv_order_and_filter(metered: Metered) -> None:
    assert metered.csv.csv_rows() == [["region", "orders"], ["EMEA", "10"], ["AMER", "5"]]
    assert metered.filtered.rows() == [{"orders": 5}]


def test_metrics_query_explain_shows_sql_and_versions(metered: Metered) -> None:
    [plan] = metered.explain.rows()
    assert plan["engine"] == "duckdb"
    assert plan["tables"] == {"silver.orders": plan["tables"]["silver.orders"]}
    assert plan["spine_buckets"] == 4
    assert "_tenant_id = 'default'" in plan["sql"]


def test_metrics_query_mistakes_are_explained(metered: Metered) -> None:
    assert_user_error(metered.bad_dimension, "'country' is not a dimension", "region")
    assert_user_error(metered.bad_filter, "'quantity'", "not a dimension")
    assert_user_error(metered.bad_grain, "'fortnight' is not a grain")
    assert_user_error(metered.unknown_metric, "No metric is called 'unitz'", "'units'")
    assert_user_error(metered.bad_date, "--start 'yesterday' is not a date")


def test_a_bad_definition_names_file_and_key_and_stores_nothing(metered: Metered) -> None:
    assert_user_error(
        metered.bad_definition,
        "metrics/orders.yaml",
        "metrics.units_per_order.denominator: 'order' is not a metric",
        "did you mean 'orders'",
        "semantic_models.orders.measures.units.expr: 'quantty' is not a column of silver.orders",
    )
    assert metered.after_bad.code == 0, metered.after_bad.err
    assert metered.after_bad.rows() == [
        {"units_per_order": pytest.approx(sum(1 + i % 5 for i in range(15)) / 15)}
    ]


def test_metrics_refresh_builds_a_rollup_that_queries_then_use(metered: Metered) -> None:
    [refreshed] = metered.refresh.rows()
    assert refreshed["mode"] == "full"
    assert refreshed["rows"] == 2  # two days x one region each
    [rollup] = metered.rollups.rows()
    assert rollup["state"] == "fresh" and rollup["name"] == refreshed["name"]
    assert set(rollup["metrics"]) == {"units", "orders"}
    [rolled] = metered.rolled_explain.rows()
    assert rolled["rollups_used"] == [f"gold.{rollup['name']}"]
    assert f"gold.{rollup['name']}" in rolled["tables"]
    [raw] = metered.raw_explain.rows()
    assert raw["rollups_used"] == []
    assert "--no-rollup" in raw["rollups_not_used"]["orders"]


SCAN_METRICS = """
semantic_models:
  orders:
    table: silver.orders
    time: {column: updated_at}
    dimensions: {region: {}}
    measures: {orders: {agg: count}}
metrics:
  orders: {measure: orders.orders}
"""
OUTAGE_DAY = "2024-04-30"  # day 120 of 140: a history long enough to judge


@dataclass(frozen=True, slots=True)
class Scanned:
    scan: Result
    again: Result
    listed: Result
    emea: Result
    dismissed: Result
    bad_status: Result
    missing: Result
    bad_since: Result
    forecast: Result
    bad_segment: Result
    registry: Result
    bad_kind: Result


@pytest.fixture(scope="module")
def scanned(gnomon: Gnomon, tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    project = write_project(tmp_path_factory.mktemp("scanned") / "shop")
    write_csv(
        project / "data" / "a.csv",
        daily_orders(date(2024, 1, 1), 140, outage=date.fromisoformat(OUTAGE_DAY)),
    )
    (project / "metrics").mkdir()
    (project / "metrics" / "orders.yaml").write_text(SCAN_METRICS, encoding="utf-8")
    assert gnomon("ingest", "orders", "--project", project).code == 0
    assert gnomon("apply", "--project", project).code == 0
    json_out = ("--project", project, "--format", "json")
    scan = gnomon("scan", *json_out)
    again = gnomon("scan", "--metric", "orders", *json_out)
    listed = gnomon("anomalies", *json_out)
    emea = gnomon("anomalies", "--metric", "orders", "--since", OUTAGE_DAY, *json_out)
    first = min(r["id"] for r in listed.rows()) if scan.code == 0 and listed.rows() else 0
    dismissed = gnomon("anomalies", "dismiss", str(first), *json_out)
    bad_status = gnomon("anomalies", "--status", "closed", *json_out)
    missing = gnomon("anomalies", "confirm", "987654321", "--project", project)
    bad_since = gnomon("anomalies", "--since", "last week", "--project", project)
    forecast = gnomon("forecast", "orders", "--horizon", "7", *json_out)
    bad_segment = gnomon("forecast", "orders", "--segment", "EMEA", "--project", project)
    registry = gnomon("registry", "--all-versions", *json_out)
    bad_kind = gnomon("registry", "--kind", "model", "--project", project)
    return Scanned(scan, again, listed, emea, dismissed, bad_status, missing, bad_since,
                   forecast, bad_segment, registry, bad_kind)  # fmt: skip


def test_scan_lists_new_anomalies_with_segments_as_objects(scanned: Scanned) -> None:
    assert scanned.scan.code == 0, scanned.scan.err
    rows = scanned.scan.rows()
    keys = {"metric", "time", "segment", "actual", "expected", "lower", "upper", "score",
            "severity", "detector"}  # fmt: skip
    assert rows and all(keys <= set(r) for r in rows)
    outage = [r for r in rows if r["time"].startswith(OUTAGE_DAY)]
    assert {json.dumps(r["segment"]) for r in outage} >= {"{}", '{"region": "EMEA"}'}
    assert all(r["direction"] == "down" for r in outage)
    assert scanned.again.code == 0 and scanned.again.rows() == [], "found once"


def test_anomalies_lists_filters_and_takes_feedback(scanned: Scanned) -> None:
    listed = scanned.listed.rows()
    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in scanned.scan.rows())
    assert [r["time"] for r in listed] == sorted(r["time"] for r in listed)
    assert scanned.emea.rows() and all(r["time"] >= OUTAGE_DAY for r in scanned.emea.rows())
    assert scanned.dismissed.code == 0, scanned.dismissed.err
    [row] = scanned.dismissed.rows()
    assert row["status"] == "dismissed"


def test_anomalies_refuse_bad_input_with_exit_2(scanned: Scanned) -> None:
    for result, fragment in (
        (scanned.bad_status, "--status 'closed' is not a status"),
        (scanned.missing, "No anomaly 987654321"),
        (scanned.bad_since, "--since 'last week' is not a date or time"),
        (scanned.bad_segment, "--segment 'EMEA' is not dimension=value"),
        (scanned.bad_kind, "--kind 'model' is not a kind of model"),
    ):
        assert result.code == 2, (result.args, result.err)
        assert fragment in result.message


def test_forecast_prints_rows_with_intervals(scanned: Scanned) -> None:
    assert scanned.forecast.code == 0, scanned.forecast.err
    rows = scanned.forecast.rows()
    assert len(rows) == 7
    assert rows[0]["time"].startswith("2024-05-20")  # the day after the last of 140
    assert set(rows[0]) == {"time", "forecast", "lower_80", "upper_80", "lower_95", "upper_95",
                            "model"}  # fmt: skip
    assert all(r["lower_95"] <= r["forecast"] <= r["upper_95"] for r in rows)


def test_registry_lists_the_detector_versions_and_the_forecaster(scanned: Scanned) -> None:
    assert scanned.registry.code == 0, scanned.registry.err
    rows = scanned.registry.rows()
    detectors = [r for r in rows if r["kind"] == "detector"]
    # The scan registered version 1; dismissing an anomaly widened the threshold: version 2.
    assert [r["version"] for r in detectors] == [1, 2]
    assert (
        detectors[1]["params"]["detector"]["threshold"]
        > (detectors[0]["params"]["detector"]["threshold"])
    )
    [forecaster] = [r for r in rows if r["kind"] == "forecaster"]
    assert forecaster["metric"] == "orders" and forecaster["segment"] == {}
    assert forecaster["model"] and "smape" in forecaster["metrics"]
    assert forecaster["training_end"].startswith("2024-05-19")
