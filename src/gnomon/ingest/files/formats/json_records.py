"""JSON documents and NDJSON (one JSON object per line), read as all-text columns.

Values are text exactly as written: a number keeps its digits (``1.50`` stays ``1.50``), ``true``
and ``false`` are those words, ``null`` is null, and an object or array becomes its compact JSON
text (numbers again as written).

Columns: a streamed file's full set of keys is only known at its end, after the first batches are
out. So the columns are the keys of the records in the first batch (``batch_rows`` records), in
the order first seen, plus a last column ``_extra``. A key first seen later goes into ``_extra``
as a JSON object of such keys, so nothing is dropped and every batch has the same columns.
``_extra`` is null where a record has no such key. If the data has an ``_extra`` key itself, the
column gets one more leading underscore per clash (``__extra``). A JSON document follows the same
rule, so both give the same columns for the same records.

An NDJSON line that is not valid JSON, or not an object, is a bad row with its line number;
blank lines are not records. A JSON document is parsed whole, so it is refused above
:data:`JSON_DOCUMENT_LIMIT` bytes, with a hint to use NDJSON.
"""

import json
from collections import deque
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from functools import partial
from typing import Any

from gnomon.ingest.errors import FileTooLarge
from gnomon.ingest.files._context import ReadContext, RowBuffer, string_batch
from gnomon.ingest.files.models import BadRow, ReadBatch, truncate_raw

JSON_DOCUMENT_LIMIT = 512 * 1024 * 1024
"""Largest JSON document, in bytes on disk and after decompression, that is parsed."""

EXTRA_COLUMN = "_extra"


class _Number(str):
    """A JSON number's text as written, so that reading never reformats it."""

    __slots__ = ()


def _loads(text: str) -> Any:
    return json.loads(text, parse_int=_Number, parse_float=_Number, parse_constant=_Number)


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        members = (f"{_dump(key)}:{_dump(item)}" for key, item in value.items())
        return "{" + ",".join(members) + "}"
    return "[" + ",".join(_dump(item) for item in value) + "]"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    return _dump(value)


_Item = tuple[int, int | None, Any]
"""(record number, line, parsed record or the BadRow that replaced it)."""


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str) and not isinstance(value, _Number):
        return "a string"
    return "a number" if isinstance(value, _Number) else "a literal"


def _not_an_object(record: int, line: int | None, value: Any) -> BadRow:
    return BadRow(
        row=record,
        line=line,
        raw=truncate_raw(_dump(value)),
        error=f"the record is {_kind(value)}, not a JSON object",
    )


def _ndjson_items(ctx: ReadContext, stack: ExitStack) -> Iterator[_Item]:
    stream = ctx.open_text(stack, final_newline=False)
    record = 0
    for line_number, line in enumerate(stream, start=1):
        text = line.decode("utf-8").strip()
        if not text:
            continue
        record += 1
        try:
            value = _loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            bad = BadRow(
                row=record,
                line=line_number,
                raw=truncate_raw(text),
                error=f"invalid JSON: {reason}",
            )
            yield record, line_number, bad
            continue
        if isinstance(value, dict):
            yield record, line_number, value
        else:
            yield record, line_number, _not_an_object(record, line_number, value)


def _descend(ctx: ReadContext, document: Any) -> Any:
    path = ctx.spec.options.json_path
    if path is None:
        return document
    walked: list[str] = []
    for segment in path.split("."):
        if isinstance(document, dict) and segment in document:
            document = document[segment]
        elif isinstance(document, list) and segment.isdigit() and int(segment) < len(document):
            document = document[int(segment)]
        else:
            at = ".".join(walked) or "the top level"
            if isinstance(document, dict):
                found = f"keys {', '.join(map(repr, document))}"
            elif isinstance(document, list):
                found = f"an array of {len(document)} items"
            else:
                found = _kind(document)
            raise ctx.unreadable(
                f"options.json_path {path!r} does not match: {at} has no {segment!r} ({found})",
                hint="Set 'options.json_path' to the dotted path of the array of records.",
            )
        walked.append(segment)
    return document


def _document_items(ctx: ReadContext, stack: ExitStack) -> Iterator[_Item]:
    too_large = FileTooLarge(
        f"{ctx.path.name} is a JSON document larger than {JSON_DOCUMENT_LIMIT // 2**20} MiB, "
        "which would have to be read into memory whole.",
        hint="Write the records as NDJSON (one JSON object per line, format: ndjson), which "
        "is read in bounded memory.",
        file=str(ctx.path),
        limit=JSON_DOCUMENT_LIMIT,
    )
    if ctx.size > JSON_DOCUMENT_LIMIT:
        raise too_large
    data = ctx.open_text(stack, final_newline=False).read(JSON_DOCUMENT_LIMIT + 1)
    if len(data) > JSON_DOCUMENT_LIMIT:
        raise too_large
    text = data.decode("utf-8")
    if not text.strip():
        return
    try:
        document = _loads(text)
    except json.JSONDecodeError as exc:
        raise ctx.unreadable(
            f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="Fix the JSON; if the file has one object per line, set 'format: ndjson'.",
        ) from exc
    except RecursionError as exc:
        raise ctx.unreadable("the JSON is nested too deeply", hint="Flatten the data.") from exc
    del data, text
    records = _descend(ctx, document)
    if isinstance(records, dict) and ctx.spec.options.json_path is None:
        arrays = [key for key, value in records.items() if isinstance(value, list)]
        where = f"one of: {', '.join(arrays)}" if arrays else "the key that holds the records"
        raise ctx.unreadable(
            "the document is an object, not an array of records",
            hint=f"Set 'options.json_path' to {where}.",
        )
    if not isinstance(records, list):
        raise ctx.unreadable(
            f"options.json_path leads to {_kind(records)}, not an array of records",
            hint="Set 'options.json_path' to the dotted path of the array of records.",
        )
    for record, value in enumerate(records, start=1):
        if isinstance(value, dict):
            yield record, None, value
        else:
            yield record, None, _not_an_object(record, None, value)


def _columns(first: list[_Item]) -> list[str]:
    keys: dict[str, None] = {}
    for _record, _line, value in first:
        if isinstance(value, dict):
            keys.update(dict.fromkeys(value))
    extra = EXTRA_COLUMN
    while extra in keys:
        extra = "_" + extra
    return [*keys, extra]


def _row(record: dict[str, Any], known: list[str], known_set: frozenset[str]) -> list[object]:
    values: list[object] = [_text(record.get(name)) for name in known]
    extras = {key: value for key, value in record.items() if key not in known_set}
    values.append(_dump(extras) if extras else None)
    return values


def read_json(ctx: ReadContext, stack: ExitStack) -> Generator[ReadBatch, None, None]:
    """Yield a JSON document's or NDJSON file's records as all-text segments."""
    items = _ndjson_items(ctx, stack) if ctx.format == "ndjson" else _document_items(ctx, stack)
    first: list[_Item] = []
    for item in items:
        first.append(item)
        if len(first) >= ctx.batch_rows:
            break
    if not first:
        return
    columns = _columns(first)
    ctx.columns = columns
    yield ctx.columns_known()
    known = columns[:-1]
    known_set = frozenset(known)
    rows = RowBuffer(partial(string_batch, columns), batch_rows=ctx.batch_rows)
    for record, line, value in _chain(first, items):
        if isinstance(value, BadRow):
            ctx.bad_rows.append(value)
            yield from rows.flush()
            continue
        try:
            values = _row(value, known, known_set)
        except RecursionError:
            ctx.bad_rows.append(
                BadRow(row=record, line=line, raw="", error="the record is nested too deeply")
            )
            yield from rows.flush()
            continue
        yield from rows.add(record, values)
    yield from rows.flush()


def _chain(first: list[_Item], rest: Iterator[_Item]) -> Iterator[_Item]:
    """The buffered first items, released as they are used, then the rest."""
    held = deque(first)
    first.clear()
    while held:
        yield held.popleft()
    yield from rest
