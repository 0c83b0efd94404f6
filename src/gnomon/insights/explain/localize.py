"""Root-cause localisation: which combinations of dimension values explain a metric's change.

Given every leaf of a metric with its observed and expected value, :func:`localize` names the
root-cause elements: conjunctions of ``dimension = value`` (dimensions not named are "any")
whose leaves deviate together and which, together, account for the anomaly. Each leaf's
deviation is weighed as evidence against a noise level estimated from the leaves themselves
(:mod:`gnomon.insights.explain._deviation`); elements are then accepted greedily, over all
cuboids at once, while their summed evidence beats a penalty that grows with the number of
candidates (:mod:`gnomon.insights.explain._search`). Exact elements matter: naming an ancestor
blames normal leaves, naming a descendant misses part of the cause.

Cost: one bincount per cuboid and hypothesis up front, then bincounts over the taken leaves
only. With ``d`` dimensions there are ``2**d - 1`` cuboids; ``max_layer`` bounds them.

>>> import numpy as np
>>> country = np.repeat(["DE", "FR", "IT", "ES"], 3)
>>> channel = np.tile(["web", "app", "shop"], 4)
>>> predict = np.full(12, 100.0)
>>> real = np.where((country == "FR") & (channel == "web"), 40.0, 100.0)
>>> causes = localize(LeafTable.additive({"country": country, "channel": channel}, real, predict))
>>> [dict(c.segment) for c in causes], causes[0].contribution
([{'country': 'FR', 'channel': 'web'}], 1.0)
"""

import math
from dataclasses import dataclass

import numpy as np

from gnomon.errors import InvalidInput
from gnomon.insights.explain._counts import count_search, counts_like
from gnomon.insights.explain._deviation import evidence
from gnomon.insights.explain._search import Cuboid, cuboids, factorize, greedy
from gnomon.insights.explain.leaves import LeafTable
from gnomon.insights.findings import Cause, Effect

__all__ = ["LocalizeOptions", "localize"]

_BOTH_SHARE = 0.25
"""Rate and mix both name the effect when each is at least this share of the contribution."""
_MIN_MIX_SHARE = 0.2
"""A volume shift is only a cause of a ratio's change if it moved this share of it."""


@dataclass(frozen=True, slots=True)
class LocalizeOptions:
    """How the search weighs evidence. The defaults serve additive and ratio metrics alike.

    Attributes:
        max_causes: at most this many causes are returned.
        purity: the share of an element's (non-zero) leaves expected to deviate when the
            element is a cause, in (0, 1). Higher values punish an element harder for each
            normal-looking leaf, so ancestors of a cause are refused more readily.
        penalty: evidence (in nats, a log-likelihood ratio) an element must show beyond the
            log of the number of candidate elements of its layer. Raise it to name fewer,
            surer causes.
        max_layer: the most dimensions one element may combine (default: all of them).
    """

    max_causes: int = 20
    purity: float = 0.8
    penalty: float = 4.0
    max_layer: int | None = None

    def __post_init__(self) -> None:
        if self.max_causes < 1:
            raise InvalidInput(
                f"Invalid max_causes {self.max_causes}: it must be at least 1.",
                hint="Ask for one cause or more.",
            )
        if not 0.0 < self.purity < 1.0:
            raise InvalidInput(
                f"Invalid purity {self.purity}: it must lie strictly between 0 and 1.",
                hint="Use a share such as 0.8 (80 % of a cause's leaves deviate).",
            )
        if not math.isfinite(self.penalty) or self.penalty < 0:
            raise InvalidInput(
                f"Invalid penalty {self.penalty}: it must be a finite number >= 0.",
                hint="Use 4.0, or more for fewer and surer causes.",
            )
        if self.max_layer is not None and self.max_layer < 1:
            raise InvalidInput(
                f"Invalid max_layer {self.max_layer}: it must be at least 1.",
                hint="Leave it unset to search elements of every size.",
            )


def localize(leaves: LeafTable, options: LocalizeOptions | None = None) -> tuple[Cause, ...]:
    """The root-cause elements of the change from ``predict`` to ``real``, most important first.

    Args:
        leaves: every leaf of the metric (see :class:`LeafTable`).
        options: how to weigh evidence (defaults: :class:`LocalizeOptions`).

    Returns:
        One :class:`~gnomon.insights.findings.Cause` per element, sorted by the absolute size
        of its contribution; empty when no element deviates beyond the noise.
    """
    options = options or LocalizeOptions()
    if len(leaves) == 0:
        return ()
    coded = [factorize(leaves.labels[d]) for d in leaves.dimensions]
    layers = len(leaves.dimensions)
    if options.max_layer is not None:
        layers = min(layers, options.max_layer)
    cubes = cuboids([c for c, _ in coded], [len(u) for _, u in coded], layers)
    causes = []
    if counts_like(leaves):
        for taken in count_search(leaves, cubes, max_found=options.max_causes):
            cube = cubes[taken.cuboid]
            mask = cube.codes == taken.element
            segment = _segment(leaves, cube, taken.element, coded)
            confidence = 1.0 - taken.p_value
            cause = (
                _ratio_cause(leaves, mask, segment, confidence, volume=False)
                if leaves.is_ratio
                else _additive_cause(leaves, mask, segment, confidence)
            )
            if cause is not None:
                causes.append(cause)
        # Strongest evidence first: the order the search took them in.
        return tuple(causes)
    proof = evidence(leaves, purity=options.purity)
    found = greedy(
        cubes,
        proof.gain,
        proof.informative,
        penalty=options.penalty,
        max_found=options.max_causes,
    )
    for item in found:
        cube = cubes[item.cuboid]
        mask = cube.codes == item.element
        segment = _segment(leaves, cube, item.element, coded)
        confidence = _confidence(item.score)
        cause = (
            _ratio_cause(
                leaves,
                mask,
                segment,
                confidence,
                volume=proof.channel[item.hypothesis] == "volume",
            )
            if leaves.is_ratio
            else _additive_cause(leaves, mask, segment, confidence)
        )
        if cause is not None:
            causes.append(cause)
    causes.sort(key=lambda c: (-abs(c.contribution), -c.confidence))
    return tuple(causes)


def _segment(
    leaves: LeafTable, cube: Cuboid, element: int, coded: list[tuple[np.ndarray, list[object]]]
) -> dict[str, object]:
    leaf = int(cube.members[element])
    return {leaves.dimensions[d]: coded[d][1][int(coded[d][0][leaf])] for d in cube.dims}


def _confidence(score: float) -> float:
    return 1.0 - math.exp(-score)


def _share(part: float, total: float) -> float:
    """``part / total``, or the sign of ``part`` when the total did not move."""
    if total:
        return part / total
    return float(np.sign(part))


def _surprise(before: float, after: float, total_before: float, total_after: float) -> float | None:
    """Jensen-Shannon divergence of the element's share before and after (its own terms)."""
    if min(before, after) < 0 or total_before <= 0 or total_after <= 0:
        return None
    p, q = before / total_before, after / total_after
    mean = (p + q) / 2
    terms = [x * math.log(x / mean) for x in (p, q) if x > 0]
    return 0.5 * sum(terms)


def _additive_cause(
    leaves: LeafTable, mask: np.ndarray, segment: dict[str, object], confidence: float
) -> Cause:
    before = float(leaves.predict[mask].sum())
    after = float(leaves.real[mask].sum())
    total_before = float(leaves.predict.sum())
    total_after = float(leaves.real.sum())
    return Cause(
        segment=segment,
        contribution=_share(after - before, total_after - total_before),
        before=before,
        after=after,
        confidence=confidence,
        effect="volume",
        surprise=_surprise(before, after, total_before, total_after),
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _ratio_cause(
    leaves: LeafTable,
    mask: np.ndarray,
    segment: dict[str, object],
    confidence: float,
    *,
    volume: bool,
) -> Cause | None:
    real_num, real_den, predict_num, predict_den = leaves.ratio_parts()
    num_after, den_after = float(real_num[mask].sum()), float(real_den[mask].sum())
    num_before, den_before = float(predict_num[mask].sum()), float(predict_den[mask].sum())
    all_after, all_before = float(real_den.sum()), float(predict_den.sum())
    overall_before = _ratio(float(predict_num.sum()), all_before) or 0.0
    overall_after = _ratio(float(real_num.sum()), all_after) or 0.0
    before = _ratio(num_before, den_before)
    after = _ratio(num_after, den_after)
    share_after = den_after / all_after if all_after else 0.0
    share_before = den_before / all_before if all_before else 0.0
    rate_before = overall_before if before is None else before
    rate = share_after * ((after or 0.0) - rate_before)
    mix = (share_after - share_before) * (rate_before - overall_before)
    change = overall_after - overall_before
    if volume and abs(mix) < _MIN_MIX_SHARE * abs(change):
        return None
    return Cause(
        segment=segment,
        contribution=_share(rate + mix, change),
        before=before,
        after=after,
        confidence=confidence,
        effect=_effect(rate, mix),
        surprise=_surprise(num_before, num_after, float(predict_num.sum()), float(real_num.sum())),
    )


def _effect(rate: float, mix: float) -> Effect:
    total = abs(rate + mix) or abs(rate) + abs(mix)
    if abs(rate) >= _BOTH_SHARE * total and abs(mix) >= _BOTH_SHARE * total:
        return "both"
    return "rate" if abs(rate) >= abs(mix) else "mix"
