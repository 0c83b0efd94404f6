"""What a metric query asks for, checked against the definitions before anything is compiled."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from gnomon.semantic.definitions import GRAINS

__all__ = ["MetricQuery", "OrderKey"]


@dataclass(frozen=True, slots=True)
class OrderKey:
    """One sort key: a result column, descending when written with a leading ``-``."""

    column: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> "OrderKey":
        """``"-revenue"`` → revenue, descending; ``"region"`` → region, ascending."""
        text = text.strip()
        if text.startswith("-"):
            return cls(text[1:].strip(), True)
        return cls(text.removeprefix("+").strip())


@dataclass(frozen=True, slots=True)
class MetricQuery:
    """Metrics by dimensions over a time range at a grain, filtered, ordered and limited.

    ``end`` is exclusive when it is a datetime; a date includes that whole day. Without a grain
    the result has one row per combination of ``by`` values over the whole range.
    """

    metrics: tuple[str, ...]
    by: tuple[str, ...] = ()
    grain: str | None = None
    start: date | datetime | None = None
    end: date | datetime | None = None
    where: str | None = None
    order: tuple[OrderKey, ...] = field(default_factory=tuple)
    limit: int | None = None

    @classmethod
    def build(
        cls,
        metrics: Sequence[str],
        *,
        by: Sequence[str] = (),
        grain: str | None = None,
        start: date | datetime | str | None = None,
        end: date | datetime | str | None = None,
        where: str | None = None,
        order: Sequence[str] = (),
        limit: int | None = None,
    ) -> "MetricQuery":
        """A query from plain values (as the CLI and the API receive them).

        Raises:
            ValueError: no metric, an unknown grain, a negative limit, or a name given twice.
        """
        if not metrics:
            raise ValueError("name at least one metric")
        if grain is not None and grain not in GRAINS:
            raise ValueError(f"{grain!r} is not a grain; use one of {', '.join(GRAINS)}")
        if limit is not None and limit < 0:
            raise ValueError(f"the limit must not be negative, not {limit}")
        for label, names in (("metric", metrics), ("dimension", by)):
            repeated = sorted({n for n in names if list(names).count(n) > 1})
            if repeated:
                raise ValueError(f"{label} {', '.join(map(repr, repeated))} is named twice")
        return cls(
            metrics=tuple(metrics),
            by=tuple(by),
            grain=grain,
            start=_moment(start, "start"),
            end=_moment(end, "end"),
            where=where or None,
            order=tuple(OrderKey.parse(o) for o in order if o.strip()),
            limit=limit,
        )


def _moment(value: date | datetime | str | None, label: str) -> date | datetime | None:
    """A date or time, from ISO text (``2025-01-31``, ``2025-01-31T08:00``) or as given."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"the {label} {value!r} is not a date or time; write e.g. 2025-01-31 or "
            "2025-01-31T08:00"
        ) from None
