"""Multivariate detectors: ``isolation_forest`` and ``autoencoder`` over rows of k columns.

Both reduce a row to a raw anomaly measure (path length, reconstruction error) whose units mean
nothing alone. It is calibrated against the rows the model was fitted on, by peaks over a
threshold: below the fitted rows' 90th percentile ``p`` is the share of fitted rows at least as
high; above it, the exceedances are modelled as exponential (their scale from the median
exceedance, so the anomalies among the fitted rows do not stretch it) and ``p`` is that tail's
probability. ``1 - p`` is then a score like the univariate detectors', so severities and
ensembles mean the same thing. Without a prior :meth:`FrameDetector.fit`, ``score_frame`` fits
on the frame itself (in-sample: the usual way to find the odd rows of a table).

The direction of a row is the sign of its most extreme column, in robust z-scores.
"""

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.detect._base import check_float, check_int
from gnomon.insights.detect._calibrate import Threshold, severity_of, tail_for
from gnomon.insights.detect.models import PointScore, Scored, Severity
from gnomon.insights.spread import MAD_TO_SIGMA
from gnomon.optional import require

__all__ = ["AutoencoderDetector", "FrameDetector", "IsolationForestDetector"]

_TAIL_SHARE = 0.1
MIN_ROWS = 8


def as_frame(values: Any) -> np.ndarray:
    """A 2-D float64 copy with at least :data:`MIN_ROWS` complete rows, or InvalidInput."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Invalid frame: {exc}.", hint="Pass an (n, k) array of numbers (NaN for gaps)."
        ) from exc
    if array.ndim != 2 or array.shape[1] == 0:
        raise InvalidInput(
            f"Invalid frame: expected shape (n, k) with k >= 1, got {array.shape}.",
            hint="One row per time point, one column per series.",
        )
    complete = np.isfinite(array).all(axis=1)
    if complete.sum() < MIN_ROWS:
        raise InvalidInput(
            f"Invalid frame: {int(complete.sum())} complete rows; at least {MIN_ROWS} needed.",
            hint="Rows with a NaN or infinite value are skipped.",
        )
    return array


class FrameDetector(ABC):
    """Shared fitting, calibration and verdicts of the multivariate detectors."""

    name: ClassVar[str]

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        seed: int = 0,
    ) -> None:
        if season is not None:
            raise InvalidInput(
                f"The {self.name} detector takes no season: it judges rows, not a series.",
                hint="Leave season out, or deseasonalise the columns first.",
            )
        self.sensitivity = sensitivity
        self.season = None
        self.seed = check_int("seed", seed, minimum=0)
        self._threshold = Threshold(tail_for(sensitivity, threshold))
        self._centre: np.ndarray | None = None
        self._scale = np.ones(1)
        self._reference = np.zeros(1)
        self._tail_start = 0.0
        self._tail_scale = 1.0

    @abstractmethod
    def _fit_model(self, rows: np.ndarray) -> None:
        """Fit on standardised complete rows."""

    @abstractmethod
    def _raw(self, rows: np.ndarray) -> np.ndarray:
        """Raw anomaly measure per standardised row: higher is more anomalous."""

    @abstractmethod
    def _own_params(self) -> dict[str, Any]: ...

    @property
    def threshold(self) -> float:
        """The score at or above which a row is flagged (moved by :meth:`feedback`)."""
        return self._threshold.score

    def params(self) -> dict[str, Any]:
        """Everything needed to rebuild this detector (unfitted) with ``detector(**params)``."""
        return {
            "name": self.name,
            "sensitivity": self.sensitivity,
            "season": None,
            "seed": self.seed,
            **self._own_params(),
            "threshold": self._threshold.score,
        }

    def fit(self, values: Any) -> "FrameDetector":
        """Learn what normal rows look like from ``values`` (n, k); returns ``self``."""
        frame = as_frame(values)
        rows = frame[np.isfinite(frame).all(axis=1)]
        centre = np.median(rows, axis=0)
        mad = MAD_TO_SIGMA * np.median(np.abs(rows - centre), axis=0)
        std = rows.std(axis=0)
        scale = np.where(mad > 0, mad, np.where(std > 0, std, 1.0))
        self._centre, self._scale = centre, scale
        standard = (rows - centre) / scale
        self._fit_model(standard)
        raw = np.sort(self._raw(standard))
        self._reference = raw
        self._tail_start = float(np.quantile(raw, 1.0 - _TAIL_SHARE))
        over = raw[raw > self._tail_start] - self._tail_start
        middle = float(np.median(over)) if over.size else 0.0
        self._tail_scale = middle / math.log(2.0) if middle > 0 else 1e-12
        return self

    def _tails(self, raw: np.ndarray) -> np.ndarray:
        """Tail probability of each raw measure against the fitted rows."""
        reference = self._reference
        at_least = (reference.size - np.searchsorted(reference, raw, side="left")) / reference.size
        beyond = _TAIL_SHARE * np.exp(-(raw - self._tail_start) / self._tail_scale)
        return np.where(raw > self._tail_start, beyond, np.maximum(at_least, _TAIL_SHARE))

    def score_frame(self, values: Any) -> Scored:
        """Score every row; rows with a missing value are skipped (score 0, never flagged)."""
        frame = as_frame(values)
        if self._centre is None:
            self.fit(frame)
        centre, scale = self._centre, self._scale
        assert centre is not None  # noqa: S101 (fit sets it)
        if frame.shape[1] != centre.shape[0]:
            raise InvalidInput(
                f"Invalid frame: {frame.shape[1]} columns, the detector was fitted on "
                f"{centre.shape[0]}.",
                hint="Score frames with the columns the detector was fitted on.",
            )
        n = frame.shape[0]
        complete = np.isfinite(frame).all(axis=1)
        score = np.zeros(n)
        direction = np.zeros(n, dtype=np.int8)
        standard = (frame[complete] - centre) / scale
        score[complete] = 1.0 - self._tails(self._raw(standard))
        extreme = np.argmax(np.abs(standard), axis=1)
        direction[complete] = np.sign(standard[np.arange(standard.shape[0]), extreme])
        flagged = score >= self._threshold.score
        severity = np.full(n, "none", dtype="<U8")
        for i in np.flatnonzero(flagged):
            level: Severity = severity_of(float(score[i]), self._threshold.tail, math.nan)
            severity[i] = level
        nan = np.full(n, np.nan)
        return Scored(score, flagged, direction, nan, nan.copy(), nan.copy(), severity)

    def feedback(self, point: PointScore, anomalous: bool) -> None:
        """A false alarm widens the threshold past its score; a confirmed one tightens a little."""
        self._threshold.feedback(point.score, anomalous=anomalous)


class IsolationForestDetector(FrameDetector):
    """``isolation_forest``: rows that random splits isolate in few steps are anomalous.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        threshold: an explicit score threshold (overrides the sensitivity).
        seed: random state of the forest (fixed: the same frame gets the same scores).
        trees: number of trees.
    """

    name = "isolation_forest"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        seed: int = 0,
        trees: int = 200,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold, seed=seed)
        self.trees = check_int("trees", trees, minimum=1)
        self._forest: Any = None

    def _own_params(self) -> dict[str, Any]:
        return {"trees": self.trees}

    def _fit_model(self, rows: np.ndarray) -> None:
        ensemble = require("sklearn.ensemble", extra="insights")
        self._forest = ensemble.IsolationForest(n_estimators=self.trees, random_state=self.seed)
        self._forest.fit(rows)

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        # The forest's score s = 2**(-depth / c) is squeezed below 1; -log(1 - s) unsqueezes
        # the top, where the exponential tail model of the calibration has to fit.
        s = -np.asarray(self._forest.score_samples(rows), dtype=np.float64)
        return -np.log(np.maximum(1.0 - s, 1e-12))


class AutoencoderDetector(FrameDetector):
    """``autoencoder``: rows a small MLP cannot reconstruct from a bottleneck are anomalous.

    Trains full-batch with Adam on CPU, seeded, so the same frame gets the same scores.

    Args:
        sensitivity: ``low`` | ``medium`` | ``high``.
        threshold: an explicit score threshold (overrides the sensitivity).
        seed: seed of the weights' initialisation.
        hidden: width of the hidden layers (default: max(8, 2k)).
        bottleneck: width of the code (default: max(1, k // 2)).
        epochs: full-batch training steps.
        learning_rate: Adam's step size.
    """

    name = "autoencoder"

    def __init__(
        self,
        *,
        sensitivity: str = "medium",
        season: int | None = None,
        threshold: float | None = None,
        seed: int = 0,
        hidden: int | None = None,
        bottleneck: int | None = None,
        epochs: int = 300,
        learning_rate: float = 0.01,
    ) -> None:
        super().__init__(sensitivity=sensitivity, season=season, threshold=threshold, seed=seed)
        self.hidden = None if hidden is None else check_int("hidden", hidden, minimum=1)
        self.bottleneck = (
            None if bottleneck is None else check_int("bottleneck", bottleneck, minimum=1)
        )
        self.epochs = check_int("epochs", epochs, minimum=1)
        self.learning_rate = check_float("learning_rate", learning_rate, low=1e-6, high=1.0)
        self._model: Any = None

    def _own_params(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "bottleneck": self.bottleneck,
            "epochs": self.epochs,
            "learning_rate": self.learning_rate,
        }

    def _fit_model(self, rows: np.ndarray) -> None:
        torch = require("torch", extra="ml")
        k = rows.shape[1]
        hidden = self.hidden or max(8, 2 * k)
        code = self.bottleneck or max(1, k // 2)
        nn = torch.nn
        # One thread: a model this small gains nothing from more, and spinning OpenMP workers
        # on a busy machine can slow training a hundredfold.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._model = self._train(torch, nn, rows, k, hidden, code)
        finally:
            torch.set_num_threads(threads)

    def _train(self, torch: Any, nn: Any, rows: np.ndarray, k: int, hidden: int, code: int) -> Any:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = nn.Sequential(
                nn.Linear(k, hidden),
                nn.Tanh(),
                nn.Linear(hidden, code),
                nn.Tanh(),
                nn.Linear(code, hidden),
                nn.Tanh(),
                nn.Linear(hidden, k),
            ).double()
            data = torch.from_numpy(np.ascontiguousarray(rows))
            optimiser = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
            for _ in range(self.epochs):
                optimiser.zero_grad()
                loss = ((model(data) - data) ** 2).mean()
                loss.backward()
                optimiser.step()
        model.eval()
        return model

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        torch = require("torch", extra="ml")
        with torch.no_grad():
            data = torch.from_numpy(np.ascontiguousarray(rows))
            error = ((self._model(data) - data) ** 2).mean(dim=1)
        return np.asarray(error.numpy(), dtype=np.float64)
