"""The trigger service: a tenant's rules, judged over what happens, turned into alerts and news.

Rules are stored per tenant as definitions of kind ``trigger`` (versioned like metrics: applying
an unchanged file writes nothing, a removed rule is retired). What rules watch arrives through
the catalog's event outbox — the in-process event bus: domain events (ingest runs with their
quality checks, anomalies found by scans, alerts changing state) and events sent by users.
:meth:`TriggerService.process` takes a micro-batch of unpublished events and, **in one
transaction**, judges every rule over it (vectorised: one pass per group of rules watching the
same events), advances the alerts, queues their notifications in the actions outbox, writes the
alerts' own events (which chained rules watch) and marks the batch published. A crash before the
commit leaves events, alerts, rule state and notifications as they were, so the batch is judged
again and nothing is told twice or lost.

Rules on KPI values are judged by :meth:`TriggerService.evaluate_kpis` (after a refresh, or on a
schedule), and :meth:`TriggerService.tick` moves time on: absences, quiet event alerts
resolving, repeats and escalation.
"""

import fnmatch
import hashlib
import json
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from gnomon.actions import Notification, enqueue
from gnomon.catalog import (
    AlertRecord,
    Catalog,
    CatalogTransaction,
    DefinitionRecord,
    NotificationRecord,
    OutboxRecord,
)
from gnomon.clock import Clock
from gnomon.context import RequestContext
from gnomon.errors import GnomonError, InvalidInput, NotFound
from gnomon.insights import ANOMALY_EVENT
from gnomon.triggers.errors import RuleDefinitionError
from gnomon.triggers.evaluation import ConditionSet
from gnomon.triggers.grouping import Batch, GroupItem, GroupState, group_values, summarise
from gnomon.triggers.kpis import changes_read, reading_changes
from gnomon.triggers.lifecycle import Alert, Transition, TransitionKind, fingerprint, step
from gnomon.triggers.rules import Rule, load_rules, order_rules, parse_rules
from gnomon.triggers.silences import Silence, parse_matcher
from gnomon.triggers.windows import Key, Match, Signal, WindowState

__all__ = [
    "ALERT_EVENT_PREFIX",
    "KpiSource",
    "ProcessReport",
    "TriggerService",
    "alert_row",
    "rule_row",
]

log = logging.getLogger(__name__)

TRIGGER_KIND = "trigger"
ALERT_EVENT_PREFIX = "gnomon.alert."
"""Alerts announce their changes as ``gnomon.alert.firing`` / ``.resolved`` events."""
QUALITY_EVENT_PREFIX = "gnomon.ingest.run."
NotifiedState = Literal["firing", "resolved", "acknowledged"]
_STATE_KINDS = ("kpi", "quality")
_UNREADABLE = (
    pa.ArrowInvalid,
    pa.ArrowTypeError,
    pa.ArrowNotImplementedError,
    TypeError,
    ValueError,
    OverflowError,
)
"""What Arrow raises for data it cannot hold or compute on."""
RESOLVE_AFTER = timedelta(minutes=5)
"""An alert of a rule on events resolves after this long without a new match."""
_REFRESH_EVENTS = ("gnomon.ingest.run.succeeded", "gnomon.build.run.succeeded")
"""Events after which the latest KPI values may have changed."""
MAX_EVENTS_PER_CALL = 1000
"""Most events one :meth:`TriggerService.publish_many` call takes."""

KpiSource = Callable[
    [RequestContext, Sequence[str], Sequence[str], Sequence[tuple[str, str]]],
    list[dict[str, Any]],
]
"""The latest KPI values: ``(ctx, metrics, by, changes)`` → one row per combination of ``by``
values, with each metric's value under its name, ``<metric>_target`` (and ``target`` for a
single metric) where the metric has one, ``time`` (the bucket), and for each ``(metric,
period)`` of ``changes`` its relative change under ``pct_change_field(metric, period)``."""


@dataclass(slots=True)
class ProcessReport:
    """What an evaluation did: events judged, alerts that fired and resolved, notifications."""

    events: int = 0
    fired: int = 0
    resolved: int = 0
    notifications: int = 0
    silenced: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: "ProcessReport") -> None:
        """Count ``other`` in."""
        self.events += other.events
        self.fired += other.fired
        self.resolved += other.resolved
        self.notifications += other.notifications
        self.silenced += other.silenced
        self.errors.extend(other.errors)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "events": self.events,
            "fired": self.fired,
            "resolved": self.resolved,
            "notifications": self.notifications,
            "silenced": self.silenced,
            "errors": list(self.errors),
        }


class TriggerService:
    """Stores each tenant's rules, judges them, keeps their alerts, queues their notifications.

    Args:
        catalog: where rules, alerts, rule state, events and notifications are.
        triggers_dir: the project's ``triggers/`` folder, read by :meth:`apply`.
        project_dir: the project root, for file names in messages.
        clock: the time of evaluations.
        kpis: reads the latest KPI values for rules ``on: kpi``; without one, such rules are
            reported as not evaluated.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        triggers_dir: Path,
        project_dir: Path | None = None,
        clock: Clock | None = None,
        kpis: KpiSource | None = None,
    ) -> None:
        self._catalog = catalog
        self._triggers_dir = triggers_dir
        self._project_dir = project_dir
        self._clock: Clock = clock or catalog.clock
        self._kpis = kpis
        self._compiled: dict[tuple[str, ...], list[Rule]] = {}
        self.wake = threading.Event()
        """Set when events are published here, so a loop waiting for work looks at once."""

    # ------------------------------------------------------------------ rules

    def apply(
        self,
        *,
        ctx: RequestContext,
        rules: Sequence[Rule] | None = None,
        dry_run: bool = False,
        prune: bool = True,
    ) -> list[dict[str, Any]]:
        """Check the rules (the project's ``triggers/*.yaml`` by default) and store what changed.

        Every rule is checked, with the chain between them, before anything is stored; one bad
        rule stores nothing. With ``prune``, a stored rule no longer given is retired and its
        state forgotten.

        Returns:
            One row per rule: ``kind``, ``name``, ``version``, ``change`` (created, updated,
            unchanged, retired).

        Raises:
            RuleDefinitionError: any problem, each with its file, key path and line.
        """
        given = (
            order_rules(rules)
            if rules is not None
            else load_rules(self._triggers_dir, root=self._project_dir)
        )
        rows: list[dict[str, Any]] = []
        with self._catalog.transaction() as tx:
            tx.definitions.lock(tenant=ctx.tenant)
            stored = {
                r.name: r for r in tx.definitions.current(tenant=ctx.tenant, kind=TRIGGER_KIND)
            }
            for rule in given:
                spec = dict(rule.written)
                print_ = _fingerprint(spec)
                before = stored.get(rule.name)
                if dry_run:
                    change = (
                        "created"
                        if before is None
                        else "unchanged"
                        if before.fingerprint == print_
                        else "updated"
                    )
                    version = 1 if before is None else before.version + (change == "updated")
                else:
                    record, changed = tx.definitions.put(
                        tenant=ctx.tenant,
                        kind=TRIGGER_KIND,
                        name=rule.name,
                        spec=spec,
                        fingerprint=print_,
                        source=rule.source,
                        created_by=ctx.principal.user,
                    )
                    change = (
                        "unchanged" if not changed else "created" if before is None else "updated"
                    )
                    version = record.version
                    if changed and before is not None:
                        tx.trigger_states.forget(tenant=ctx.tenant, rule=rule.name)
                rows.append(_applied(rule.name, version, change))
            names = {r.name for r in given}
            for name, record in sorted(stored.items()):
                if name in names or not prune:
                    continue
                if dry_run:
                    rows.append(_applied(name, record.version + 1, "retired"))
                    continue
                gone = tx.definitions.retire(
                    tenant=ctx.tenant, kind=TRIGGER_KIND, name=name, created_by=ctx.principal.user
                )
                tx.trigger_states.forget(tenant=ctx.tenant, rule=name)
                if gone is not None:
                    rows.append(_applied(name, gone.version, "retired"))
        return rows

    def rules(self, *, ctx: RequestContext) -> list[Rule]:
        """The tenant's stored rules, in dependency order."""
        with self._catalog.transaction(read_only=True) as tx:
            return self._stored_rules(tx, ctx.tenant)

    def rule(self, name: str, *, ctx: RequestContext) -> Rule:
        """One stored rule.

        Raises:
            NotFound: the tenant has no rule of that name; the message lists the rules.
        """
        rules = {r.name: r for r in self.rules(ctx=ctx)}
        found = rules.get(name)
        if found is None:
            known = ", ".join(sorted(rules)) or "none yet"
            raise NotFound(
                f"There is no trigger rule {name!r}.",
                hint=f"Rules: {known}. Add rules to triggers/*.yaml and run gnomon apply.",
            )
        return found

    def test(self, name: str, event: Mapping[str, Any], *, ctx: RequestContext) -> dict[str, Any]:
        """Whether a rule's condition holds for one event (nothing is stored or sent).

        ``event`` is the event's data; ``type`` and ``time`` may be given in it (the rule's
        first type and now otherwise).

        Raises:
            NotFound: no such rule.
            InvalidInput: the event is not a JSON object, or the condition cannot be judged
                on it (a type error, named).
        """
        rule = self.rule(name, ctx=ctx)
        if not isinstance(event, Mapping):
            raise InvalidInput(
                "The event must be a JSON object.", hint='For example: {"amount": 1200}.'
            )
        row = dict(event)
        row.setdefault("type", rule.spec.match[0] if rule.spec.match else "test")
        when = row.get("time")
        row["time"] = _moment(when) if when is not None else self._clock.now()
        holds = True
        if rule.condition is not None:
            try:
                table = _table([row])
            except _UNREADABLE as exc:
                raise InvalidInput(
                    f"The event cannot be judged: {exc}.",
                    hint="Give fields plain values: text, numbers within 64 bits, true/false,"
                    " lists of one kind, objects.",
                ) from None
            compiled = ConditionSet.compile({name: rule.condition}, table.schema)
            if name in compiled.errors:
                error = compiled.errors[name]
                raise InvalidInput(
                    f"The condition of {name!r} cannot be judged on this event: {error}",
                    hint=error.hint or "Check the fields' types.",
                )
            holds = bool(compiled.evaluate(table)[name][0].as_py())
        stateful = next(
            (n for n in ("occurrences", "trend", "absence") if getattr(rule.spec, n) is not None),
            None,
        )
        return {
            "rule": name,
            "on": rule.spec.on,
            "matches_type": _type_matches(rule, str(row["type"])),
            "condition": rule.spec.condition,
            "holds": holds,
            "key": list(_key_of(rule, row)),
            "stateful": stateful,
            "would_fire": holds and stateful is None and _type_matches(rule, str(row["type"])),
        }

    # ------------------------------------------------------------------ events

    def publish(
        self, event_type: str, data: Mapping[str, Any], *, ctx: RequestContext
    ) -> dict[str, Any]:
        """Send an event to the bus (the outbox); rules see it at the next :meth:`process`.

        Raises:
            InvalidInput: the type is not a dotted name, is one of gnomon's own, or the data is
                not a JSON object.
        """
        return self.publish_many([(event_type, data)], ctx=ctx)[0]

    def publish_many(
        self, events: Sequence[tuple[str, Mapping[str, Any]]], *, ctx: RequestContext
    ) -> list[dict[str, Any]]:
        """Send several events in one transaction: all are sent, or none (one is invalid).

        Raises:
            InvalidInput: an event is not valid; the message names which (by position).
        """
        if len(events) > MAX_EVENTS_PER_CALL:
            raise InvalidInput(
                f"{len(events)} events are too many for one call.",
                hint=f"Send at most {MAX_EVENTS_PER_CALL} at a time.",
            )
        for position, (event_type, data) in enumerate(events):
            _check_event(event_type, data, position if len(events) > 1 else None)
        source = f"/users/{ctx.principal.user}"
        with self._catalog.transaction() as tx:
            records = tx.outbox.add_many(
                tenant=ctx.tenant,
                events=[(event_type, source, dict(data)) for event_type, data in events],
                correlation_id=ctx.correlation_id,
            )
        self.wake.set()
        return [{"id": r.id, "type": r.type, "time": _iso(r.time)} for r in records]

    def put_rule(
        self, name: str, written: Mapping[str, Any], *, ctx: RequestContext
    ) -> dict[str, Any]:
        """Store one rule (as a ``triggers/*.yaml`` entry would write it) beside the others.

        Raises:
            RuleDefinitionError: the rule is not valid, or it does not chain with the others
                (follows an unknown rule, or closes a cycle).
        """
        given = parse_rules({"rules": {name: dict(written)}}, source="<api>")
        others = [r for r in self.rules(ctx=ctx) if r.name != name]
        rows = self.apply(ctx=ctx, rules=[*others, *given], prune=False)
        return next(r for r in rows if r["name"] == name)

    def delete_rule(self, name: str, *, ctx: RequestContext) -> dict[str, Any]:
        """Retire one rule; its open alerts stay as they are, its state is forgotten.

        Raises:
            NotFound: no such rule.
            RuleDefinitionError: other rules follow it (``on: alert``); they are named.
        """
        self.rule(name, ctx=ctx)
        order_rules([r for r in self.rules(ctx=ctx) if r.name != name])
        with self._catalog.transaction() as tx:
            tx.definitions.lock(tenant=ctx.tenant)
            gone = tx.definitions.retire(
                tenant=ctx.tenant, kind=TRIGGER_KIND, name=name, created_by=ctx.principal.user
            )
            tx.trigger_states.forget(tenant=ctx.tenant, rule=name)
        version = gone.version if gone is not None else 0
        return _applied(name, version, "retired")

    def process(self, *, limit: int = 1000, rounds: int = 20) -> ProcessReport:
        """Judge the waiting events in micro-batches of ``limit``, until none wait.

        Alerts that change state are events themselves, so a chain of rules settles within
        the same call (at most ``rounds`` batches).
        """
        total = ProcessReport()
        refreshed: set[str] = set()
        for _ in range(rounds):
            report = self._process_batch(limit, refreshed)
            total.add(report)
            if report.events == 0:
                break
        for tenant in sorted(refreshed):
            # New data was published: rules on KPI values judge the new latest values.
            try:
                total.add(self.evaluate_kpis(ctx=RequestContext.system(tenant)))
            except GnomonError as exc:
                total.errors.append(f"KPI rules of {tenant}: {exc}")
        return total

    def _process_batch(self, limit: int, refreshed: set[str]) -> ProcessReport:
        report = ProcessReport()
        now = self._clock.now()
        with self._catalog.transaction() as tx:
            events = tx.outbox.pending(limit)
            if not events:
                return report
            by_tenant: dict[str, list[OutboxRecord]] = defaultdict(list)
            for event in events:
                by_tenant[event.tenant].append(event)
            for tenant, records in by_tenant.items():
                rules = self._stored_rules(tx, tenant)
                if rules:
                    report.add(self._judge_events(tx, tenant, rules, records, now))
                if any(r.spec.on == "kpi" for r in rules) and any(
                    e.type in _REFRESH_EVENTS for e in records
                ):
                    refreshed.add(tenant)
            tx.outbox.mark_published([e.id for e in events])
            report.events = len(events)
        return report

    def _judge_events(
        self,
        tx: CatalogTransaction,
        tenant: str,
        rules: Sequence[Rule],
        events: Sequence[OutboxRecord],
        now: datetime,
    ) -> ProcessReport:
        report = ProcessReport()
        groups: dict[tuple[object, ...], list[Rule]] = defaultdict(list)
        for rule in rules:
            if rule.spec.enabled and rule.spec.on != "kpi":
                groups[_watching(rule)].append(rule)
        for members in groups.values():
            rows = _rows_for(members[0], events)
            if not rows and all(r.spec.absence is None for r in members):
                continue
            matched = self._matched(members, rows, report)
            for rule in members:
                hits = matched.get(rule.name)
                if hits is None:
                    continue
                evaluated = (
                    [_key_of(rule, row) for row in rows] if rule.spec.on == "quality" else None
                )
                report.add(
                    self._advance(
                        tx,
                        tenant,
                        rule,
                        [rows[i] for i in hits],
                        now,
                        evaluated=evaluated,
                        only_touched=True,
                    )
                )
        return report

    def _matched(
        self, rules: Sequence[Rule], rows: list[dict[str, Any]], report: ProcessReport
    ) -> dict[str, list[int]]:
        """The rows where each rule's condition holds (a rule with a type error is left out)."""
        everything = list(range(len(rows)))
        out: dict[str, list[int]] = {r.name: everything for r in rules if r.condition is None}
        conditions = {r.name: r.condition for r in rules if r.condition is not None}
        if not conditions:
            return out
        if not rows:
            return out | {name: [] for name in conditions}
        for name in conditions:
            out[name] = []
        tables = _tables(rows, report)
        judged: set[str] = set()
        for indices, table in tables:
            compiled = ConditionSet.compile(
                {n: c for n, c in conditions.items() if c is not None}, table.schema
            )
            for name, error in compiled.errors.items():
                report.errors.append(f"{name}: {error}")
            try:
                masks = compiled.evaluate(table)
            except _UNREADABLE as exc:
                report.errors.append(f"{', '.join(compiled.expressions)}: {exc}")
                continue
            judged.update(masks)
            for name, mask in masks.items():
                out[name].extend(indices[i] for i, hit in enumerate(mask.to_pylist()) if hit)
        if tables:
            # A rule that could not be judged on any row (a type error) is left out, so
            # nothing it watches is taken to have stopped holding.
            for name in set(conditions) - judged:
                del out[name]
        return out

    # ------------------------------------------------------------------ KPI values

    def evaluate_kpis(self, *, ctx: RequestContext) -> ProcessReport:
        """Judge the tenant's rules on KPI values against the latest values.

        A rule's alert for a key resolves when its condition no longer holds there.

        Raises:
            InvalidInput: there are rules on KPI values but nothing to read KPI values from.
        """
        report = ProcessReport()
        rules = [r for r in self.rules(ctx=ctx) if r.spec.on == "kpi" and r.spec.enabled]
        if not rules:
            return report
        if self._kpis is None:
            raise InvalidInput("Rules on KPI values need the semantic layer to read them.")
        now = self._clock.now()
        for rule in rules:
            changes = [(m, p) for m, p in changes_read(rule.condition) if m is not None]
            rows = self._kpis(ctx, rule.spec.metrics, rule.spec.key, changes)
            judged = rule
            if rule.condition is not None:
                judged = replace(rule, condition=reading_changes(rule.condition))
            matched = self._matched([judged], rows, report)
            with self._catalog.transaction() as tx:
                report.add(
                    self._advance(
                        tx,
                        ctx.tenant,
                        rule,
                        [rows[i] for i in matched.get(rule.name, [])],
                        now,
                        evaluated=[_key_of(rule, row) for row in rows],
                    )
                )
            report.events += len(rows)
        return report

    # ------------------------------------------------------------------ time

    def tick(self) -> ProcessReport:
        """Move every tenant's rules to now: absences, quiet alerts resolving, repeats."""
        report = ProcessReport()
        now = self._clock.now()
        with self._catalog.transaction(read_only=True) as tx:
            tenants = [t.id for t in tx.tenants.list()]
        for tenant in tenants:
            with self._catalog.transaction() as tx:
                for rule in self._stored_rules(tx, tenant):
                    if rule.spec.enabled:
                        # Judged on a state, an alert resolves only when a judgement says so.
                        held: list[Key] | None = [] if rule.spec.on in _STATE_KINDS else None
                        report.add(self._advance(tx, tenant, rule, [], now, evaluated=held))
        return report

    # ------------------------------------------------------------------ the core step

    def _advance(
        self,
        tx: CatalogTransaction,
        tenant: str,
        rule: Rule,
        rows: Sequence[Mapping[str, Any]],
        now: datetime,
        *,
        evaluated: Sequence[Key] | None,
        only_touched: bool = False,
    ) -> ProcessReport:
        """Feed a rule's matched rows through its window and lifecycle; store and tell."""
        spec = rule.spec
        saved = tx.trigger_states.get(tenant=tenant, rule=rule.name) or {}
        try:
            window = WindowState.from_json(spec, saved.get("window", {"keys": []}))
        except (ValueError, KeyError, TypeError):
            window = WindowState(spec)
        try:
            groups = GroupState.from_json(saved.get("groups", {"queues": []}))
        except (ValueError, KeyError, TypeError):
            groups = GroupState()
        matches = sorted(
            (
                Match(
                    _key_of(rule, row),
                    # A state (a KPI's latest bucket, a check) holds now; an event when it was.
                    now
                    if spec.on in _STATE_KINDS or row.get("time") is None
                    else _moment(row.get("time")),
                    _number(_value_at(row, spec.trend.field)) if spec.trend else None,
                )
                for row in rows
            ),
            key=lambda m: m.time,
        )
        said = {_key_of(rule, row): _explain(rule, row) for row in rows}
        signals: list[Signal] = [
            replace(s, reason=said.get(s.key) or s.reason) if s.reason == "matched" else s
            for s in window.feed(matches) + window.tick(now)
        ]
        if spec.absence is not None:
            # An absence ends for the keys seen again; the others stay absent.
            evaluated = [m.key for m in matches]
        touched = None
        if only_touched:
            # Events touch a few keys: only their alerts are read; the rest move on at a tick.
            keys = [s.key for s in signals] + list(evaluated or [])
            touched = {fingerprint(tenant, rule.name, key) for key in keys}
        open_records = {
            a.fingerprint: a
            for a in tx.alerts.open(tenant=tenant, rule=rule.name, fingerprints=touched)
        }
        result = step(
            spec,
            tenant=tenant,
            rule=rule.name,
            alerts={p: _lifecycle(a) for p, a in open_records.items()},
            signals=signals,
            now=now,
            evaluated=evaluated,
            resolve_after=spec.absence.within if spec.absence else RESOLVE_AFTER,
        )
        tx.alerts.discard(
            [open_records[p].id for p in result.dropped if p in open_records], tenant=tenant
        )
        ids: dict[str, AlertRecord] = {}
        for print_, alert in result.alerts.items():
            before = open_records.get(print_)
            if before is not None and _lifecycle(before) == alert:
                ids[print_] = before
                continue
            fields = _fields(alert, rule)
            ids[print_] = tx.alerts.save(
                tenant=tenant, id=None if before is None else before.id, **fields
            )
        report = self._tell(tx, tenant, rule, result.transitions, ids, groups, now)
        state = {"window": window.to_json(), "groups": groups.to_json()}
        if state != saved:  # most ticks change nothing: no write for them
            tx.trigger_states.put(tenant=tenant, rule=rule.name, state=state)
        return report

    def _tell(
        self,
        tx: CatalogTransaction,
        tenant: str,
        rule: Rule,
        transitions: Sequence[Transition],
        ids: Mapping[str, AlertRecord],
        groups: GroupState,
        now: datetime,
    ) -> ProcessReport:
        """Announce the alerts' changes as events, and queue what their groups send now."""
        report = ProcessReport()
        spec = rule.spec
        silences = (
            [_silence(s) for s in tx.silences.list(tenant=tenant, active_at=now)]
            if transitions
            else []
        )
        now_told: dict[str, tuple[AlertRecord, Transition]] = {}
        offers: dict[tuple[str, tuple[str, ...]], list[GroupItem]] = defaultdict(list)
        for transition in transitions:
            record = ids[transition.alert.fingerprint]
            if transition.kind == "firing":
                report.fired += 1
            elif transition.kind == "resolved":
                report.resolved += 1
            if transition.kind in ("firing", "resolved"):
                tx.outbox.add(
                    tenant=tenant,
                    type=f"{ALERT_EVENT_PREFIX}{transition.kind}",
                    source=f"/triggers/{rule.name}",
                    data=_alert_event(record, rule),
                )
            labels = record.labels
            if any(s.covers(labels, now) for s in silences):
                report.silenced += 1
                continue
            if transition.kind == "escalate":
                # An escalation is urgent: it is told at once, never held for its group.
                for channel in _channels(rule, transition):
                    enqueue(tx, _notification(record, rule, transition, channel))
                    report.notifications += 1
                continue
            told = _notification(record, rule, transition, "")
            item = GroupItem(
                fingerprint=record.fingerprint,
                rule=rule.name,
                state="resolved" if transition.kind == "resolved" else "firing",
                severity=record.severity,
                title=told.title,
                summary=told.summary,
                labels=dict(labels),
                at=transition.at,
            )
            now_told[record.fingerprint] = (record, transition)
            for channel in rule.spec.notify:
                offers[(channel, group_values(labels, rule.spec.group_by))].append(item)
        batches = [
            batch
            for (channel, group), items in offers.items()
            for batch in groups.offer(
                channel, group, items, now, interval=spec.group_interval, digest=spec.digest
            )
        ]
        for batch in [*batches, *groups.due(now)]:
            enqueue(tx, self._batch_notification(tx, tenant, rule, batch, now_told))
            report.notifications += 1
        return report

    @staticmethod
    def _batch_notification(
        tx: CatalogTransaction,
        tenant: str,
        rule: Rule,
        batch: Batch,
        now_told: Mapping[str, tuple[AlertRecord, Transition]],
    ) -> Notification:
        """The notification for what a group sends: one alert as itself, several summarised."""
        if len(batch.items) == 1 and not batch.omitted:
            (item,) = batch.items
            found = now_told.get(item.fingerprint)
            if found is None:
                latest = tx.alerts.list(tenant=tenant, fingerprint=item.fingerprint, limit=1)
                kind: TransitionKind = "resolved" if item.state == "resolved" else "firing"
                if latest:
                    found = (latest[0], Transition(kind, _lifecycle(latest[0]), item.at))
            if found is not None:
                return _notification(found[0], rule, found[1], batch.channel)
        title, summary = summarise(batch)
        print_ = _group_print(tenant, rule.name, batch.group)
        stamp = batch.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
        firing = any(i.state == "firing" for i in batch.items)
        return Notification(
            key=f"group-{print_[:12]}:{stamp}:{batch.channel}",
            channel=batch.channel,
            rule=rule.name,
            fingerprint=print_,
            state="firing" if firing else "resolved",
            severity=rule.spec.severity,
            title=title,
            summary=summary,
            labels=dict(zip(rule.spec.group_by, batch.group, strict=False)),
            data={
                "group": list(batch.group),
                "digest": batch.digest,
                "omitted": batch.omitted,
                "alerts": [i.to_json() for i in batch.items],
            },
            created_at=batch.at,
            tenant=tenant,
        )

    # ------------------------------------------------------------------ alerts

    def alerts(
        self,
        *,
        ctx: RequestContext,
        state: str | None = None,
        rule: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[dict[str, Any]]:
        """The tenant's alerts, newest first, each with its deliveries.

        ``before``, an alert's id, continues a listing after that alert.
        """
        with self._catalog.transaction(read_only=True) as tx:
            records = tx.alerts.list(
                tenant=ctx.tenant, state=state, rule=rule, limit=limit, before=before
            )
            rules = {r.name: r for r in self._stored_rules(tx, ctx.tenant)}
            return [alert_row(r, self._deliveries(tx, r, rules)) for r in records]

    def alert(self, alert_id: int, *, ctx: RequestContext) -> dict[str, Any]:
        """One alert with its deliveries and every attempt of each.

        Raises:
            AlertNotFound: the tenant has no such alert.
        """
        with self._catalog.transaction(read_only=True) as tx:
            record = tx.alerts.get(alert_id, tenant=ctx.tenant)
            row = alert_row(record, self._deliveries(tx, record))
            for delivery in row["deliveries"]:
                delivery["log"] = [
                    {
                        "number": a.number,
                        "outcome": a.outcome,
                        "status_code": a.status_code,
                        "latency_ms": a.latency_ms,
                        "error": a.error,
                        "response_excerpt": a.response_excerpt,
                        "finished_at": _iso(a.finished_at),
                    }
                    for a in tx.deliveries.list(delivery.pop("id"), tenant=ctx.tenant)
                ]
            return row

    def acknowledge(self, alert_id: int, *, ctx: RequestContext) -> dict[str, Any]:
        """Acknowledge a firing alert: no more repeats or escalation; its channels are told.

        Raises:
            AlertNotFound: the tenant has no such alert.
            InvalidInput: the alert is not firing.
        """
        now = self._clock.now()
        with self._catalog.transaction() as tx:
            record = tx.alerts.get(alert_id, tenant=ctx.tenant)
            if record.state != "firing":
                raise InvalidInput(
                    f"Alert {alert_id} is {record.state}; only a firing alert can be acknowledged."
                )
            if record.acknowledged_at is None:
                record = tx.alerts.save(
                    tenant=ctx.tenant,
                    id=alert_id,
                    acknowledged_at=now,
                    acknowledged_by=ctx.principal.user,
                )
                rule = {r.name: r for r in self._stored_rules(tx, ctx.tenant)}.get(record.rule)
                if rule is not None:
                    transition = Transition("firing", _lifecycle(record), now)
                    for channel in rule.spec.notify:
                        enqueue(
                            tx, _notification(record, rule, transition, channel, acknowledged=True)
                        )
            return alert_row(record, self._deliveries(tx, record))

    def silence(
        self,
        matchers: Sequence[str],
        *,
        duration: timedelta,
        comment: str = "",
        ctx: RequestContext,
    ) -> dict[str, Any]:
        """Keep alerts whose labels match every matcher from being told, for ``duration``.

        Raises:
            InvalidInput: a matcher is not ``name=value`` (or ``!=``, ``=~``, ``!~``), or the
                duration is not positive.
        """
        parsed = [parse_matcher(m) for m in matchers]
        if duration <= timedelta(0):
            raise InvalidInput("A silence lasts a positive time.", hint="For example: --for 2h.")
        now = self._clock.now()
        with self._catalog.transaction() as tx:
            record = tx.silences.add(
                tenant=ctx.tenant,
                matchers=[m.text() for m in parsed],
                starts_at=now,
                ends_at=now + duration,
                created_by=ctx.principal.user,
                comment=comment,
            )
        return _silence_row(record, now)

    def silences(self, *, ctx: RequestContext, active: bool = False) -> list[dict[str, Any]]:
        """The tenant's silences, newest first (only those in force with ``active``)."""
        now = self._clock.now()
        with self._catalog.transaction(read_only=True) as tx:
            records = tx.silences.list(tenant=ctx.tenant, active_at=now if active else None)
        return [_silence_row(r, now) for r in records]

    def expire_silence(self, silence_id: str, *, ctx: RequestContext) -> dict[str, Any]:
        """End a silence now.

        Raises:
            SilenceNotFound: the tenant has no such silence.
        """
        now = self._clock.now()
        with self._catalog.transaction() as tx:
            record = tx.silences.expire(silence_id, tenant=ctx.tenant, at=now)
        return _silence_row(record, now)

    # ------------------------------------------------------------------ helpers

    def _stored_rules(self, tx: CatalogTransaction, tenant: str) -> list[Rule]:
        records = tx.definitions.current(tenant=tenant, kind=TRIGGER_KIND)
        stamp = (tenant, *(f"{r.name}@{r.version}" for r in records))
        cached = self._compiled.get(stamp)
        if cached is None:
            cached = _parsed(records)
            if len(self._compiled) > 64:
                self._compiled.clear()
            self._compiled[stamp] = cached
        return cached

    def _deliveries(
        self,
        tx: CatalogTransaction,
        record: AlertRecord,
        rules: Mapping[str, Rule] | None = None,
    ) -> list[dict[str, Any]]:
        """The alert's notifications: its own, and those of its group that listed it."""
        own = tx.notifications.list(
            tenant=record.tenant, fingerprint=record.fingerprint, limit=1000
        )
        if rules is None:
            rules = {r.name: r for r in self._stored_rules(tx, record.tenant)}
        rule = rules.get(record.rule)
        grouped = []
        if rule is not None:
            group = group_values(record.labels, rule.spec.group_by)
            grouped = tx.notifications.list(
                tenant=record.tenant,
                fingerprint=_group_print(record.tenant, rule.name, group),
                limit=1000,
            )
        return [_delivery(n) for n in own if n.key.startswith(f"alert-{record.id}:")] + [
            _delivery(n)
            for n in grouped
            if n.created_at >= record.started_at
            and any(
                a.get("fingerprint") == record.fingerprint
                for a in n.payload.get("data", {}).get("alerts", [])
            )
        ]


def _group_print(tenant: str, rule: str, group: Sequence[str]) -> str:
    """What a group's notifications are filed under (their fingerprint)."""
    text = json.dumps([tenant, rule, list(group)], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _delivery(record: NotificationRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "channel": record.channel,
        "state": record.state,
        "status": record.status,
        "attempts": record.attempts,
        "idempotency_key": record.key,
        "created_at": _iso(record.created_at),
        "delivered_at": _iso(record.delivered_at),
        "last_error": record.last_error,
    }


# ---------------------------------------------------------------------- pure helpers


def _parsed(records: Sequence[DefinitionRecord]) -> list[Rule]:
    rules: list[Rule] = []
    for record in records:
        try:
            rules.extend(
                parse_rules({"rules": {record.name: record.spec}}, source=record.source or "")
            )
        except RuleDefinitionError as exc:
            log.warning("stored trigger rule %s no longer reads: %s", record.name, exc)
    try:
        return order_rules(rules)
    except RuleDefinitionError as exc:
        log.warning("stored trigger rules do not chain: %s", exc)
        return rules


def _applied(name: str, version: int, change: str) -> dict[str, Any]:
    return {"kind": TRIGGER_KIND, "name": name, "version": version, "change": change}


def _fingerprint(spec: Mapping[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_event(event_type: object, data: object, position: int | None) -> None:
    where = "" if position is None else f"Event {position}: "
    if not _EVENT_TYPE(event_type) or str(event_type).startswith("gnomon."):
        raise InvalidInput(
            f"{where}{event_type!r} is not an event type you can send.",
            hint="Use a dotted name of your own, such as shop.order.created"
            " (gnomon.* types are gnomon's).",
        )
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{where}the event data must be a JSON object.",
            hint='For example: {"amount": 1200}.',
        )
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{where}the event data is not JSON: {exc}.") from None


def _EVENT_TYPE(value: object) -> bool:
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        return False
    parts = value.split(".")
    return all(p and p.replace("_", "a").replace("-", "a").isalnum() for p in parts)


def _watching(rule: Rule) -> tuple[object, ...]:
    spec = rule.spec
    return (spec.on, tuple(spec.match), tuple(spec.metrics), tuple(spec.datasets))


def _type_matches(rule: Rule, event_type: str) -> bool:
    if rule.spec.on != "event":
        return True
    if event_type.startswith("gnomon.") and not any(
        p.startswith("gnomon.") for p in rule.spec.match
    ):
        return False
    return not rule.spec.match or any(fnmatch.fnmatchcase(event_type, p) for p in rule.spec.match)


def _rows_for(rule: Rule, events: Iterable[OutboxRecord]) -> list[dict[str, Any]]:
    """The rows a rule judges in a batch of events: the event's data, or what it carries."""
    spec = rule.spec
    rows: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if spec.on == "event":
            if _type_matches(rule, event.type):
                rows.append(
                    {**data, "type": event.type, "source": event.source, "time": event.time}
                )
        elif spec.on == "anomaly":
            if event.type == ANOMALY_EVENT and (
                not spec.metrics or data.get("metric") in spec.metrics
            ):
                rows.append(
                    {**data, "at": data.get("time"), "type": event.type, "time": event.time}
                )
        elif spec.on == "alert":
            if event.type.startswith(ALERT_EVENT_PREFIX) and data.get("rule") in spec.match:
                rows.append({**data, "type": event.type, "time": event.time})
        elif spec.on == "quality" and event.type.startswith(QUALITY_EVENT_PREFIX):
            dataset = data.get("dataset")
            if spec.datasets and dataset not in spec.datasets:
                continue
            for check in data.get("checks") or []:
                rows.append(
                    {
                        "dataset": dataset,
                        "check": check.get("rule"),
                        "status": "passed" if check.get("passed") else "failed",
                        "severity": check.get("severity"),
                        "message": check.get("message"),
                        "failed_rows": check.get("failed_rows"),
                        "run_id": data.get("run_id"),
                        "time": event.time,
                    }
                )
    return rows


def _tables(
    rows: Sequence[Mapping[str, Any]], report: ProcessReport
) -> list[tuple[list[int], pa.Table]]:
    """The rows as Arrow tables, with the positions each holds: one table when they agree.

    Fields whose types differ between rows: each row on its own; a row that cannot be read at
    all (a list of mixed values, a number over 64 bits) is reported and left out, never
    stopping the others.
    """
    try:
        return [(list(range(len(rows))), _table(rows))]
    except _UNREADABLE:
        pass
    tables = []
    for i, row in enumerate(rows):
        try:
            tables.append(([i], _table([row])))
        except _UNREADABLE as exc:
            report.errors.append(f"an event could not be judged ({exc})")
    return tables


def _table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist([dict(r) for r in rows])


def _value_at(row: Mapping[str, Any], path: str) -> object:
    current: object = row
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def _key_of(rule: Rule, row: Mapping[str, Any]) -> Key:
    values = []
    for name in rule.spec.key:
        value = _value_at(row, name)
        if isinstance(value, (Mapping, list)):
            values.append(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str))
        else:
            values.append("" if value is None else str(value))
    return tuple(values)


def _moment(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a time.", hint="Write times in ISO 8601: 2025-03-04T10:00:00Z."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _lifecycle(record: AlertRecord) -> Alert:
    return Alert(
        fingerprint=record.fingerprint,
        tenant=record.tenant,
        rule=record.rule,
        key=record.key,
        state=record.state,
        started_at=record.started_at,
        last_active_at=record.last_active_at,
        fired_at=record.fired_at,
        resolved_at=record.resolved_at,
        acknowledged_at=record.acknowledged_at,
        acknowledged_by=record.acknowledged_by,
        last_notified_at=record.last_notified_at,
        escalation_level=record.escalation_level,
        reason=record.reason,
    )


def _explain(rule: Rule, row: Mapping[str, Any]) -> str:
    """Why a plain condition held, in the values it read: ``amount=7200.0 > 5000``-style."""
    if rule.condition is None:
        return ""
    shown = []
    for path in rule.condition.fields:
        name = ".".join(path)
        if name in rule.spec.key or name == "time":
            continue
        value = _value_at(row, name)
        if isinstance(value, float):
            text = f"{value:,.2f}"
        elif isinstance(value, (Mapping, list)):
            text = json.dumps(value, ensure_ascii=False, default=str)
        else:
            text = str(value)
        shown.append(f"{name}={text}")
    for name, value in row.items():
        if name.startswith("pct_change:") and isinstance(value, float):
            _, metric, period = name.split(":", 2)
            shown.append(f"pct_change({metric}, '{period}')={value:+.1%}")
    values = ", ".join(dict.fromkeys(shown))
    return f"{rule.condition.text} held ({values})" if values else f"{rule.condition.text} held"


def _labels(alert: Alert, rule: Rule) -> dict[str, str]:
    labels = {"rule": rule.name, "severity": rule.spec.severity, **rule.spec.labels}
    labels.update(zip(rule.spec.key, alert.key, strict=False))
    return labels


def _fields(alert: Alert, rule: Rule) -> dict[str, Any]:
    return {
        "fingerprint": alert.fingerprint,
        "rule": alert.rule,
        "key": list(alert.key),
        "labels": _labels(alert, rule),
        "severity": rule.spec.severity,
        "state": alert.state,
        "started_at": alert.started_at,
        "last_active_at": alert.last_active_at,
        "fired_at": alert.fired_at,
        "resolved_at": alert.resolved_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "last_notified_at": alert.last_notified_at,
        "escalation_level": alert.escalation_level,
        "reason": alert.reason,
    }


def _channels(rule: Rule, transition: Transition) -> list[str]:
    if transition.kind == "escalate":
        return list(rule.spec.escalation[transition.level - 1].notify)
    return list(rule.spec.notify)


def _notification(
    record: AlertRecord,
    rule: Rule,
    transition: Transition,
    channel: str,
    *,
    acknowledged: bool = False,
) -> Notification:
    kind = "acknowledged" if acknowledged else transition.kind
    stamp = transition.at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")
    level = f"{transition.level}" if transition.level else ""
    state: NotifiedState = (
        "resolved" if kind == "resolved" else "acknowledged" if acknowledged else "firing"
    )
    keys = ", ".join(f"{k}={v}" for k, v in zip(rule.spec.key, record.key, strict=False))
    what = rule.spec.description or rule.name
    verb = {
        "firing": "firing",
        "resolved": "resolved",
        "repeat": "still firing",
        "escalate": f"unacknowledged, escalated (step {transition.level})",
        "acknowledged": f"acknowledged by {record.acknowledged_by}",
    }[kind]
    title = f"{rule.name}{f' ({keys})' if keys else ''}: {verb}"
    summary = f"{what}. {record.reason}." if record.reason else f"{what}."
    return Notification(
        key=f"alert-{record.id}:{kind}{level}:{stamp}:{channel}",
        channel=channel,
        rule=rule.name,
        fingerprint=record.fingerprint,
        state=state,
        severity=record.severity,
        title=title,
        summary=summary,
        labels=record.labels,
        data={
            "alert_id": record.id,
            "started_at": _iso(record.started_at),
            "fired_at": _iso(record.fired_at),
            "resolved_at": _iso(record.resolved_at),
            "key": dict(zip(rule.spec.key, record.key, strict=False)),
            "transition": kind,
        },
        created_at=transition.at,
        tenant=record.tenant,
    )


def _alert_event(record: AlertRecord, rule: Rule) -> dict[str, Any]:
    return {
        **dict(zip(rule.spec.key, record.key, strict=False)),
        "rule": record.rule,
        "alert_id": record.id,
        "fingerprint": record.fingerprint,
        "state": record.state,
        "severity": record.severity,
        "labels": dict(record.labels),
        "reason": record.reason,
    }


def rule_row(rule: Rule) -> dict[str, Any]:
    """A rule in a listing, as the CLI and the API show it (JSON-able)."""
    spec = rule.spec
    return {
        "name": rule.name,
        "on": spec.on,
        "condition": spec.condition,
        "severity": spec.severity,
        "notify": list(spec.notify),
        "enabled": spec.enabled,
        "source": rule.source,
    }


def alert_row(record: AlertRecord, deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    """An alert as the CLI and the API show it (JSON-able)."""
    return {
        "id": record.id,
        "rule": record.rule,
        "state": record.state,
        "severity": record.severity,
        "fingerprint": record.fingerprint,
        "key": list(record.key),
        "labels": dict(record.labels),
        "reason": record.reason,
        "started_at": _iso(record.started_at),
        "fired_at": _iso(record.fired_at),
        "resolved_at": _iso(record.resolved_at),
        "acknowledged_at": _iso(record.acknowledged_at),
        "acknowledged_by": record.acknowledged_by,
        "escalation_level": record.escalation_level,
        "deliveries": deliveries,
    }


def _silence(record: Any) -> Silence:
    return Silence(
        id=record.id,
        matchers=tuple(parse_matcher(m) for m in record.matchers),
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        created_by=record.created_by,
        comment=record.comment,
    )


def _silence_row(record: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": record.id,
        "matchers": list(record.matchers),
        "starts_at": _iso(record.starts_at),
        "ends_at": _iso(record.ends_at),
        "active": record.starts_at <= now < record.ends_at,
        "created_by": record.created_by,
        "comment": record.comment,
    }
