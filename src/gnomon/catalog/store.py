"""The catalog: a connection to the metadata database and the transactions through which it is used.

Two backends are supported and behave the same to callers:

* **SQLite** (the default, one file): WAL journal so readers never block, foreign keys on, and a
  busy timeout so a second process waits for a lock instead of failing. Every transaction starts
  with ``BEGIN IMMEDIATE``: it takes the write lock up front, so two transactions that read and
  then write cannot deadlock, and read-modify-write sequences (leases, run status) are serialised.
* **PostgreSQL** (production, ``postgresql+psycopg://``): row locks and ``ON CONFLICT`` upserts
  make the same sequences safe between processes.

Migrations are packaged with the code and run programmatically, without an ``alembic.ini``.
"""

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from gnomon.catalog.errors import CatalogNotMigrated, CatalogUnavailable
from gnomon.catalog.repositories import (
    AccessPolicyRepository,
    AlertRepository,
    AnomalyRepository,
    ApiKeyRepository,
    AuditRepository,
    ChangeRepository,
    ContractRepository,
    DatasetRepository,
    DefinitionRepository,
    DeliveryRepository,
    IngestedFileRepository,
    InsightModelRepository,
    LeaseRepository,
    NotificationRepository,
    OutboxRepository,
    RoleRepository,
    RollupRepository,
    RunRepository,
    SilenceRepository,
    SourceRepository,
    TableVersionRepository,
    TenantRepository,
    TriggerStateRepository,
    UserRepository,
)
from gnomon.catalog.repositories._base import CHANGED_SCOPES
from gnomon.clock import Clock, SystemClock
from gnomon.context import DEFAULT_TENANT
from gnomon.errors import ConfigError
from gnomon.optional import require

__all__ = ["Catalog", "CatalogTransaction"]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
_READ_ONLY = "gnomon_read_only"
"""Execution option of read-only transactions (plain BEGIN on SQLite)."""
POSTGRES_CONNECT_TIMEOUT_S = 10
# pg_advisory_xact_lock key serialising migrations: the bytes of "gnomonca" as an int64.
_MIGRATION_LOCK_KEY = int.from_bytes(b"gnomonca", "big", signed=True)
_BACKENDS = ("sqlite", "postgresql")
_URL_HINT = (
    "Use sqlite:///path/to/catalog.db or postgresql+psycopg://user:password@host:5432/dbname"
    " in catalog.url (GNOMON_CATALOG_URL)."
)


class CatalogTransaction:
    """The repositories of one database transaction.

    Everything done through one ``CatalogTransaction`` commits together or not at all. Its
    repositories return frozen records, never live database objects, so nothing read here
    changes the database when modified, and records stay valid after the transaction ends.

    Attributes:
        tenants: tenants, the isolation boundary.
        sources: registered sources per tenant.
        datasets: datasets and their schemas per tenant.
        contracts: immutable contract versions per dataset.
        definitions: versioned semantic definitions (semantic models, metrics, the calendar).
        rollups: what each rollup of a tenant was last refreshed from.
        runs: run records.
        files: files already ingested per source.
        tables: published Delta versions of the lake's physical tables (system-wide).
        leases: named exclusive leases (system-wide).
        outbox: events to publish once the transaction has committed.
        users: users of each tenant, with their roles and attributes.
        roles: custom roles (permission sets) of each tenant.
        api_keys: API keys, stored as digests; found by digest across tenants.
        policies: row-level security and masking policies per tenant and table.
        audit: each tenant's append-only, hash-chained audit log.
        changes: the generations writes move, for readers that keep what they read.
        insight_models: versions of the fitted detectors and forecasters of each series.
        anomalies: the anomalies scans found, and the feedback given on them.
        notifications: alert notifications to deliver (the actions outbox), claimed by
            dispatchers under leases.
        deliveries: the log of every delivery attempt of those notifications.
        alerts: trigger rules' alerts, one row per life of an alert.
        trigger_states: what each trigger rule remembers between evaluations.
        silences: matchers that keep alerts from being told while they last.
    """

    __slots__ = (
        "alerts",
        "anomalies",
        "api_keys",
        "audit",
        "changes",
        "contracts",
        "datasets",
        "definitions",
        "deliveries",
        "files",
        "insight_models",
        "leases",
        "notifications",
        "outbox",
        "policies",
        "roles",
        "rollups",
        "runs",
        "silences",
        "sources",
        "tables",
        "tenants",
        "trigger_states",
        "users",
    )

    def __init__(self, session: Session, clock: Clock) -> None:
        self.tenants = TenantRepository(session, clock)
        self.sources = SourceRepository(session, clock)
        self.datasets = DatasetRepository(session, clock)
        self.contracts = ContractRepository(session, clock)
        self.definitions = DefinitionRepository(session, clock)
        self.rollups = RollupRepository(session, clock)
        self.runs = RunRepository(session, clock)
        self.files = IngestedFileRepository(session, clock)
        self.tables = TableVersionRepository(session, clock)
        self.leases = LeaseRepository(session, clock)
        self.outbox = OutboxRepository(session, clock)
        self.users = UserRepository(session, clock)
        self.roles = RoleRepository(session, clock)
        self.api_keys = ApiKeyRepository(session, clock)
        self.policies = AccessPolicyRepository(session, clock)
        self.audit = AuditRepository(session, clock)
        self.changes = ChangeRepository(session, clock)
        self.insight_models = InsightModelRepository(session, clock)
        self.anomalies = AnomalyRepository(session, clock)
        self.notifications = NotificationRepository(session, clock)
        self.deliveries = DeliveryRepository(session, clock)
        self.alerts = AlertRepository(session, clock)
        self.trigger_states = TriggerStateRepository(session, clock)
        self.silences = SilenceRepository(session, clock)


class Catalog:
    """Gnomon's metadata store on SQLite or PostgreSQL.

    Building one opens no connection; the first transaction (or :meth:`migrate`) does. One
    ``Catalog`` per process is enough: it pools connections and is safe to share between
    threads, each of which opens its own transactions.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path.db`` (the parent folder is created),
            ``sqlite://`` for a private in-memory catalog, or ``postgresql+psycopg://…``
            (``postgresql://`` means the same).
        echo: log every SQL statement (at INFO on the ``sqlalchemy.engine`` logger).
        clock: where repositories take the current time from.

    Raises:
        ConfigError: the URL cannot be parsed or names an unsupported backend or driver.
        MissingDependency: the URL is PostgreSQL and psycopg is not installed.
    """

    def __init__(self, url: str, *, echo: bool = False, clock: Clock | None = None) -> None:
        self._url = _parse_url(url)
        self._clock: Clock = clock or SystemClock()
        self._engine = _create_engine(self._url, echo=echo)
        self._readers = self._engine.execution_options(**{_READ_ONLY: True})
        self._writer = threading.RLock() if self._engine.dialect.name == "sqlite" else None
        self._in_memory = self.backend == "sqlite" and _is_memory(self._url)
        self._schema_checked = False
        self._listeners: list[Callable[[frozenset[str]], None]] = []

    def on_change(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener`` with the scopes a transaction changed, once it has committed.

        Only this process's transactions are heard; other processes' changes are found by
        reading the generations (:class:`gnomon.catalog.changes.ChangeWatch`).
        """
        self._listeners.append(listener)

    @property
    def url_for_display(self) -> str:
        """The URL with its password masked, safe for logs and error messages."""
        return self._url.render_as_string(hide_password=True)

    @property
    def clock(self) -> Clock:
        """The clock the repositories stamp rows with."""
        return self._clock

    @property
    def is_in_memory(self) -> bool:
        """Whether this is a private ``sqlite://`` catalog.

        Its threads share one connection, so it must be used from one thread at a time.
        """
        return self._in_memory

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"Catalog({self.url_for_display!r})"

    def migrate(self) -> None:
        """Bring the schema to the newest revision, then make sure tenant ``default`` exists.

        Idempotent, and safe when several processes call it at once: on PostgreSQL the upgrade
        runs in one transaction under an advisory lock, on SQLite under the database write lock,
        so the later caller waits and then finds nothing left to do.

        Raises:
            CatalogUnavailable: the database cannot be reached.
        """
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._begin("migrate") as connection:
            if self.backend == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
                TenantRepository(session, self._clock).ensure(DEFAULT_TENANT)
                session.commit()
        self._schema_checked = True
        logger.info("catalog migrated", extra={"catalog": self.url_for_display})

    @contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[CatalogTransaction]:
        """Open a transaction: committed when the block ends, rolled back if it raises.

        Keep transactions short and never open one inside another in the same thread: on
        SQLite the inner one would wait for the write lock the outer one holds. A
        ``read_only`` transaction must only read: on SQLite it starts without the write lock,
        so concurrent readers (API requests) do not queue behind each other.

        Raises:
            CatalogUnavailable: the database cannot be reached, stayed locked past the busy
                timeout, or dropped the connection.
            CatalogNotMigrated: the schema is missing or older than this version of gnomon.
        """
        self._check_schema()
        engine = self._readers if read_only else self._engine
        # SQLite has one writer at a time; threads of this process take turns here rather than
        # in SQLite's busy handler, which sleeps in steps of up to 100 ms while it waits.
        turn = self._writer if self._writer is not None and not read_only else nullcontext()
        with turn, Session(engine, expire_on_commit=False) as session:
            with self._reachable("open a transaction"):
                session.connection()
            try:
                yield CatalogTransaction(session, self._clock)
            except DBAPIError as exc:
                session.rollback()
                if exc.connection_invalidated:
                    raise self._unavailable("finish a transaction", exc) from exc
                raise
            except BaseException:
                session.rollback()
                raise
            changed = session.info.pop(CHANGED_SCOPES, None)
            with self._reachable("commit"):
                session.commit()
            if changed:
                scopes = frozenset(changed)
                for listener in list(self._listeners):
                    listener(scopes)

    def dispose(self) -> None:
        """Close every pooled connection; the catalog reconnects if used again."""
        self._engine.dispose()

    def _check_schema(self) -> None:
        """Fail once, clearly, instead of with "no such table" deep inside a repository."""
        if self._schema_checked:
            return
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
        with self._begin("read the schema revision") as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        if current != head:
            state = "has no schema" if current is None else f"is at schema revision {current}"
            raise CatalogNotMigrated(
                f"The catalog at {self.url_for_display} {state}: this version of gnomon needs"
                f" revision {head}.",
                hint="Run the catalog migrations first: Catalog(url).migrate().",
                current=current,
                head=head,
            )
        self._schema_checked = True

    @contextmanager
    def _begin(self, action: str) -> Iterator[Connection]:
        """A connection in a transaction, committed unless the block raises.

        Only connecting, beginning and committing are read as the database being unavailable;
        an error from a statement inside the block is passed on as it is.
        """
        with self._reachable(action):
            connection = self._engine.connect()
        try:
            with self._reachable(action):
                transaction = connection.begin()
            try:
                yield connection
            except BaseException:
                transaction.rollback()
                raise
            with self._reachable(action):
                transaction.commit()
        finally:
            connection.close()

    @contextmanager
    def _reachable(self, action: str) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            raise self._unavailable(action, exc) from exc

    def _unavailable(self, action: str, exc: DBAPIError) -> CatalogUnavailable:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        if self._url.password:
            reason = reason.replace(str(self._url.password), "***")
        return CatalogUnavailable(
            f"Cannot {action} on the catalog at {self.url_for_display}: {reason}.",
            hint="Check that the database is running and reachable and that catalog.url"
            " (GNOMON_CATALOG_URL) is right; if it is busy, retry.",
            url=self.url_for_display,
        )


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"Invalid catalog URL {_mask(url)!r}: it is not a SQLAlchemy database URL.",
            hint=_URL_HINT,
            key="catalog.url",
        ) from exc
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend not in _BACKENDS:
        raise ConfigError(
            f"Unsupported catalog database {backend!r}: use one of {', '.join(_BACKENDS)}.",
            hint=_URL_HINT,
            key="catalog.url",
            valid=list(_BACKENDS),
        )
    if backend == "postgresql":
        if "+" not in parsed.drivername:
            return parsed.set(drivername="postgresql+psycopg")
        if driver != "psycopg":
            raise ConfigError(
                f"Unsupported PostgreSQL driver {driver!r} in the catalog URL: use psycopg.",
                hint="Write the URL as postgresql+psycopg://user:password@host:5432/dbname.",
                key="catalog.url",
                valid=["psycopg"],
            )
    elif driver != "pysqlite":
        raise ConfigError(
            f"Unsupported SQLite driver {driver!r} in the catalog URL: use the built-in one.",
            hint="Write the URL as sqlite:///path/to/catalog.db.",
            key="catalog.url",
            valid=["pysqlite"],
        )
    return parsed


def _mask(url: str) -> str:
    """Hide a password in a URL that SQLAlchemy could not parse."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not (sep and at and ":" in credentials):
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def _create_engine(url: URL, *, echo: bool) -> Engine:
    if url.get_backend_name() == "postgresql":
        require("psycopg", extra="postgres")
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_S
        return create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)
    database = url.database or ""
    if _is_memory(url):
        # One shared connection, or every connection would see its own empty database.
        engine = create_engine(
            url,
            echo=echo,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url.set(database=str(Path(database).expanduser())), echo=echo)
    _configure_sqlite(engine)
    return engine


def _is_memory(url: URL) -> bool:
    return (url.database or "") in ("", ":memory:")


def _switch_to_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting (up to the busy timeout) while it is locked.

    Changing the journal mode needs the database to itself, and SQLite answers "database is
    locked" at once instead of calling the busy handler: processes opening a new catalog at the
    same moment (several ``migrate`` calls) would fail spuriously without the wait.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            locked = code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not locked or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _configure_sqlite(engine: Engine) -> None:
    def on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # Take transaction control from the sqlite3 module: BEGIN is issued below instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    def on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(_READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", on_begin)
