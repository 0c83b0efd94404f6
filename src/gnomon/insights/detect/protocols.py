"""What the integration may rely on of any detector, built-in or plugin."""

from typing import Any, Protocol, runtime_checkable

from gnomon.insights.detect.models import PointScore, Scored

__all__ = ["Detector", "FrameDetector"]


@runtime_checkable
class Detector(Protocol):
    """A univariate, streaming detector.

    ``score_series`` and ``update`` continue one state: scoring a series and then updating with
    more points gives exactly the scores of scoring the longer series. Point i is judged only
    from the points before it. NaN (and infinite) values are skipped: score 0, never flagged.
    """

    name: str

    @property
    def threshold(self) -> float:
        """The score at or above which a point is flagged."""
        ...

    def params(self) -> dict[str, Any]:
        """JSON-able parameters; ``detector(**params)`` rebuilds the same detector, unfitted."""
        ...

    def score_series(self, values: Any) -> Scored:
        """Score a 1-D series in order, continuing from the current state."""
        ...

    def update(self, value: float) -> PointScore:
        """Score one new point, then learn it."""
        ...

    def feedback(self, point: PointScore, anomalous: bool) -> None:
        """Learn from a user's verdict on a point this detector scored."""
        ...


@runtime_checkable
class FrameDetector(Protocol):
    """A multivariate detector over rows of k columns."""

    name: str

    @property
    def threshold(self) -> float:
        """The score at or above which a row is flagged."""
        ...

    def params(self) -> dict[str, Any]:
        """JSON-able parameters; ``detector(**params)`` rebuilds the same detector, unfitted."""
        ...

    def fit(self, values: Any) -> "FrameDetector":
        """Learn normal rows from an (n, k) array."""
        ...

    def score_frame(self, values: Any) -> Scored:
        """Score every row of an (n, k) array (fits on it first when not fitted)."""
        ...

    def feedback(self, point: PointScore, anomalous: bool) -> None:
        """Learn from a user's verdict on a row this detector scored."""
        ...
