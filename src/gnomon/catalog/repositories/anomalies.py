"""Anomalies: the points of KPI series that scans found anomalous, and people's feedback on them.

A point is recorded once per (tenant, scope, metric, segment, bucket). Scans look at
overlapping windows, so they find the same points again: recording one that is already stored
changes nothing people said about it (its status and feedback stay), and only a higher score
replaces what was found (the score, severity, values and evidence), so a finding grows more
certain but is never announced twice. :meth:`AnomalyRepository.record` returns only the points
that are new, which is what alerts are raised for.

``scope`` keeps findings apart by the view of the data the scan read: a scan run as a reader
restricted by row policies sees other numbers than an unrestricted one, and what it found must
be shown only within that view.

On PostgreSQL, recording takes a transaction-level advisory lock on the tenant's scope, so two
scans recording into one scope take turns: the second sees what the first stored, and neither
waits on rows the other locked in another order. The unique constraint backs the lock up: a
point inserted past it meanwhile is left to whoever inserted it.
"""

import builtins
import copy
import hashlib
import math
import numbers
import operator
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, SupportsFloat, SupportsIndex, cast

from sqlalchemy import delete, select, text, update

from gnomon.catalog.errors import AnomalyNotFound
from gnomon.catalog.models import Anomaly, InsightModel
from gnomon.catalog.records import (
    ANOMALY_DIRECTIONS,
    ANOMALY_SEVERITIES,
    ANOMALY_STATUSES,
    AnomalyDirection,
    AnomalyInput,
    AnomalyRecord,
    AnomalySeverity,
    AnomalyStatus,
)
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_choice,
    require_json_object,
    require_limit,
    require_name,
)
from gnomon.catalog.series_keys import require_segment, segment_key
from gnomon.errors import InvalidInput

__all__ = ["AnomalyRepository"]

_Key = tuple[str, str, datetime]
"""What identifies an anomaly within a tenant's scope: metric, segment key, bucket start."""

_KEYS_IN_LOOKUP = 500
"""Up to this many distinct segments, the lookup of stored anomalies names them; past it, it
reads the batch's metrics over the batch's time range, which holds few rows as anomalies are
rare, instead of sending thousands of parameters."""

# What a higher score replaces: the finding, not its identity, history or feedback.
_FINDING = (
    "actual",
    "expected",
    "lower",
    "upper",
    "score",
    "severity",
    "direction",
    "detector",
    "model_id",
    "evidence",
)


def _record(row: Anomaly) -> AnomalyRecord:
    return AnomalyRecord(
        id=row.id,
        tenant=row.tenant_id,
        scope=row.scope,
        metric=row.metric,
        grain=row.grain,
        segment=copy.deepcopy(row.segment),
        segment_key=row.segment_key,
        time=row.time,
        actual=row.actual,
        expected=row.expected,
        lower=row.lower,
        upper=row.upper,
        score=row.score,
        severity=cast(AnomalySeverity, row.severity),
        direction=cast(AnomalyDirection, row.direction),
        detector=row.detector,
        model_id=row.model_id,
        run_id=row.run_id,
        evidence=copy.deepcopy(row.evidence),
        status=cast(AnomalyStatus, row.status),
        feedback_by=row.feedback_by,
        feedback_at=row.feedback_at,
        detected_at=row.detected_at,
    )


class _ItemCheck:
    """Checks one input item, naming it (position, metric, segment, time) in every error."""

    __slots__ = ("index", "label")

    def __init__(self, index: int, item: object) -> None:
        self.index = index
        metric = getattr(item, "metric", None)
        segment = getattr(item, "segment", None)
        time = getattr(item, "time", None)
        when = time.isoformat() if isinstance(time, datetime) else repr(time)
        self.label = f"anomaly #{index} (metric {metric!r}, segment {segment!r}, time {when})"

    def fail(self, field: str, problem: str, hint: str) -> InvalidInput:
        return InvalidInput(
            f"Invalid {field} of {self.label}: {problem}.", hint=hint, item=self.index, field=field
        )

    def text(self, field: str, value: object, example: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(
                field, f"{value!r} is not a non-empty string", f"Pass e.g. {example!r}."
            )
        return value

    def number(self, field: str, value: object) -> float:
        number = float(cast(SupportsFloat, value)) if _is_real(value) else math.nan
        if not math.isfinite(number):
            raise self.fail(
                field,
                f"{value!r} is not a finite number",
                "Pass finite floats; leave a point out rather than recording NaN or an infinity.",
            )
        return number

    def optional_number(self, field: str, value: object) -> float | None:
        return None if value is None else self.number(field, value)

    def choice(self, field: str, value: object, choices: Sequence[str]) -> str:
        if not isinstance(value, str) or value not in choices:
            raise self.fail(
                field,
                f"{value!r} is not one of {', '.join(choices)}",
                f"Pass one of: {', '.join(choices)}.",
            )
        return value


def _is_real(value: object) -> bool:
    """A real number (NumPy's too), but not a bool, which is an int to Python only by accident."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integral(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _checked(index: int, item: object) -> dict[str, Any]:
    """The row values of one item, or an :class:`InvalidInput` naming the item."""
    check = _ItemCheck(index, item)
    if not isinstance(item, AnomalyInput):
        raise check.fail(
            "item",
            f"expected an AnomalyInput, got {type(item).__name__}",
            "Pass AnomalyInput values.",
        )
    time = item.time
    if not isinstance(time, datetime) or time.tzinfo is None or time.utcoffset() is None:
        raise check.fail(
            "time",
            f"{time!r} is not a timezone-aware datetime",
            "Pass the bucket's start as an aware datetime, e.g. datetime(2025, 3, 1, tzinfo=UTC).",
        )
    try:
        segment = require_segment(item.segment)
    except InvalidInput as exc:
        raise check.fail(
            "segment",
            "expected a mapping of dimension names to strings, numbers, booleans or None",
            'Pass the dimension values of the series, such as {"region": "EMEA"}, or {}.',
        ) from exc
    model_id: object = item.model_id
    if model_id is not None and not _is_integral(model_id):
        raise check.fail(
            "model_id",
            f"{model_id!r} is not a model id",
            "Pass the id of a registered model, or None.",
        )
    try:
        evidence = require_json_object(
            dict(item.evidence) if isinstance(item.evidence, Mapping) else item.evidence,
            field="evidence",
            example='{"z": 4.2}',
        )
    except InvalidInput as exc:
        raise check.fail(
            "evidence",
            f"{item.evidence!r} is not a JSON object",
            "Pass a dict of string keys and JSON values (convert arrays and timestamps first).",
        ) from exc
    return {
        "metric": check.text("metric", item.metric, "revenue"),
        "grain": check.text("grain", item.grain, "day"),
        "segment": segment,
        "segment_key": segment_key(segment),
        "time": time.astimezone(UTC),
        "actual": check.number("actual", item.actual),
        "expected": check.optional_number("expected", item.expected),
        "lower": check.optional_number("lower", item.lower),
        "upper": check.optional_number("upper", item.upper),
        "score": check.number("score", item.score),
        "severity": check.choice("severity", item.severity, ANOMALY_SEVERITIES),
        "direction": check.choice("direction", item.direction, ANOMALY_DIRECTIONS),
        "detector": check.text("detector", item.detector, "robust_z"),
        "model_id": None if model_id is None else operator.index(cast(SupportsIndex, model_id)),
        "evidence": evidence,
        "item": index,
    }


def _key(values: Mapping[str, Any]) -> _Key:
    return (values["metric"], values["segment_key"], values["time"])


class AnomalyRepository(Repository):
    """A tenant's anomalies, one per (scope, metric, segment, bucket)."""

    __slots__ = ()

    def record(
        self,
        *,
        tenant: str,
        scope: str,
        run_id: str | None,
        items: Sequence[AnomalyInput],
    ) -> builtins.list[AnomalyRecord]:
        """Record what a scan found; returns the anomalies that were not stored before.

        An item whose (scope, metric, segment, time) is already stored is not added again:
        its status, feedback, ``detected_at`` and ``run_id`` stay. When the item's score is
        higher than the stored one, it replaces the finding (actual, expected, lower, upper,
        score, severity, direction, detector, model and evidence). Items of one batch with the
        same key count as one, the highest score winning. One query reads what is stored and
        one statement inserts the rest, so batches of thousands are cheap.

        Args:
            tenant: the tenant the scan ran for.
            scope: whose view of the data the scan read (``""`` for the unrestricted view).
            run_id: the scan's run, stored on the anomalies it adds.
            items: what the scan found.

        Returns:
            The anomalies added, in the order of their first item.

        Raises:
            InvalidInput: an item is invalid (the error names it and its field), or names a
                model the tenant has not registered. Nothing is recorded then.
            TenantNotFound: the tenant does not exist.
        """
        if not isinstance(scope, str):
            raise InvalidInput(
                f"Invalid scope {scope!r}: expected a string.",
                hint='Pass the name of the view the scan read, or "" for the unrestricted view.',
                field="scope",
            )
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise InvalidInput(
                f"Invalid run_id {run_id!r}: expected a run's id.",
                hint="Pass the id of the scan's run, or None.",
                field="run_id",
            )
        batch: dict[_Key, dict[str, Any]] = {}
        for index, item in enumerate(items):
            values = _checked(index, item)
            key = _key(values)
            if key not in batch or values["score"] > batch[key]["score"]:
                batch[key] = values
        self._require_tenant(tenant)
        if not batch:
            return []
        self._require_models(tenant, batch.values())
        self._lock_scope(tenant, scope)
        stored = self._stored(tenant, scope, batch)
        raised = [
            {"id": stored[key][0]} | {name: values[name] for name in _FINDING}
            for key, values in batch.items()
            if key in stored and values["score"] > stored[key][1]
        ]
        if raised:
            self._session.execute(update(Anomaly), raised)
        new = [values for key, values in batch.items() if key not in stored]
        if not new:
            return []
        now = self._now()
        rows = [
            {name: value for name, value in values.items() if name != "item"}
            | {
                "tenant_id": tenant,
                "scope": scope,
                "run_id": run_id,
                "status": "open",
                "detected_at": now,
            }
            for values in new
        ]
        statement = (
            self._insert(Anomaly)
            .on_conflict_do_nothing(
                index_elements=[
                    Anomaly.tenant_id,
                    Anomaly.scope,
                    Anomaly.metric,
                    Anomaly.segment_key,
                    Anomaly.time,
                ]
            )
            .returning(Anomaly)
        )
        # A key another transaction added since the lookup is skipped: it is not new here.
        added = {
            (row.metric, row.segment_key, row.time): row
            for row in self._session.scalars(
                statement, rows, execution_options={"populate_existing": True}
            )
        }
        return [_record(added[_key(values)]) for values in new if _key(values) in added]

    def list(
        self,
        *,
        tenant: str,
        scope: str,
        metric: str | None = None,
        segment: Mapping[str, Any] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        min_severity: str | None = None,
        limit: int | None = None,
    ) -> builtins.list[AnomalyRecord]:
        """The anomalies of one scope, by bucket time, then metric, then segment key.

        Metric names and segment keys are compared as plain strings, the same on every backend
        whatever the database's collation.

        Args:
            tenant: the tenant.
            scope: the view the anomalies were found in (``""`` for the unrestricted view).
            metric: only this metric's.
            segment: only this series' (``{}`` for the overall series alone).
            since: only buckets starting at or after this instant.
            until: only buckets starting before this instant.
            status: only those with this status (``open``, ``dismissed``, ``confirmed``).
            min_severity: only those at least this severe (low < medium < high < critical).
            limit: at most this many, the earliest first.

        Raises:
            InvalidInput: a status or severity is unknown, a bound naive, the segment not a
                mapping of dimension names to scalar values, or the limit below 1.
        """
        criteria = [Anomaly.tenant_id == tenant, Anomaly.scope == scope]
        if metric is not None:
            criteria.append(Anomaly.metric == metric)
        if segment is not None:
            criteria.append(Anomaly.segment_key == segment_key(segment))
        if since is not None:
            criteria.append(Anomaly.time >= require_aware(since, field="since"))
        if until is not None:
            criteria.append(Anomaly.time < require_aware(until, field="until"))
        if status is not None:
            criteria.append(
                Anomaly.status
                == require_choice(status, field="anomaly status", choices=ANOMALY_STATUSES)
            )
        if min_severity is not None:
            require_choice(min_severity, field="severity", choices=ANOMALY_SEVERITIES)
            at_least = ANOMALY_SEVERITIES[ANOMALY_SEVERITIES.index(min_severity) :]
            criteria.append(Anomaly.severity.in_(at_least))
        statement = (
            select(Anomaly)
            .where(*criteria)
            .order_by(
                Anomaly.time,
                self._bytewise(Anomaly.metric),
                self._bytewise(Anomaly.segment_key),
                Anomaly.id,
            )
        )
        if limit is not None:
            statement = statement.limit(require_limit(limit))
        rows = self._session.scalars(statement.execution_options(populate_existing=True))
        return [_record(row) for row in rows]

    def get(self, *, tenant: str, id: int) -> AnomalyRecord | None:
        """One anomaly by id, or ``None`` (an anomaly of another tenant counts as missing)."""
        row = self._fresh(Anomaly, Anomaly.id == id, Anomaly.tenant_id == tenant)
        return None if row is None else _record(row)

    def set_status(self, *, tenant: str, id: int, status: str, by: str) -> AnomalyRecord:
        """Record feedback on an anomaly: confirmed, dismissed, or open again.

        ``feedback_by`` becomes ``by`` and ``feedback_at`` now, whatever the status, so the last
        word on an anomaly always says who and when.

        Raises:
            InvalidInput: the status is unknown or ``by`` is empty.
            AnomalyNotFound: the tenant has no anomaly with that id.
        """
        require_choice(status, field="anomaly status", choices=ANOMALY_STATUSES)
        require_name(by, field="by", example="user:emea@acme")
        row = self._session.scalars(
            update(Anomaly)
            .where(Anomaly.id == id, Anomaly.tenant_id == tenant)
            .values(status=status, feedback_by=by, feedback_at=self._now())
            .returning(Anomaly),
            execution_options={"populate_existing": True},
        ).one_or_none()
        if row is None:
            raise AnomalyNotFound(
                f"Unknown anomaly {id!r} for tenant {tenant!r}.",
                hint="Check the anomaly id and the tenant; list the tenant's anomalies to find it.",
                anomaly_id=id,
                tenant=tenant,
            )
        return _record(row)

    def delete(self, *, tenant: str, scope: str, metric: str | None = None) -> int:
        """Remove a scope's anomalies, or only one metric's (e.g. when its definition changed).

        Returns:
            How many were removed.
        """
        statement = delete(Anomaly).where(Anomaly.tenant_id == tenant, Anomaly.scope == scope)
        if metric is not None:
            statement = statement.where(Anomaly.metric == metric)
        return len(self._session.scalars(statement.returning(Anomaly.id)).all())

    def _require_models(self, tenant: str, batch: Iterable[Mapping[str, Any]]) -> None:
        """Refuse model ids the tenant has not registered, naming the first item that has one."""
        wanted: dict[int, int] = {}
        for values in batch:
            if values["model_id"] is not None:
                wanted.setdefault(values["model_id"], values["item"])
        if not wanted:
            return
        known = set(
            self._session.scalars(
                select(InsightModel.id).where(
                    InsightModel.tenant_id == tenant, InsightModel.id.in_(sorted(wanted))
                )
            )
        )
        missing = sorted(
            (item, model_id) for model_id, item in wanted.items() if model_id not in known
        )
        if missing:
            item, model_id = missing[0]
            raise InvalidInput(
                f"Invalid model_id of anomaly #{item}: the tenant has no registered model"
                f" {model_id}.",
                hint="Register the model first (tx.insight_models.register) and pass its id, or"
                " pass None.",
                item=item,
                field="model_id",
                model_id=model_id,
            )

    def _lock_scope(self, tenant: str, scope: str) -> None:
        """Make recordings into one scope take turns (PostgreSQL; SQLite already does)."""
        if self._session.get_bind().dialect.name == "postgresql":
            name = f"gnomon.anomalies:{tenant}\x00{scope}"
            digest = hashlib.sha256(name.encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            self._session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _stored(
        self, tenant: str, scope: str, batch: Mapping[_Key, Mapping[str, Any]]
    ) -> dict[_Key, tuple[int, float]]:
        """The id and score of each anomaly of the batch that is already stored."""
        metrics = sorted({metric for metric, _, _ in batch})
        keys = sorted({key for _, key, _ in batch})
        times = [time for _, _, time in batch]
        statement = select(
            Anomaly.id, Anomaly.metric, Anomaly.segment_key, Anomaly.time, Anomaly.score
        ).where(
            Anomaly.tenant_id == tenant,
            Anomaly.scope == scope,
            Anomaly.metric.in_(metrics),
            Anomaly.time >= min(times),
            Anomaly.time <= max(times),
        )
        if len(keys) <= _KEYS_IN_LOOKUP:
            statement = statement.where(Anomaly.segment_key.in_(keys))
        found = self._session.execute(statement)
        return {
            (metric, key, time): (id_, score)
            for id_, metric, key, time, score in found
            if (metric, key, time) in batch
        }
