"""CSV and TSV through Arrow's streaming CSV reader, every column read as text.

Two passes over the first block: the first learns the column names (Arrow needs them to be told
that every column is text), the second reads. Quoted values may span lines. Unquoted values in
``null_values`` are null; a quoted value never is, so ``""`` stays an empty string.

Blank lines are skipped, except in a file of one column: there a blank line is how an empty value
is written, so it is a record (null, or ``""`` if the empty string is not a null value).

A record with too many or too few fields is a bad row and reading goes on. Arrow reports it by
record number, not by physical line, so ``BadRow.line`` is ``None`` for CSV. The record numbers
of the good rows around it are exact: batches are cut where a bad row was taken out.
"""

from collections import deque
from collections.abc import Generator
from contextlib import ExitStack
from typing import Literal

import pyarrow as pa
import pyarrow.csv as pacsv

from gnomon.ingest.files._context import ReadContext, generated_names
from gnomon.ingest.files._streams import REPLACEMENT
from gnomon.ingest.files.models import BadRow, ReadBatch, truncate_raw

_BLANK = frozenset(b" \t\r\n")


def _delimiter(ctx: ReadContext) -> str:
    if ctx.spec.options.delimiter is not None:
        return ctx.spec.options.delimiter
    return "\t" if ctx.format == "tsv" else ","


def _skip(_row: object) -> Literal["skip"]:
    return "skip"


def _is_blank(ctx: ReadContext) -> bool:
    """Whether the text holds no record after the rows to skip (an empty file)."""
    with ExitStack() as stack:
        stream = ctx.open_text(stack, final_newline=True)
        lines = 0
        for line in stream:
            if not _BLANK.issuperset(line):
                lines += 1
                if lines > ctx.spec.options.skip_rows:
                    return False
    return True


def _column_names(ctx: ReadContext, parse: pacsv.ParseOptions) -> list[str] | None:
    """The file's column names, or ``None`` when the file holds nothing to read."""
    options = ctx.spec.options
    with ExitStack() as stack:
        stream = ctx.open_text(stack, final_newline=True)
        try:
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=ctx.block_size,
                    skip_rows=options.skip_rows,
                    autogenerate_column_names=not options.header,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=parse.delimiter,
                    quote_char=parse.quote_char,
                    newlines_in_values=True,
                    invalid_row_handler=_skip,
                ),
            )
        except pa.ArrowInvalid as exc:
            if _is_blank(ctx):
                return None
            raise ctx.unreadable(
                f"{exc}", hint="Check 'options.delimiter', 'options.quote' and 'format:'."
            ) from exc
        names: list[str] = reader.schema.names
        reader.close()
    if not options.header:
        return generated_names(len(names))
    if (
        ctx.transcoder is not None
        and ctx.transcoder.replaced
        and any(REPLACEMENT in name for name in names)
    ):
        raise ctx.unreadable(
            f"the header holds bytes that are not valid {options.encoding}",
            hint="Set 'options.encoding' to the file's encoding (e.g. latin-1, cp1252, utf-16).",
        )
    return ctx.check_columns(names, where="header")


class _BadRecords:
    """Collects Arrow's invalid rows, which it may report ahead of the batch they fall in.

    Arrow calls this from its reading thread, in file order (parsing is serial), so ``numbers``
    is a queue in ascending order that the consuming thread can read from the left.
    """

    def __init__(self, ctx: ReadContext, *, offset: int) -> None:
        self._ctx = ctx
        self._offset = offset
        self.numbers: deque[int] = deque()

    def __call__(self, row: pacsv.InvalidRow) -> Literal["skip"]:
        number = None if row.number is None else int(row.number) - self._offset
        self._ctx.bad_rows.append(
            BadRow(
                row=number,
                line=None,
                raw=truncate_raw(str(row.text)),
                error=f"expected {row.expected_columns} fields, found {row.actual_columns}",
            )
        )
        if number is not None:
            self.numbers.append(number)
        return "skip"


def read_delimited(ctx: ReadContext, stack: ExitStack) -> Generator[ReadBatch, None, None]:
    """Yield the file's records as all-text segments; ragged records become bad rows."""
    options = ctx.spec.options
    parse = pacsv.ParseOptions(
        delimiter=_delimiter(ctx),
        quote_char=options.quote if options.quote is not None else False,
        double_quote=True,
        newlines_in_values=True,
    )
    names = _column_names(ctx, parse)
    if names is None:
        return
    ctx.columns = names
    yield ctx.columns_known()
    header_rows = options.skip_rows + (1 if options.header else 0)
    bad = _BadRecords(ctx, offset=header_rows)
    parse.invalid_row_handler = bad
    parse.ignore_empty_lines = len(names) > 1
    stream = ctx.open_text(stack, final_newline=True)
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                use_threads=False,
                block_size=ctx.block_size,
                skip_rows=options.skip_rows,
                column_names=None if options.header else names,
            ),
            parse_options=parse,
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                null_values=list(options.null_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ctx.unreadable(str(exc), hint="Check the file's first rows.") from exc
    stack.callback(reader.close)
    record = 1
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as exc:
            raise ctx.unreadable(
                f"after record {record - 1}: {exc}",
                hint="A quote that is never closed swallows the rest of the file; close it, or "
                "set 'options.quote: null' if the file does not quote values. A single record "
                "larger than the block size also stops reading.",
            ) from exc
        offset = 0
        total: int = batch.num_rows
        while offset < total:
            while bad.numbers and bad.numbers[0] <= record:
                if bad.numbers.popleft() == record:
                    record += 1
            run = total - offset
            if bad.numbers:
                run = min(run, bad.numbers[0] - record)
            yield ReadBatch(batch=batch.slice(offset, run), first_row=record)
            offset += run
            record += run
