"""The RCA benchmark's tools: truth parsing, exact matching, micro F1, RS forecasts, generator.

Self-contained: loaders read small folders written here in the data's layouts, and the
generator is pinned to digests of the first published instance. The full comparison with the
shipped data is the benchmark's own ``--check-generator`` (the data lives outside the repository).
"""

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from benchmarks._rca_data import (
    Case,
    canonical_element,
    load_rs,
    load_squeeze_folder,
    parse_set,
    predicted_elements,
    rs_leaves,
)
from benchmarks._rca_generator import Setting, generate
from benchmarks.rca import REFERENCE_COLUMNS, REFERENCE_F1, Counts, count, pooled, run_cases

from gnomon.errors import InvalidInput
from gnomon.insights.explain import LeafTable


@dataclass(frozen=True)
class Predicted:
    segment: dict[str, Any]


def causes(*segments: dict[str, Any]) -> tuple[Predicted, ...]:
    return tuple(Predicted(s) for s in segments)


# ---------------------------------------------------------------- truth and canonical elements


def test_pairs_are_sorted_and_duplicate_elements_collapse() -> None:
    truth = parse_set("c=c4&b=b10;a=a2&b=b12;b=b10&c=c4")
    assert truth == {"b=b10&c=c4", "a=a2&b=b12"}


def test_a_repeated_pair_and_stray_separators_do_not_make_new_elements() -> None:
    assert parse_set("a=a1&a=a1;;b=b2 ; ") == {"a=a1", "b=b2"}
    assert parse_set("") == frozenset()


def test_pairs_sort_by_their_text_so_truth_and_predictions_agree() -> None:
    # "a-b=…" sorts before "a=…" as text ('-' < '='), though "a" sorts before "a-b" as a name.
    assert canonical_element([("a", "1"), ("a-b", "2")]) == "a-b=2&a=1"
    assert parse_set("a=1&a-b=2") == {canonical_element([("a-b", "2"), ("a", "1")])}


def test_predictions_are_canonicalised_like_the_truth() -> None:
    predicted = predicted_elements(causes({"d": "d3", "a": "a4"}, {"a": "a4", "d": "d3"}))
    assert predicted == parse_set("d=d3&a=a4")


# ---------------------------------------------------------------- counting and F1


def test_the_worked_example_counts_no_hit_and_three_false_positives() -> None:
    truth = parse_set("a=a4&c=c1&d=d3;b=b16&c=c7&d=d6;a=a2&c=c4&d=d7")
    predicted = predicted_elements(causes({"d": "d7"}, {"d": "d3"}, {"b": "b24"}))
    assert count(truth, predicted) == Counts(tp=0, fp=3, fn=3)


def test_an_ancestor_of_a_true_element_is_one_false_positive_and_one_miss() -> None:
    truth = parse_set("a=a4&c=c1&d=d3")
    assert count(truth, predicted_elements(causes({"d": "d3"}))) == Counts(tp=0, fp=1, fn=1)


def test_exact_hits_count_once_even_when_predicted_twice() -> None:
    truth = parse_set("a=a4&c=c1;b=b2")
    predicted = predicted_elements(causes({"c": "c1", "a": "a4"}, {"a": "a4", "c": "c1"}))
    assert count(truth, predicted) == Counts(tp=1, fp=0, fn=1)


def test_an_empty_prediction_misses_every_true_element() -> None:
    assert count(parse_set("a=a1;b=b2"), frozenset()) == Counts(tp=0, fp=0, fn=2)


def test_f1_is_micro_over_summed_counts_not_a_mean_of_case_scores() -> None:
    total = pooled([Counts(tp=1), Counts(fp=2, fn=1)])
    assert total == Counts(tp=1, fp=2, fn=1)
    assert total.f1 == pytest.approx(2 / 5)  # the mean of the cases' F1 would be 0.5
    assert total.precision == pytest.approx(1 / 3)
    assert total.recall == pytest.approx(1 / 2)
    assert Counts().f1 == 0.0


def test_a_failing_localisation_counts_as_an_empty_prediction() -> None:
    def table() -> LeafTable:
        return LeafTable.additive({"a": np.array(["a1", "a2"])}, np.array([1.0, 5.0]), np.ones(2))

    good, bad = table(), table()
    cases = [Case("1", "X", good, parse_set("a=a2")), Case("2", "X", bad, parse_set("a=a2;a=a1"))]

    def localizer(leaves: LeafTable) -> tuple[Predicted, ...]:
        if leaves is bad:
            raise RuntimeError("boom")
        return causes({"a": "a2"}, {"a": "a1"})

    results = run_cases(cases, "X", len(cases), localizer=localizer)
    assert [r.counts for r in results] == [Counts(tp=1, fp=1), Counts(fn=2)]
    assert [r.error for r in results] == [None, "RuntimeError: boom"]


def test_every_reference_row_has_one_figure_per_column() -> None:
    assert {len(row) for row in REFERENCE_F1.values()} == {len(REFERENCE_COLUMNS)}


# ---------------------------------------------------------------- RS: forecasts from minutes before

T = 60_000


def rs_frame(rows: list[tuple[int, str, str, int, int]]) -> pa.Table:
    minute, cdn, isp, value, cnt = zip(*rows, strict=True)
    return pa.table(
        {
            "min": pa.array(minute, pa.int64()),
            "cdn": pa.array(cdn, pa.string()),
            "isp": pa.array(isp, pa.string()),
            "value": pa.array(value, pa.int64()),
            "cnt": pa.array(cnt, pa.int64()),
        }
    )


def test_rs_leaves_are_the_anomalous_minute_with_failures_and_a_mean_of_four_minutes() -> None:
    table = rs_frame(
        [
            (T - 300, "1", "x", 0, 1000),  # five minutes before: outside the forecast
            (T - 240, "1", "x", 95, 100),
            (T - 180, "1", "x", 98, 100),
            (T - 120, "1", "x", 99, 110),
            (T - 60, "1", "x", 97, 100),
            (T, "1", "x", 90, 100),
            (T + 60, "1", "x", 0, 500),  # after: never used
            (T - 180, "2", "x", 45, 50),
            (T - 60, "2", "x", 48, 60),
            (T, "2", "x", 40, 50),
            (T, "2", "y", 7, 7),  # no history: forecast 0
            (T - 120, "3", "y", 1, 9),  # history only: not a leaf
        ]
    )
    leaves = rs_leaves(table, T)
    got = {
        (c, i): (rn, rd, pn, pd)
        for c, i, rn, rd, pn, pd in zip(
            leaves.labels["cdn"],
            leaves.labels["isp"],
            leaves.real_num,
            leaves.real_den,
            leaves.predict_num,
            leaves.predict_den,
            strict=True,
        )
    }
    assert set(got) == {("1", "x"), ("2", "x"), ("2", "y")}
    # failures = cnt - value; the forecast is the mean over the minutes where the leaf has a row
    assert got["1", "x"] == pytest.approx(
        (10, 100, (5 + 2 + 11 + 3) / 4, (100 + 100 + 110 + 100) / 4)
    )
    assert got["2", "x"] == pytest.approx((10, 50, (5 + 12) / 2, (50 + 60) / 2))
    assert got["2", "y"] == pytest.approx((0, 7, 0, 0))


def test_rs_cases_read_their_labels_as_text_and_their_causes_from_the_listing(
    tmp_path: Path,
) -> None:
    (tmp_path / "anomaly.yaml").write_text(
        "- data: case one+2\n  timestamp: 60000\n  cause: {'cdn':2, 'isp':'x'}\n"
        "- data: other\n  timestamp: 60000\n  cause: [{'isp':'y', 'cdn':1}, {'cdn': 1}]\n"
        "- data: not shipped\n  timestamp: 60000\n  cause: {'cdn': 1}\n",
        encoding="utf-8",
    )
    body = "min,cdn,isp,value,cnt\n59940,2,x,9,10\n60000,2,x,5,10\n60000,1,y,3,4\n"
    (tmp_path / "case one+2.csv").write_text(body, encoding="utf-8")
    (tmp_path / "other.csv").write_text(body, encoding="utf-8")
    cases = load_rs(tmp_path)
    assert [(c.name, c.truth) for c in cases] == [
        ("case one+2", frozenset({"cdn=2&isp=x"})),
        ("other", frozenset({"cdn=1&isp=y", "cdn=1"})),
    ]
    leaves = cases[0].leaves
    assert leaves.is_ratio
    assert sorted(leaves.labels["cdn"].tolist()) == ["1", "2"]
    row = leaves.labels["cdn"].tolist().index("2")
    assert leaves.real[row] == pytest.approx(5 / 10)
    assert leaves.predict[row] == pytest.approx(1 / 10)


# ---------------------------------------------------------------- the shipped Squeeze-format files


def _squeeze_folder(root: Path) -> Path:
    """A setting folder in the Squeeze layout: two cases, one listed case without its file."""
    folder = root / "B_cuboid_layer_1_n_ele_1"
    folder.mkdir(parents=True)
    rows = [
        ("0.5", "0.4", "gzhxy", "None", "ALIBABA", "201"),
        ("1.5", "1.5", "gzhxy", "beijing", "CMCC", "2000"),
        ("0.0", "0.0", "bjdx", "None", "CMCC", "201"),
    ]
    for stamp in ("1451019300", "1451020200"):
        with (folder / f"{stamp}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["real", "predict", "idc", "province", "isp", "cmatch"])
            writer.writerows(rows)
    with (folder / "injection_info.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["normal_predict_amount", "normal_predict_error", "set", "significance",
                         "timestamp"])  # fmt: skip
        writer.writerow(["1.9", "0.0", "isp=ALIBABA", "0.05", "1451019300"])
        writer.writerow(["1.9", "0.0", "cmatch=2000&isp=CMCC", "0.05", "1451020200"])
        writer.writerow(["1.9", "0.0", "idc=bjdx", "0.05", "1451099999"])
    # Some algorithm's predictions, shipped beside the truth: never read as labels or a case.
    (folder / "truth_prediction.csv").write_text(",prediction,set\n0,isp=CMCC,isp=ALIBABA\n")
    return folder


def test_the_literal_none_stays_a_label_and_numbers_stay_text(tmp_path: Path) -> None:
    folder = _squeeze_folder(tmp_path)
    cases = {case.name: case for case in load_squeeze_folder(folder)}
    first = cases["1451019300"]
    assert first.truth == {"isp=ALIBABA"}
    assert first.leaves.labels["province"].tolist() == ["None", "beijing", "None"]
    assert first.leaves.labels["cmatch"].tolist() == ["201", "2000", "201"]
    assert first.leaves.real.tolist() == [0.5, 1.5, 0.0]
    assert cases["1451020200"].truth == {"cmatch=2000&isp=CMCC"}


def test_a_setting_keeps_only_the_cases_whose_file_ships(tmp_path: Path) -> None:
    folder = _squeeze_folder(tmp_path)
    cases = load_squeeze_folder(folder)
    assert sorted(c.name for c in cases) == ["1451019300", "1451020200"]


# ---------------------------------------------------------------- the generator

# The first instance of the published S set (seed 121): its id and label from the set's
# injection_info.csv, and SHA-256 digests of its leaves' real and predict columns as float64.
# `python -m benchmarks.rca --check-generator` compares every shipped S and L instance in full.
FIRST_S_ID = "344495"
FIRST_S_LABEL = "a=a8&b=b12&c=c4&d=d7&e=e2;a=a6&b=b8&c=c1&d=d6&e=e4;a=a3&e=e1;a=a1&e=e5"
FIRST_S_REAL = "afc9f69bd64326120afb47bcbcf1966cfd605d111bd0518e2585d4f9a6039cbb"
FIRST_S_PREDICT = "6d57ed6a8eed3bb1c0abcae5d69afcb2fe7e867624748a194f9636b35da30ac6"


def _digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()


def test_the_generator_reproduces_the_first_published_s_instance_bit_for_bit() -> None:
    (instance,) = generate("S", 1)
    assert (instance.id, instance.label) == (FIRST_S_ID, FIRST_S_LABEL)
    assert len(instance.real) == 10 * 12 * 10 * 8 * 5
    assert _digest(instance.real) == FIRST_S_REAL
    assert _digest(instance.predict) == FIRST_S_PREDICT
    assert str(instance.info()["anomaly_severity"]) == "0.88;0.72"


def test_a_fresh_seed_gives_other_instances_and_the_same_seed_the_same() -> None:
    (a,) = generate("L", 1, seed=2027)
    (b,) = generate("L", 1, seed=2027)
    (published,) = generate("L", 1)
    assert a.id == b.id and np.array_equal(a.real, b.real)
    assert a.id != published.id
    # L: every element is one full leaf, so each anomalous leaf is exactly one element.
    assert int(a.abnormal.sum()) == len(parse_set(a.label))


def test_an_anomaly_that_cannot_have_distinct_elements_is_refused() -> None:
    tiny = Setting("T", (2,), seed=0, elements=(3, 3))
    with pytest.raises(InvalidInput, match="cannot have distinct elements"):
        next(generate(tiny, 1))
