"""Semantic definitions: every applied version of each semantic model, metric and calendar.

Versions are never changed or removed. Storing a definition adds a version only when its
fingerprint differs from the latest one, so applying an unchanged project writes nothing, and
removing a definition adds a version marked ``deleted``, so the history says when it went away and
what it was. The current state of a tenant's semantic layer is the latest version of every name,
less the deleted ones.
"""

import copy
import hashlib
from typing import Any, cast

from sqlalchemy import func, select, text

from gnomon.catalog.models import Definition
from gnomon.catalog.records import DEFINITION_KINDS, DefinitionKind, DefinitionRecord
from gnomon.catalog.repositories._base import Repository, require_choice
from gnomon.errors import Conflict, InvalidInput

__all__ = ["DELETED_FINGERPRINT", "DefinitionRepository"]

DELETED_FINGERPRINT = "deleted"
"""The fingerprint of a version that records a removal; no stored content has it."""


def _record(row: Definition) -> DefinitionRecord:
    return DefinitionRecord(
        id=row.id,
        tenant=row.tenant_id,
        kind=cast(DefinitionKind, row.kind),
        name=row.name,
        version=row.version,
        fingerprint=row.fingerprint,
        spec=copy.deepcopy(row.spec),
        source=row.source,
        deleted=row.deleted,
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _kind(kind: str) -> DefinitionKind:
    return cast(DefinitionKind, require_choice(kind, field="kind", choices=DEFINITION_KINDS))


class DefinitionRepository(Repository):
    """Versions of a tenant's definitions, keyed by (kind, name); a version never changes."""

    __slots__ = ()

    def lock(self, *, tenant: str) -> None:
        """Make this transaction the tenant's only writer of definitions until it ends.

        A change checked against the tenant's current definitions must find them as it read
        them (PostgreSQL: a transaction-level advisory lock; SQLite's write lock already does).
        """
        if self._session.get_bind().dialect.name == "postgresql":
            digest = hashlib.sha256(f"gnomon.definitions:{tenant}".encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            self._session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def current(
        self, *, tenant: str, kind: str | tuple[str, ...] | None = None
    ) -> list[DefinitionRecord]:
        """The latest version of every definition that has not been removed.

        Ordered by kind, then name, compared as plain strings (the same on every backend,
        whatever the database's collation).

        Raises:
            InvalidInput: ``kind`` is not a definition kind.
        """
        criteria = [Definition.tenant_id == tenant]
        if isinstance(kind, str):
            criteria.append(Definition.kind == _kind(kind))
        elif kind is not None:
            criteria.append(Definition.kind.in_([_kind(k) for k in kind]))
        latest = (
            select(
                Definition.kind,
                Definition.name,
                func.max(Definition.version).label("version"),
            )
            .where(*criteria)
            .group_by(Definition.kind, Definition.name)
            .subquery()
        )
        rows = self._session.scalars(
            select(Definition)
            .join(
                latest,
                (Definition.kind == latest.c.kind)
                & (Definition.name == latest.c.name)
                & (Definition.version == latest.c.version),
            )
            .where(Definition.tenant_id == tenant, Definition.deleted.is_(False))
            .execution_options(populate_existing=True)
        )
        return sorted((_record(row) for row in rows), key=lambda r: (r.kind, r.name))

    def get(
        self, *, tenant: str, kind: str, name: str, version: int | None = None
    ) -> DefinitionRecord | None:
        """One version of a definition, or its latest when ``version`` is ``None``.

        A removed definition is absent: its latest version, the deletion, is not returned unless
        asked for by number.

        Raises:
            InvalidInput: ``kind`` is not a definition kind.
        """
        kind = _kind(kind)
        if version is None:
            row = self._latest(tenant=tenant, kind=kind, name=name)
            return None if row is None or row.deleted else _record(row)
        row = self._fresh(
            Definition,
            Definition.tenant_id == tenant,
            Definition.kind == kind,
            Definition.name == name,
            Definition.version == version,
        )
        return None if row is None else _record(row)

    def history(self, *, tenant: str, kind: str, name: str) -> list[DefinitionRecord]:
        """Every version of a definition, oldest first, removals included.

        Raises:
            InvalidInput: ``kind`` is not a definition kind.
        """
        kind = _kind(kind)
        rows = self._session.scalars(
            select(Definition)
            .where(
                Definition.tenant_id == tenant,
                Definition.kind == kind,
                Definition.name == name,
            )
            .order_by(Definition.version)
            .execution_options(populate_existing=True)
        )
        return [_record(row) for row in rows]

    def put(
        self,
        *,
        tenant: str,
        kind: str,
        name: str,
        spec: dict[str, Any],
        fingerprint: str,
        source: str | None = None,
        created_by: str | None = None,
    ) -> tuple[DefinitionRecord, bool]:
        """Store a definition as its next version, unless the latest already has this content.

        Returns:
            The stored version and whether it was added: ``False`` means the latest version
            has the same fingerprint and is returned as it is. A removed definition is stored
            again as a new version, whatever its fingerprint.

        Raises:
            InvalidInput: the kind is not a definition kind, the name is empty, or the
                fingerprint is empty or the one reserved for removals.
            Conflict: a concurrent transaction stored a version of the same definition first;
                retrying the transaction is safe.
            TenantNotFound: the tenant does not exist.
        """
        kind = _kind(kind)
        if not name:
            raise InvalidInput(
                f"Invalid {kind} name: it is empty.",
                hint=f"Give every {kind} a name.",
                kind=kind,
            )
        if not fingerprint or fingerprint == DELETED_FINGERPRINT:
            raise InvalidInput(
                f"Invalid fingerprint {fingerprint!r} for {kind} {name!r}: it is empty or the"
                " marker of removed definitions.",
                hint="Pass a fingerprint of the definition's content, e.g. a SHA-256 of its spec.",
                kind=kind,
                name=name,
            )
        self._require_tenant(tenant)
        latest = self._latest(tenant=tenant, kind=kind, name=name)
        if latest is not None and not latest.deleted and latest.fingerprint == fingerprint:
            return _record(latest), False
        row = self._add(
            tenant=tenant,
            kind=kind,
            name=name,
            version=1 if latest is None else latest.version + 1,
            fingerprint=fingerprint,
            spec=spec,
            source=source,
            deleted=False,
            created_by=created_by,
        )
        return _record(row), True

    def retire(
        self, *, tenant: str, kind: str, name: str, created_by: str | None = None
    ) -> DefinitionRecord | None:
        """Record that a definition was removed, as a new version marked ``deleted``.

        The deletion keeps the spec and source of the version it retires, so the history shows
        what was removed.

        Returns:
            The deletion, or ``None`` when there is nothing to remove: the definition never
            existed or is already removed.

        Raises:
            InvalidInput: ``kind`` is not a definition kind.
            Conflict: a concurrent transaction stored a version of the same definition first;
                retrying the transaction is safe.
        """
        kind = _kind(kind)
        latest = self._latest(tenant=tenant, kind=kind, name=name)
        if latest is None or latest.deleted:
            return None
        row = self._add(
            tenant=tenant,
            kind=kind,
            name=name,
            version=latest.version + 1,
            fingerprint=DELETED_FINGERPRINT,
            spec=latest.spec,
            source=latest.source,
            deleted=True,
            created_by=created_by,
        )
        return _record(row)

    def _latest(self, *, tenant: str, kind: str, name: str) -> Definition | None:
        return self._session.scalars(
            select(Definition)
            .where(
                Definition.tenant_id == tenant,
                Definition.kind == kind,
                Definition.name == name,
            )
            .order_by(Definition.version.desc())
            .limit(1)
            .execution_options(populate_existing=True)
        ).first()

    def _add(
        self,
        *,
        tenant: str,
        kind: str,
        name: str,
        version: int,
        fingerprint: str,
        spec: dict[str, Any],
        source: str | None,
        deleted: bool,
        created_by: str | None,
    ) -> Definition:
        """Insert one version; a version number taken meanwhile is a :class:`Conflict`.

        Two transactions that read the same latest version both try the next number. The
        unique constraint lets one in; ``ON CONFLICT DO NOTHING`` turns the other's attempt into
        no row instead of an integrity error, which on PostgreSQL would also abort the rest of
        its transaction.
        """
        statement = (
            self._insert(Definition)
            .values(
                tenant_id=tenant,
                kind=kind,
                name=name,
                version=version,
                fingerprint=fingerprint,
                spec=spec,
                source=source,
                deleted=deleted,
                created_at=self._now(),
                created_by=created_by,
            )
            .on_conflict_do_nothing(
                index_elements=[
                    Definition.tenant_id,
                    Definition.kind,
                    Definition.name,
                    Definition.version,
                ]
            )
        )
        row = self._session.scalars(
            statement.returning(Definition), execution_options={"populate_existing": True}
        ).one_or_none()
        if row is None:
            raise Conflict(
                f"Version {version} of {kind} {name!r} was stored by another transaction at the"
                " same time.",
                hint="Retry: the retry stores the next version, or finds the content already"
                " stored.",
                tenant=tenant,
                kind=kind,
                name=name,
                version=version,
            )
        self._changed(tenant)
        return row
