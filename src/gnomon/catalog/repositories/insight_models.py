"""The model registry: every fitted configuration of a detector or forecaster, per series.

A registration adds the series' next version, unless its latest version already describes the
same fit (same parameters, training window and backtest metrics): scans re-register what they
fitted every time they run, and an unchanged fit must not grow the history. Versions are never
changed or removed, so an anomaly or a forecast can always name the configuration behind it.

On PostgreSQL a registration takes a transaction-level advisory lock on its series, so two
registrations of one series take turns: the second sees the first's version and adds the next
one, or finds the same fit and adds nothing. The unique (tenant, kind, metric, segment, version)
constraint backs the lock up: a version that slipped in anyway is a
:class:`~gnomon.errors.Conflict`, never a duplicate. SQLite's write lock already serialises.
"""

import builtins
import copy
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, select, text

from gnomon.catalog.models import InsightModel
from gnomon.catalog.records import INSIGHT_MODEL_KINDS, InsightModelKind, InsightModelRecord
from gnomon.catalog.repositories._base import (
    Repository,
    require_aware,
    require_choice,
    require_json_object,
    require_name,
)
from gnomon.catalog.series_keys import params_fingerprint, require_segment, segment_key
from gnomon.errors import Conflict, InvalidInput

__all__ = ["InsightModelRepository"]


def _record(row: InsightModel) -> InsightModelRecord:
    return InsightModelRecord(
        id=row.id,
        tenant=row.tenant_id,
        kind=cast(InsightModelKind, row.kind),
        metric=row.metric,
        segment=copy.deepcopy(row.segment),
        segment_key=row.segment_key,
        version=row.version,
        params=copy.deepcopy(row.params),
        fingerprint=row.fingerprint,
        training_start=row.training_start,
        training_end=row.training_end,
        metrics=copy.deepcopy(row.metrics),
        created_at=row.created_at,
        run_id=row.run_id,
    )


def _kind(kind: str) -> InsightModelKind:
    return cast(
        InsightModelKind, require_choice(kind, field="model kind", choices=INSIGHT_MODEL_KINDS)
    )


def _metric(metric: str) -> str:
    return require_name(metric, field="metric", example="revenue")


def _lock_key(tenant: str, kind: str, metric: str, key: str) -> int:
    """The advisory lock of one series' versions: 64 bits of a digest, as a signed bigint."""
    name = f"gnomon.insight_models:{tenant}\x00{kind}\x00{metric}\x00{key}"
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class InsightModelRepository(Repository):
    """Versions of a tenant's fitted models, keyed by (kind, metric, segment)."""

    __slots__ = ()

    def register(
        self,
        *,
        tenant: str,
        kind: str,
        metric: str,
        segment: Mapping[str, Any],
        params: Mapping[str, Any],
        training_start: datetime | None = None,
        training_end: datetime | None = None,
        metrics: Mapping[str, Any] | None = None,
        run_id: str | None = None,
    ) -> InsightModelRecord:
        """Register a fit as the series' next version, unless its latest version is this fit.

        Args:
            tenant: the tenant the model belongs to.
            kind: ``detector`` or ``forecaster``.
            metric: the metric whose series was fitted.
            segment: the dimension values of the series, ``{}`` for the overall series.
            params: the fitted configuration, as a JSON object; its fingerprint identifies it.
            training_start: the first instant of the data it was fitted on, when known.
            training_end: the end of the data it was fitted on, when known.
            metrics: what its backtest measured (e.g. ``{"smape": 0.08}``); ``None`` is ``{}``.
            run_id: the run that fitted it.

        Returns:
            The new version, or the latest one unchanged when it has the same fingerprint,
            training window and metrics (its ``run_id`` and ``created_at`` stay as they were).

        Raises:
            InvalidInput: the kind is unknown, the metric empty, the segment not a mapping of
                dimension names to scalar values, params or metrics not JSON objects, a
                training bound naive, or the window ends before it starts.
            Conflict: a version of the series was written past the lock at the same time;
                retrying the transaction is safe.
            TenantNotFound: the tenant does not exist.
        """
        kind = _kind(kind)
        metric = _metric(metric)
        checked_segment = require_segment(segment)
        key = segment_key(checked_segment)
        checked_params = require_json_object(
            dict(params) if isinstance(params, Mapping) else params,
            field="params",
            example='{"window": 28, "threshold": 3.5}',
        )
        checked_metrics = require_json_object(
            {} if metrics is None else dict(metrics) if isinstance(metrics, Mapping) else metrics,
            field="metrics",
            example='{"smape": 0.08, "coverage": 0.94}',
        )
        start = (
            None
            if training_start is None
            else require_aware(training_start, field="training_start")
        )
        end = None if training_end is None else require_aware(training_end, field="training_end")
        if start is not None and end is not None and end < start:
            raise InvalidInput(
                f"Invalid training window for {kind} of {metric!r}: it ends at"
                f" {end.isoformat()}, before it starts at {start.isoformat()}.",
                hint="Pass training_start no later than training_end.",
                field="training_end",
            )
        if run_id is not None and (not isinstance(run_id, str) or not run_id):
            raise InvalidInput(
                f"Invalid run_id {run_id!r} for {kind} of {metric!r}: expected a run's id.",
                hint="Pass the id of the run that fitted the model, or None.",
                field="run_id",
            )
        self._require_tenant(tenant)
        self._lock_series(tenant, kind, metric, key)
        fingerprint = params_fingerprint(checked_params)
        latest = self._latest(tenant=tenant, kind=kind, metric=metric, key=key)
        if latest is not None and (
            latest.fingerprint == fingerprint
            and latest.training_start == start
            and latest.training_end == end
            and latest.metrics == checked_metrics
        ):
            return _record(latest)
        version = 1 if latest is None else latest.version + 1
        statement = (
            self._insert(InsightModel)
            .values(
                tenant_id=tenant,
                kind=kind,
                metric=metric,
                segment=checked_segment,
                segment_key=key,
                version=version,
                params=checked_params,
                fingerprint=fingerprint,
                training_start=start,
                training_end=end,
                metrics=checked_metrics,
                created_at=self._now(),
                run_id=run_id,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    InsightModel.tenant_id,
                    InsightModel.kind,
                    InsightModel.metric,
                    InsightModel.segment_key,
                    InsightModel.version,
                ]
            )
        )
        row = self._session.scalars(
            statement.returning(InsightModel), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            raise Conflict(
                f"Version {version} of the {kind} of {metric!r} {key} was registered by another"
                " transaction at the same time.",
                hint="Retry: the retry registers the next version, or finds the same fit already"
                " registered.",
                tenant=tenant,
                kind=kind,
                metric=metric,
                segment=key,
                version=version,
            )
        return _record(row)

    def latest(
        self, *, tenant: str, kind: str, metric: str, segment: Mapping[str, Any]
    ) -> InsightModelRecord | None:
        """The series' latest version, or ``None`` when none was registered.

        Raises:
            InvalidInput: the kind is unknown or the segment is not a mapping of dimension
                names to scalar values.
        """
        row = self._latest(tenant=tenant, kind=_kind(kind), metric=metric, key=segment_key(segment))
        return None if row is None else _record(row)

    def get(self, *, tenant: str, id: int) -> InsightModelRecord | None:
        """One version by its id, or ``None`` (a version of another tenant counts as missing)."""
        row = self._fresh(InsightModel, InsightModel.id == id, InsightModel.tenant_id == tenant)
        return None if row is None else _record(row)

    def list(
        self,
        *,
        tenant: str,
        kind: str | None = None,
        metric: str | None = None,
        latest_only: bool = True,
    ) -> builtins.list[InsightModelRecord]:
        """The tenant's models, optionally of one kind or metric; only latest versions by default.

        Ordered by kind, metric, segment key (compared as plain strings, the same on every
        backend whatever the database's collation) and version.

        Raises:
            InvalidInput: the kind is unknown.
        """
        criteria = [InsightModel.tenant_id == tenant]
        if kind is not None:
            criteria.append(InsightModel.kind == _kind(kind))
        if metric is not None:
            criteria.append(InsightModel.metric == metric)
        statement = select(InsightModel).where(*criteria)
        if latest_only:
            latest = (
                select(
                    InsightModel.kind,
                    InsightModel.metric,
                    InsightModel.segment_key,
                    func.max(InsightModel.version).label("version"),
                )
                .where(*criteria)
                .group_by(InsightModel.kind, InsightModel.metric, InsightModel.segment_key)
                .subquery()
            )
            statement = statement.join(
                latest,
                (InsightModel.kind == latest.c.kind)
                & (InsightModel.metric == latest.c.metric)
                & (InsightModel.segment_key == latest.c.segment_key)
                & (InsightModel.version == latest.c.version),
            )
        rows = self._session.scalars(statement.execution_options(populate_existing=True))
        return sorted(
            (_record(row) for row in rows),
            key=lambda r: (r.kind, r.metric, r.segment_key, r.version),
        )

    def _latest(self, *, tenant: str, kind: str, metric: str, key: str) -> InsightModel | None:
        return self._session.scalars(
            select(InsightModel)
            .where(
                InsightModel.tenant_id == tenant,
                InsightModel.kind == kind,
                InsightModel.metric == metric,
                InsightModel.segment_key == key,
            )
            .order_by(InsightModel.version.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()

    def _lock_series(self, tenant: str, kind: str, metric: str, key: str) -> None:
        """Make registrations of one series take turns (PostgreSQL; SQLite already does)."""
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"),
                {"key": _lock_key(tenant, kind, metric, key)},
            )
