import gzip
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from gnomon.errors import InvalidInput
from gnomon.examples.retail import (
    BROKEN_KINDS,
    COLUMNS,
    GenerationResult,
    generate,
)
from gnomon.examples.retail.assortment import COUNTRIES

HEADER = ",".join(COLUMNS) + "\n"


def _all_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _broken_by_kind(result: GenerationResult, reader) -> tuple[Counter[str], int]:
    found: Counter[str] = Counter()
    good = 0
    for path in result.files:
        for line in reader.read_lines(path)[1:]:
            problems = reader.defects(line)
            assert len(problems) <= 1, (line, problems)
            if problems:
                found[problems[0]] += 1
            else:
                good += 1
    return found, good


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", rows=5_000, seed=3)
    second = generate(tmp_path / "b", rows=5_000, seed=3)

    assert _all_bytes(tmp_path / "a") == _all_bytes(tmp_path / "b")
    assert first.incidents == second.incidents
    assert (first.rows, first.broken, first.updates) == (second.rows, second.broken, second.updates)


def test_different_seed_gives_different_data_and_incidents(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", rows=5_000, seed=3)
    second = generate(tmp_path / "b", rows=5_000, seed=4)

    assert first.incidents != second.incidents
    assert [i.start for i in first.incidents] != [i.start for i in second.incidents]
    assert first.files[0].read_bytes() != second.files[0].read_bytes()


def test_rows_are_exact_and_broken_lines_match_the_report(small: GenerationResult, reader) -> None:
    found, good = _broken_by_kind(small, reader)

    assert good == small.rows == 20_000
    assert dict(found) == {kind: n for kind, n in small.broken.items() if n}
    assert set(small.broken) == set(BROKEN_KINDS)
    assert sum(small.broken.values()) == 60
    assert all(small.broken[kind] >= 10 for kind in BROKEN_KINDS)


def test_default_fraction_breaks_at_least_ten_lines_of_every_kind_present(
    tmp_path: Path, reader
) -> None:
    result = generate(tmp_path, rows=20_000, seed=5)
    found, good = _broken_by_kind(result, reader)

    assert sum(result.broken.values()) == 10
    assert dict(found) == {kind: n for kind, n in result.broken.items() if n}
    assert set(found) == set(BROKEN_KINDS)
    assert good == 20_000


def test_no_broken_lines_when_the_fraction_is_zero(tmp_path: Path, reader) -> None:
    result = generate(tmp_path, rows=3_000, seed=5, broken_fraction=0)
    found, good = _broken_by_kind(result, reader)

    assert found == Counter()
    assert sum(result.broken.values()) == 0
    assert good == 3_000


def test_one_file_per_month_with_a_header_and_lines_in_time_order(
    small: GenerationResult, reader
) -> None:
    names = [path.name for path in small.files]
    months = [f"{year}-{month:02d}" for year in (2024, 2025) for month in range(1, 13)]

    assert names == [f"orders-{month}.csv.gz" for month in months]
    assert small.start == date(2024, 1, 1)
    assert small.end == date(2026, 1, 1)
    previous_id = ""
    for path, month in zip(small.files, months, strict=True):
        lines = reader.read_lines(path)
        assert lines[0] == HEADER
        times = [line.split(",")[1] for line in lines[1:] if not reader.defects(line)]
        ids = [line.split(",")[0] for line in lines[1:] if not reader.defects(line)]
        assert times == sorted(times)
        assert {time[:7] for time in times} == {month}
        assert ids == sorted(ids)
        assert ids[0] > previous_id
        previous_id = ids[-1]


def test_order_ids_are_unique(shared: GenerationResult, reader) -> None:
    table = reader.read_table(shared.files)
    ids = table.column("order_id").filter(pc.not_equal(table.column("order_id"), ""))

    unread = shared.broken["missing_order_id"] + shared.broken["extra_field"]
    assert len(ids) == shared.rows + sum(shared.broken.values()) - unread
    assert pc.count_distinct(ids).as_py() == len(ids)


def test_columns_parse_with_strict_types(tmp_path: Path) -> None:
    result = generate(tmp_path, rows=20_000, seed=2, broken_fraction=0)
    timestamp = pa.timestamp("s")
    options = pacsv.ConvertOptions(
        column_types={
            "order_time": timestamp,
            "updated_at": timestamp,
            "quantity": pa.int64(),
            "unit_price": pa.decimal128(12, 2),
            "discount": pa.decimal128(4, 2),
        },
        timestamp_parsers=["%Y-%m-%d %H:%M:%S"],
        strings_can_be_null=False,
    )
    table = pa.concat_tables(pacsv.read_csv(path, convert_options=options) for path in result.files)

    assert table.column_names == list(COLUMNS)
    assert table.num_rows == 20_000
    assert sum(column.null_count for column in table.columns) == 0
    quantity = table.column("quantity")
    assert pc.min(quantity).as_py() == 1
    assert pc.max(quantity).as_py() <= 10
    assert pc.min(table.column("unit_price")).as_py() > 0
    assert (
        0
        <= pc.min(table.column("discount")).as_py()
        <= pc.max(table.column("discount")).as_py()
        <= 0.5
    )
    order_time = table.column("order_time")
    updated_at = table.column("updated_at")
    assert pc.all(pc.greater_equal(updated_at, order_time)).as_py()
    placed = pc.equal(table.column("status"), "placed")
    assert pc.all(pc.equal(updated_at.filter(placed), order_time.filter(placed))).as_py()
    changed = pc.invert(placed)
    assert pc.all(pc.greater(updated_at.filter(changed), order_time.filter(changed))).as_py()
    assert pc.max(updated_at).as_py().date() < result.end
    pairs = set(
        zip(table.column("region").to_pylist(), table.column("country").to_pylist(), strict=True)
    )
    assert pairs == {(country.region, country.code) for country in COUNTRIES}


def test_plain_files_hold_the_same_text_as_gzip_files(tmp_path: Path) -> None:
    packed = generate(tmp_path / "gz", rows=4_000, seed=9)
    plain = generate(tmp_path / "plain", rows=4_000, seed=9, compression="none")

    assert [path.name for path in plain.files] == [
        path.name.removesuffix(".gz") for path in packed.files
    ]
    for zipped, text in zip(packed.files, plain.files, strict=True):
        assert gzip.decompress(zipped.read_bytes()) == text.read_bytes()
    assert packed.incidents == plain.incidents


def test_progress_counts_rows_up_to_the_total(tmp_path: Path) -> None:
    seen: list[int] = []

    result = generate(tmp_path, rows=6_000, seed=1, on_progress=seen.append)

    assert seen == sorted(seen)
    assert len(seen) >= len(result.files)
    assert seen[-1] == result.rows == 6_000


def test_files_of_an_earlier_run_are_replaced_and_others_kept(tmp_path: Path) -> None:
    orders = tmp_path / "orders"
    orders.mkdir()
    (orders / "orders-2019-01.csv.gz").write_bytes(b"stale")
    (orders / "orders-2024-01.csv").write_text("stale")
    (orders / "README.txt").write_text("mine")
    (tmp_path / "updates").mkdir()
    (tmp_path / "updates" / "order_updates.ndjson").write_text("{}\n")

    result = generate(tmp_path, rows=3_000, seed=1, updates_fraction=0)

    left = sorted(path.name for path in orders.iterdir())
    assert left == sorted([*(path.name for path in result.files), "README.txt"])
    assert (orders / "README.txt").read_text() == "mine"
    assert result.updates_file is None
    assert result.updates == 0
    assert not (tmp_path / "updates" / "order_updates.ndjson").exists()


@pytest.mark.parametrize(
    ("arguments", "parameter"),
    [
        ({"rows": 999}, "rows"),
        ({"rows": 10**12}, "rows"),
        ({"seed": -1}, "seed"),
        ({"days": 100}, "days"),
        ({"start": "2024-01-01"}, "start"),
        ({"compression": "zip"}, "compression"),
        ({"broken_fraction": -0.1}, "broken_fraction"),
        ({"broken_fraction": 0.5}, "broken_fraction"),
        ({"updates_fraction": 1.5}, "updates_fraction"),
    ],
)
def test_invalid_arguments_are_refused_before_writing(
    tmp_path: Path, arguments: dict[str, object], parameter: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        generate(tmp_path / "out", **arguments)  # type: ignore[arg-type]

    assert caught.value.details["parameter"] == parameter
    assert caught.value.hint
    assert parameter in caught.value.message
    assert not (tmp_path / "out").exists()


def test_the_shortest_allowed_period_still_holds_every_incident(tmp_path: Path) -> None:
    from gnomon.examples.retail.incidents import minimum_days

    days = minimum_days()
    result = generate(tmp_path, rows=2_000, seed=0, start=date(2025, 3, 1), days=days)

    assert len(result.incidents) == 4
    assert result.end == date(2025, 3, 1) + (result.end - result.start)
    assert (result.end - result.start).days == days
    assert result.files[0].name == "orders-2025-03.csv.gz"


def test_generation_does_not_import_pandas(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from gnomon.examples.retail import generate\n"
        f"generate(Path({str(tmp_path)!r}), rows=2_000, seed=1)\n"
        "print('pandas' in sys.modules)\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert completed.stdout.strip() == "False"
