"""One feed, read differently: what each reader sees, and in which order.

The rules, applied to a scored feed (scores are not changed):

- ``owned``: insights about a metric the reader owns (either metric of a correlation) come
  first, best score first, then the others, best score first.
- role ``executive``: only the metric totals (no segment), only moves (trend, spike, drop,
  level shift, records) of at least 10 % (``|magnitude| ≥ 0.1``), at most the top 10.
  Executives decide on the business as a whole; segments and statistical subtleties belong
  in the drill-down.
- role ``manager``: totals and single-dimension segments, no technical kinds (seasonality
  changes, correlation changes).
- role ``analyst``: everything, segments at any depth and the technical kinds included.
- no role (``None``): everything, like ``analyst``.

An unknown role is an error rather than a silent default, so a typo does not leak segment
detail to a feed meant to be short.
"""

from collections.abc import Callable, Collection, Mapping, Sequence

from gnomon.errors import InvalidInput
from gnomon.insights.findings import Insight

__all__ = ["EXECUTIVE_LIMIT", "EXECUTIVE_MIN_MAGNITUDE", "ROLES", "personalise"]

EXECUTIVE_LIMIT = 10
"""How many insights an executive's feed holds at most."""
EXECUTIVE_MIN_MAGNITUDE = 0.1
"""The smallest relative move an executive's feed shows."""

_MOVES = frozenset({"trend", "spike", "drop", "level_shift", "record_high", "record_low"})
_TECHNICAL = frozenset({"seasonality_change", "correlation_appeared", "correlation_broke"})


def _executive(insight: Insight) -> bool:
    return (
        not insight.segment
        and insight.kind in _MOVES
        and abs(insight.magnitude) >= EXECUTIVE_MIN_MAGNITUDE
    )


def _manager(insight: Insight) -> bool:
    return len(insight.segment) <= 1 and insight.kind not in _TECHNICAL


def _anyone(insight: Insight) -> bool:  # noqa: ARG001 (every insight is shown)
    return True


ROLES: Mapping[str, Callable[[Insight], bool]] = {
    "executive": _executive,
    "manager": _manager,
    "analyst": _anyone,
}
"""The known roles and which insights each sees (see the module docstring)."""


def _owned(insight: Insight, owned: Collection[str]) -> bool:
    if insight.metric.name in owned:
        return True
    return insight.other_metric is not None and insight.other_metric.name in owned


def personalise(
    insights: Sequence[Insight], *, role: str | None, owned: Collection[str]
) -> list[Insight]:
    """The insights a reader should see, in the order they should see them.

    Args:
        insights: a scored feed (any order).
        role: ``executive``, ``manager``, ``analyst``, or ``None`` for no role filter.
        owned: names of the metrics the reader owns.

    Raises:
        InvalidInput: the role is not one of :data:`ROLES`.
    """
    shown: Callable[[Insight], bool]
    if role is None:
        shown = _anyone
    elif role in ROLES:
        shown = ROLES[role]
    else:
        raise InvalidInput(
            f"Unknown role {role!r}.",
            hint=f"Use one of: {', '.join(ROLES)}, or None for an unfiltered feed.",
            role=role,
        )
    owned_names = frozenset(owned)
    visible = [one for one in insights if shown(one)]
    visible.sort(key=lambda one: (not _owned(one, owned_names), -one.score, one.p_value))
    if role == "executive":
        return visible[:EXECUTIVE_LIMIT]
    return visible
