"""Plumbing shared by the repositories.

The session and clock they are bound to, upserts that are atomic on both backends, and the checks
every tenant-scoped write makes.
"""

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gnomon.catalog.errors import TenantNotFound
from gnomon.catalog.models import Base, Tenant
from gnomon.clock import Clock
from gnomon.errors import InvalidInput

ModelT = TypeVar("ModelT", bound=Base)

TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LISTED_NAMES = 20


def known_names(names: Iterable[str]) -> str:
    """The valid names for an error message, shortened when there are many."""
    ordered = sorted(names)
    if not ordered:
        return "none yet"
    shown = ", ".join(ordered[:_LISTED_NAMES])
    more = len(ordered) - _LISTED_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def require_aware(value: datetime, *, field: str) -> datetime:
    """Refuse naive timestamps at the edge instead of guessing their zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            f"{field} must be timezone-aware: got {value.isoformat()} without an offset.",
            hint="Pass an aware datetime, e.g. datetime.now(UTC) or one from the injected clock.",
            field=field,
        )
    return value.astimezone(UTC)


def require_choice(value: str, *, field: str, choices: Iterable[str]) -> str:
    """Check a value against a closed set, naming the set when it is not in it."""
    valid = tuple(choices)
    if value not in valid:
        raise InvalidInput(
            f"Unknown {field} {value!r}: use one of {', '.join(valid)}.",
            hint=f"Pass one of: {', '.join(valid)}.",
            field=field,
            valid=list(valid),
        )
    return value


def require_limit(limit: int) -> int:
    """A page size must be positive; an unbounded listing is never what a caller wants."""
    if limit < 1:
        raise InvalidInput(
            f"limit must be at least 1: got {limit}.", hint="Pass a positive limit.", limit=limit
        )
    return limit


class Repository:
    """Base of the repositories: one session (one transaction) and the clock to stamp rows with."""

    __slots__ = ("_clock", "_session")

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def _now(self) -> datetime:
        return require_aware(self._clock.now(), field="clock.now()")

    def _insert(self, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
        """A dialect INSERT offering ``ON CONFLICT``, which both backends share."""
        if self._session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)

    def _require_tenant(self, tenant: str) -> None:
        """Fail with the known tenants rather than with a foreign-key error from the database."""
        if self._session.get(Tenant, tenant) is None:
            raise self._unknown_tenant(tenant)

    def _unknown_tenant(self, tenant: str) -> TenantNotFound:
        known = self._session.scalars(select(Tenant.id)).all()
        return TenantNotFound(
            f"Unknown tenant {tenant!r}: known tenants are {known_names(known)}.",
            hint="Create the tenant first (migrate() creates 'default'), or use a known one.",
            tenant=tenant,
            known=sorted(known),
        )

    def _fresh(self, model: type[ModelT], *criteria: Any) -> ModelT | None:
        """Select one row, overwriting any stale copy a Core statement left in the session."""
        statement = select(model).where(*criteria).execution_options(populate_existing=True)
        return self._session.scalars(statement).one_or_none()
