"""Excel workbooks (xlsx) through openpyxl's read-only mode, one row at a time, as text.

Cell values become text the way a later typing step can read them back: numbers in Python's
shortest form (``1.5``, ``3``), ``true``/``false``, dates ``2024-01-31``, date-times
``2024-01-31T08:00:00`` (a date cell whose format shows no time gives the date alone), times
``08:00:00``. Formulas give the value Excel saved with the file.

Rows that are entirely empty are not records. The header is the first row after ``skip_rows``;
empty cells at its right end do not make columns. A data row with a value to the right of the last
column is a bad row (its ``line`` is the sheet's row number).
"""

import json
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack
from datetime import date, datetime, time, timedelta
from functools import partial
from typing import Any
from xml.etree.ElementTree import ParseError

from gnomon.errors import InvalidInput
from gnomon.ingest.files._context import ReadContext, RowBuffer, generated_names, string_batch
from gnomon.ingest.files.models import BadRow, ReadBatch, truncate_raw

_LITERALS = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.')
_DAMAGED = (zipfile.BadZipFile, zlib.error, KeyError, ValueError, OSError, EOFError, ParseError)


def _has_time(number_format: str | None) -> bool:
    """Whether an Excel number format shows a time of day (hours or seconds)."""
    if not number_format:
        return False
    shown = _LITERALS.sub("", number_format).lower()
    return "h" in shown or "s" in shown


def _cell_text(cell: Any) -> str | None:
    value = cell.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0) and not _has_time(getattr(cell, "number_format", None)):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _trimmed(cells: Sequence[Any]) -> list[str | None]:
    values = [_cell_text(cell) for cell in cells]
    while values and values[-1] is None:
        values.pop()
    return values


def _sheet(ctx: ReadContext, workbook: Any) -> Any:
    sheets = workbook.worksheets
    names = [sheet.title for sheet in sheets]
    chosen = ctx.spec.options.sheet
    if chosen is None:
        if not sheets:
            raise ctx.unreadable("the workbook has no worksheet", hint="Add a worksheet.")
        return sheets[0]
    if isinstance(chosen, int):
        if chosen < len(sheets):
            return sheets[chosen]
        problem = f"there is no sheet number {chosen} (0-based); the workbook has {len(sheets)}"
    elif chosen in names:
        return sheets[names.index(chosen)]
    else:
        problem = f"there is no sheet named {chosen!r}"
    raise InvalidInput(
        f"Cannot read {ctx.path.name}: {problem}.",
        hint=f"Set 'options.sheet' to one of: {', '.join(map(repr, names))} (or a 0-based index).",
        file=str(ctx.path),
        sheets=names,
    )


def _rows(ctx: ReadContext, sheet: Any) -> Iterator[tuple[int, list[str | None]]]:
    """(sheet row number, trimmed cell texts) of every non-empty row after the skipped ones."""
    sheet.reset_dimensions()
    for number, cells in enumerate(sheet.iter_rows(), start=1):
        if number <= ctx.spec.options.skip_rows:
            continue
        values = _trimmed(cells)
        if any(value is not None for value in values):
            yield number, values


def _read_rows(ctx: ReadContext, sheet: Any) -> Iterator[ReadBatch]:
    rows = _rows(ctx, sheet)
    first = next(rows, None)
    if first is None:
        return
    if ctx.spec.options.header:
        header = ["" if name is None else name for name in first[1]]
        columns = ctx.check_columns(header, where=f"header (sheet row {first[0]})")
        data: Iterator[tuple[int, list[str | None]]] = rows
    else:
        columns = generated_names(len(first[1]))
        ctx.columns = columns
        data = _prepend(first, rows)
    yield ctx.columns_known()
    width = len(columns)
    buffer = RowBuffer(partial(string_batch, columns), batch_rows=ctx.batch_rows)
    for record, (line, values) in enumerate(data, start=1):
        if len(values) > width:
            ctx.bad_rows.append(
                BadRow(
                    row=record,
                    line=line,
                    raw=truncate_raw(json.dumps(values, ensure_ascii=False)),
                    error=f"the row has {len(values)} cells, the header {width}",
                )
            )
            yield from buffer.flush()
            continue
        padded: list[object] = [*values, *([None] * (width - len(values)))]
        yield from buffer.add(record, padded)
    yield from buffer.flush()


def _prepend(
    first: tuple[int, list[str | None]], rest: Iterator[tuple[int, list[str | None]]]
) -> Iterator[tuple[int, list[str | None]]]:
    yield first
    yield from rest


def read_xlsx(ctx: ReadContext, stack: ExitStack) -> Generator[ReadBatch, None, None]:
    """Yield the chosen sheet's rows as all-text segments."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    damaged = (*_DAMAGED, InvalidFileException)
    hint = "Open and save the file again in Excel or LibreOffice, or check 'format:'."
    source = ctx.open_seekable(stack)
    try:
        workbook = load_workbook(source, read_only=True, data_only=True)
    except damaged as exc:
        raise ctx.unreadable(f"it is not a valid xlsx workbook ({exc})", hint=hint) from exc
    stack.callback(workbook.close)
    sheet = _sheet(ctx, workbook)
    rows = _read_rows(ctx, sheet)
    while True:
        try:
            batch = next(rows)
        except StopIteration:
            return
        except damaged as exc:
            raise ctx.unreadable(f"the sheet is damaged ({exc})", hint=hint) from exc
        yield batch
