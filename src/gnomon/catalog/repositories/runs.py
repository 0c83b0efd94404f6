"""Runs: one row per ingest, build or maintenance job, written as the job goes.

A run starts ``running`` and is finished exactly once with a final status; ``finish`` refuses a
second call, so a sweeper that marks a silent run failed and the run's own late finish cannot both
win. Every write stamps ``heartbeat_at``, so a running run with an old heartbeat belongs to a
process that died.
"""

import builtins
import copy
import uuid
from typing import Any, cast

from sqlalchemy import select

from gnomon.catalog.errors import RunNotFound
from gnomon.catalog.models import Run
from gnomon.catalog.records import (
    FINISHED_RUN_STATUSES,
    RUN_KINDS,
    RUN_STATUSES,
    RunKind,
    RunRecord,
    RunStatus,
)
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_choice,
    require_limit,
)
from gnomon.errors import Conflict, GnomonError, InternalError

__all__ = ["UPDATABLE_RUN_FIELDS", "RunRepository"]

_COUNTERS = frozenset({"rows_read", "rows_written", "rows_quarantined", "bytes_read"})
_TEXT = frozenset({"source", "dataset", "batch_id", "stage", "watermark", "correlation_id"})
_JSON = frozenset({"error", "drift", "checks", "files"})

UPDATABLE_RUN_FIELDS: frozenset[str] = _COUNTERS | _TEXT | _JSON | {"heartbeat_at"}
"""What ``update`` and ``finish`` accept as keyword fields. ``status``, ``finished_at`` and
``duration_s`` are not among them: ``start`` and ``finish`` own them so they stay consistent."""


def _record(row: Run) -> RunRecord:
    return RunRecord(
        id=row.id,
        tenant=row.tenant_id,
        kind=cast(RunKind, row.kind),
        source=row.source,
        dataset=row.dataset,
        batch_id=row.batch_id,
        status=cast(RunStatus, row.status),
        stage=row.stage,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        rows_read=row.rows_read,
        rows_written=row.rows_written,
        rows_quarantined=row.rows_quarantined,
        bytes_read=row.bytes_read,
        duration_s=row.duration_s,
        watermark=row.watermark,
        error=copy.deepcopy(row.error),
        drift=copy.deepcopy(row.drift),
        checks=copy.deepcopy(row.checks),
        files=copy.deepcopy(row.files),
        correlation_id=row.correlation_id,
    )


def _checked_fields(run_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Refuse what is not a run column or has the wrong type: either is a bug in the caller."""
    unknown = sorted(set(fields) - UPDATABLE_RUN_FIELDS)
    if unknown:
        raise InternalError(
            f"Cannot update run {run_id}: unknown or read-only field(s) {', '.join(unknown)}.",
            hint=f"Use only: {', '.join(sorted(UPDATABLE_RUN_FIELDS))}; finish() sets the status.",
            run_id=run_id,
            fields=unknown,
        )
    checked = dict(fields)
    for name in _COUNTERS & fields.keys():
        value = fields[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InternalError(
                f"Cannot update run {run_id}: {name} must be a non-negative int, got {value!r}.",
                hint="Pass counts as plain ints.",
                run_id=run_id,
                field=name,
            )
    for name in _TEXT & fields.keys():
        if fields[name] is not None and not isinstance(fields[name], str):
            raise InternalError(
                f"Cannot update run {run_id}: {name} must be a str or None, got {fields[name]!r}.",
                hint="Convert the value to a string first.",
                run_id=run_id,
                field=name,
            )
    if "heartbeat_at" in fields:
        checked["heartbeat_at"] = require_aware(fields["heartbeat_at"], field="heartbeat_at")
    if isinstance(fields.get("error"), GnomonError):
        checked["error"] = fields["error"].to_dict()
    return checked


class RunRepository(Repository):
    """Runs of one tenant. A run of another tenant is reported as missing, never as forbidden."""

    __slots__ = ()

    def start(
        self,
        *,
        tenant: str,
        kind: str,
        source: str | None = None,
        dataset: str | None = None,
        batch_id: str | None = None,
        correlation_id: str | None = None,
        run_id: str | None = None,
    ) -> RunRecord:
        """Record a new run as ``running``, started and last heard of now.

        Args:
            tenant: the tenant the run works for.
            kind: ``ingest``, ``build`` or ``maintenance``.
            source: the source an ingest reads.
            dataset: the dataset the run writes.
            batch_id: the batch the run loads, when it is known before the run starts.
            correlation_id: ties the run to the request or event that caused it.
            run_id: a chosen id (a UUID hex by default), e.g. one already written to the lake.

        Raises:
            InvalidInput: the kind is not one of the three.
            Conflict: a run with ``run_id`` already exists.
            TenantNotFound: the tenant does not exist.
        """
        require_choice(kind, field="run kind", choices=RUN_KINDS)
        self._require_tenant(tenant)
        now = self._now()
        run_id = run_id or uuid.uuid4().hex
        statement = (
            self._insert(Run)
            .values(
                id=run_id,
                tenant_id=tenant,
                kind=kind,
                source=source,
                dataset=dataset,
                batch_id=batch_id,
                status="running",
                started_at=now,
                heartbeat_at=now,
                rows_read=0,
                rows_written=0,
                rows_quarantined=0,
                bytes_read=0,
                correlation_id=correlation_id,
            )
            .on_conflict_do_nothing(index_elements=[Run.id])
        )
        row = self._session.scalars(
            statement.returning(Run), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            raise Conflict(
                f"Cannot start run {run_id!r}: a run with that id already exists.",
                hint="Omit run_id to get a fresh one.",
                run_id=run_id,
            )
        return _record(row)

    def update(self, run_id: str, *, tenant: str, **fields: Any) -> RunRecord:
        """Write progress (stage, counters, watermark, drift, checks, files …) and a heartbeat.

        ``heartbeat_at`` is set to now unless given; calling with no fields is a heartbeat.

        Raises:
            RunNotFound: the tenant has no run with that id.
            InternalError: a field is not in :data:`UPDATABLE_RUN_FIELDS` or has the wrong type.
        """
        checked = _checked_fields(run_id, fields)
        row = self._locked(run_id, tenant=tenant)
        checked.setdefault("heartbeat_at", self._now())
        for name, value in checked.items():
            setattr(row, name, value)
        self._session.flush()
        return _record(row)

    def finish(
        self,
        run_id: str,
        *,
        tenant: str,
        status: str,
        error: dict[str, Any] | GnomonError | None = None,
        **fields: Any,
    ) -> RunRecord:
        """Give the run its final status, ``finished_at`` and ``duration_s`` (wall seconds).

        Args:
            run_id: the run.
            tenant: the tenant the run belongs to.
            status: ``succeeded``, ``failed``, ``blocked`` or ``skipped``.
            error: what went wrong; a :class:`~gnomon.errors.GnomonError` is stored as its
                ``to_dict()``.
            **fields: last progress values, as for :meth:`update`.

        Raises:
            InvalidInput: the status is not a final one.
            RunNotFound: the tenant has no run with that id.
            Conflict: the run has already finished.
            InternalError: a field is not in :data:`UPDATABLE_RUN_FIELDS` or has the wrong type.
        """
        require_choice(status, field="final run status", choices=FINISHED_RUN_STATUSES)
        checked = _checked_fields(run_id, fields if error is None else {**fields, "error": error})
        row = self._locked(run_id, tenant=tenant)
        if row.status != "running":
            raise Conflict(
                f"Cannot finish run {run_id}: it already finished with status {row.status}.",
                hint="A run finishes once; start a new run to try again.",
                run_id=run_id,
                status=row.status,
            )
        now = self._now()
        checked.setdefault("heartbeat_at", now)
        for name, value in checked.items():
            setattr(row, name, value)
        row.status = status
        row.finished_at = now
        row.duration_s = max(0.0, (now - row.started_at).total_seconds())
        self._session.flush()
        return _record(row)

    def get(self, run_id: str, *, tenant: str) -> RunRecord:
        """The tenant's run with this id.

        Raises:
            RunNotFound: no such run for this tenant (runs of other tenants count as missing).
        """
        row = self._fresh(Run, Run.id == run_id, Run.tenant_id == tenant)
        if row is None:
            raise self._not_found(run_id, tenant)
        return _record(row)

    def find_by_batch(self, *, tenant: str, batch_id: str) -> RunRecord | None:
        """The newest run of the tenant that loaded this batch, or ``None``."""
        row = self._session.scalars(
            select(Run)
            .where(Run.tenant_id == tenant, Run.batch_id == batch_id)
            .order_by(Run.started_at.desc(), Run.id.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()
        return None if row is None else _record(row)

    def incomplete(self, *, tenant: str | None = None, dataset: str) -> builtins.list[RunRecord]:
        """Runs of the dataset still ``running``, oldest first; of every tenant when ``None``.

        The lake's tables are shared by tenants, so recovery after a crash asks across tenants.
        """
        statement = select(Run).where(Run.status == "running", Run.dataset == dataset)
        if tenant is not None:
            statement = statement.where(Run.tenant_id == tenant)
        rows = self._session.scalars(
            statement.order_by(Run.started_at, Run.id).execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def list(
        self,
        *,
        tenant: str,
        source: str | None = None,
        dataset: str | None = None,
        status: str | None = None,
        limit: int = 100,
    ) -> builtins.list[RunRecord]:
        """The tenant's runs, newest first, optionally only those of a source, dataset or status.

        Raises:
            InvalidInput: the status is unknown or the limit below 1.
        """
        require_limit(limit)
        statement = select(Run).where(Run.tenant_id == tenant)
        if source is not None:
            statement = statement.where(Run.source == source)
        if dataset is not None:
            statement = statement.where(Run.dataset == dataset)
        if status is not None:
            require_choice(status, field="run status", choices=RUN_STATUSES)
            statement = statement.where(Run.status == status)
        rows = self._session.scalars(
            statement.order_by(Run.started_at.desc(), Run.id.desc())
            .limit(limit)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def _locked(self, run_id: str, *, tenant: str) -> Run:
        """The run's row, locked on PostgreSQL so concurrent writers take turns."""
        row = self._session.scalars(
            select(Run)
            .where(Run.id == run_id, Run.tenant_id == tenant)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()
        if row is None:
            raise self._not_found(run_id, tenant)
        return row

    def _not_found(self, run_id: str, tenant: str) -> RunNotFound:
        return RunNotFound(
            f"Unknown run {run_id!r} for tenant {tenant!r}.",
            hint="Check the run id and the tenant; list the tenant's recent runs to find it.",
            run_id=run_id,
            tenant=tenant,
        )
