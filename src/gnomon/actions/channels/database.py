"""Database actions: SQL run in one transaction when an alert fires, compensated when it resolves.

All statements of one attempt run in one transaction: any error rolls back everything, so a
database is never left half-changed. Exactly-once effect: the same transaction first inserts the
notification's idempotency key into ``gnomon_action_keys`` (created on first use), so a
notification sent again after a lost acknowledgement finds its key there and runs nothing; and a
transaction that failed left no key behind, so its retry runs everything. This holds even when an
attempt times out while its thread is still working: if that transaction commits late, the retry
finds the key.

Parameters are bound, never formatted into the SQL: ``:rule``, ``:fingerprint``, ``:state``,
``:severity``, ``:title``, ``:summary``, ``:key``, ``:tenant``, ``:channel``, ``:created_at``
(UTC), ``:data`` (JSON text) and ``:label_<name>`` for each label. A label a statement needs and
the notification lacks fails the attempt before anything runs.

Outcomes: an error of the SQL or its data (syntax, a missing table, a violated constraint) is
``failed``; the server being unreachable or busy (SQLAlchemy's ``OperationalError``, a lost
connection, a pool timeout, SQLite's busy, locked or I/O errors) is ``retry``. SQLAlchemy is
synchronous, so each attempt runs in a worker thread; one pooled Engine per channel, with
``pool_pre_ping`` so that a connection the server dropped is replaced rather than failing.
"""

import asyncio
import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    String,
    Table,
    TextClause,
    bindparam,
    create_engine,
    insert,
    inspect,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gnomon.actions.channels._http import redact
from gnomon.actions.errors import ChannelSpecError
from gnomon.actions.models import Attempt
from gnomon.actions.specs import secret_values
from gnomon.errors import MissingDependency
from gnomon.specfiles import SpecIssue

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from gnomon.actions.models import Notification
    from gnomon.actions.specs import DatabaseSpec
    from gnomon.clock import Clock

__all__ = ["KEYS_TABLE", "DatabaseChannel", "build", "endpoint_of_database", "stored_key"]

logger = logging.getLogger(__name__)

KEYS_TABLE: Final = Table(
    "gnomon_action_keys",
    MetaData(),
    Column("key", String(255), primary_key=True),
    Column("channel", String(255), nullable=False),
    Column("done_at", DateTime(timezone=True), nullable=False),
)
"""The keys of the notifications whose statements committed, one row each."""

_KEY_CHARS: Final = 255
_SQLITE_TRANSIENT: Final = frozenset({5, 6, 7, 10, 13, 14, 15})
"""SQLite primary result codes that may pass: BUSY, LOCKED, NOMEM, IOERR, FULL, CANTOPEN,
PROTOCOL. The rest of SQLite's ``OperationalError`` (``SQLITE_ERROR``: syntax, no such table)
is the statement's fault."""
_GRACE_S: Final = 5.0
"""How much longer than ``timeout_s`` an attempt waits for the server's own timeouts to act."""


def stored_key(notification: "Notification") -> str:
    """What ``gnomon_action_keys.key`` holds: tenant and key, hashed when longer than 255.

    Keys are unique per tenant, so the tenant is part of the stored key.

    >>> from datetime import datetime
    >>> from gnomon.actions.models import Notification
    >>> n = Notification(key="k1", channel="c", rule="r", fingerprint="f", state="firing",
    ...     severity="info", title="t", summary="s", created_at=datetime(2025, 1, 1, tzinfo=UTC))
    >>> stored_key(n)
    'default:k1'
    """
    key = f"{notification.tenant}:{notification.key}"
    if len(key) <= _KEY_CHARS:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def endpoint_of_database(url: URL) -> str:
    """The URL without password or query: what a circuit breaker keys on, safe to log.

    >>> endpoint_of_database(make_url("postgresql+psycopg://app:pw@db:5432/ops?sslmode=require"))
    'postgresql+psycopg://app@db:5432/ops'
    """
    bare = URL.create(
        url.drivername, username=url.username, host=url.host, port=url.port, database=url.database
    )
    return bare.render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class _Statement:
    """One statement, compiled once, with the parameters it uses."""

    clause: TextClause
    parameters: frozenset[str]


def _compiled(sql: str) -> _Statement:
    clause = text(sql)
    parameters = frozenset(clause.compile().params)
    if "created_at" in parameters:
        clause = clause.bindparams(bindparam("created_at", type_=DateTime(timezone=True)))
    return _Statement(clause, parameters)


class _MissingLabel(Exception):
    """A statement uses ``:label_<name>`` and the notification has no such label."""


class _Failure(Exception):
    """Stops an attempt with the attempt to report."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__(attempt.error)
        self.attempt = attempt


def _connect_args(url: URL, timeout_s: float) -> dict[str, Any]:
    """Server-side timeouts where the driver has them: the connection, and each statement."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    if backend == "sqlite":
        return {"timeout": timeout_s}
    if backend == "postgresql" and driver in {"psycopg", "psycopg2"}:
        args: dict[str, Any] = {"connect_timeout": max(1, math.ceil(timeout_s))}
        if "options" not in url.query:
            args["options"] = f"-c statement_timeout={math.ceil(timeout_s * 1000)}"
        return args
    return {}


def _engine(name: str, url: URL, timeout_s: float) -> "Engine":
    try:
        return create_engine(url, pool_pre_ping=True, connect_args=_connect_args(url, timeout_s))
    except NoSuchModuleError:
        raise ChannelSpecError(
            f"channel {name!r}",
            [SpecIssue("url", f"{url.drivername!r} is not a database SQLAlchemy knows")],
        ) from None
    except ImportError as exc:
        extra = "postgres" if url.get_backend_name() == "postgresql" else None
        install = f'pip install "gnomon[{extra}]"' if extra else f"the {exc.name} package"
        raise MissingDependency(
            f"Channel {name!r} needs the database driver {exc.name!r}, which is not installed.",
            hint=f"Install {install}, or name an installed driver in the URL "
            "(dialect+driver://...).",
            module=exc.name,
        ) from exc


class DatabaseChannel:
    """Runs SQL against one database per notification, in one transaction, at most once per key."""

    kind = "database"

    def __init__(self, name: str, spec: "DatabaseSpec", *, clock: "Clock") -> None:
        url = make_url(spec.url.get_secret_value())
        if url.drivername == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        self.name = name
        self.endpoint = endpoint_of_database(url)
        self._clock = clock
        self._timeout_s = spec.timeout_s
        self._secrets = tuple(
            s for s in (*secret_values(spec), url.password) if isinstance(s, str) and s
        )
        self._statements = tuple(_compiled(sql) for sql in spec.statements)
        self._compensate = tuple(_compiled(sql) for sql in spec.compensate)
        self._engine = _engine(name, url, spec.timeout_s)
        self._table_ready = False
        self._table_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"DatabaseChannel({self.name!r}, endpoint={self.endpoint!r})"

    async def send(self, notification: "Notification", /) -> Attempt:
        """Run the statements (or the compensation) for the notification once."""
        started = time.perf_counter()
        attempt = await self._attempt(notification)
        attempt = replace(
            attempt,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=None if attempt.error is None else redact(attempt.error, self._secrets),
        )
        logger.debug(
            "database attempt",
            extra={
                "endpoint": self.endpoint,
                "outcome": attempt.outcome,
                "latency_ms": attempt.latency_ms,
                "idempotency_key": notification.key,
            },
        )
        return attempt

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await asyncio.to_thread(self._engine.dispose)

    async def _attempt(self, notification: "Notification") -> Attempt:
        statements = {"firing": self._statements, "resolved": self._compensate}.get(
            notification.state, ()
        )
        if not statements:
            return Attempt(
                outcome="delivered",
                response_excerpt=f"nothing to run for a {notification.state} notification",
            )
        try:
            bound = [(s.clause, _parameters(s.parameters, notification)) for s in statements]
        except _MissingLabel as exc:
            return Attempt(outcome="failed", error=str(exc))
        try:
            async with asyncio.timeout(self._timeout_s + _GRACE_S):
                return await asyncio.to_thread(self._run, stored_key(notification), bound)
        except TimeoutError:
            return Attempt(
                outcome="retry",
                error=f"the database did not finish within timeout_s = {self._timeout_s:g} s",
            )

    def _run(self, key: str, bound: Sequence[tuple[TextClause, Mapping[str, Any]]]) -> Attempt:
        """One transaction: the key first, then every statement; in a worker thread."""
        step = "connecting"
        try:
            self._ensure_table()
            step = "recording the idempotency key"
            with self._engine.begin() as connection:
                try:
                    connection.execute(
                        insert(KEYS_TABLE).values(
                            key=key, channel=self.name, done_at=self._clock.now()
                        )
                    )
                except IntegrityError:
                    raise _Failure(
                        Attempt(
                            outcome="delivered",
                            response_excerpt="already done: the idempotency key is recorded",
                        )
                    ) from None
                for number, (clause, parameters) in enumerate(bound, start=1):
                    step = f"statement {number} of {len(bound)}"
                    connection.execute(clause, parameters)
        except _Failure as stop:
            return stop.attempt
        except SQLAlchemyError as exc:
            return Attempt(
                outcome="retry" if _transient(exc) else "failed",
                error=f"{step}: {_detail(exc)}; the transaction was rolled back",
            )
        noun = "statement" if len(bound) == 1 else "statements"
        return Attempt(outcome="delivered", response_excerpt=f"{len(bound)} {noun} committed")

    def _ensure_table(self) -> None:
        """Create ``gnomon_action_keys`` once per channel; another process may race to it."""
        with self._table_lock:
            if self._table_ready:
                return
            try:
                with self._engine.begin() as connection:
                    KEYS_TABLE.create(connection, checkfirst=True)
            except DBAPIError:
                with self._engine.connect() as connection:
                    if not _has_keys_table(connection):
                        raise
            self._table_ready = True


def _has_keys_table(connection: "Connection") -> bool:
    return inspect(connection).has_table(KEYS_TABLE.name)


def _parameters(names: frozenset[str], notification: "Notification") -> dict[str, Any]:
    """The values of the parameters a statement uses, from the notification."""
    values: dict[str, Any] = {
        "channel": notification.channel,
        "created_at": notification.created_at.astimezone(UTC),
        "fingerprint": notification.fingerprint,
        "key": notification.key,
        "rule": notification.rule,
        "severity": notification.severity,
        "state": notification.state,
        "summary": notification.summary,
        "tenant": notification.tenant,
        "title": notification.title,
    }
    bound: dict[str, Any] = {}
    for name in names:
        if name == "data":
            bound[name] = json.dumps(dict(notification.data), default=str, ensure_ascii=False)
        elif name.startswith("label_") and name not in values:
            label = name.removeprefix("label_")
            if label not in notification.labels:
                have = ", ".join(sorted(notification.labels)) or "none"
                raise _MissingLabel(
                    f"a statement uses :{name} but the notification has no label {label!r} "
                    f"(its labels: {have}); nothing was run"
                )
            bound[name] = notification.labels[label]
        else:
            bound[name] = values[name]
    return bound


def _transient(exc: SQLAlchemyError) -> bool:
    """Whether the same transaction may work later: decided by exception kind and error code."""
    if isinstance(exc, PoolTimeout | DisconnectionError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_TRANSIENT
    return isinstance(exc, OperationalError)


def _detail(exc: SQLAlchemyError) -> str:
    """The driver's own message, first lines only: SQLAlchemy's adds the SQL and parameters."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig else exc
    lines = [line.strip() for line in str(cause).strip().splitlines() if line.strip()]
    message = " ".join(lines[:2])[:400]
    return f"{type(cause).__name__}: {message}" if message else type(cause).__name__


def build(name: str, spec: "DatabaseSpec", *, clock: "Clock") -> DatabaseChannel:
    """The registry's factory for ``kind: database``."""
    return DatabaseChannel(name, spec, clock=clock)
