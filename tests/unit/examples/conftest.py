"""A generated retail data set shared by the tests, and a strict reader for its lines.

The strict reader is written independently of the generator (plain ``str.split`` and the
standard library) so that a formatting mistake in the generator cannot hide itself.
"""

import gzip
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from gnomon.examples.retail import COLUMNS, STATUSES, GenerationResult, generate
from gnomon.examples.retail.assortment import CATEGORIES, CHANNELS, COUNTRIES, REGIONS

SHARED_ROWS = 300_000
SHARED_SEED = 7

ORDER_ID = re.compile(r"O\d{9}")
CUSTOMER_ID = re.compile(r"C\d{7}")
TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2}):(\d{2})")
PRICE = re.compile(r"-?\d+\.\d{2}")
DISCOUNT = re.compile(r"0\.\d{2}")
REGION_OF = {country.code: country.region for country in COUNTRIES}
PRODUCTS_OF = {category.name: {p.name for p in category.products} for category in CATEGORIES}


@cache
def _valid_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_time(text: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM:SS`` or ``None`` when the text is not exactly that."""
    match = TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    day = _valid_date(match.group(1))
    hour, minute, second = (int(match.group(i)) for i in (2, 3, 4))
    if day is None or hour > 23 or minute > 59 or second > 59:
        return None
    return datetime(day.year, day.month, day.day, hour, minute, second)


def _field_defects(row: dict[str, str]) -> Iterator[str]:
    if not ORDER_ID.fullmatch(row["order_id"]):
        yield "missing_order_id" if row["order_id"] == "" else "bad_order_id"
    if parse_time(row["order_time"]) is None:
        yield "unparseable_order_time"
    if parse_time(row["updated_at"]) is None:
        yield "bad_updated_at"
    yield from _dimension_defects(row)
    yield from _value_defects(row)


def _dimension_defects(row: dict[str, str]) -> Iterator[str]:
    if row["region"] not in REGIONS or REGION_OF.get(row["country"]) != row["region"]:
        yield "bad_region_or_country"
    if row["channel"] not in CHANNELS:
        yield "bad_channel"
    if row["product"] not in PRODUCTS_OF.get(row["category"], set()):
        yield "bad_category_or_product"
    if not CUSTOMER_ID.fullmatch(row["customer_id"]) or row["customer_id"] == "C0000000":
        yield "bad_customer_id"


def _value_defects(row: dict[str, str]) -> Iterator[str]:
    if not row["quantity"].isdigit():
        yield "non_numeric_quantity"
    elif not 1 <= int(row["quantity"]) <= 10:
        yield "bad_quantity"
    if not PRICE.fullmatch(row["unit_price"]):
        yield "bad_unit_price"
    elif row["unit_price"].startswith("-"):
        yield "negative_unit_price"
    elif float(row["unit_price"]) <= 0:
        yield "bad_unit_price"
    if not DISCOUNT.fullmatch(row["discount"]) or float(row["discount"]) > 0.5:
        yield "bad_discount"
    if row["status"] not in STATUSES:
        yield "unknown_status"


def defects(line: str) -> list[str]:
    """Every reason a strict reader would reject ``line``; empty for a well-formed line."""
    if _well_formed(line):
        return []
    fields = line.rstrip("\n").split(",")
    if len(fields) > len(COLUMNS):
        return ["extra_field"]
    if len(fields) < len(COLUMNS):
        return ["missing_fields"]
    return list(_field_defects(dict(zip(COLUMNS, fields, strict=True))))


_LINE = re.compile(
    r"O\d{9},(?P<day>\d{4}-\d{2}-\d{2}) (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d,"
    r"(?P<updated>\d{4}-\d{2}-\d{2}) (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d,"
    r"(?P<place>[A-Z]+,[A-Z]{2}),(?:web|app|store|marketplace),(?P<item>[a-z]+,[^,\n]+),"
    r"C(?!0000000)\d{7},(?:[1-9]|10),(?!0\.00,)\d+\.\d{2},0\.(?:[0-4]\d|50),"
    r"(?:placed|shipped|returned|cancelled)\n?"
)
_PLACES = {f"{country.region},{country.code}" for country in COUNTRIES}
_ITEMS = {f"{category.name},{p.name}" for category in CATEGORIES for p in category.products}


def _well_formed(line: str) -> bool:
    """The fast path of :func:`defects`: one regular expression and a few set lookups."""
    match = _LINE.fullmatch(line)
    return (
        match is not None
        and match["place"] in _PLACES
        and match["item"] in _ITEMS
        and _valid_date(match["day"]) is not None
        and _valid_date(match["updated"]) is not None
    )


def read_lines(path: Path) -> list[str]:
    """The lines of an order file, gzip or plain, header included."""
    opener: Callable[..., object] = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:  # type: ignore[operator]
        return list(handle)


def read_table(paths: Iterable[Path]) -> pa.Table:
    """Order files read back with pyarrow, every column as text; ragged lines are skipped."""
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string()))
    skip_ragged = pacsv.ParseOptions(invalid_row_handler=lambda row: "skip")
    return pa.concat_tables(
        pacsv.read_csv(path, convert_options=options, parse_options=skip_ragged) for path in paths
    )


@dataclass(frozen=True)
class Orders:
    """Rows of a data set whose order time parses, as columns for counting by segment and day."""

    table: pa.Table
    day: npt.NDArray[np.int64]
    local_hour: npt.NDArray[np.int64]
    unit_price: npt.NDArray[np.float64]

    def column(self, name: str) -> npt.NDArray[np.str_]:
        """A text column as a numpy array."""
        return np.array(self.table.column(name).to_pylist())

    def mask(self, segment: Mapping[str, str]) -> npt.NDArray[np.bool_]:
        """Rows inside ``segment``."""
        inside = np.ones(self.table.num_rows, dtype=np.bool_)
        for key, value in segment.items():
            inside &= pc.equal(self.table.column(key), value).to_numpy(zero_copy_only=False)
        return inside

    def daily(self, mask: npt.NDArray[np.bool_], days: int) -> npt.NDArray[np.int64]:
        """Rows per day among ``mask``."""
        return np.bincount(self.day[mask], minlength=days).astype(np.int64)


def load_orders(result: GenerationResult) -> Orders:
    """The order files through pyarrow; broken times and ragged lines are left out."""
    table = read_table(result.files)
    moment = pc.strptime(
        table.column("order_time"), format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True
    )
    table = table.filter(pc.is_valid(moment))
    seconds = pc.cast(pc.drop_null(moment), pa.int64()).to_numpy()
    start = int(datetime(*result.start.timetuple()[:3], tzinfo=UTC).timestamp())
    offsets = {country.code: country.utc_offset_minutes * 60 for country in COUNTRIES}
    offset = np.array([offsets[code] for code in table.column("country").to_pylist()])
    price = pc.cast(table.column("unit_price"), pa.float64(), safe=False)
    return Orders(
        table=table,
        day=(seconds - start) // 86_400,
        local_hour=(seconds + offset) % 86_400 // 3600,
        unit_price=price.to_numpy(),
    )


class Reader:
    """The strict reader's functions, handed to tests as one fixture."""

    defects = staticmethod(defects)
    parse_time = staticmethod(parse_time)
    read_lines = staticmethod(read_lines)
    read_table = staticmethod(read_table)
    load_orders = staticmethod(load_orders)


@pytest.fixture(scope="session")
def reader() -> Reader:
    """The strict reader."""
    return Reader()


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    """A two-year data set large enough for incidents and seasonality to be measured."""
    return generate(tmp_path_factory.mktemp("retail"), rows=SHARED_ROWS, seed=SHARED_SEED)


@pytest.fixture(scope="session")
def shared_orders(shared: GenerationResult) -> Orders:
    """The shared data set's rows whose order time parses."""
    return load_orders(shared)


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> GenerationResult:
    """A small data set with many broken lines, for checks that read every line in Python."""
    return generate(
        tmp_path_factory.mktemp("retail-small"), rows=20_000, seed=11, broken_fraction=0.003
    )
