"""Fixtures for the lake tests: a lake under tmp_path with a fixed clock, and plain readers.

The readers go through deltalake directly rather than through the lake, so that a test checks
the lake's writes against an independent view of the table.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from gnomon.clock import FixedClock
from gnomon.lake import INGESTED_AT_COLUMN, Lake

Rows = list[dict[str, Any]]
ReadRows = Callable[..., Rows]

FIXED_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _sort_key(row: dict[str, Any]) -> tuple[tuple[bool, Any], ...]:
    """Orders rows by their values, column by column in the row's order, nulls last."""
    return tuple((value is None, 0 if value is None else value) for value in row.values())


def read_delta(uri: str, *, version: int | None = None, drop: tuple[str, ...] = ()) -> Rows:
    """Every row of the table at ``version`` (head when None), sorted, without ``drop``."""
    table = DeltaTable(uri, version=version).to_pyarrow_table()
    rows = [{k: v for k, v in row.items() if k not in drop} for row in table.to_pylist()]
    return sorted(rows, key=lambda row: _sort_key(dict(sorted(row.items()))))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIXED_NOW)


@pytest.fixture
def lake(tmp_path: Path, clock: FixedClock) -> Lake:
    return Lake(str(tmp_path / "lake"), clock=clock)


@pytest.fixture(scope="session")
def sort_rows() -> Callable[[Rows], Rows]:
    return lambda rows: sorted(rows, key=_sort_key)


@pytest.fixture(scope="session")
def read_rows() -> ReadRows:
    """``read_rows(lake, layer, name, version=None, columns=None)``: rows via deltalake.

    With ``columns`` only those columns are kept, and rows are sorted by them in that order;
    otherwise ``_ingested_at`` is dropped and rows are sorted by column name order.
    """

    def read(
        lake: Lake,
        layer: str,
        name: str,
        *,
        version: int | None = None,
        columns: list[str] | None = None,
    ) -> Rows:
        rows = read_delta(lake.uri(layer, name), version=version, drop=(INGESTED_AT_COLUMN,))
        if columns is not None:
            rows = sorted(({c: row.get(c) for c in columns} for row in rows), key=_sort_key)
        return rows

    return read


def table(**columns: list[Any]) -> pa.Table:
    """A pyarrow table from keyword columns (for tests that build inputs inline)."""
    return pa.table(columns)


@pytest.fixture(scope="session")
def make_table() -> Callable[..., pa.Table]:
    return table
