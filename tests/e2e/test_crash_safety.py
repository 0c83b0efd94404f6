"""A load killed with SIGKILL at any point leaves every table as readers see it at its previous
version, and the next load completes it: the final state equals that of a load never killed.

The kill is injected in a child process by wrapping one lake or catalog method there; gnomon's
own code carries no test hooks.
"""

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gnomon.app import Gnomon
from tests.projects import order_rows, write_csv, write_project

KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import pyarrow as pa
    from gnomon.catalog.repositories.tables import TableVersionRepository
    from gnomon.lake import Lake

    owner, method, when, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    target = TableVersionRepository if owner == "tables" else Lake
    original = getattr(target, method)
    calls = {"n": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def wrapper(self, *args, **kwargs):
        calls["n"] += 1
        armed = calls["n"] == nth
        if armed and when == "before":
            die()
        if armed and when == "mid-stream":
            data = args[2]
            reader = data if isinstance(data, pa.RecordBatchReader) else data.to_reader()
            def batches():
                for batch in reader:
                    yield batch
                    die()  # the writer holds a batch, has written files, has not committed
            args = (args[0], args[1], pa.RecordBatchReader.from_batches(reader.schema, batches()),
                    *args[3:])
        result = original(self, *args, **kwargs)
        if armed and when == "after":
            die()
        return result

    setattr(target, method, wrapper)
    from gnomon.cli.main import main
    sys.argv = ["gnomon", *sys.argv[5:]]
    main()
    """
)


def _ingest(project: Path) -> list[str]:
    """Ingest in this process (a process other than the one that was killed); the statuses."""
    with Gnomon.open(project) as app:
        return [r.status for r in app.ingest.ingest("orders", ctx=app.context())]


def _killed(project: Path, owner: str, method: str, when: str, nth: int) -> int:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLER,
            owner,
            method,
            when,
            str(nth),
            "ingest",
            "orders",
            "--project",
            str(project),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    return proc.returncode


def _state(project: Path) -> dict[str, Any]:
    """What readers see: published versions and the rows of every table."""
    with Gnomon.open(project) as app:
        tables = {f"{t.layer}.{t.name}": t.version for t in app.tables()}
        state: dict[str, Any] = {"versions": tables}
        for table in tables:
            if table.startswith("silver."):
                cols = "order_id, updated_at, region, quantity, price"
            elif table.startswith("quarantine."):
                cols = "order_id, _rule"
            else:
                cols = "order_id, _batch_id"
            rows = app.sql(f"SELECT {cols} FROM {table} ORDER BY ALL").to_pylist()
            state[table] = rows
        return state


def _content(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "versions"}


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[list[str]], list[list[str]]]:
    first = order_rows(0, 1500)
    # The second file updates 300 orders (later updated_at), adds 1200 new ones and one bad row.
    second = [[r[0], "2025-01-05 10:00:00", "APAC", r[3], r[4]] for r in first[:300]]
    second += order_rows(5000, 1200, day=3)
    second += [["O999999", "2025-01-03 10:00:00", "MARS", "1", "1.00"]]
    return first, second


def _reference(root: Path, batches: tuple[list[list[str]], list[list[str]]]) -> dict[str, Any]:
    project = write_project(root)
    write_csv(project / "data" / "a.csv", batches[0])
    assert _ingest(project) == ["succeeded"]
    write_csv(project / "data" / "b.csv", batches[1])
    assert _ingest(project) == ["succeeded"]
    return _content(_state(project))


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, batches: Any) -> dict[str, Any]:
    return _reference(tmp_path_factory.mktemp("reference"), batches)


KILL_POINTS = [
    ("lake", "append", "before", 1),  # before bronze is written
    ("lake", "append", "mid-stream", 1),  # while bronze files are being written
    ("lake", "append", "after", 1),  # bronze committed, nothing else
    ("lake", "stage", "mid-stream", 1),  # while the valid rows are written as silver files
    ("lake", "stage", "after", 1),  # silver files staged, not committed, quarantine not written
    ("lake", "replace_batch", "after", 1),  # quarantine committed
    ("lake", "commit_staged", "before", 1),  # checks done, silver not touched
    ("lake", "merge", "before", 1),  # the staged rows read back for the merge
    ("lake", "merge", "after", 1),  # silver committed, nothing published
    ("tables", "publish", "after", 1),  # inside the publish transaction, before its commit
]


@pytest.mark.slow
@pytest.mark.parametrize(("owner", "method", "when", "nth"), KILL_POINTS)
def test_sigkill_during_second_load_then_resume(
    tmp_path: Path,
    batches: Any,
    reference: dict[str, Any],
    owner: str,
    method: str,
    when: str,
    nth: int,
) -> None:
    project = write_project(tmp_path / "p")
    write_csv(project / "data" / "a.csv", batches[0])
    assert _ingest(project) == ["succeeded"]
    before = _state(project)

    write_csv(project / "data" / "b.csv", batches[1])
    code = _killed(project, owner, method, when, nth)
    assert code == -signal.SIGKILL, "the load should have been killed"

    assert _state(project) == before, "readers must still see every table at its old version"

    statuses = _ingest(project)
    assert statuses[-1] in {"succeeded", "skipped"}
    assert "failed" not in statuses
    assert _content(_state(project)) == reference

    assert _ingest(project) == ["skipped"]
    assert _content(_state(project)) == reference, "a further ingest must add nothing"
    _assert_vacuum_cleans_leftovers(project)


def _assert_vacuum_cleans_leftovers(project: Path) -> None:
    """Files a killed load left behind are referenced by no version, and a vacuum removes them."""
    with Gnomon.open(project) as app:
        for info in app.tables():
            app.lake.vacuum(info.layer, info.name, retention_hours=0, force=True, dry_run=False)
            folder = Path(app.lake.uri(info.layer, info.name))
            stored = {str(path) for path in folder.rglob("*.parquet")}
            assert stored == set(app.lake.snapshot(info.layer, info.name).files), info


FIRST_LOAD_KILL_POINTS = [
    ("lake", "append", "after", 1),  # bronze committed, nothing else
    ("lake", "stage", "mid-stream", 1),  # silver files half written, no silver table yet
    ("lake", "commit_staged", "after", 1),  # silver created, nothing published
]


@pytest.mark.slow
@pytest.mark.parametrize(("owner", "method", "when", "nth"), FIRST_LOAD_KILL_POINTS)
def test_sigkill_during_first_load_then_resume(
    tmp_path: Path, batches: Any, owner: str, method: str, when: str, nth: int
) -> None:
    project = write_project(tmp_path / "p")
    write_csv(project / "data" / "a.csv", batches[0])
    assert _killed(project, owner, method, when, nth) == -signal.SIGKILL
    with Gnomon.open(project) as app:
        assert app.tables() == [], "nothing may be visible after a killed first load"
    assert _ingest(project) == ["succeeded", "skipped"], "the resumed run, then nothing new"
    state = _state(project)
    assert len(state["silver.orders"]) == 1500
    assert len(state["bronze.orders"]) == 1500
    assert (project / ".gnomon" / "lake" / "silver" / "orders").is_dir()
    _assert_vacuum_cleans_leftovers(project)
