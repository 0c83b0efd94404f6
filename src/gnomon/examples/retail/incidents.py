"""Injected incidents: where they go, what they multiply, and the ground-truth file.

Each kind is injected once, at a seeded random time and segment. Windows never overlap, keep a
gap between them, start after a history long enough for detectors to learn from, and short
incidents avoid holidays (whenever the period leaves room for that), so every incident stands out
against a normal background and scoring never has to decide which of two causes explains a day.
Multipliers act on the expected order count (or price) of the segment, before Poisson noise: they
are exactly what ``incidents.json`` records.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from gnomon.errors import InvalidInput
from gnomon.examples.retail.assortment import Tables
from gnomon.examples.retail.demand import Calendar, segment_share
from gnomon.examples.retail.models import EffectValue, Incident, IncidentKind

__all__ = [
    "HISTORY_DAYS",
    "IncidentPlan",
    "minimum_days",
    "no_incidents",
    "plan_incidents",
    "read_incidents",
    "write_incidents",
]

HISTORY_DAYS: Final = 60
"""No incident starts before this many days of normal data."""

_GAP_DAYS: Final = 14
_TAIL_DAYS: Final = 7
_OUTAGE_DAYS: Final = 3
_PRICING_DAYS: Final = 2
_SPIKE_DAYS: Final = 1
_RAMP_DAYS: Final = (42, 56)
_DECLINE_TO: Final = 0.7
_PRICE_MULTIPLIER: Final = 0.1
_SPIKE_MULTIPLIER: Final = 3.0
_MIN_SEGMENT_SHARE: Final = 0.02
_OUTAGE_CHANNELS: Final = ("web", "app")
_SPIKE_CHANNELS: Final = ("web", "app", "marketplace")
_PLACEMENT_ATTEMPTS: Final = 200


@dataclass(frozen=True, slots=True)
class IncidentPlan:
    """Incidents with the multipliers they imply.

    Attributes:
        incidents: the incidents, in time order.
        orders: multiplier of the expected order count, shape ``(days, segments)``.
        price: multiplier of unit prices, shape ``(days, categories)``.
    """

    incidents: tuple[Incident, ...]
    orders: npt.NDArray[np.float64]
    price: npt.NDArray[np.float64]


def minimum_days() -> int:
    """The shortest data set that has room for every incident after the history."""
    windows = _OUTAGE_DAYS + _PRICING_DAYS + _SPIKE_DAYS + _RAMP_DAYS[1]
    return HISTORY_DAYS + windows + 3 * _GAP_DAYS + _TAIL_DAYS


def no_incidents(calendar: Calendar, tables: Tables) -> IncidentPlan:
    """A plan that changes nothing, for data that needs no ground truth (benchmarks)."""
    return IncidentPlan(
        incidents=(),
        orders=np.ones((calendar.days, tables.n_segments)),
        price=np.ones((calendar.days, len(tables.category_names))),
    )


def _durations(rng: np.random.Generator) -> dict[IncidentKind, int]:
    return {
        "outage": _OUTAGE_DAYS,
        "pricing_error": _PRICING_DAYS,
        "gradual_decline": int(rng.integers(_RAMP_DAYS[0], _RAMP_DAYS[1] + 1)),
        "spike": _SPIKE_DAYS,
    }


def _place(
    calendar: Calendar, durations: Mapping[IncidentKind, int], rng: np.random.Generator
) -> dict[IncidentKind, int]:
    """Start day of each incident: random order, random spacing, short ones off holidays."""
    kinds: list[IncidentKind] = list(durations)
    room = calendar.days - HISTORY_DAYS - _TAIL_DAYS
    slack = room - sum(durations.values()) - _GAP_DAYS * (len(kinds) - 1)
    special = calendar.special
    starts: dict[IncidentKind, int] = {}
    for _ in range(_PLACEMENT_ATTEMPTS):
        order = [kinds[int(i)] for i in rng.permutation(len(kinds))]
        cuts = np.sort(rng.integers(0, slack + 1, size=len(kinds)))
        extra = np.diff(cuts, prepend=0)
        starts = {}
        day = HISTORY_DAYS
        for kind, spacing in zip(order, extra, strict=True):
            day += int(spacing)
            starts[kind] = day
            day += durations[kind] + _GAP_DAYS
        clear = all(
            not special[starts[kind] : starts[kind] + durations[kind]].any()
            for kind in kinds
            if kind != "gradual_decline"
        )
        if clear:
            break
    return starts


def _segment_mask(tables: Tables, segment: Mapping[str, str]) -> npt.NDArray[np.bool_]:
    country, channel, category = tables.split_segment(np.arange(tables.n_segments))
    mask = np.ones(tables.n_segments, dtype=np.bool_)
    positions = {
        "region": (tables.country_region[country], tables.region_names),
        "country": (country, tables.country_codes),
        "channel": (channel, tables.channel_names),
        "category": (category, tables.category_names),
    }
    for key, value in segment.items():
        values, names = positions[key]
        mask &= values == names.index(value)
    return mask


def _pick_pair(
    shares: npt.NDArray[np.float64],
    allowed_rows: Sequence[int],
    rng: np.random.Generator,
) -> tuple[int, int]:
    """A (row, column) cell of ``shares`` among ``allowed_rows`` holding enough orders."""
    cells = [
        (row, column)
        for row in allowed_rows
        for column in range(shares.shape[1])
        if shares[row, column] >= _MIN_SEGMENT_SHARE
    ]
    return cells[int(rng.integers(len(cells)))]


def _choose_segments(
    tables: Tables, rng: np.random.Generator
) -> dict[IncidentKind, dict[str, str]]:
    """Segments for each incident; outages and spikes only hit segments large enough to notice."""
    share = segment_share(tables)
    online = [tables.channel_names.index(name) for name in _OUTAGE_CHANNELS]
    channel, country = _pick_pair(share.sum(axis=2).T, online, rng)
    campaign = [tables.channel_names.index(name) for name in _SPIKE_CHANNELS]
    spike_channel, spike_category = _pick_pair(share.sum(axis=0), campaign, rng)
    categories = tables.category_names
    return {
        "outage": {
            "country": tables.country_codes[country],
            "channel": tables.channel_names[channel],
        },
        "pricing_error": {"category": categories[int(rng.integers(len(categories)))]},
        "gradual_decline": {
            "region": tables.region_names[int(rng.integers(len(tables.region_names)))]
        },
        "spike": {
            "channel": tables.channel_names[spike_channel],
            "category": categories[spike_category],
        },
    }


def _effects(
    durations: Mapping[IncidentKind, int], rng: np.random.Generator
) -> dict[IncidentKind, dict[str, EffectValue]]:
    return {
        "outage": {"metric": "orders", "multiplier": round(float(rng.uniform(0.0, 0.08)), 2)},
        "pricing_error": {
            "metric": "unit_price",
            "multiplier": _PRICE_MULTIPLIER,
            "orders_multiplier": round(float(rng.uniform(1.5, 2.5)), 1),
        },
        "gradual_decline": {
            "metric": "orders",
            "multiplier": _DECLINE_TO,
            "ramp": "linear",
            "ramp_days": durations["gradual_decline"],
            "persists": True,
        },
        "spike": {"metric": "orders", "multiplier": _SPIKE_MULTIPLIER},
    }


def _apply(
    incident: Incident,
    start: int,
    tables: Tables,
    orders: npt.NDArray[np.float64],
    price: npt.NDArray[np.float64],
) -> None:
    mask = _segment_mask(tables, incident.segment)
    stop = start + incident.days
    multiplier = float(incident.effect["multiplier"])
    if incident.kind == "pricing_error":
        category = tables.category_names.index(incident.segment["category"])
        price[start:stop, category] *= multiplier
        orders[start:stop, mask] *= float(incident.effect["orders_multiplier"])
    elif incident.kind == "gradual_decline":
        ramp = incident.days
        steps = np.arange(1, ramp + 1, dtype=np.float64)
        ramp_factor = 1.0 - (1.0 - multiplier) * steps / ramp
        orders[start:stop, mask] *= ramp_factor[:, None]
        orders[stop:, mask] *= multiplier
    else:
        orders[start:stop, mask] *= multiplier


def plan_incidents(calendar: Calendar, tables: Tables, *, rng: np.random.Generator) -> IncidentPlan:
    """Choose the incidents of one data set and the multipliers that realise them."""
    durations = _durations(rng)
    starts = _place(calendar, durations, rng)
    segments = _choose_segments(tables, rng)
    effects = _effects(durations, rng)
    orders = np.ones((calendar.days, tables.n_segments))
    price = np.ones((calendar.days, len(tables.category_names)))
    incidents: list[Incident] = []
    for kind in sorted(starts, key=starts.__getitem__):
        start = starts[kind]
        incident = Incident(
            kind=kind,
            start=calendar.day(start),
            end=calendar.day(start + durations[kind]),
            segment=segments[kind],
            effect=effects[kind],
        )
        _apply(incident, start, tables, orders, price)
        incidents.append(incident)
    return IncidentPlan(incidents=tuple(incidents), orders=orders, price=price)


def write_incidents(path: Path, incidents: Iterable[Incident]) -> None:
    """Write ``incidents.json``: a JSON list in time order, stable bytes for stable input."""
    body = json.dumps([incident.to_dict() for incident in incidents], indent=2)
    path.write_text(body + "\n", encoding="utf-8")


def read_incidents(path: Path) -> tuple[Incident, ...]:
    """Read the ground truth a generated data set was written with.

    Raises:
        InvalidInput: the file is not a JSON list of incidents.
    """
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput(
            f"Incidents file cannot be read: {path}: {exc}.",
            hint="Point to the incidents.json written by the retail generator.",
            file=str(path),
        ) from exc
    if not isinstance(loaded, list) or not all(isinstance(entry, dict) for entry in loaded):
        raise InvalidInput(
            f"Incidents file is not a list of objects: {path}.",
            hint="Point to the incidents.json written by the retail generator.",
            file=str(path),
        )
    return tuple(Incident.from_dict(entry) for entry in loaded)
