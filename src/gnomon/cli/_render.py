"""Rendering rows as a readable table, a JSON array of objects, or CSV.

JSON output is a contract with scripts: always an array of row objects, timestamps as ISO 8601,
decimals as numbers, nothing else on stdout.
"""

import base64
import csv
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["OutputFormat", "console", "err_console", "render", "to_jsonable"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class OutputFormat(StrEnum):
    """How a listing or query result is printed."""

    table = "table"
    json = "json"
    csv = "csv"


def to_jsonable(value: Any) -> Any:
    """A value JSON can carry without losing its meaning."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, Sequence | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _rows(data: pa.Table | Sequence[Mapping[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    if isinstance(data, pa.Table):
        return list(data.column_names), data.to_pylist()
    rows = [dict(r) for r in data]
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns, rows


_PLAIN_INTEGERS = ("year", "version", "id")


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, int) and column.lower().endswith(_PLAIN_INTEGERS):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e-3 or abs(value) >= 1e15 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,}"
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == datetime.min.time():
            return value.date().isoformat()  # a day, week or month bucket: the date says it all
        return value.isoformat(sep=" ")
    if isinstance(value, Mapping | list):
        return json.dumps(to_jsonable(value), separators=(",", ":"))
    return str(value)


def _csv_cell(value: Any) -> Any:
    """Scalars as they are; nested values (errors, checks) as compact JSON, never Python repr."""
    if value is None:
        return ""
    plain = to_jsonable(value)
    if isinstance(plain, dict | list):
        return json.dumps(plain, separators=(",", ":"))
    return plain


def render(
    data: pa.Table | Sequence[Mapping[str, Any]],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    empty: str = "No rows.",
) -> None:
    """Print rows to stdout in the chosen format."""
    columns, rows = _rows(data)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps([to_jsonable(r) for r in rows], indent=2) + "\n")
        return
    if fmt is OutputFormat.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(c)) for c in columns])
        return
    if not rows:
        console.print(empty if not title else f"{title}: {empty}")
        return
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        numeric = all(
            isinstance(r.get(column), int | float | Decimal) and not isinstance(r.get(column), bool)
            for r in rows
            if r.get(column) is not None
        )
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        # Text, not markup: a value such as '[warning] …' or ':repeat:' prints as it is.
        table.add_row(*(Text(_cell(row.get(c), c)) for c in columns))
    console.print(table)
