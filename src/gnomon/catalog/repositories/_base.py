"""Plumbing shared by the repositories.

The session and clock they are bound to, upserts that are atomic on both backends, and the checks
every tenant-scoped write makes.
"""

import copy
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from gnomon.catalog.errors import TenantNotFound
from gnomon.catalog.models import Base, Change, Tenant
from gnomon.clock import Clock
from gnomon.errors import InvalidInput

ModelT = TypeVar("ModelT", bound=Base)

CHANGED_SCOPES = "gnomon_changed_scopes"
"""Key in a session's ``info`` of the scopes its transaction changed."""
LAKE_SCOPE = ":lake"
"""The scope of the lake's published table versions (no tenant id starts with a colon)."""

TENANT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_LISTED_NAMES = 20
# A name people type and read: no surrounding blanks, no control characters, not too long.
_NAME_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,254}[^\s\x00-\x1f\x7f])?")


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


def require_name(value: object, *, field: str, example: str) -> str:
    """A name that identifies something to people: 1-256 characters, no surrounding blanks.

    Control characters are refused too: a name is shown in listings, logs and the audit log,
    where they would hide or forge text.
    """
    if not isinstance(value, str) or not _NAME_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"Invalid {field} {value!r}: it must be 1-256 characters without control characters"
            " or leading or trailing blanks.",
            hint=f"Choose a {field} such as {example!r}.",
            field=field,
        )
    return value


def require_names(values: object, *, field: str, example: str) -> list[str]:
    """A list of names (roles, permissions), each checked as :func:`require_name` does."""
    if not isinstance(values, list | tuple):
        raise InvalidInput(
            f"Invalid {field}: expected a list of names, got {values!r}.",
            hint=f"Pass a list such as [{example!r}], or [] for none.",
            field=field,
        )
    return [require_name(value, field=f"name in {field}", example=example) for value in values]


def require_json_object(value: object, *, field: str, example: str) -> dict[str, Any]:
    """A dict that stores and reads back as the same JSON object on every backend.

    Checked at the edge so that a value JSON cannot hold (a datetime, a set, NaN, a non-string
    key) fails with the field's name instead of deep inside the database driver, or, worse,
    comes back changed (an int key as a string).
    """
    try:
        valid = (
            isinstance(value, dict)
            and json.loads(json.dumps(value, allow_nan=False)) == value
            and all(isinstance(key, str) for key in value)
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise InvalidInput(
            f"Invalid {field}: {value!r} is not a JSON object.",
            hint=f"Pass a dict of string keys and JSON values (strings, finite numbers, booleans,"
            f" None, lists, dicts), such as {example}.",
            field=field,
        )
    return copy.deepcopy(cast(dict[str, Any], value))


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

    def _insert_into(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """:meth:`_insert` of a plain table: a Core statement, without the ORM's bookkeeping."""
        if self._session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _changed(self, scope: str) -> None:
        """Move ``scope``'s generation with this transaction; listeners hear of it on commit.

        Called by every write to what requests keep in memory (definitions, identities,
        policies, published versions), so a reader that sees the same generation may keep
        what it read.
        """
        now = self._now()
        statement = self._insert(Change).values(scope=scope, generation=1, changed_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[Change.scope],
            set_={"generation": Change.generation + 1, "changed_at": now},
        )
        self._session.execute(statement)
        self._session.info.setdefault(CHANGED_SCOPES, set()).add(scope)

    def _require_tenant(self, tenant: str) -> None:
        """Fail with the known tenants rather than with a foreign-key error from the database."""
        if self._session.get(Tenant, tenant) is None:
            raise self._unknown_tenant(tenant)

    def _unknown_tenant(self, tenant: str) -> TenantNotFound:
        # Other tenants are never named: this message may reach a caller of another tenant.
        return TenantNotFound(
            f"Unknown tenant {tenant!r}.",
            hint="Create the tenant first (gnomon tenants create), or check its name "
            "(gnomon tenants list).",
            tenant=tenant,
        )

    def _bytewise(self, column: InstrumentedAttribute[str]) -> ColumnElement[str]:
        """The column compared as plain strings (code points) whatever the database's collation.

        Keyset pagination compares names in SQL (``name > :after``) and orders by them; both must
        follow the same order on every backend, which SQLite's default (binary) collation does
        and a PostgreSQL database with a language collation does not.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            return column.collate("C")
        return column.expression

    def _fresh(self, model: type[ModelT], *criteria: Any) -> ModelT | None:
        """Select one row, overwriting any stale copy a Core statement left in the session."""
        statement = select(model).where(*criteria).execution_options(populate_existing=True)
        return self._session.scalars(statement).one_or_none()
