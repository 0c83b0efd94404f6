"""Parquet files, row group by row group, keeping their own Arrow types.

A compressed Parquet file (``orders.parquet.gz``) is first decompressed to a temporary file,
because Parquet is read from its footer backwards. Progress is the share of rows read.
"""

from collections.abc import Generator
from contextlib import ExitStack

import pyarrow as pa
import pyarrow.parquet as pq

from gnomon.ingest.files._context import ReadContext
from gnomon.ingest.files.models import ReadBatch

_DAMAGED = (pa.ArrowException, OSError, ValueError)
_HINT = "Write the file again in full, or check 'format:' and 'compression:'."


def read_parquet(ctx: ReadContext, stack: ExitStack) -> Generator[ReadBatch, None, None]:
    """Yield the file's rows in native Arrow types."""
    source = ctx.open_seekable(stack)
    try:
        parquet = pq.ParquetFile(source)
    except _DAMAGED as exc:
        raise ctx.unreadable(f"it is not a valid Parquet file ({exc})", hint=_HINT) from exc
    stack.callback(parquet.close)
    ctx.check_columns(parquet.schema_arrow.names, where="schema")
    ctx.schema = parquet.schema_arrow
    yield ctx.columns_known()
    total: int = parquet.metadata.num_rows
    done = 0

    def share_read() -> int:
        return ctx.size if not total else ctx.size * done // total

    ctx.position = share_read
    batches = parquet.iter_batches(batch_size=ctx.batch_rows)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except _DAMAGED as exc:
            raise ctx.unreadable(
                f"after row {done}: the data is damaged ({exc})", hint=_HINT
            ) from exc
        rows: int = batch.num_rows
        first = done + 1
        done += rows
        if rows:
            yield ReadBatch(batch=batch, first_row=first)
