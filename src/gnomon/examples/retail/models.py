"""The nouns of the retail generator: the file layout, incidents and the generation result.

Incidents are ground truth that detectors and root-cause analysis are scored against, so an
:class:`Incident` describes exactly the multipliers the generator applied and nothing more.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

from gnomon.errors import InvalidInput

__all__ = [
    "BROKEN_KINDS",
    "COLUMNS",
    "INCIDENT_KINDS",
    "SEGMENT_KEYS",
    "STATUSES",
    "BrokenKind",
    "EffectValue",
    "GenerationResult",
    "Incident",
    "IncidentKind",
]

COLUMNS: Final[tuple[str, ...]] = (
    "order_id",
    "order_time",
    "updated_at",
    "region",
    "country",
    "channel",
    "category",
    "product",
    "customer_id",
    "quantity",
    "unit_price",
    "discount",
    "status",
)
"""The order files' columns, in file order."""

STATUSES: Final[tuple[str, ...]] = ("placed", "shipped", "returned", "cancelled")
"""Every status a well-formed order row or update carries."""

SEGMENT_KEYS: Final[tuple[str, ...]] = ("region", "country", "channel", "category")
"""The dimensions an incident's segment may name."""

IncidentKind = Literal["outage", "pricing_error", "gradual_decline", "spike"]
BrokenKind = Literal[
    "non_numeric_quantity",
    "negative_unit_price",
    "missing_order_id",
    "unknown_status",
    "unparseable_order_time",
    "extra_field",
]
EffectValue = float | int | str | bool

INCIDENT_KINDS: Final[tuple[IncidentKind, ...]] = get_args(IncidentKind)
"""Every kind of incident the generator injects, each exactly once per data set."""

BROKEN_KINDS: Final[tuple[BrokenKind, ...]] = get_args(BrokenKind)
"""Every kind of deliberately broken line written into the order files."""


@dataclass(frozen=True, slots=True)
class Incident:
    """One injected incident: where, when and by how much the data was changed.

    Attributes:
        kind: what happened (see :data:`INCIDENT_KINDS`).
        start: first affected day (UTC calendar date), inclusive.
        end: day after the last affected day, exclusive.
        segment: the dimension values the change applies to, e.g. ``{"country": "DE",
            "channel": "web"}``; rows outside the segment are untouched.
        effect: the multiplier(s) applied. ``metric`` names what was multiplied (``orders``
            scales the expected number of order rows, ``unit_price`` scales prices) and
            ``multiplier`` by how much. A gradual decline adds ``ramp`` (``"linear"``),
            ``ramp_days`` and ``persists``: on the k-th day of the ramp (k = 1 … ramp_days) the
            multiplier is ``1 - (1 - multiplier) * k / ramp_days``, and from ``end`` on it stays
            at ``multiplier``. A pricing error adds ``orders_multiplier``, the volume bump that
            cheap prices caused in the same segment and days.
    """

    kind: IncidentKind
    start: date
    end: date
    segment: Mapping[str, str]
    effect: Mapping[str, EffectValue]

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment", MappingProxyType(dict(self.segment)))
        object.__setattr__(self, "effect", MappingProxyType(dict(self.effect)))

    def __hash__(self) -> int:
        return hash(
            (
                self.kind,
                self.start,
                self.end,
                tuple(sorted(self.segment.items())),
                tuple(sorted(self.effect.items())),
            )
        )

    @property
    def days(self) -> int:
        """How many calendar days the incident window spans."""
        return (self.end - self.start).days

    def covers(self, day: date) -> bool:
        """Whether ``day`` lies inside the incident window ``[start, end)``."""
        return self.start <= day < self.end

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``incidents.json``: ISO dates, plain dicts."""
        return {
            "kind": self.kind,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "segment": dict(self.segment),
            "effect": dict(self.effect),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Incident":
        """Read one entry of ``incidents.json`` back.

        Raises:
            InvalidInput: a key is missing or a value has the wrong form.
        """
        try:
            kind = data["kind"]
            start = date.fromisoformat(data["start"])
            end = date.fromisoformat(data["end"])
            segment = {str(key): str(value) for key, value in data["segment"].items()}
            effect = dict(data["effect"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidInput(
                f"Incident entry is malformed: {exc}.",
                hint="Each entry needs kind, start and end (ISO dates), segment and effect.",
                entry=dict(data),
            ) from exc
        if kind not in INCIDENT_KINDS:
            raise InvalidInput(
                f"Incident kind is unknown: {kind!r}.",
                hint=f"Use one of: {', '.join(INCIDENT_KINDS)}.",
                kind=kind,
            )
        return cls(kind=kind, start=start, end=end, segment=segment, effect=effect)


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What :func:`gnomon.examples.retail.generate` wrote and injected.

    Attributes:
        files: the order files, one per calendar month, in time order.
        updates_file: the NDJSON file of status updates, or ``None`` when none were asked for.
        incidents_file: ``incidents.json``, the ground truth of :attr:`incidents`.
        rows: well-formed order rows written, excluding broken lines and updates.
        broken: broken lines written, by kind (every kind of :data:`BROKEN_KINDS` is a key).
        updates: status updates written.
        incidents: the injected incidents, in time order.
        start: first day of data.
        end: day after the last day of data (exclusive).
    """

    files: tuple[Path, ...]
    updates_file: Path | None
    incidents_file: Path
    rows: int
    broken: Mapping[str, int]
    updates: int
    incidents: tuple[Incident, ...]
    start: date
    end: date
