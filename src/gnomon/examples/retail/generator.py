"""Write the retail demo data set: monthly order files, status updates and ground truth.

Volumes are computed first for the whole period as expected orders per day and segment (a few
hundred thousand cells, whatever the row count). Counts are drawn from them once, as Poisson
counts conditioned on the requested total, which is a single multinomial draw, so the number of
rows is exact. Rows are then synthesised and written a block of days at a time, so memory stays
bounded by the block size, not by the data set. Every random stream is derived from the seed and
a fixed purpose (and, for rows, the block's first day), so the same arguments always give the
same bytes.
"""

import gzip
import logging
import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Final, Literal, cast

import numpy as np
import numpy.typing as npt

from gnomon.errors import InvalidInput
from gnomon.examples.retail import _format
from gnomon.examples.retail.assortment import Tables, build_tables
from gnomon.examples.retail.broken import BrokenPlan, broken_count, broken_line, plan_broken
from gnomon.examples.retail.demand import Calendar, baseline_intensity, build_calendar
from gnomon.examples.retail.incidents import (
    IncidentPlan,
    minimum_days,
    no_incidents,
    plan_incidents,
    write_incidents,
)
from gnomon.examples.retail.models import BROKEN_KINDS, COLUMNS, GenerationResult
from gnomon.examples.retail.orders import (
    DAY_SECONDS,
    CustomerBase,
    OrderContext,
    TextTables,
    format_columns,
    format_lines,
    synthesize,
)
from gnomon.examples.retail.updates import UpdateCollector, format_ndjson

__all__ = ["generate", "write_benchmark_csv"]

logger = logging.getLogger(__name__)

Ints = npt.NDArray[np.int64]

_STREAM_INCIDENTS: Final = 1
_STREAM_COUNTS: Final = 2
_STREAM_BROKEN: Final = 3
_STREAM_ROWS: Final = 4
_STREAM_UPDATES: Final = 5

_BLOCK_ROWS: Final = 200_000
_GZIP_LEVEL: Final = 4
_BLOCKS_IN_FLIGHT: Final = 3
_MIN_ROWS: Final = 1_000
_MAX_ROWS: Final = 900_000_000
_MAX_BROKEN_FRACTION: Final = 0.01
_MAX_UPDATES_FRACTION: Final = 0.2
_BENCHMARK_START: Final = date(2024, 1, 1)
_BENCHMARK_DAYS: Final = 731
_ORDER_FILE: Final = re.compile(r"orders-\d{4}-\d{2}\.csv(\.gz)?")
_HEADER: Final = (",".join(COLUMNS) + "\n").encode("ascii")


def _rng(seed: int, stream: int, *extra: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *extra])


def _invalid(parameter: str, value: object, problem: str, hint: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid {parameter}: {problem}.", hint=hint, parameter=parameter, value=repr(value)
    )


def _validate(
    *,
    rows: int,
    seed: int,
    start: date,
    days: int,
    compression: str,
    broken_fraction: float,
    updates_fraction: float,
) -> None:
    if not _MIN_ROWS <= rows <= _MAX_ROWS:
        raise _invalid(
            "rows",
            rows,
            f"{rows} is outside {_MIN_ROWS:,} … {_MAX_ROWS:,}",
            f"Pass rows between {_MIN_ROWS:,} and {_MAX_ROWS:,}; fewer rows cannot show the "
            "seasonality and incidents.",
        )
    if seed < 0:
        raise _invalid("seed", seed, "seeds must not be negative", "Pass a seed of 0 or more.")
    if type(start) is not date:
        raise _invalid("start", start, "expected a date", "Pass a datetime.date, e.g. 2024-01-01.")
    if days < minimum_days():
        raise _invalid(
            "days",
            days,
            f"{days} days leave no room for every incident after the history",
            f"Pass days={minimum_days()} or more.",
        )
    if compression not in ("gzip", "none"):
        raise _invalid(
            "compression",
            compression,
            f"unknown compression {compression!r}",
            "Use one of: gzip, none.",
        )
    if not 0.0 <= broken_fraction <= _MAX_BROKEN_FRACTION:
        raise _invalid(
            "broken_fraction",
            broken_fraction,
            "must be a fraction of rows",
            f"Pass a value between 0 and {_MAX_BROKEN_FRACTION}.",
        )
    if not 0.0 <= updates_fraction <= _MAX_UPDATES_FRACTION:
        raise _invalid(
            "updates_fraction",
            updates_fraction,
            "must be a fraction of orders",
            f"Pass a value between 0 and {_MAX_UPDATES_FRACTION}.",
        )


def _draw_counts(intensity: npt.NDArray[np.float64], total: int, seed: int) -> Ints:
    """Orders per (day, segment): Poisson counts conditioned on their sum being ``total``."""
    flat = intensity.ravel()
    counts = _rng(seed, _STREAM_COUNTS).multinomial(total, flat / flat.sum())
    return counts.reshape(intensity.shape).astype(np.int64)


def _blocks(per_day: Ints, first: int, stop: int) -> Iterator[tuple[int, int]]:
    """Runs of whole days from ``first`` to ``stop`` holding about ``_BLOCK_ROWS`` rows each."""
    day = first
    while day < stop:
        end = day + 1
        total = int(per_day[day])
        while end < stop and total + int(per_day[end]) <= _BLOCK_ROWS:
            total += int(per_day[end])
            end += 1
        yield day, end
        day = end


def _months(calendar: Calendar) -> Iterator[tuple[str, int, int]]:
    """``(YYYY-MM, first day, stop day)`` of each calendar month the data touches."""
    first = 0
    for index in range(1, calendar.days + 1):
        if index == calendar.days or calendar.day(index).day == 1:
            yield calendar.day(first).strftime("%Y-%m"), first, index
            first = index


class _Sink:
    """Writes blocks on a background thread while the next block is generated.

    zlib releases the GIL, so compression overlaps with generation. One worker keeps the blocks
    in order, and at most a few are in flight, which bounds memory.
    """

    def __init__(self, target: BinaryIO, executor: ThreadPoolExecutor) -> None:
        self._target = target
        self._executor = executor
        self._pending: deque[Future[int]] = deque()
        self.written = 0

    def write(self, data: bytes | memoryview) -> None:
        """Queue ``data`` for writing; raises what an earlier write raised."""
        while len(self._pending) >= _BLOCKS_IN_FLIGHT:
            self._pending.popleft().result()
        self._pending.append(self._executor.submit(self._target.write, data))
        self.written += len(data)

    def drain(self) -> None:
        """Wait until everything queued is written; raises what a write raised."""
        while self._pending:
            self._pending.popleft().result()

    def settle(self) -> None:
        """Wait for queued writes without raising, before the file beneath is closed."""
        wait(self._pending)
        self._pending.clear()


@contextmanager
def _open_sink(path: Path, compression: Literal["gzip", "none"]) -> Iterator[_Sink]:
    """A file; gzip output has no name or time in its header, so its bytes are stable."""
    with ThreadPoolExecutor(max_workers=1) as executor, path.open("wb") as raw:
        packed = (
            None
            if compression == "none"
            else gzip.GzipFile(
                filename="", mode="wb", fileobj=raw, compresslevel=_GZIP_LEVEL, mtime=0
            )
        )
        sink = _Sink(raw if packed is None else cast(BinaryIO, packed), executor)
        try:
            yield sink
            sink.drain()
        finally:
            sink.settle()
            if packed is not None:
                packed.close()


@dataclass(frozen=True, slots=True)
class _Plan:
    """One data set's decisions, taken before any row is written."""

    tables: Tables
    calendar: Calendar
    incidents: IncidentPlan
    counts: Ints
    broken: BrokenPlan
    context: OrderContext
    text: TextTables
    seed: int


def _plan(
    *, rows: int, seed: int, start: date, days: int, broken_lines: int, with_incidents: bool
) -> _Plan:
    tables = build_tables()
    calendar = build_calendar(start, days)
    incidents = (
        plan_incidents(calendar, tables, rng=_rng(seed, _STREAM_INCIDENTS))
        if with_incidents
        else no_incidents(calendar, tables)
    )
    intensity = baseline_intensity(calendar, tables) * incidents.orders
    total = rows + broken_lines
    return _Plan(
        tables=tables,
        calendar=calendar,
        incidents=incidents,
        counts=_draw_counts(intensity, total, seed),
        broken=plan_broken(total, broken_lines, rng=_rng(seed, _STREAM_BROKEN)),
        context=OrderContext(
            tables=tables,
            calendar=calendar,
            price_multiplier=incidents.price,
            customers=CustomerBase.for_rows(rows, tables.country_weight),
        ),
        text=TextTables.build(tables, calendar),
        seed=seed,
    )


def _write_block(
    sink: _Sink,
    plan: _Plan,
    first: int,
    stop: int,
    first_line: int,
    updates: UpdateCollector | None,
) -> tuple[int, int]:
    """Write the lines of days ``first … stop - 1``; return (lines, well-formed rows)."""
    batch = synthesize(
        plan.counts[first:stop],
        first_day=first,
        first_number=first_line + 1,
        context=plan.context,
        rng=_rng(plan.seed, _STREAM_ROWS, first),
    )
    columns = format_columns(batch, plan.text)
    data, offsets = _format.line_bounds(format_lines(batch, columns))
    local, kinds, variants = plan.broken.within(first_line, len(batch))
    cursor = 0
    for index, kind, variant in zip(local.tolist(), kinds.tolist(), variants.tolist(), strict=True):
        sink.write(data[offsets[cursor] : offsets[index]])
        fields = [str(column[index].as_py()) for column in columns]
        sink.write(broken_line(fields, BROKEN_KINDS[kind], variant).encode("utf-8"))
        cursor = index + 1
    sink.write(data[offsets[cursor] : offsets[len(batch)]])
    if updates is not None:
        good = np.ones(len(batch), dtype=np.bool_)
        good[local] = False
        updates.collect(batch, good, _rng(plan.seed, _STREAM_UPDATES, first))
    return len(batch), len(batch) - len(local)


def _clear_previous(orders_dir: Path) -> None:
    """Remove order files of an earlier run, which a reader globbing the folder would mix in."""
    for path in sorted(orders_dir.iterdir()):
        if path.is_file() and _ORDER_FILE.fullmatch(path.name):
            path.unlink()


def _write_updates(path: Path, collector: UpdateCollector, text: TextTables) -> int:
    merged = collector.merged()
    with path.open("wb") as sink:
        if merged is None:
            return 0
        for low in range(0, len(merged), _BLOCK_ROWS):
            part = merged.take(np.arange(low, min(low + _BLOCK_ROWS, len(merged))))
            data, offsets = _format.line_bounds(format_ndjson(part, text))
            sink.write(data[offsets[0] : offsets[-1]])
    return len(merged)


def generate(
    out_dir: Path,
    *,
    rows: int = 1_000_000,
    seed: int = 0,
    start: date = date(2024, 1, 1),
    days: int = 731,
    compression: Literal["gzip", "none"] = "gzip",
    broken_fraction: float = 0.00005,
    updates_fraction: float = 0.01,
    on_progress: Callable[[int], None] | None = None,
) -> GenerationResult:
    """Write a retail data set with known incidents and defects under ``out_dir``.

    Writes ``orders/orders-YYYY-MM.csv[.gz]`` (one file per month, a header line, then order
    lines sorted by ``order_time``, with the broken lines among them), ``updates/
    order_updates.ndjson`` and ``incidents.json``. Order files left in ``orders/`` by an earlier
    run are removed first, as is a stale updates file when no updates are asked for; nothing
    else in ``out_dir`` is touched. All times are UTC.

    Args:
        out_dir: folder to write to; created when missing.
        rows: well-formed order rows to write, exactly (1,000 or more).
        seed: the same seed and arguments give byte-identical files; another seed gives
            other orders and other incidents.
        start: first day of data.
        days: number of days; long enough for 60 days of history and every incident.
        compression: ``gzip`` (the default) or ``none`` for plain CSV.
        broken_fraction: share of broken lines relative to ``rows``; when above zero, at least
            ten lines are broken, spread over the kinds in ``BROKEN_KINDS``.
        updates_fraction: share of orders that get a later status update; 0 writes no file.
        on_progress: called after each block of days with the well-formed rows written so far.

    Raises:
        InvalidInput: an argument is out of range; the message names it.
    """
    _validate(
        rows=rows,
        seed=seed,
        start=start,
        days=days,
        compression=compression,
        broken_fraction=broken_fraction,
        updates_fraction=updates_fraction,
    )
    plan = _plan(
        rows=rows,
        seed=seed,
        start=start,
        days=days,
        broken_lines=broken_count(rows, broken_fraction),
        with_incidents=True,
    )
    orders_dir = out_dir / "orders"
    updates_dir = out_dir / "updates"
    orders_dir.mkdir(parents=True, exist_ok=True)
    _clear_previous(orders_dir)
    collector = (
        UpdateCollector(fraction=updates_fraction, end_seconds=days * DAY_SECONDS)
        if updates_fraction > 0
        else None
    )
    per_day = plan.counts.sum(axis=1)
    suffix = ".csv.gz" if compression == "gzip" else ".csv"
    files: list[Path] = []
    lines = written = 0
    for month, first, stop in _months(plan.calendar):
        path = orders_dir / f"orders-{month}{suffix}"
        with _open_sink(path, compression) as sink:
            sink.write(_HEADER)
            for block_first, block_stop in _blocks(per_day, first, stop):
                block_lines, block_rows = _write_block(
                    sink, plan, block_first, block_stop, lines, collector
                )
                lines += block_lines
                written += block_rows
                if on_progress is not None:
                    on_progress(written)
        files.append(path)
    updates_file = updates_dir / "order_updates.ndjson"
    updates = 0
    if collector is not None:
        updates_dir.mkdir(parents=True, exist_ok=True)
        updates = _write_updates(updates_file, collector, plan.text)
    else:
        updates_file.unlink(missing_ok=True)
    incidents_file = out_dir / "incidents.json"
    write_incidents(incidents_file, plan.incidents.incidents)
    logger.info("Wrote %d order rows in %d files to %s", written, len(files), out_dir)
    return GenerationResult(
        files=tuple(files),
        updates_file=updates_file if collector is not None else None,
        incidents_file=incidents_file,
        rows=written,
        broken=plan.broken.counts(),
        updates=updates,
        incidents=plan.incidents.incidents,
        start=start,
        end=plan.calendar.end,
    )


def write_benchmark_csv(path: Path, *, rows: int, seed: int = 0) -> int:
    """Write one large plain CSV of well-formed orders for ingest benchmarks.

    Same columns and value distributions as :func:`generate`, over 2024-01-01 … 2025-12-31, with
    no incidents, broken lines or updates. Lines are streamed a block at a time, so a file of
    several gigabytes needs no more memory than a small one. About 115 bytes per row.

    Args:
        path: the file to write (its folder must exist); replaced if present.
        rows: order rows after the header line, exactly (1 or more).
        seed: the same seed and row count give byte-identical files.

    Returns:
        The number of bytes written, header included.

    Raises:
        InvalidInput: ``rows`` or ``seed`` is out of range.
    """
    if not 1 <= rows <= _MAX_ROWS:
        raise _invalid(
            "rows",
            rows,
            f"{rows} is outside 1 … {_MAX_ROWS:,}",
            f"Pass rows between 1 and {_MAX_ROWS:,}.",
        )
    if seed < 0:
        raise _invalid("seed", seed, "seeds must not be negative", "Pass a seed of 0 or more.")
    plan = _plan(
        rows=rows,
        seed=seed,
        start=_BENCHMARK_START,
        days=_BENCHMARK_DAYS,
        broken_lines=0,
        with_incidents=False,
    )
    per_day = plan.counts.sum(axis=1)
    lines = 0
    with _open_sink(path, "none") as sink:
        sink.write(_HEADER)
        for first, stop in _blocks(per_day, 0, plan.calendar.days):
            block_lines, _ = _write_block(sink, plan, first, stop, lines, None)
            lines += block_lines
        written = sink.written
    return written
