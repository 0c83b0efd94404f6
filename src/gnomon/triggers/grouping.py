"""Grouping and digests: fewer, fuller notifications when many alerts change at once.

Alerts that share a channel and the values of their rule's ``group_by`` labels form a
**group**. The first change in a quiet group is sent at once; changes within ``group_interval``
of the group's last notification wait, and go out together when the interval is up, so an
outage that trips fifty keys sends two messages, not fifty. A rule with a ``digest`` period
never sends at once: its changes collect until the end of the period (periods are aligned to
multiples of the period since the UTC epoch, so a daily digest closes at midnight UTC) and go
out as one summary.

Within a queue an alert appears once: a later change to the same fingerprint replaces the
earlier one (an alert that fired and resolved within the interval is told as resolved). A queue
holds at most :data:`MAX_QUEUED` alerts; beyond that the oldest are dropped and counted, and
the summary says how many.

:class:`GroupState` is pure: time is given, and the state is plain data
(:meth:`GroupState.to_json` / :meth:`GroupState.from_json`) kept by the trigger service, so a
restart neither loses queued changes nor sends a group twice.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gnomon.errors import InvalidInput
from gnomon.triggers.lifecycle import Alert, AlertState
from gnomon.triggers.specs import RuleSpec

__all__ = [
    "MAX_QUEUED",
    "Batch",
    "GroupItem",
    "GroupState",
    "alert_labels",
    "group_values",
    "summarise",
]

MAX_QUEUED = 1_000
"""Most alerts one group's queue holds; older ones are dropped and counted beyond it."""
MAX_LISTED = 20
"""Most alerts :func:`summarise` lists one per line; the rest are counted."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STATE_ORDER: tuple[AlertState, ...] = ("firing", "pending", "resolved")

Group = tuple[str, ...]


def alert_labels(alert: Alert, spec: RuleSpec) -> dict[str, str]:
    """The labels silences and grouping see for an alert.

    The rule's ``labels``, then each key field's value (``spec.key`` paired with ``alert.key``),
    then ``rule`` and ``severity``; a later one wins, so no label or key field can hide which rule
    fired or how severe it is.
    """
    labels = dict(spec.labels)
    # A rule whose key fields changed since the alert started pairs what still lines up.
    labels.update(zip(spec.key, alert.key, strict=False))
    labels["rule"] = alert.rule
    labels["severity"] = spec.severity
    return labels


def group_values(labels: Mapping[str, str], group_by: list[str] | tuple[str, ...]) -> Group:
    """The group an alert with ``labels`` falls in: its values of ``group_by`` (missing: ``""``)."""
    return tuple(labels.get(name, "") for name in group_by)


@dataclass(frozen=True, slots=True)
class GroupItem:
    """One alert change waiting to be told: what it is, its state, and what to say about it."""

    fingerprint: str
    rule: str
    state: AlertState
    severity: str
    title: str
    summary: str
    labels: Mapping[str, str] = field(hash=False)
    at: datetime

    def to_json(self) -> dict[str, object]:
        """The item as JSON-able data."""
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "state": self.state,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "labels": dict(self.labels),
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "GroupItem":
        """An item as :meth:`to_json` wrote it.

        Raises:
            ValueError: the data is not an item.
        """
        state = data.get("state")
        labels = data.get("labels")
        if state not in _STATE_ORDER or not isinstance(labels, dict):
            raise ValueError(f"not a group item: {data!r}")
        return cls(
            fingerprint=str(data["fingerprint"]),
            rule=str(data["rule"]),
            state=state,
            severity=str(data["severity"]),
            title=str(data["title"]),
            summary=str(data["summary"]),
            labels={str(k): str(v) for k, v in labels.items()},
            at=_time(data["at"]),
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """One notification's worth: a group's items, in the order their latest change came.

    ``omitted`` counts the older items dropped because the queue was full.
    """

    channel: str
    group: Group
    items: tuple[GroupItem, ...]
    digest: bool
    at: datetime
    omitted: int = 0


@dataclass(slots=True)
class _Queue:
    interval: timedelta
    digest: timedelta | None = None
    last_sent_at: datetime | None = None
    first_queued_at: datetime | None = None
    items: dict[str, GroupItem] = field(default_factory=dict)
    omitted: int = 0

    def add(self, item: GroupItem, now: datetime) -> None:
        if not self.items:
            self.first_queued_at = now
        if self.items.pop(item.fingerprint, None) is None and len(self.items) >= MAX_QUEUED:
            del self.items[next(iter(self.items))]
            self.omitted += 1
        self.items[item.fingerprint] = item

    def due_at(self) -> datetime | None:
        if not self.items or self.first_queued_at is None:
            return None
        if self.digest is not None:
            return _period_end(self.first_queued_at, self.digest)
        if self.last_sent_at is None:
            return self.first_queued_at
        return self.last_sent_at + self.interval

    def flush(self, channel: str, group: Group, now: datetime) -> Batch:
        batch = Batch(
            channel=channel,
            group=group,
            items=tuple(self.items.values()),
            digest=self.digest is not None,
            at=now,
            omitted=self.omitted,
        )
        self.items, self.omitted, self.first_queued_at = {}, 0, None
        self.last_sent_at = now
        return batch

    def idle(self, now: datetime) -> bool:
        """Nothing queued, and the next change would be sent at once anyway: safe to forget."""
        if self.items:
            return False
        return (
            self.digest is not None
            or self.last_sent_at is None
            or now - self.last_sent_at >= self.interval
        )


class GroupState:
    """The groups of every rule and channel: when each last sent, and what waits in its queue."""

    def __init__(self) -> None:
        self._queues: dict[tuple[str, Group], _Queue] = {}

    def offer(
        self,
        channel: str,
        group: Group,
        item: GroupItem | Sequence[GroupItem],
        now: datetime,
        *,
        interval: timedelta,
        digest: timedelta | None = None,
    ) -> list[Batch]:
        """Take one alert change for ``channel`` and ``group``; what must be sent now.

        Without ``digest``: a group that never sent, or last sent ``interval`` or longer ago,
        sends its queue with this item at once; otherwise the item waits for :meth:`due`. With
        ``digest``: the item always waits, until the end of the digest period in which the
        group's first waiting item arrived. Several items offered at once (changes of one
        moment) go out together.

        Raises:
            InvalidInput: ``interval`` is negative or ``digest`` is not positive.
        """
        if interval < timedelta(0) or (digest is not None and digest <= timedelta(0)):
            raise InvalidInput(
                f"group interval {interval} or digest period {digest} is not valid.",
                hint="Give a group_interval of 0 or more and a digest period above 0, e.g. 1d.",
            )
        queue = self._queues.get((channel, group))
        if queue is None:
            queue = self._queues[(channel, group)] = _Queue(interval=interval)
        queue.interval, queue.digest = interval, digest
        for one in [item] if isinstance(item, GroupItem) else item:
            queue.add(one, now)
        if digest is None and (queue.last_sent_at is None or now - queue.last_sent_at >= interval):
            return [queue.flush(channel, group, now)]
        return []

    def due(self, now: datetime) -> list[Batch]:
        """Every group whose wait is over at ``now``, earliest first, its queue emptied."""
        ready = sorted(
            (due_at, place)
            for place, queue in self._queues.items()
            if (due_at := queue.due_at()) is not None and due_at <= now
        )
        batches = [self._queues[place].flush(*place, now) for _, place in ready]
        for place in [p for p, queue in self._queues.items() if queue.idle(now)]:
            del self._queues[place]
        return batches

    def next_due(self) -> datetime | None:
        """When :meth:`due` will next have something to send, or ``None`` if nothing waits."""
        times = [t for queue in self._queues.values() if (t := queue.due_at()) is not None]
        return min(times, default=None)

    # ------------------------------------------------------------------ persistence

    def to_json(self) -> dict[str, object]:
        """The state as JSON-able data (durations in seconds, times in ISO 8601)."""
        return {
            "groups": [
                {
                    "channel": channel,
                    "group": list(group),
                    "interval": queue.interval.total_seconds(),
                    "digest": None if queue.digest is None else queue.digest.total_seconds(),
                    "last_sent_at": _iso(queue.last_sent_at),
                    "first_queued_at": _iso(queue.first_queued_at),
                    "omitted": queue.omitted,
                    "items": [item.to_json() for item in queue.items.values()],
                }
                for (channel, group), queue in self._queues.items()
            ]
        }

    @classmethod
    def from_json(cls, data: object) -> "GroupState":
        """The state as :meth:`to_json` wrote it.

        Raises:
            ValueError: the data is not a group state.
        """
        if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
            raise ValueError("not a group state: expected {'groups': [...]}")
        state = cls()
        try:
            for entry in data["groups"]:
                digest = entry.get("digest")
                queue = _Queue(
                    interval=timedelta(seconds=float(entry["interval"])),
                    digest=None if digest is None else timedelta(seconds=float(digest)),
                    last_sent_at=_maybe_time(entry.get("last_sent_at")),
                    first_queued_at=_maybe_time(entry.get("first_queued_at")),
                    omitted=int(entry.get("omitted", 0)),
                )
                for raw in entry.get("items", []):
                    item = GroupItem.from_json(raw)
                    queue.items[item.fingerprint] = item
                group = tuple(str(v) for v in entry["group"])
                state._queues[(str(entry["channel"]), group)] = queue
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ValueError(f"not a group state: {exc!r}") from exc
        return state


def summarise(batch: Batch) -> tuple[str, str]:
    """A batch's title (one line) and summary (a few plain-text lines).

    One item is told as itself. Several are counted by state, and listed one per line up to
    :data:`MAX_LISTED`; the rest, and any dropped from a full queue, are counted at the end.

    >>> from datetime import UTC, datetime
    >>> at = datetime(2025, 3, 1, tzinfo=UTC)
    >>> items = tuple(
    ...     GroupItem(f"f{n}", "kpi_drop", s, "warning", f"Revenue down in {r}", "", {}, at)
    ...     for n, (s, r) in enumerate([("firing", "DE"), ("firing", "FR"), ("resolved", "IT")])
    ... )
    >>> title, summary = summarise(Batch("ops", ("kpi_drop",), items, False, at))
    >>> title
    '3 alerts for kpi_drop: 2 firing, 1 resolved'
    >>> print(summary)
    - [firing] Revenue down in DE (warning)
    - [firing] Revenue down in FR (warning)
    - [resolved] Revenue down in IT (warning)
    """
    items = batch.items
    if len(items) == 1 and not batch.omitted:
        return items[0].title, items[0].summary
    total = len(items) + batch.omitted
    counts = [f"{n} {s}" for s in _STATE_ORDER if (n := sum(1 for i in items if i.state == s))]
    if batch.omitted:
        counts.append(f"{batch.omitted} more")
    title = f"{total} {_plural(total, 'alert')} for {_rules(items)}"
    if counts:
        title += ": " + ", ".join(counts)
    lines = [f"- [{i.state}] {i.title} ({i.severity})" for i in items[:MAX_LISTED]]
    rest = total - len(lines)
    if rest:
        lines.append(f"… and {rest} more")
    return title, "\n".join(lines)


def _rules(items: tuple[GroupItem, ...]) -> str:
    names = list(dict.fromkeys(i.rule for i in items))
    if not names:
        return "no rule"
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return f"{len(names)} rules"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _period_end(moment: datetime, period: timedelta) -> datetime:
    """The end of the period (aligned to the UTC epoch) that contains ``moment``."""
    return _EPOCH + ((moment - _EPOCH) // period + 1) * period


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _maybe_time(text: object) -> datetime | None:
    return None if text is None else _time(text)


def _time(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
