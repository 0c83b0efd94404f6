"""How much each leaf's deviation says that it belongs to a root cause: a log-likelihood gain.

Why a likelihood and not a threshold: the noise of normal leaves differs from one metric and
moment to the next (a fraction of a percent in one, a quarter in another), and a root-cause
element is judged by all of its leaves together, so a leaf should neither be forced into
"anomalous" or "normal" nor count more than the evidence it carries.

Each leaf gets a relative deviation ``v = (real - predict) / max(|real|, |predict|)`` in
[-1, 1], which is scale-free, so a leaf of 3 and a leaf of 3,000 halved by the same cause look
the same. Under the model of normal, ``v`` is Gaussian with a scale estimated from the data
itself: a high percentile of each side's absolute deviations, taking the quieter side, so that
anomalies in one direction (even covering most leaves) do not inflate it. For ratio metrics the
scale of a leaf shrinks with its denominator (a rate over 10,000 visits is steadier than one
over 10): binomially for proportions, with the square root of the denominator otherwise.
Under the model of a cause, ``v`` is uniform on its side of zero, and only a share ``purity`` of
the element's leaves need deviate at all::

    gain = log((1 - purity) + purity * p_cause(v) / p_normal(v))

The model of normal also lets a rare leaf be off by any amount (:data:`_OUTLIER_RATE`), which
bounds one leaf's evidence. Summed over an element's leaves, the gain is a log-likelihood ratio
of "this element is a cause" against "it is normal". Its expectation over normal leaves is
negative, so an element that adds normal leaves to a cause (an ancestor) gains less than the
cause, and one that leaves out some of its anomalous leaves (a descendant) gains less too.

Ratio metrics are read through two channels: the rate (the leaf's ratio moved) and the volume
(its denominator moved relative to all others, which shifts the mix). Leaves where both sides
are zero carry no evidence (gain 0).
"""

import math
from dataclasses import dataclass

import numpy as np

from gnomon.insights.explain.leaves import LeafTable

__all__ = ["Evidence", "evidence"]

_NOISE_QUANTILE = 0.9
"""The quantile of absolute deviations the noise scale is read from (see :func:`noise_scale`)."""
_NOISE_Z = 1.6448536269514722
"""Φ⁻¹(0.95): the 90th percentile of a centred normal's absolute values, in sigmas."""
_NOISE_FLOOR = 1e-3
"""Relative deviations this small are never evidence (rounding, float sums)."""
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_OUTLIER_RATE = 0.01
"""The chance that some normal leaf of a table deviates by any amount (a glitch, not a cause).

It gives the model of normal a uniform floor, so one leaf's evidence is bounded (about
``log(leaves / 0.005)``): a handful of extreme leaves cannot buy an ancestor full of normal ones.
"""


@dataclass(frozen=True, slots=True)
class Evidence:
    """Per-leaf log-likelihood gains, one row per hypothesis (channel and direction).

    Attributes:
        gain: float64 array, one row per hypothesis and one column per leaf.
        channel: per hypothesis, ``"value"`` (additive), ``"rate"`` or ``"volume"`` (ratio).
        direction: per hypothesis, +1 (the leaves rose) or -1 (they fell).
        informative: bool per leaf: at least one side is non-zero.
        noise: the estimated noise scale per channel (a relative deviation at a typical leaf).
    """

    gain: np.ndarray
    channel: tuple[str, ...]
    direction: tuple[int, ...]
    informative: np.ndarray
    noise: dict[str, float]


def relative_deviation(real: np.ndarray, predict: np.ndarray) -> np.ndarray:
    """``(real - predict) / max(|real|, |predict|)`` clipped to [-1, 1], 0 where both are 0."""
    scale = np.maximum(np.abs(real), np.abs(predict))
    safe = np.where(scale > 0, scale, 1.0)
    return np.clip(np.where(scale > 0, (real - predict) / safe, 0.0), -1.0, 1.0)


def noise_scale(u: np.ndarray) -> float:
    """A robust sigma of ``u`` from the quieter side of zero (zeros count on both sides).

    Each side's scale is read from the 90th percentile of its absolute values: for Gaussian
    noise that is the median's estimate, while for the heavier tails of real data (and the
    many exact zeros of small counts) it does not understate the noise. Anomalies usually
    lie on one side, so the smaller of the two is kept.
    """
    if u.size == 0:
        return _NOISE_FLOOR
    scales = []
    for side in (u[u >= 0], -u[u <= 0]):
        if side.size:
            scales.append(float(np.quantile(side, _NOISE_QUANTILE)) / _NOISE_Z)
    return max(min(scales), _NOISE_FLOOR)


def _log_normal_density(v: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log density of N(0, sigma) truncated to [-1, 1], where ``v`` lives."""
    log_mass = np.zeros(sigma.shape)
    # Below a sigma of 0.25 more than 99.99 % of the mass lies in [-1, 1]: no correction.
    wide = sigma > 0.25
    if wide.any():
        erf = np.vectorize(math.erf, otypes=[np.float64])
        log_mass[wide] = np.log(erf(1.0 / (sigma[wide] * math.sqrt(2.0))))
    density: np.ndarray = -0.5 * (v / sigma) ** 2 - np.log(sigma) - _LOG_SQRT_2PI - log_mass
    return density


def _gains(
    v: np.ndarray, sigma: np.ndarray, informative: np.ndarray, purity: float
) -> tuple[np.ndarray, np.ndarray]:
    """The gains of each leaf under "cause that rose" and "cause that fell"."""
    outlier = _OUTLIER_RATE / max(int(informative.sum()), 1)
    log_normal = np.logaddexp(
        math.log1p(-outlier) + _log_normal_density(v, sigma), math.log(outlier / 2)
    )
    quiet = math.log1p(-purity)
    loud = np.logaddexp(quiet, math.log(purity) - log_normal)
    up = np.where(v > 0, loud, quiet)
    down = np.where(v < 0, loud, quiet)
    return np.where(informative, up, 0.0), np.where(informative, down, 0.0)


def _sigma_array(size: int, sigma: float) -> np.ndarray:
    return np.full(size, sigma)


def evidence(leaves: LeafTable, *, purity: float) -> Evidence:
    """The per-leaf gains for ``leaves`` (see the module docstring)."""
    if not leaves.is_ratio:
        v = relative_deviation(leaves.real, leaves.predict)
        informative = (leaves.real != 0) | (leaves.predict != 0)
        sigma = noise_scale(v[informative])
        up, down = _gains(v, _sigma_array(v.size, sigma), informative, purity)
        return Evidence(
            gain=np.vstack([up, down]),
            channel=("value", "value"),
            direction=(1, -1),
            informative=informative,
            noise={"value": sigma},
        )
    _, real_den, _, predict_den = leaves.ratio_parts()
    rate_up, rate_down, rate_informative, rate_sigma = _rate_channel(leaves, purity)
    total_predict = float(predict_den.sum())
    volume_scale = float(real_den.sum()) / total_predict if total_predict else 1.0
    expected_den = predict_den * volume_scale
    volume_informative = (real_den != 0) | (expected_den != 0)
    v = relative_deviation(real_den, expected_den)
    weight = _weights(np.maximum(np.abs(real_den), np.abs(expected_den)), volume_informative)
    volume_sigma = noise_scale((v * np.sqrt(weight))[volume_informative])
    vol_up, vol_down = _gains(v, volume_sigma / np.sqrt(weight), volume_informative, purity)
    return Evidence(
        gain=np.vstack([rate_up, rate_down, vol_up, vol_down]),
        channel=("rate", "rate", "volume", "volume"),
        direction=(1, -1, 1, -1),
        informative=rate_informative | volume_informative,
        noise={"rate": rate_sigma, "volume": volume_sigma},
    )


def _weights(size: np.ndarray, informative: np.ndarray) -> np.ndarray:
    """Each leaf's size relative to the median informative leaf (a tiny floor avoids 0)."""
    typical = float(np.median(size[informative])) if informative.any() else 1.0
    return np.maximum(size / (typical or 1.0), 1e-9)


def _rate_channel(
    leaves: LeafTable, purity: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Gains of the leaves' ratios: observed against expected, steadier for larger denominators.

    A leaf with no expected denominator (a new one) is compared with the overall expected
    ratio; one with no observed denominator has no observed ratio and carries no evidence.

    When every leaf's numerator lies between 0 and its denominator, the ratio is a proportion
    (conversions per visit, failures per request) and a leaf's noise is binomial: its standard
    deviation is ``sqrt(p (1 - p) / n)`` times a dispersion factor of at least 1 estimated from
    the data. Otherwise the scale shrinks with the square root of the denominator.
    """
    real_num, real_den, predict_num, predict_den = leaves.ratio_parts()
    total_den = float(predict_den.sum())
    overall = float(predict_num.sum()) / total_den if total_den else 0.0
    expected = np.where(predict_den != 0, leaves.predict, overall)
    informative = (real_den != 0) & ((leaves.real != 0) | (expected != 0))
    v = relative_deviation(leaves.real, expected)
    proportion = bool(
        np.all((real_num >= 0) & (real_num <= real_den))
        and np.all((predict_num >= 0) & (predict_num <= predict_den))
    )
    if proportion:
        # Laplace's rule keeps a leaf that never failed from having no noise at all.
        smoothed = np.where(predict_den != 0, (predict_num + 1.0) / (predict_den + 2.0), overall)
        smoothed = np.clip(smoothed, 1.0 / (total_den + 2.0), 1.0 - 1.0 / (total_den + 2.0))
        size = np.maximum(np.abs(leaves.real), np.abs(expected))
        base = np.sqrt(smoothed * (1.0 - smoothed) / np.maximum(real_den, 1.0))
        base = base / np.where(size > 0, size, 1.0)
        dispersion = max(noise_scale((v / base)[informative]), 1.0)
        sigma = dispersion * base
        up, down = _gains(v, sigma, informative, purity)
        return up, down, informative, dispersion
    weight = _weights(np.abs(real_den), informative)
    scale = noise_scale((v * np.sqrt(weight))[informative])
    up, down = _gains(v, scale / np.sqrt(weight), informative, purity)
    return up, down, informative, scale
