"""Alerts, the state trigger rules keep between evaluations, and silences.

An evaluation of a rule reads the rule's open alerts and its state, decides, and writes back the
changed alerts, the new state and the notifications it leads to in one transaction: a crash
before the commit leaves all three as they were, so the next evaluation decides again from the
same place and nothing is told twice or lost. Alerts are rows per *life*: a resolved alert keeps
its row, and the same fingerprint firing again starts a new one.
"""

import builtins
import copy
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, select

from gnomon.catalog.errors import AlertNotFound, SilenceNotFound
from gnomon.catalog.models import Alert, Silence, TriggerState
from gnomon.catalog.records import (
    ALERT_STATES,
    AlertRecord,
    AlertState,
    SilenceRecord,
)
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_choice,
    require_json_object,
    require_limit,
)
from gnomon.errors import InvalidInput

__all__ = ["AlertRepository", "SilenceRepository", "TriggerStateRepository"]


def _alert(row: Alert) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        tenant=row.tenant_id,
        fingerprint=row.fingerprint,
        rule=row.rule,
        key=tuple(str(v) for v in row.key),
        labels={str(k): str(v) for k, v in row.labels.items()},
        severity=row.severity,
        state=cast(AlertState, row.state),
        started_at=row.started_at,
        last_active_at=row.last_active_at,
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        last_notified_at=row.last_notified_at,
        escalation_level=row.escalation_level,
        reason=row.reason,
        updated_at=row.updated_at,
    )


_TIMES = (
    "started_at",
    "last_active_at",
    "fired_at",
    "resolved_at",
    "acknowledged_at",
    "last_notified_at",
)


class AlertRepository(Repository):
    """Each tenant's alerts, one row per life of an alert."""

    __slots__ = ()

    def open(
        self,
        *,
        tenant: str,
        rule: str | None = None,
        fingerprints: Collection[str] | None = None,
    ) -> builtins.list[AlertRecord]:
        """The alerts that are pending or firing, of one rule or all, oldest first.

        ``fingerprints`` narrows them to those alerts (an evaluation that touched a few keys
        need not read every open alert of its rule).
        """
        criteria = [Alert.tenant_id == tenant, Alert.state != "resolved"]
        if rule is not None:
            criteria.append(Alert.rule == rule)
        if fingerprints is not None:
            if not fingerprints:
                return []
            criteria.append(Alert.fingerprint.in_(sorted(fingerprints)))
        rows = self._session.scalars(select(Alert).where(*criteria).order_by(Alert.id))
        return [_alert(row) for row in rows]

    def save(self, *, tenant: str, id: int | None = None, **fields: Any) -> AlertRecord:
        """Store an alert: a new life when ``id`` is ``None``, else the changes to that one.

        ``fields`` are the columns of :class:`AlertRecord` other than ``id``, ``tenant`` and
        ``updated_at``; a new alert needs them all.

        Raises:
            InvalidInput: a field is unknown, or a value cannot be stored (a naive time, a state
                that is not one).
            AlertNotFound: ``id`` is not an alert of the tenant.
        """
        values = self._checked(fields)
        values["updated_at"] = self._now()
        if id is None:
            self._require_tenant(tenant)
            missing = sorted(set(_COLUMNS) - set(values))
            if missing:
                raise InvalidInput(f"A new alert needs {', '.join(missing)}.")
            row = Alert(tenant_id=tenant, **values)
            self._session.add(row)
            self._session.flush()
            return _alert(row)
        found = self._session.get(Alert, id)
        if found is None or found.tenant_id != tenant:
            raise AlertNotFound(f"There is no alert {id}.", hint="List them: gnomon alerts list.")
        for name, value in values.items():
            setattr(found, name, value)
        self._session.flush()
        return _alert(found)

    def discard(self, ids: Sequence[int], *, tenant: str) -> None:
        """Forget alerts that never fired (pending ones whose condition stopped holding)."""
        if ids:
            self._session.execute(
                delete(Alert).where(Alert.tenant_id == tenant, Alert.id.in_(list(ids)))
            )

    def get(self, id: int, *, tenant: str) -> AlertRecord:
        """One alert of the tenant.

        Raises:
            AlertNotFound: there is none with that id for the tenant.
        """
        found = self._session.get(Alert, id)
        if found is None or found.tenant_id != tenant:
            raise AlertNotFound(f"There is no alert {id}.", hint="List them: gnomon alerts list.")
        return _alert(found)

    def list(
        self,
        *,
        tenant: str,
        state: str | None = None,
        rule: str | None = None,
        fingerprint: str | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> builtins.list[AlertRecord]:
        """The tenant's alerts, newest first; ``before`` an id continues a listing.

        Raises:
            InvalidInput: ``state`` is not an alert state, or the limit is below 1.
        """
        require_limit(limit)
        criteria = [Alert.tenant_id == tenant]
        if state is not None:
            criteria.append(
                Alert.state == require_choice(state, field="state", choices=ALERT_STATES)
            )
        if rule is not None:
            criteria.append(Alert.rule == rule)
        if fingerprint is not None:
            criteria.append(Alert.fingerprint == fingerprint)
        if before is not None:
            criteria.append(Alert.id < before)
        rows = self._session.scalars(
            select(Alert).where(*criteria).order_by(Alert.id.desc()).limit(limit)
        )
        return [_alert(row) for row in rows]

    def _checked(self, fields: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(fields) - set(_COLUMNS))
        if unknown:
            raise InvalidInput(f"Alerts have no field {', '.join(unknown)}.")
        values = dict(fields)
        for name in _TIMES:
            if values.get(name) is not None:
                values[name] = require_aware(values[name], field=name)
        if "state" in values:
            values["state"] = require_choice(values["state"], field="state", choices=ALERT_STATES)
        if "key" in values:
            values["key"] = [str(v) for v in values["key"]]
        if "labels" in values:
            values["labels"] = require_json_object(
                {str(k): str(v) for k, v in values["labels"].items()},
                field="labels",
                example="{'metric': 'revenue'}",
            )
        return values


_COLUMNS = (
    "fingerprint",
    "rule",
    "key",
    "labels",
    "severity",
    "state",
    *_TIMES,
    "acknowledged_by",
    "escalation_level",
    "reason",
)


class TriggerStateRepository(Repository):
    """What each rule of a tenant remembers between evaluations, as a JSON document."""

    __slots__ = ()

    def get(self, *, tenant: str, rule: str) -> dict[str, Any] | None:
        """The rule's state, or ``None`` before its first evaluation."""
        row = self._session.get(TriggerState, (tenant, rule))
        return None if row is None else copy.deepcopy(row.state)

    def put(self, *, tenant: str, rule: str, state: dict[str, Any]) -> None:
        """Replace the rule's state.

        Raises:
            InvalidInput: the state is not a JSON object.
        """
        value = require_json_object(state, field="state", example="{'keys': {}}")
        row = self._session.get(TriggerState, (tenant, rule))
        if row is None:
            self._require_tenant(tenant)
            self._session.add(
                TriggerState(tenant_id=tenant, rule=rule, state=value, updated_at=self._now())
            )
        else:
            row.state = value
            row.updated_at = self._now()
        self._session.flush()

    def forget(self, *, tenant: str, rule: str) -> None:
        """Drop the rule's state (the rule was removed or changed its meaning)."""
        self._session.execute(
            delete(TriggerState).where(TriggerState.tenant_id == tenant, TriggerState.rule == rule)
        )

    def rules(self, *, tenant: str) -> builtins.list[str]:
        """The rules of the tenant that have a state."""
        return list(
            self._session.scalars(
                select(TriggerState.rule)
                .where(TriggerState.tenant_id == tenant)
                .order_by(TriggerState.rule)
            )
        )


def _silence(row: Silence) -> SilenceRecord:
    return SilenceRecord(
        id=row.id,
        tenant=row.tenant_id,
        matchers=tuple(str(m) for m in row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        created_by=row.created_by,
        comment=row.comment,
        created_at=row.created_at,
    )


class SilenceRepository(Repository):
    """Each tenant's silences; an expired one is kept, ended, for the record."""

    __slots__ = ()

    def add(
        self,
        *,
        tenant: str,
        matchers: Sequence[str],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str | None,
        comment: str = "",
    ) -> SilenceRecord:
        """Store a silence (its matchers already checked by the caller).

        Raises:
            InvalidInput: no matcher, naive times, or an end that is not after the start.
        """
        self._require_tenant(tenant)
        start = require_aware(starts_at, field="starts_at")
        end = require_aware(ends_at, field="ends_at")
        if not matchers:
            raise InvalidInput(
                "A silence needs at least one matcher.", hint="For example: rule=revenue_drop."
            )
        if end <= start:
            raise InvalidInput(
                "A silence must end after it starts.", hint="Give a positive duration."
            )
        row = Silence(
            id=uuid.uuid4().hex,
            tenant_id=tenant,
            matchers=[str(m) for m in matchers],
            starts_at=start,
            ends_at=end,
            created_by=created_by,
            comment=comment,
            created_at=self._now(),
        )
        self._session.add(row)
        self._session.flush()
        return _silence(row)

    def list(
        self, *, tenant: str, active_at: datetime | None = None, limit: int = 1000
    ) -> builtins.list[SilenceRecord]:
        """The tenant's silences, newest first; only those in force at ``active_at`` if given."""
        require_limit(limit)
        criteria = [Silence.tenant_id == tenant]
        if active_at is not None:
            at = require_aware(active_at, field="active_at")
            criteria += [Silence.starts_at <= at, Silence.ends_at > at]
        rows = self._session.scalars(
            select(Silence)
            .where(*criteria)
            .order_by(Silence.created_at.desc(), Silence.id)
            .limit(limit)
        )
        return [_silence(row) for row in rows]

    def expire(self, id: str, *, tenant: str, at: datetime) -> SilenceRecord:
        """End a silence at ``at`` (it stops holding; an ended one stays as it was).

        Raises:
            SilenceNotFound: the tenant has no silence with that id.
        """
        row = self._session.get(Silence, id)
        if row is None or row.tenant_id != tenant:
            raise SilenceNotFound(
                f"There is no silence {id!r}.", hint="List them: gnomon alerts silences."
            )
        moment = require_aware(at, field="at")
        if row.ends_at > moment:
            row.ends_at = max(moment, row.starts_at)
            self._session.flush()
        return _silence(row)
