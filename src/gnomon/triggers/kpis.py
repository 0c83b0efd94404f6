"""What rules on KPI values read beyond the values themselves: their change over a period.

``pct_change(revenue, 'week')`` is the relative change of a metric between two trailing windows
— the week up to the latest day with data, and the week before it (see
:data:`~gnomon.triggers.functions.PCT_CHANGE_PERIODS`). The semantic layer computes both
windows' values (so ratio metrics are recomputed over each window, not averaged), and the rows
a rule judges carry the change as a field; a condition's ``pct_change`` calls read that field.
"""

from sqlglot import exp

from gnomon.triggers.functions import PCT_CHANGE_PERIODS, pct_change_field
from gnomon.triggers.language import Condition

__all__ = ["changes_read", "problems", "reading_changes"]


def _calls(condition: Condition) -> list[exp.Anonymous]:
    return [
        node
        for node in condition.tree.find_all(exp.Anonymous)
        if str(node.name).lower() == "pct_change"
    ]


def _metric_and_period(node: exp.Anonymous) -> tuple[str | None, str]:
    first, second = node.expressions
    metric = ".".join(str(p.name) for p in first.parts) if isinstance(first, exp.Column) else None
    return metric, str(second.this)


def changes_read(condition: Condition | None) -> list[tuple[str | None, str]]:
    """The ``(metric, period)`` of every ``pct_change`` call, in order (``None``: not a name)."""
    if condition is None:
        return []
    return list(dict.fromkeys(_metric_and_period(n) for n in _calls(condition)))


def problems(condition: Condition | None, *, on: str, metrics: list[str]) -> list[str]:
    """What is wrong with the condition's ``pct_change`` calls for a rule on ``on``."""
    found: list[str] = []
    for metric, period in changes_read(condition):
        if on != "kpi":
            found.append("pct_change() is for rules on kpi only")
        elif metric is None or metric not in metrics:
            found.append(
                f"pct_change() takes one of the rule's metrics ({', '.join(metrics)}) first"
            )
        if period not in PCT_CHANGE_PERIODS:
            found.append(
                f"pct_change() compares over {', '.join(map(repr, PCT_CHANGE_PERIODS))},"
                f" not {period!r}"
            )
    return list(dict.fromkeys(found))


def reading_changes(condition: Condition) -> Condition:
    """The condition with each ``pct_change(m, 'p')`` call reading the row's change field."""

    def swap(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and str(node.name).lower() == "pct_change":
            metric, period = _metric_and_period(node)
            return exp.column(exp.to_identifier(pct_change_field(str(metric), period), quoted=True))
        return node

    if not _calls(condition):
        return condition
    tree = condition.tree.copy().transform(swap)
    return Condition(
        text=condition.text, tree=tree, timezone=condition.timezone, fields=condition.fields
    )
