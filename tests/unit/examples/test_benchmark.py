from pathlib import Path

import pytest

from gnomon.errors import InvalidInput
from gnomon.examples.retail import COLUMNS, write_benchmark_csv


def test_benchmark_file_holds_the_rows_asked_for(tmp_path: Path, reader) -> None:
    path = tmp_path / "bench.csv"

    written = write_benchmark_csv(path, rows=7_500, seed=1)

    lines = reader.read_lines(path)
    assert written == path.stat().st_size
    assert lines[0] == ",".join(COLUMNS) + "\n"
    assert len(lines) == 7_501
    assert [line for line in lines[1:] if reader.defects(line)] == []
    ids = [line.split(",", 1)[0] for line in lines[1:]]
    assert ids == [f"O{number:09d}" for number in range(1, 7_501)]
    times = [line.split(",")[1] for line in lines[1:]]
    assert times == sorted(times)
    assert times[0] >= "2024-01-01" and times[-1] < "2026-01-01"


def test_benchmark_file_is_reproducible(tmp_path: Path) -> None:
    write_benchmark_csv(tmp_path / "a.csv", rows=3_000, seed=5)
    write_benchmark_csv(tmp_path / "b.csv", rows=3_000, seed=5)
    write_benchmark_csv(tmp_path / "c.csv", rows=3_000, seed=6)

    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_a_single_row_is_enough(tmp_path: Path, reader) -> None:
    path = tmp_path / "one.csv"

    written = write_benchmark_csv(path, rows=1)

    lines = reader.read_lines(path)
    assert len(lines) == 2
    assert reader.defects(lines[1]) == []
    assert written == len("".join(lines).encode())


@pytest.mark.parametrize(("rows", "seed"), [(0, 0), (-5, 0), (10, -1)])
def test_benchmark_arguments_are_checked(tmp_path: Path, rows: int, seed: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        write_benchmark_csv(tmp_path / "bench.csv", rows=rows, seed=seed)

    assert caught.value.hint
    assert not (tmp_path / "bench.csv").exists()
