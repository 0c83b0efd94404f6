"""Why a metric moved: the segments (root-cause elements) that explain its change.

A pure numeric library: a :class:`LeafTable` (every full combination of dimension values, with
the value observed and the value expected) goes in, :class:`~gnomon.insights.findings.Cause`
values come out. :func:`localize` names the exact elements whose leaves deviate together beyond
the noise of the others, for additive metrics (sums, counts) and ratios of them.
"""

from gnomon.insights.explain.leaves import LeafTable
from gnomon.insights.explain.localize import LocalizeOptions, localize

__all__ = ["LeafTable", "LocalizeOptions", "localize"]
