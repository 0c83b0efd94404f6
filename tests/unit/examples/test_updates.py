import json
import re
from pathlib import Path

import pyarrow.compute as pc
import pytest

from gnomon.examples.retail import COLUMNS, GenerationResult, generate

NUMBER = re.compile(r'"(quantity|unit_price|discount)":(-?[0-9.]+)[,}]')
TRANSITIONS = {"returned": "shipped", "cancelled": "placed"}


@pytest.fixture(scope="module")
def updates(shared: GenerationResult) -> list[dict[str, object]]:
    assert shared.updates_file is not None
    lines = shared.updates_file.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_about_one_percent_of_orders_are_updated(
    shared: GenerationResult, updates: list[dict[str, object]]
) -> None:
    assert len(updates) == shared.updates
    assert shared.updates_file == shared.files[0].parent.parent / "updates" / "order_updates.ndjson"
    assert 0.006 * shared.rows < shared.updates < 0.012 * shared.rows


def test_updates_repeat_their_order_with_a_later_status(
    shared: GenerationResult, updates: list[dict[str, object]], reader
) -> None:
    table = reader.read_table(shared.files)
    ids = [update["order_id"] for update in updates]
    originals = table.filter(pc.is_in(table.column("order_id"), value_set=pc.cast(ids, "string")))
    by_id = {row["order_id"]: row for row in originals.to_pylist()}

    assert len(set(ids)) == len(ids)
    assert set(by_id) == set(ids)
    for update in updates:
        order = by_id[update["order_id"]]
        assert list(update) == list(COLUMNS)
        assert TRANSITIONS[update["status"]] == order["status"]
        assert update["updated_at"] > order["updated_at"]
        assert reader.parse_time(update["updated_at"]).date() < shared.end
        for column in COLUMNS:
            if column not in {"status", "updated_at", "quantity", "unit_price", "discount"}:
                assert update[column] == order[column], column
        assert update["quantity"] == int(order["quantity"])
        assert update["unit_price"] == float(order["unit_price"])
        assert update["discount"] == float(order["discount"])


def test_numbers_are_written_with_the_csv_digits(
    shared: GenerationResult, updates: list[dict[str, object]], reader
) -> None:
    assert shared.updates_file is not None
    raw = shared.updates_file.read_text(encoding="utf-8").splitlines()[:200]
    table = reader.read_table(shared.files)
    ids = [update["order_id"] for update in updates[:200]]
    originals = table.filter(pc.is_in(table.column("order_id"), value_set=pc.cast(ids, "string")))
    by_id = {row["order_id"]: row for row in originals.to_pylist()}

    for line, update in zip(raw, updates, strict=False):
        written = dict(NUMBER.findall(line))
        order = by_id[update["order_id"]]
        assert written == {name: order[name] for name in ("quantity", "unit_price", "discount")}


def test_updates_come_in_time_order(updates: list[dict[str, object]]) -> None:
    times = [update["updated_at"] for update in updates]

    assert times == sorted(times)


def test_both_kinds_of_change_occur(updates: list[dict[str, object]]) -> None:
    statuses = {update["status"] for update in updates}

    assert statuses == {"returned", "cancelled"}


def test_the_fraction_controls_the_volume(tmp_path: Path) -> None:
    few = generate(tmp_path / "few", rows=20_000, seed=4, updates_fraction=0.01)
    many = generate(tmp_path / "many", rows=20_000, seed=4, updates_fraction=0.05)

    assert many.updates > 3 * few.updates > 0
    assert few.updates_file is not None
    assert len(few.updates_file.read_text(encoding="utf-8").splitlines()) == few.updates
