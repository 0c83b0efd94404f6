"""The root-cause localisation cases: leaves, forecasts and the true root-cause set of each.

Read from the shared benchmark folder (never copied into the repository), whose ``README.md``
describes the formats. Labels are kept as text exactly as written (the value ``None`` stays the
string ``"None"``; ``2000`` stays ``"2000"``), because a root cause is matched by its text.

Elements are compared as canonical strings: the ``attr=value`` pairs of an element sorted by
their text and joined by ``&``. A set of them is a frozenset, so duplicates fall away on both
sides, as the evaluation protocol asks.
"""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import yaml

from benchmarks._rca_generator import Setting, generate
from gnomon.insights.explain import LeafTable

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "rca"
MEASURES = ("real", "predict")
RS_HISTORY = 4
"""Minutes before the anomalous one whose mean is an RS leaf's forecast."""


@dataclass(frozen=True, slots=True)
class Case:
    """One anomalous moment: every leaf with its value and forecast, and the true root causes.

    Attributes:
        name: the case's file stem (a timestamp, an instance id or an RS data name).
        folder: the folder its score is pooled in (``B_cuboid_layer_1_n_ele_1``, ``S``, ``RS``).
        leaves: what the localiser receives.
        truth: the root-cause elements, canonical (see :func:`canonical_element`).
    """

    name: str
    folder: str
    leaves: LeafTable
    truth: frozenset[str]


class HasSegment(Protocol):
    """What the scoring needs of a predicted cause: its dimension values."""

    @property
    def segment(self) -> Mapping[str, object]:
        """Dimension → value; dimensions left out are wildcards."""
        ...


def canonical_element(pairs: Iterable[tuple[str, object]]) -> str:
    """An element as text: its distinct ``attr=value`` pairs sorted by their text, joined by ``&``.

    >>> canonical_element([("d", "d3"), ("a", "a4"), ("c", 1)])
    'a=a4&c=1&d=d3'
    """
    return "&".join(sorted({f"{name}={value}" for name, value in pairs}))


def parse_set(text: str) -> frozenset[str]:
    """A root-cause set written as ``b=b10&c=c4;a=a2&b=b12``, as canonical elements.

    >>> sorted(parse_set("c=c4&b=b10;a=a2&b=b12;b=b10&c=c4"))
    ['a=a2&b=b12', 'b=b10&c=c4']
    """
    elements = set()
    for element in text.split(";"):
        pairs = [pair.strip() for pair in element.split("&") if pair.strip()]
        if pairs:
            elements.add("&".join(sorted(set(pairs))))
    return frozenset(elements)


def predicted_elements(causes: Iterable[HasSegment]) -> frozenset[str]:
    """The canonical elements of a localiser's causes."""
    return frozenset(canonical_element(cause.segment.items()) for cause in causes)


def read_leaves(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A case CSV of one row per leaf: labels by attribute (text), ``real`` and ``predict``.

    The columns are found by name (their order varies between data sets); every column other
    than ``real`` and ``predict`` is an attribute.
    """
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    missing = [m for m in MEASURES if m not in header]
    if missing:
        raise SystemExit(f"{path}: no column {', '.join(missing)}; is this a case file?")
    types = {name: pa.float64() if name in MEASURES else pa.string() for name in header}
    table = pcsv.read_csv(path, convert_options=_text_labels(types))
    labels = {
        name: table.column(name).to_numpy(zero_copy_only=False)
        for name in header
        if name not in MEASURES
    }
    return labels, _floats(table, "real"), _floats(table, "predict")


def load_squeeze_folder(path: Path, *, folder: str | None = None) -> list[Case]:
    """The cases of one setting folder: B0's ``B_cuboid_layer_*`` or the synthetic ``S``/``L``.

    Truth comes from ``injection_info.csv`` (columns ``timestamp`` and ``set``); its rows without
    a ``<timestamp>.csv`` next to it are left out. ``truth_prediction.csv`` holds some method's
    predictions, not labels, and is never read.
    """
    info_path = path / "injection_info.csv"
    if not info_path.exists():
        raise SystemExit(f"missing {info_path}; pass --data with the RCA folder")
    info = pcsv.read_csv(
        info_path,
        convert_options=_text_labels({"timestamp": pa.string(), "set": pa.string()}),
    )
    cases = []
    for stamp, text in zip(
        info.column("timestamp").to_pylist(), info.column("set").to_pylist(), strict=True
    ):
        csv_path = path / f"{stamp}.csv"
        if not csv_path.exists():
            continue
        labels, real, predict = read_leaves(csv_path)
        cases.append(
            Case(
                name=stamp,
                folder=folder or path.name,
                leaves=LeafTable.additive(labels, real, predict),
                truth=parse_set(text),
            )
        )
    return cases


@dataclass(frozen=True, slots=True)
class RatioLeaves:
    """The leaves of an RS case: numerator (``value``) and denominator (``cnt``), now and forecast.

    Attributes:
        labels: attribute → each leaf's value as text.
        real_num: failures at the anomalous minute (``cnt - value`` of the file).
        real_den: attempts at the anomalous minute.
        predict_num: mean failures of the leaf over the minutes before.
        predict_den: mean attempts over the same minutes.
    """

    labels: dict[str, np.ndarray]
    real_num: np.ndarray
    real_den: np.ndarray
    predict_num: np.ndarray
    predict_den: np.ndarray


def rs_leaves(table: pa.Table, minute: int, *, history: int = RS_HISTORY) -> RatioLeaves:
    """An RS time series turned into the leaves of its anomalous minute.

    The leaves are the rows of ``minute``. The file's ``value`` counts successes, so failures
    are ``cnt - value``, and the measure is the failure ratio ``failures / cnt``. A leaf's
    forecast is its mean over the ``history`` minutes before (``minute - 60·k``), taken over the
    minutes where the leaf has a row; a leaf with no row in any of them is forecast 0.

    Args:
        table: columns ``min`` (Unix seconds), ``value``, ``cnt`` and the attributes (text).
        minute: the anomalous minute, in Unix seconds.
        history: how many minutes before it make the forecast.
    """
    attributes = [c for c in table.column_names if c not in ("min", "value", "cnt")]
    failures = pc.subtract(
        table.column("cnt").cast(pa.float64()), table.column("value").cast(pa.float64())
    )
    frame = pa.table(
        {
            **{name: table.column(name) for name in attributes},
            "min": table.column("min"),
            "num": failures,
            "den": table.column("cnt").cast(pa.float64()),
        }
    )
    now = frame.filter(pc.equal(frame.column("min"), minute))
    now = now.append_column("row", pa.array(np.arange(now.num_rows), pa.int64()))
    before = pa.array([minute - 60 * k for k in range(1, history + 1)], pa.int64())
    past = frame.filter(pc.is_in(frame.column("min").cast(pa.int64()), value_set=before))
    means = past.group_by(attributes).aggregate([("num", "mean"), ("den", "mean")])
    joined = now.join(means, keys=attributes, join_type="left outer").sort_by("row")
    return RatioLeaves(
        labels={name: joined.column(name).to_numpy(zero_copy_only=False) for name in attributes},
        real_num=_floats(joined, "num"),
        real_den=_floats(joined, "den"),
        predict_num=_floats(joined, "num_mean"),
        predict_den=_floats(joined, "den_mean"),
    )


def load_rs(path: Path) -> list[Case]:
    """The RS cases listed in ``anomaly.yaml`` (``data``, ``timestamp``, ``cause``).

    A cause is one mapping of attribute → value or a list of them; values become text, as the
    labels are read. Each case is a ratio table: numerator failures, denominator attempts.
    """
    listing = path / "anomaly.yaml"
    if not listing.exists():
        raise SystemExit(f"missing {listing}; pass --data with the RCA folder")
    entries = yaml.safe_load(listing.read_text(encoding="utf-8"))
    cases = []
    for entry in entries:
        stem = str(entry["data"])
        csv_path = path / f"{stem}.csv"
        if not csv_path.exists():
            continue
        with csv_path.open(encoding="utf-8") as handle:
            header = handle.readline().strip().split(",")
        types = {
            name: pa.int64() if name in ("min", "value", "cnt") else pa.string() for name in header
        }
        table = pcsv.read_csv(csv_path, convert_options=_text_labels(types))
        leaves = rs_leaves(table, int(entry["timestamp"]))
        causes = entry["cause"] if isinstance(entry["cause"], list) else [entry["cause"]]
        cases.append(
            Case(
                name=stem,
                folder=path.name,
                leaves=LeafTable.ratio(
                    leaves.labels,
                    leaves.real_num,
                    leaves.real_den,
                    leaves.predict_num,
                    leaves.predict_den,
                ),
                truth=frozenset(canonical_element(cause.items()) for cause in causes),
            )
        )
    return cases


def generated_cases(setting: str | Setting, count: int, *, seed: int) -> Iterator[Case]:
    """``count`` fresh cases of a synthetic set, made one at a time (nothing is written)."""
    for instance in generate(setting, count, seed=seed):
        yield Case(
            name=instance.id,
            folder=setting if isinstance(setting, str) else setting.name,
            leaves=LeafTable.additive(instance.labels, instance.real, instance.predict),
            truth=parse_set(instance.label),
        )


def _text_labels(types: dict[str, pa.DataType]) -> pcsv.ConvertOptions:
    """Typed columns, with no text (``None``, ``NA``, empty) ever read as a missing value."""
    return pcsv.ConvertOptions(
        column_types=types, strings_can_be_null=False, quoted_strings_can_be_null=False
    )


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A numeric column as float64, missing values as 0."""
    column = pc.fill_null(table.column(name).cast(pa.float64()), 0.0)
    return np.asarray(column.to_numpy(), dtype=np.float64)
