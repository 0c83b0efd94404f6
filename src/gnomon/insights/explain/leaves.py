"""A metric broken down into leaves: every full combination of dimension values, with values.

Why leaves and not segments: every segment's value is an aggregate of leaves, so one table of
leaves lets the root-cause search judge any combination of dimension values without another
query. An additive metric keeps one number per leaf and side; a ratio keeps its numerator and
denominator, because a segment's ratio is the ratio of its sums, never a sum of leaf ratios.

The table is validated once, here, so the search can trust it: equal lengths, at least one
dimension, finite numbers.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gnomon.errors import InvalidInput

__all__ = ["LeafTable"]


def _numbers(name: str, values: Any) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid leaf column {name!r}: {exc}.",
            hint="Pass one number per leaf (0 for a leaf with no value).",
        ) from exc
    bad = ~np.isfinite(array)
    if bad.any():
        raise InvalidInput(
            f"Invalid leaf column {name!r}: {int(bad.sum())} value(s) are NaN or infinite "
            f"(first at leaf {int(np.argmax(bad))}).",
            hint="Replace missing values by 0 (a leaf with no rows has the value 0).",
            column=name,
        )
    return array


def _ratio_of(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator`` per leaf, 0 where the denominator is 0."""
    safe = np.where(denominator != 0, denominator, 1.0)
    return np.where(denominator != 0, numerator / safe, 0.0)


@dataclass(frozen=True, slots=True)
class LeafTable:
    """The leaves of a metric at one moment: labels, observed (``real``) and expected values.

    Build one with :meth:`additive` (sums, counts) or :meth:`ratio` (a numerator over a
    denominator); the constructor validates whatever it is given.

    Attributes:
        dimensions: the dimensions, in the order of ``labels``.
        labels: per dimension, each leaf's value (any hashable: str, int, None …).
        real: the observed value per leaf (for a ratio: ``real_num / real_den``, 0 where the
            denominator is 0).
        predict: the expected value per leaf (for a ratio: ``predict_num / predict_den``).
        real_num: a ratio's observed numerator per leaf (``None`` for additive metrics).
        real_den: a ratio's observed denominator per leaf.
        predict_num: a ratio's expected numerator per leaf.
        predict_den: a ratio's expected denominator per leaf.
        history: optional, for additive metrics: the leaf's value in each of several earlier
            windows the baseline was made of, each scaled to the focus window's length (one
            row per leaf, one column per window). It tells how much each segment usually
            varies, so a segment whose amounts swing widely (a few very large baskets) is not
            blamed for a swing it often has.
    """

    dimensions: tuple[str, ...]
    labels: Mapping[str, np.ndarray]
    real: np.ndarray
    predict: np.ndarray
    real_num: np.ndarray | None = None
    real_den: np.ndarray | None = None
    predict_num: np.ndarray | None = None
    predict_den: np.ndarray | None = None
    history: np.ndarray | None = None

    def __post_init__(self) -> None:
        dimensions = tuple(self.dimensions)
        if not dimensions:
            raise InvalidInput(
                "Invalid leaf table: it has no dimension.",
                hint="Pass at least one dimension to break the metric down by.",
            )
        if len(set(dimensions)) != len(dimensions):
            raise InvalidInput(
                f"Invalid leaf table: a dimension is repeated in {list(dimensions)}.",
                hint="Name each dimension once.",
            )
        missing = [d for d in dimensions if d not in self.labels]
        if missing:
            raise InvalidInput(
                f"Invalid leaf table: no labels for dimension(s) {missing}.",
                hint="Give labels for every dimension (one value per leaf).",
            )
        labels = {d: np.asarray(self.labels[d]).reshape(-1) for d in dimensions}
        numbers = {
            name: None if value is None else _numbers(name, value)
            for name, value in (
                ("real", self.real),
                ("predict", self.predict),
                ("real_num", self.real_num),
                ("real_den", self.real_den),
                ("predict_num", self.predict_num),
                ("predict_den", self.predict_den),
            )
        }
        parts = [numbers[p] is not None for p in ("real_num", "real_den", "predict_num")]
        parts.append(numbers["predict_den"] is not None)
        if any(parts) and not all(parts):
            raise InvalidInput(
                "Invalid leaf table: a ratio needs all four of real_num, real_den, "
                "predict_num and predict_den.",
                hint="Build ratio tables with LeafTable.ratio(...).",
            )
        lengths = {f"labels[{d!r}]": len(v) for d, v in labels.items()}
        lengths.update({k: len(v) for k, v in numbers.items() if v is not None})
        if len(set(lengths.values())) != 1:
            raise InvalidInput(
                f"Invalid leaf table: columns differ in length ({lengths}).",
                hint="Give every column one entry per leaf.",
            )
        if self.history is not None:
            history = _numbers("history", np.asarray(self.history).reshape(-1)).reshape(
                np.shape(self.history)
            )
            real = numbers["real"]
            rows = 0 if real is None else len(real)
            shape: tuple[int, ...] = tuple(history.shape)
            if len(shape) != 2 or shape[0] != rows or shape[1] < 2:
                raise InvalidInput(
                    f"Invalid leaf table: history has shape {history.shape}, not (leaves, "
                    "windows) with at least two windows.",
                    hint="Give one row per leaf and one column per earlier window.",
                )
            object.__setattr__(self, "history", history)
        object.__setattr__(self, "dimensions", dimensions)
        object.__setattr__(self, "labels", labels)
        for name, value in numbers.items():
            object.__setattr__(self, name, value)

    @classmethod
    def additive(
        cls,
        labels: Mapping[str, Sequence[Any] | np.ndarray],
        real: Sequence[float] | np.ndarray,
        predict: Sequence[float] | np.ndarray,
        *,
        history: np.ndarray | None = None,
    ) -> "LeafTable":
        """Leaves of a sum or count: one observed and one expected value each.

        Args:
            labels: dimension → each leaf's value; the dimensions keep this order.
            real: the observed value per leaf.
            predict: the expected value per leaf.
            history: the leaf's value in each earlier window (see the class's attributes).

        Raises:
            InvalidInput: lengths differ, there is no dimension, or a number is NaN/infinite.
        """
        return cls(
            dimensions=tuple(labels),
            labels={d: np.asarray(v) for d, v in labels.items()},
            real=np.asarray(real),
            predict=np.asarray(predict),
            history=history,
        )

    @classmethod
    def ratio(
        cls,
        labels: Mapping[str, Sequence[Any] | np.ndarray],
        real_num: Sequence[float] | np.ndarray,
        real_den: Sequence[float] | np.ndarray,
        predict_num: Sequence[float] | np.ndarray,
        predict_den: Sequence[float] | np.ndarray,
    ) -> "LeafTable":
        """Leaves of a ratio metric (conversion rate, average order value …).

        ``real`` and ``predict`` become the leaf ratios (0 where a denominator is 0); segments
        are later judged by the ratio of their summed parts.

        Args:
            labels: dimension → each leaf's value; the dimensions keep this order.
            real_num: the observed numerator per leaf.
            real_den: the observed denominator per leaf.
            predict_num: the expected numerator per leaf.
            predict_den: the expected denominator per leaf.

        Raises:
            InvalidInput: lengths differ, there is no dimension, or a number is NaN/infinite.
        """
        parts = {
            "real_num": _numbers("real_num", real_num),
            "real_den": _numbers("real_den", real_den),
            "predict_num": _numbers("predict_num", predict_num),
            "predict_den": _numbers("predict_den", predict_den),
        }
        if len({len(v) for v in parts.values()}) != 1:
            raise InvalidInput(
                "Invalid leaf table: the ratio's parts differ in length "
                f"({ {k: len(v) for k, v in parts.items()} }).",
                hint="Give every part one entry per leaf.",
            )
        return cls(
            dimensions=tuple(labels),
            labels={d: np.asarray(v) for d, v in labels.items()},
            real=_ratio_of(parts["real_num"], parts["real_den"]),
            predict=_ratio_of(parts["predict_num"], parts["predict_den"]),
            **parts,
        )

    @property
    def is_ratio(self) -> bool:
        """Whether the metric is a ratio (numerators and denominators are kept)."""
        return self.real_num is not None

    def ratio_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(real_num, real_den, predict_num, predict_den)`` of a ratio table.

        Raises:
            InvalidInput: the table is additive.
        """
        if (
            self.real_num is None
            or self.real_den is None
            or self.predict_num is None
            or self.predict_den is None
        ):
            raise InvalidInput(
                "The leaf table is additive: it has no numerator and denominator.",
                hint="Build ratio tables with LeafTable.ratio(...).",
            )
        return self.real_num, self.real_den, self.predict_num, self.predict_den

    def __len__(self) -> int:
        return int(self.real.shape[0])
