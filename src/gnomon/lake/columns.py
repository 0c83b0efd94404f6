"""The metadata columns every lake table carries, and how a write stamps them.

Why the lake stamps rather than trusting the caller: ``_batch_id`` must equal the batch id in the
commit's metadata for a resumed load to reason about what it wrote, and ``_ingested_at`` must be
one instant per commit. So every write overwrites those two columns, whatever the input holds.
``_tenant_id`` comes from the data (or from the tenant an overwrite is scoped to) and is checked:
it partitions the table, so a null or empty value would file rows under no tenant at all.
``_source`` passes through, and is added as nulls when the input lacks it.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from gnomon.errors import InvalidInput

__all__ = [
    "BATCH_COLUMN",
    "INGESTED_AT_COLUMN",
    "INGESTED_AT_TYPE",
    "METADATA_COLUMNS",
    "SOURCE_COLUMN",
    "TENANT_COLUMN",
]

TENANT_COLUMN = "_tenant_id"
INGESTED_AT_COLUMN = "_ingested_at"
BATCH_COLUMN = "_batch_id"
SOURCE_COLUMN = "_source"
METADATA_COLUMNS = (TENANT_COLUMN, INGESTED_AT_COLUMN, BATCH_COLUMN, SOURCE_COLUMN)
INGESTED_AT_TYPE = pa.timestamp("us", tz="UTC")

_STAMPED = {INGESTED_AT_COLUMN: INGESTED_AT_TYPE, BATCH_COLUMN: pa.string()}
_SHOWN_VALUES = 5


def _is_text(data_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(data_type):
        return _is_text(data_type.value_type)
    return bool(
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    )


def stamped_schema(schema: pa.Schema, *, tenant: str | None = None) -> pa.Schema:
    """The schema a write produces from ``schema``: metadata columns typed and present.

    Raises:
        InvalidInput: ``_tenant_id`` is missing (and no tenant is given), or it or ``_source``
            is not a string column.
    """
    names = set(schema.names)
    if TENANT_COLUMN not in names and tenant is None:
        raise InvalidInput(
            f"Missing tenant column: the data has no {TENANT_COLUMN!r} column.",
            hint=f"Add a string column {TENANT_COLUMN!r} naming each row's tenant.",
            columns=list(schema.names),
        )
    fields = []
    for field in schema:
        if field.name in _STAMPED:
            fields.append(pa.field(field.name, _STAMPED[field.name]))
        elif field.name in (TENANT_COLUMN, SOURCE_COLUMN):
            if not _is_text(field.type):
                raise InvalidInput(
                    f"Wrong type for {field.name!r}: it is {field.type}, not a string.",
                    hint=f"Cast {field.name!r} to a string column.",
                    column=field.name,
                )
            fields.append(pa.field(field.name, pa.string()))
        else:
            fields.append(field)
    for name in METADATA_COLUMNS:
        if name not in names:
            fields.append(pa.field(name, _STAMPED.get(name, pa.string())))
    return pa.schema(fields, metadata=schema.metadata)


def _check_tenants(values: pa.Array, *, tenant: str | None) -> None:
    if values.null_count:
        raise InvalidInput(
            f"Rows without a tenant: {values.null_count} rows have a null {TENANT_COLUMN!r}.",
            hint=f"Set {TENANT_COLUMN!r} on every row.",
            rows=values.null_count,
        )
    distinct = pc.unique(values).to_pylist()
    if "" in distinct:
        raise InvalidInput(
            f"Rows without a tenant: some rows have an empty {TENANT_COLUMN!r}.",
            hint=f"Set {TENANT_COLUMN!r} to a non-empty tenant id on every row.",
        )
    if tenant is not None and distinct and distinct != [tenant]:
        others = sorted(value for value in distinct if value != tenant)
        raise InvalidInput(
            f"Rows of other tenants in an overwrite of tenant {tenant!r}: "
            f"{', '.join(others[:_SHOWN_VALUES])}.",
            hint=f"Send only rows whose {TENANT_COLUMN!r} is {tenant!r}, or drop the column.",
            tenant=tenant,
            others=others[:_SHOWN_VALUES],
        )


def stamp_batch(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    *,
    batch_id: str,
    ingested_at: datetime,
    tenant: str | None = None,
) -> pa.RecordBatch:
    """``batch`` shaped to ``schema`` (from :func:`stamped_schema`) with its metadata stamped.

    Raises:
        InvalidInput: a row has no tenant, or (when ``tenant`` is given) another tenant.
    """
    rows = batch.num_rows
    present = set(batch.schema.names)
    arrays = []
    for field in schema:
        if field.name == BATCH_COLUMN:
            arrays.append(pa.repeat(pa.scalar(batch_id, pa.string()), rows))
        elif field.name == INGESTED_AT_COLUMN:
            instant = pa.scalar(ingested_at.astimezone(UTC), INGESTED_AT_TYPE)
            arrays.append(pa.repeat(instant, rows))
        elif field.name not in present:
            fill = tenant if field.name == TENANT_COLUMN else None
            arrays.append(pa.repeat(pa.scalar(fill, pa.string()), rows))
        elif field.name in (TENANT_COLUMN, SOURCE_COLUMN):
            arrays.append(batch.column(field.name).cast(pa.string()))
        else:
            arrays.append(batch.column(field.name))
    stamped = pa.RecordBatch.from_arrays(arrays, schema=schema)
    _check_tenants(stamped.column(TENANT_COLUMN), tenant=tenant)
    return stamped


class StampedStream:
    """A reader that stamps batches as the writer pulls them, so memory stays bounded.

    The writer reports a failure raised inside the stream as its own generic error, so the
    stream keeps the original exception in :attr:`failure` for the caller to re-raise.
    """

    def __init__(
        self,
        source: pa.RecordBatchReader,
        schema: pa.Schema,
        stamp: Callable[[pa.RecordBatch], pa.RecordBatch],
    ) -> None:
        self.failure: Exception | None = None
        self.rows = 0
        self.reader = pa.RecordBatchReader.from_batches(schema, self._batches(source, stamp))

    def _batches(
        self,
        source: pa.RecordBatchReader,
        stamp: Callable[[pa.RecordBatch], pa.RecordBatch],
    ) -> Iterator[pa.RecordBatch]:
        try:
            for batch in source:
                stamped = stamp(batch)
                self.rows += stamped.num_rows
                yield stamped
        except Exception as exc:
            self.failure = exc
            raise


class RowCounter:
    """Counts the rows of a table or reader as a writer consumes them, without buffering them."""

    def __init__(self, data: pa.Table | pa.RecordBatchReader) -> None:
        self.rows = 0
        self._data = data

    def reader(self) -> pa.RecordBatchReader:
        """A reader over the same batches that counts them as they pass."""
        source = self._data.to_reader() if isinstance(self._data, pa.Table) else self._data

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in source:
                self.rows += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(source.schema, batches())
