"""Scoring a scan against the injected incidents: which were found, which were missed.

A scan flags buckets; a *detection* is a run of flagged buckets of one metric and segment (a
gap of at most one bucket continues it), since a three-day outage is one event, not three.
A detection *explains* an incident when it falls in the incident's days (plus a short grace:
a drop is often flagged the day after it ends; a decline that persists, for a while longer)
and its segment is on the incident's path: the same values, fewer of them (the country's
total shows an outage of its web shop), or the region of the incident's country (and the
reverse). An anomaly on another axis (a category, for an outage of a country's web shop) does
not explain it. Precision is the share of detections that explain an incident, recall the share
of incidents explained by at least one detection.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from gnomon.examples.retail.assortment import COUNTRIES
from gnomon.examples.retail.models import Incident

__all__ = ["Detection", "IncidentMatch", "Scorecard", "detections", "score_scan"]

_REGION_OF: Mapping[str, str] = {c.code: c.region for c in COUNTRIES}
_GRACE = timedelta(days=2)
_PERSISTING_GRACE = timedelta(days=21)


@dataclass(frozen=True, slots=True)
class Detection:
    """Consecutive flagged buckets of one metric and segment."""

    metric: str
    segment: Mapping[str, Any]
    start: datetime
    end: datetime
    """The last flagged bucket's start."""
    score: float
    """The highest score among the buckets."""
    buckets: int
    anomaly_ids: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        """``metric`` or ``metric[country=DE, channel=web]``."""
        inner = ", ".join(f"{k}={v}" for k, v in self.segment.items())
        return f"{self.metric}[{inner}]" if inner else self.metric


@dataclass(frozen=True, slots=True)
class IncidentMatch:
    """One incident and the detections that explain it (first one first)."""

    incident: Incident
    detections: tuple[Detection, ...] = ()

    @property
    def found(self) -> bool:
        """Whether any detection explains the incident."""
        return bool(self.detections)

    @property
    def first(self) -> Detection | None:
        """The earliest detection explaining it, highest score first among equals."""
        return self.detections[0] if self.detections else None

    @property
    def best(self) -> Detection | None:
        """The detection that pins the incident down best.

        The most specific segment wins, then the most buckets flagged, then the highest score.
        """
        if not self.detections:
            return None
        return max(self.detections, key=lambda d: (len(d.segment), d.buckets, d.score))


@dataclass(frozen=True, slots=True)
class Scorecard:
    """How a scan did against the incidents of one data set."""

    matches: tuple[IncidentMatch, ...]
    unexplained: tuple[Detection, ...] = field(default_factory=tuple)
    """Detections that explain no incident (false alarms, or real effects the generator did
    not inject as incidents)."""

    @property
    def recall(self) -> float:
        """Share of incidents found."""
        return sum(m.found for m in self.matches) / len(self.matches) if self.matches else 1.0

    @property
    def precision(self) -> float:
        """Share of detections that explain an incident."""
        explained = {id(d) for m in self.matches for d in m.detections}
        total = len(explained) + len(self.unexplained)
        return len(explained) / total if total else 1.0


def detections(rows: Iterable[Mapping[str, Any]], *, gap: timedelta) -> list[Detection]:
    """Group anomaly rows (``anomaly_row`` dicts) into detections; ``gap`` is one bucket."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        key = (str(row["metric"]), _segment_key(row["segment"]))
        groups.setdefault(key, []).append(row)
    found: list[Detection] = []
    for members in groups.values():
        members.sort(key=lambda r: _time(r["time"]))
        run: list[Mapping[str, Any]] = []
        for row in members:
            if run and _time(row["time"]) - _time(run[-1]["time"]) > 2 * gap:
                found.append(_detection(run))
                run = []
            run.append(row)
        if run:
            found.append(_detection(run))
    return sorted(found, key=lambda d: (d.start, d.metric, _segment_key(d.segment)))


def score_scan(
    incidents: Sequence[Incident], rows: Iterable[Mapping[str, Any]], *, gap: timedelta
) -> Scorecard:
    """Match the scan's anomalies (rows) against the incidents."""
    found = detections(rows, gap=gap)
    matches = []
    used: set[int] = set()
    for incident in incidents:
        explaining = sorted(
            (d for d in found if _explains(d, incident)), key=lambda d: (d.start, -d.score)
        )
        used.update(id(d) for d in explaining)
        matches.append(IncidentMatch(incident, tuple(explaining)))
    unexplained = tuple(d for d in found if id(d) not in used)
    return Scorecard(tuple(matches), unexplained)


def _explains(detection: Detection, incident: Incident) -> bool:
    start = _day_start(incident.start)
    grace = _PERSISTING_GRACE if incident.effect.get("persists") else _GRACE
    end = _day_start(incident.end) + grace
    if detection.end < start or detection.start >= end:
        return False
    return _on_path(detection.segment, incident.segment)


def _on_path(segment: Mapping[str, Any], target: Mapping[str, str]) -> bool:
    """Whether every value of ``segment`` is one of ``target``'s or contains/lies in it."""
    for key, value in segment.items():
        if target.get(key) == value:
            continue
        if key == "region" and _REGION_OF.get(target.get("country", "")) == value:
            continue
        if key == "country" and target.get("region") == _REGION_OF.get(str(value)):
            continue
        return False
    return True


def _detection(run: Sequence[Mapping[str, Any]]) -> Detection:
    return Detection(
        metric=str(run[0]["metric"]),
        segment=dict(run[0]["segment"]),
        start=_time(run[0]["time"]),
        end=_time(run[-1]["time"]),
        score=max(float(r["score"]) for r in run),
        buckets=len(run),
        anomaly_ids=tuple(int(r["id"]) for r in run if r.get("id") is not None),
    )


def _segment_key(segment: Mapping[str, Any]) -> str:
    return ",".join(f"{k}={segment[k]}" for k in sorted(segment))


def _time(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
