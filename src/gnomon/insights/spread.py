"""The robust spread detectors and pattern tests judge deviations against.

Why the median absolute deviation rather than the standard deviation: the series judged hold
the very spikes and shifts being looked for, and one of them would inflate a standard
deviation enough to hide itself. Scaled by :data:`MAD_TO_SIGMA`, the MAD estimates the standard
deviation of normal noise, so thresholds keep their usual meaning ("3 sigma").
"""

import numpy as np

__all__ = ["MAD_TO_SIGMA", "MEANAD_TO_SIGMA", "robust_sd"]

MAD_TO_SIGMA = 1.482602218505602
"""1 / Φ⁻¹(3/4): a normal sample's MAD times this estimates its standard deviation."""

MEANAD_TO_SIGMA = 1.2533141373155003
"""sqrt(pi / 2): a normal sample's mean absolute deviation times this estimates its sigma."""


def robust_sd(values: np.ndarray) -> float:
    """The standard deviation a normal sample with these values' MAD would have.

    NaN values are ignored; fewer than two finite values give 0.

    >>> robust_sd(np.array([1.0, 2.0, 3.0, 4.0, 100.0]))
    1.482602218505602
    """
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return 0.0
    centre = np.median(finite)
    return float(MAD_TO_SIGMA * np.median(np.abs(finite - centre)))
