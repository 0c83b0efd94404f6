"""The synthetic root-cause sets S, L and H, regenerated from their published description.

Why our own generator: the sets were published as a generator and three seeds, and only five
instances of S and L ship with the data. Regenerating them lets the benchmark run on as many
instances as wanted, and on fresh seeds that no method was tuned on. The procedure is the one in
``README.md`` of the RCA data (section "RiskLoc synthetic datasets S, L, H: generator"); every
draw comes from one ``numpy.random.default_rng(seed)`` stream in exactly the described order, so
the shipped instances come out bit for bit (``python -m benchmarks.rca --check-generator``).

Readings the description leaves open, settled by matching the shipped files:

- the noisy copy of a leaf is ``real + real * eps`` (not ``real * (1 + eps)``: one rounding
  differs in 13 % of leaves);
- the fair 0/1 draw is ``integers(0, 2)`` (``choice(2)`` draws the same stream);
- the candidate values of an attribute stay in their natural order (``a1, a2, …, a10``, not
  sorted as text);
- an anomaly draws one ``r`` per affected leaf for all its combinations together (one mask),
  not combination by combination, and the new value is ``value * (1 - r)``.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from gnomon.errors import InvalidInput

MAX_ATTEMPTS = 100_000
"""Redraws of one anomaly's location before giving up (the sets S, L and H need a handful)."""


@dataclass(frozen=True, slots=True)
class Setting:
    """One synthetic set: its dimension sizes, seed and the ranges its instances draw from.

    Attributes:
        name: ``S``, ``L``, ``H`` or a custom name.
        sizes: the number of values of attributes ``a``, ``b``, ``c``, … in that order.
        seed: the published seed (the shipped instances are its first ones).
        zero_rate: share of leaves set to 0, drawn uniformly per instance.
        noise_level: standard deviation of the relative forecast noise, drawn per instance.
        severity: an anomaly's mean relative drop, drawn per anomaly (the noise level is added).
        deviation: standard deviation of that drop across leaves, drawn per anomaly.
        anomalies: inclusive range of the number of anomalies per instance.
        elements: inclusive range of the number of elements (combinations) per anomaly.
        last_layer_only: every anomaly uses all attributes (each element is one leaf).
    """

    name: str
    sizes: tuple[int, ...]
    seed: int
    zero_rate: tuple[float, float] = (0.0, 0.25)
    noise_level: tuple[float, float] = (0.0, 0.25)
    severity: tuple[float, float] = (0.2, 1.0)
    deviation: tuple[float, float] = (0.0, 0.1)
    anomalies: tuple[int, int] = (1, 3)
    elements: tuple[int, int] = (1, 3)
    last_layer_only: bool = False

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute names: ``a``, ``b``, … one per size."""
        return tuple(chr(ord("a") + i) for i in range(len(self.sizes)))


SETTINGS: Mapping[str, Setting] = {
    "S": Setting("S", (10, 12, 10, 8, 5), seed=121),
    "L": Setting(
        "L",
        (10, 24, 10, 15),
        seed=122,
        noise_level=(0.0, 0.1),
        severity=(0.5, 1.0),
        deviation=(0.0, 0.0),
        anomalies=(1, 5),
        elements=(1, 1),
        last_layer_only=True,
    ),
    "H": Setting("H", (10, 5, 250, 20, 8, 12), seed=123),
}


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One injected anomaly: its drawn parameters and where it went.

    Attributes:
        level: the number of attributes of each of its elements.
        elements: the number of elements.
        severity: mean relative drop (the instance's noise level included).
        deviation: standard deviation of the drop across leaves.
        attributes: the attribute indices it uses, sorted by name.
        combinations: one value index per attribute for each element (0 is value ``1``).
    """

    level: int
    elements: int
    severity: float
    deviation: float
    attributes: tuple[int, ...] = ()
    combinations: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Instance:
    """One generated instance, as the shipped CSV and its ``injection_info.csv`` row hold it.

    Attributes:
        id: the file name without ``.csv`` (six digits).
        labels: attribute name → every leaf's value (``a1``, …), in the CSV's row order; the
            arrays are shared by all instances of one :func:`generate` call and read-only.
        real: observed value per leaf.
        predict: forecast per leaf.
        label: the root-cause set, elements joined by ``;`` and pairs by ``&``.
        zero_rate: the drawn zero rate.
        noise_level: the drawn noise level.
        direction: 1 if the normal noise left Σreal above Σpredict (anomalies lower the
            forecast), else 0 (anomalies lower the real value).
        anomalies: the anomalies in the order they were drawn.
        abnormal: mask of the leaves under any root-cause element.
    """

    id: str
    labels: Mapping[str, np.ndarray]
    real: np.ndarray
    predict: np.ndarray
    label: str
    zero_rate: float
    noise_level: float
    direction: int
    anomalies: tuple[Anomaly, ...]
    abnormal: np.ndarray

    def info(self) -> dict[str, float | int | str]:
        """This instance's ``injection_info.csv`` row, with numbers rounded as it writes them."""
        normal = ~self.abnormal
        error = np.abs(self.real - self.predict)
        total_predict = float(self.predict.sum())
        abnormal_error = float(error[self.abnormal].sum())
        return {
            "timestamp": self.id,
            "set": self.label,
            "total_real_amount": round(float(self.real.sum()), 2),
            "total_predict_amount": round(total_predict, 2),
            "normal_predict_amount": round(float(np.abs(self.predict[normal]).sum()), 2),
            "normal_predict_error": round(float(error[normal].sum()), 2),
            "abnormal_predict_amount": round(float(np.abs(self.predict[self.abnormal]).sum()), 2),
            "abnormal_predict_error": round(abnormal_error, 2),
            "anomaly_significance": round(abnormal_error / total_predict, 2),
            "zero_rate": round(self.zero_rate, 2),
            "noise_level": round(self.noise_level, 2),
            "elements_per_anomaly": ";".join(str(a.elements) for a in self.anomalies),
            "anomaly_severity": ";".join(str(round(a.severity, 2)) for a in self.anomalies),
            "anomaly_deviation": ";".join(str(round(a.deviation, 2)) for a in self.anomalies),
            "anomaly_direction": self.direction,
        }


class _Grid:
    """The leaves of a setting: each attribute's value index per leaf, and the labels."""

    def __init__(self, setting: Setting) -> None:
        sizes = setting.sizes
        count = int(np.prod(sizes))
        index = np.arange(count, dtype=np.int64)
        strides = [int(np.prod(sizes[i + 1 :])) for i in range(len(sizes))]
        self.count = count
        self.strides = tuple(strides)
        self.codes = tuple(
            (index // stride) % size for stride, size in zip(strides, sizes, strict=True)
        )
        labels = {}
        for name, size, codes in zip(setting.attributes, sizes, self.codes, strict=True):
            values = np.array([f"{name}{j}" for j in range(1, size + 1)], dtype=object)
            column = values[codes]
            column.flags.writeable = False
            labels[name] = column
        self.labels: Mapping[str, np.ndarray] = labels

    def leaf(self, attributes: tuple[int, ...], combination: tuple[int, ...]) -> int:
        """Row of the leaf of a full combination (every attribute present)."""
        return sum(self.strides[a] * v for a, v in zip(attributes, combination, strict=True))

    def under(
        self, attributes: tuple[int, ...], combinations: tuple[tuple[int, ...], ...]
    ) -> np.ndarray:
        """Mask of the leaves matching any of the combinations on their attributes."""
        mask = np.zeros(self.count, dtype=bool)
        for combination in combinations:
            match = np.ones(self.count, dtype=bool)
            for attribute, value in zip(attributes, combination, strict=True):
                match &= self.codes[attribute] == value
            mask |= match
        return mask


def generate(setting: str | Setting, count: int, *, seed: int | None = None) -> Iterator[Instance]:
    """Yield ``count`` instances of a set, drawn from one generator seeded with ``seed``.

    Args:
        setting: ``"S"``, ``"L"``, ``"H"`` or a custom :class:`Setting`.
        count: instances to draw; the first ``k`` of a longer run are the same ``k``.
        seed: the stream's seed; the setting's published seed by default.

    Raises:
        InvalidInput: an unknown set name, or an anomaly that cannot have as many distinct
            elements as drawn.
    """
    if isinstance(setting, str):
        if setting not in SETTINGS:
            raise InvalidInput(
                f"unknown synthetic set: {setting!r}.",
                hint=f"Use one of {', '.join(SETTINGS)}, or pass a Setting.",
            )
        setting = SETTINGS[setting]
    rng = np.random.default_rng(setting.seed if seed is None else seed)
    grid = _Grid(setting)
    used_ids: set[int] = set()
    for _ in range(count):
        yield _instance(rng, setting, grid, used_ids)


def _instance(
    rng: np.random.Generator, setting: Setting, grid: _Grid, used_ids: set[int]
) -> Instance:
    # 1. The file id, unique within the run.
    while (file_id := int(rng.integers(100000, 999999))) in used_ids:
        pass
    used_ids.add(file_id)
    # 2-3. Instance and anomaly parameters.
    zero_rate = float(rng.uniform(*setting.zero_rate))
    noise_level = float(rng.uniform(*setting.noise_level))
    drawn = [
        _anomaly_parameters(rng, setting, noise_level)
        for _ in range(int(rng.integers(setting.anomalies[0], setting.anomalies[1] + 1)))
    ]
    # 4-8. Leaves, values, zeros, noise and the swap that makes the noise symmetric.
    alpha = rng.uniform(0.5, 1.0)
    clean = rng.weibull(alpha, size=grid.count) * 100
    clean[rng.uniform(size=grid.count) <= zero_rate] = 0
    noisy = clean + clean * rng.normal(0, noise_level, size=grid.count)
    swap = rng.integers(0, 2, size=grid.count) == 1
    real = np.where(swap, noisy, clean)
    predict = np.maximum(np.where(swap, clean, noisy), 0)
    # 9. Where each anomaly goes.
    placed = _locations(rng, setting, grid, drawn, real)
    # 10-11. Direction and injection.
    direction = 1 if real.sum() > predict.sum() else 0
    abnormal = np.zeros(grid.count, dtype=bool)
    for anomaly in placed:
        mask = grid.under(anomaly.attributes, anomaly.combinations)
        abnormal |= mask
        r = rng.normal(anomaly.severity, anomaly.deviation, size=int(mask.sum()))
        if direction == 0:
            real[mask] = np.maximum(predict[mask] * (1 - r), 0)
        else:
            predict[mask] = np.maximum(real[mask] * (1 - r), 0)
    # 12. The label.
    names = setting.attributes
    label = ";".join(
        "&".join(f"{names[a]}={names[a]}{v + 1}" for a, v in zip(x.attributes, c, strict=True))
        for x in placed
        for c in x.combinations
    )
    return Instance(
        id=str(file_id),
        labels=grid.labels,
        real=real,
        predict=predict,
        label=label,
        zero_rate=zero_rate,
        noise_level=noise_level,
        direction=direction,
        anomalies=tuple(placed),
        abnormal=abnormal,
    )


def _anomaly_parameters(rng: np.random.Generator, setting: Setting, noise: float) -> Anomaly:
    dims = len(setting.sizes)
    level = dims if setting.last_layer_only else int(rng.integers(1, dims + 1))
    elements = int(rng.integers(setting.elements[0], setting.elements[1] + 1))
    severity = float(rng.uniform(*setting.severity)) + noise
    deviation = float(rng.uniform(*setting.deviation))
    return Anomaly(level, elements, severity, deviation)


def _locations(
    rng: np.random.Generator,
    setting: Setting,
    grid: _Grid,
    drawn: list[Anomaly],
    real: np.ndarray,
) -> list[Anomaly]:
    dims = len(setting.sizes)
    used_values: list[set[int]] = [set() for _ in range(dims)]
    used_sets: list[tuple[int, ...]] = []
    placed: list[Anomaly] = []
    for anomaly in drawn:
        largest = sorted(setting.sizes, reverse=True)[: anomaly.level]
        if int(np.prod(largest)) < anomaly.elements:
            raise InvalidInput(
                f"an anomaly of {anomaly.elements} elements on {anomaly.level} attributes cannot "
                f"have distinct elements with sizes {setting.sizes}.",
                hint="Lower the elements range or raise the attribute sizes.",
            )
        for _ in range(MAX_ATTEMPTS):
            found = _try_location(rng, setting, grid, anomaly, real, used_values, used_sets)
            if found is not None:
                break
        else:
            raise InvalidInput(
                f"no free location for an anomaly of {anomaly.elements} elements on "
                f"{anomaly.level} attributes after {MAX_ATTEMPTS} draws.",
                hint="Lower the number of anomalies or elements, or raise the attribute sizes.",
            )
        attributes, combinations = found
        used_sets.append(attributes)
        for position, attribute in enumerate(attributes):
            used_values[attribute].update(c[position] for c in combinations)
        placed.append(
            Anomaly(
                anomaly.level,
                anomaly.elements,
                anomaly.severity,
                anomaly.deviation,
                attributes,
                combinations,
            )
        )
    return placed


def _try_location(
    rng: np.random.Generator,
    setting: Setting,
    grid: _Grid,
    anomaly: Anomaly,
    real: np.ndarray,
    used_values: list[set[int]],
    used_sets: list[tuple[int, ...]],
) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]] | None:
    """One draw of an anomaly's attributes and elements, or ``None`` when a check fails."""
    dims = len(setting.sizes)
    chosen = rng.choice(dims, size=anomaly.level, replace=False)
    attributes = tuple(sorted((int(a) for a in chosen), key=lambda a: setting.attributes[a]))
    if anomaly.level < dims and attributes in used_sets:
        return None
    candidates = [
        [v for v in range(setting.sizes[a]) if v not in used_values[a]] for a in attributes
    ]
    if any(not values for values in candidates):
        return None
    columns = [
        [values[int(i)] for i in rng.choice(len(values), size=anomaly.elements, replace=True)]
        for values in candidates
    ]
    combinations = tuple(zip(*columns, strict=True))
    if anomaly.level == dims and any(real[grid.leaf(attributes, c)] == 0 for c in combinations):
        return None
    if len(set(combinations)) != len(combinations):
        return None
    return attributes, combinations
