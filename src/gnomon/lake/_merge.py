"""The upsert behind ``Lake.merge``: checks on the source, and the Delta MERGE clauses.

Identifiers are always double-quoted (with quotes doubled) because the Delta SQL parser folds
unquoted names to lower case, and column names come from user data.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gnomon.errors import InvalidInput
from gnomon.lake.columns import BATCH_COLUMN, INGESTED_AT_COLUMN, TENANT_COLUMN

SOURCE_ALIAS = "s"
TARGET_ALIAS = "t"
_SHOWN_KEYS = 5


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def join_columns(keys: Sequence[str]) -> tuple[str, ...]:
    """The columns a source row is matched on: the tenant, then the keys.

    Raises:
        InvalidInput: no keys, repeated keys, or a key the lake stamps on every write.
    """
    if isinstance(keys, str) or not keys:
        raise InvalidInput(
            "Missing merge keys: a merge needs the columns that identify a row.",
            hint="Pass keys=['id'] (a list of column names).",
        )
    if len(set(keys)) != len(keys):
        raise InvalidInput(
            f"Repeated merge keys: {', '.join(keys)}.", hint="Name each key column once."
        )
    stamped = sorted({BATCH_COLUMN, INGESTED_AT_COLUMN} & set(keys))
    if stamped:
        raise InvalidInput(
            f"Invalid merge key: {', '.join(stamped)} is set by the lake on every write.",
            hint="Merge on the columns that identify a row in the source data.",
        )
    return (TENANT_COLUMN, *(key for key in keys if key != TENANT_COLUMN))


def check_source(source: pa.Table, *, on: Sequence[str], order_by: str | None, table: str) -> None:
    """Refuse a source the merge could not apply row by row.

    Raises:
        InvalidInput: a key or ``order_by`` column is missing, a key is null, or two source rows
            share a key (a merge would then insert both, or update one target row twice).
    """
    needed = [*on, *([order_by] if order_by is not None else [])]
    missing = [column for column in needed if column not in source.column_names]
    if missing:
        raise InvalidInput(
            f"Missing merge columns in the data for {table}: {', '.join(missing)}.",
            hint=f"The data has: {', '.join(source.column_names)}.",
            missing=missing,
        )
    for column in on:
        nulls = source.column(column).null_count
        if nulls:
            raise InvalidInput(
                f"Null merge key in the data for {table}: {nulls} rows have no {column!r}.",
                hint="Drop or fix rows without a key before merging.",
                column=column,
            )
    counts = source.select(list(on)).group_by(list(on)).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if repeated.num_rows:
        examples = repeated.select(list(on)).slice(0, _SHOWN_KEYS).to_pylist()
        raise InvalidInput(
            f"Duplicate merge keys in the data for {table}: {repeated.num_rows} keys occur more "
            f"than once, e.g. {examples}.",
            hint="Keep one row per key (the latest) before merging.",
            duplicates=repeated.num_rows,
            examples=examples,
        )


def check_target(schema: pa.Schema, *, on: Sequence[str], order_by: str | None, table: str) -> None:
    """Refuse a merge whose key or ordering column the existing table lacks.

    Raises:
        InvalidInput: a column is missing from the table.
    """
    needed = [*on, *([order_by] if order_by is not None else [])]
    missing = [column for column in needed if column not in schema.names]
    if missing:
        raise InvalidInput(
            f"Missing merge columns in table {table}: {', '.join(missing)}.",
            hint=f"Merge on columns the table has: {', '.join(schema.names)}.",
            missing=missing,
        )


@dataclass(frozen=True, slots=True)
class MergeClauses:
    """The SQL pieces of one Delta MERGE."""

    predicate: str
    updates: dict[str, str]
    update_when: str | None
    inserts: dict[str, str]


def clauses(columns: Sequence[str], *, on: Sequence[str], order_by: str | None) -> MergeClauses:
    """Match on ``on``; update every other source column when the source is at least as recent.

    A null ``order_by`` counts as older than any value: a null source row never replaces a
    target row that has one, and a target row with a null is always replaced.
    """
    s, t = SOURCE_ALIAS, TARGET_ALIAS
    predicate = " AND ".join(f"{t}.{quote(c)} = {s}.{quote(c)}" for c in on)
    updates = {quote(c): f"{s}.{quote(c)}" for c in columns if c not in on}
    update_when = None
    if order_by is not None:
        o = quote(order_by)
        update_when = f"{t}.{o} IS NULL OR ({s}.{o} IS NOT NULL AND {s}.{o} >= {t}.{o})"
    inserts = {quote(c): f"{s}.{quote(c)}" for c in columns}
    return MergeClauses(predicate, updates, update_when, inserts)
