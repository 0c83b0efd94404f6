"""Anomaly detectors for KPI series: calibrated scores, bands, online updates, feedback.

A pure numeric library: series in, verdicts out, nothing about metrics, tenants or storage.
Build detectors by name with :func:`detector`; ``params()`` gives back what rebuilds them.

Univariate detectors (:data:`DETECTORS`) stream: ``score_series`` is ``update`` in a loop, so
point i is judged only from the points before it and online scoring continues a batch exactly.
Multivariate ones (:data:`MULTIVARIATE`) score the rows of a frame. Every score is ``1 - p`` for
a tail probability ``p`` of the detector's model of normal, so scores, thresholds and
severities mean the same in every detector. ``novelty`` is the configuration that scored best
on the NAB benchmark.

>>> import numpy as np
>>> values = np.r_[np.tile([10.0, 12.0, 11.0, 13.0], 30), 40.0]
>>> d = detector("robust_z", window=40)
>>> scored = d.score_series(values)
>>> bool(scored.flagged[-1]), int(scored.direction[-1]), bool(scored.flagged[:-1].any())
(True, 1, False)
"""

from gnomon.insights.detect.factory import DETECTORS, MULTIVARIATE, detector
from gnomon.insights.detect.models import SEVERITIES, PointScore, Scored, Sensitivity, Severity
from gnomon.insights.detect.protocols import Detector, FrameDetector

__all__ = [
    "DETECTORS",
    "MULTIVARIATE",
    "SEVERITIES",
    "Detector",
    "FrameDetector",
    "PointScore",
    "Scored",
    "Sensitivity",
    "Severity",
    "detector",
]
