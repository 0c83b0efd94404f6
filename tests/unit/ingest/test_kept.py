"""Noting which bronze rows became valid as they stream into silver."""

import pyarrow as pa

from gnomon.ingest._kept import KeptRows


def _reader(*batches: dict[str, list[object]]) -> pa.RecordBatchReader:
    schema = pa.schema([("v", pa.string()), ("_row", pa.int64())])
    return pa.RecordBatchReader.from_batches(
        schema, [pa.record_batch(b, schema=schema) for b in batches]
    )


def test_the_ordinal_column_is_noted_and_left_out() -> None:
    kept = KeptRows("_row")
    reader = kept.track(_reader({"v": ["a", "b"], "_row": [1, 3]}, {"v": ["c"], "_row": [6]}))

    out = reader.read_all()

    assert out.column_names == ["v"]
    assert out.column("v").to_pylist() == ["a", "b", "c"]
    assert kept.count == 3
    assert kept.tracked
    assert kept.missing(1, 7).to_pylist() == [2, 4, 5, 7]


def test_missing_covers_ordinals_beyond_those_seen_and_empty_ranges() -> None:
    kept = KeptRows("_row")
    kept.track(_reader({"v": ["a"], "_row": [2]})).read_all()

    assert kept.missing(1, 3).to_pylist() == [1, 3]
    assert kept.missing(100_000, 100_002).to_pylist() == [100_000, 100_001, 100_002]
    assert kept.missing(5, 4).to_pylist() == []


def test_large_ordinals_grow_the_record() -> None:
    kept = KeptRows("_row")
    kept.track(_reader({"v": ["a", "b"], "_row": [1, 1_000_000]})).read_all()

    assert len(kept.missing(1, 1_000_000)) == 999_998
    assert kept.missing(999_999, 1_000_000).to_pylist() == [999_999]


def test_without_the_column_nothing_is_known() -> None:
    kept = KeptRows("_row")
    reader = pa.table({"v": ["a"]}).to_reader()

    assert kept.track(reader).read_all().column_names == ["v"]
    assert not kept.tracked


def test_null_or_negative_ordinals_stop_the_tracking_but_not_the_rows() -> None:
    for ordinals in ([1, None], [-1, 2]):
        kept = KeptRows("_row")
        out = kept.track(_reader({"v": ["a", "b"], "_row": ordinals})).read_all()
        assert out.num_rows == 2
        assert kept.count == 2
        assert not kept.tracked
