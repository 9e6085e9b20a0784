"""Connecting to the metadata database and keeping its schema current.

One code path for SQLite (embedded default) and PostgreSQL (shared). SQLite
runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with
"database is locked" halfway through. Migrations run on first use, under a
lock, so two processes opening a fresh database do not race.

On PostgreSQL every statement is a network round trip, so the engine spends
as few as it can: reads run in autocommit (no ``BEGIN`` and ``ROLLBACK``
around them — under READ COMMITTED each statement sees its own snapshot
anyway), a pooled connection is pinged only when it sat unused long
enough for the server or a proxy to have dropped it, not on every checkout,
and no statement is JIT-compiled (compiling cost more than running them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    DBAPIError,
    DisconnectionError,
    NoSuchModuleError,
    OperationalError,
)

from modelport.core.store.migration import (
    current_revision,
    head_revision,
    recorded_revision,
    upgrade,
)
from modelport.core.store.text import redact
from modelport.errors import InvalidInputError, MissingDependencyError, StoreUnavailableError

_IMMEDIATE = "modelport_immediate"
# an execution option: plan this statement for its values each time (see ``_server_engine``)
CUSTOM_PLAN = "modelport_custom_plan"
BUSY_TIMEOUT_MS = 60_000  # how long a SQLite writer waits for another's lock
IDLE_PING_S = 10.0  # a pooled PostgreSQL connection idle this long is pinged before use


class Database:
    """A migrated SQL database: hands out read and write connections.

    Thread-safe: the engine's pool gives each thread its own connection.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # SQLite reads in a deferred transaction (one consistent snapshot, no round trips
        # to save); a server database reads in autocommit, sparing two round trips
        self._reader: Engine = engine if self.dialect == "sqlite" else \
            engine.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads only: each statement sees what was committed before it."""
        with self._guard(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def single(self) -> Iterator[Connection]:
        """A connection for writes that are each one statement, atomic on its own: on a
        server database in autocommit (no ``BEGIN`` and ``COMMIT`` round trips); on
        SQLite a write transaction, as ``write``."""
        if self.dialect == "sqlite":
            with self.write() as conn:
                yield conn
            return
        with self._guard(), self._reader.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and holds the write lock from its start."""
        with self._guard(), self.engine.connect() as raw:
            conn = raw.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except DataError as exc:  # what the caller sent: not the database's fault
            raise InvalidInputError(f"the store refused a value: {_first_line(exc.orig)}"
                                    ) from exc
        except OverflowError as exc:  # SQLite's driver: an integer past 64 bits
            raise InvalidInputError(f"the store refused a value: {exc}") from exc
        except UnicodeEncodeError as exc:
            raise InvalidInputError("the store cannot keep a lone surrogate character "
                                    f"({exc.object[exc.start:exc.end]!r})") from exc
        except OperationalError as exc:
            if _is_connect_failure(exc):
                raise StoreUnavailableError(
                    f"cannot reach the database at {redact(str(self.engine.url))}: "
                    f"{_first_line(exc.orig)} — check MODELPORT_DB_URL"
                ) from exc
            raise

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException | None) -> str:
    return str(exc).strip().splitlines()[0] if exc and str(exc).strip() else "connection failed"


def _is_connect_failure(exc: DBAPIError) -> bool:
    return exc.connection_invalidated or "connect" in str(exc.orig).lower()


def _sqlite_engine(url: str) -> Engine:
    path = make_url(url).database
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # take transaction control from the driver so BEGIN IMMEDIATE is ours to send
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def short_lived_engine_options(url: str) -> dict[str, Any]:
    """SQLAlchemy engine options for another library's short-lived engine on this
    database (Optuna's RDB storage): no pool, since a storage object is short-lived and
    nothing closes it, so a pooled connection would outlive it — a trial's few storage
    calls afford a connect each; on SQLite, the same lock timeout as modelport's."""
    from sqlalchemy.pool import NullPool

    options: dict[str, Any] = {"poolclass": NullPool}
    if make_url(url).get_backend_name() == "sqlite":
        options["connect_args"] = {"timeout": 60}
    return options


def _server_engine(url: str) -> Engine:
    engine = create_engine(url, pool_size=5, max_overflow=10)

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        # SQLAlchemy's pool_pre_ping costs a round trip on every checkout, as much as the
        # query it guards; a connection used moments ago is alive. One that fails the ping
        # is replaced by a fresh one (the pool retries on DisconnectionError).
        used = record.info.get("used")
        if used is not None and time.monotonic() - used > IDLE_PING_S:
            try:
                alive = engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:  # any failure: the connection is of no use
                raise DisconnectionError(str(exc)) from exc
            if not alive:
                raise DisconnectionError("the database did not answer a ping")

    @event.listens_for(engine, "connect")
    def _without_jit(dbapi_conn: Any, _record: Any) -> None:
        # PostgreSQL compiles a statement whose estimated cost passes jit_above_cost: a
        # 500-run read of records (a correlated subquery per narrow table) paid 45-65 ms
        # of compilation to run in ~50. The store's statements are all short: never JIT.
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        with dbapi_conn.cursor() as cur:
            cur.execute("SET jit = off")
        dbapi_conn.autocommit = autocommit

    @event.listens_for(engine, "do_execute")
    def _planned_for_values(cursor: Any, statement: str, parameters: Any, context: Any
                            ) -> bool | None:
        # psycopg prepares a statement run five times, and after five more PostgreSQL
        # may plan it once for any values: a search's generic plan guesses one run per
        # filter, starts from the param and sorts (28-106 ms for a top-100 of 10,000
        # runs, against 2.6 ms planned for its values). Such statements are never
        # prepared: each is planned for the values it is sent with.
        if context.execution_options.get(CUSTOM_PLAN):
            cursor.execute(statement, parameters, prepare=False)
            return True
        return None

    @event.listens_for(engine, "checkin")
    def _mark_used(_dbapi_conn: Any, record: Any) -> None:
        record.info["used"] = time.monotonic()

    return engine


_ENGINES = {"sqlite": _sqlite_engine, "postgresql": _server_engine}

_open_lock = threading.Lock()
_open: dict[str, Database] = {}


def open_database(url: str) -> Database:
    """The database at ``url``, created and migrated on first use; one per URL per process."""
    with _open_lock:
        db = _open.get(url)
        if db is None:
            db = _open[url] = _connect(url)
        return db


def forget_stores() -> None:
    """Close every open database (tests, and processes that fork)."""
    with _open_lock:
        for db in _open.values():
            db.dispose()
        _open.clear()


def _connect(url: str) -> Database:
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError as exc:
        raise InvalidInputError(
            f"malformed database URL {redact(url)!r} — expected e.g. "
            "sqlite:///path/modelport.db or postgresql+psycopg://user@host/db"
        ) from exc
    factory = _ENGINES.get(backend)
    if factory is None:
        raise InvalidInputError(
            f"unsupported database {backend!r} in {redact(url)} — use sqlite:// or postgresql+psycopg://"
        )
    try:
        engine = factory(url)
    except NoSuchModuleError as exc:
        raise InvalidInputError(f"unknown database driver in {redact(url)}: {exc}") from exc
    except ModuleNotFoundError as exc:
        raise MissingDependencyError(exc.name or "psycopg", "postgres") from exc
    db = Database(engine)
    migrate(db)
    return db


def migrate(db: Database) -> None:
    """Bring the schema to the head revision; a no-op costing one read when it is current.

    The revision is read without a lock first: every command opens the store, and
    taking SQLite's write lock (or PostgreSQL's advisory lock) to find nothing to do
    would make ``modelport models list`` queue behind a busy writer. Only an upgrade
    (or adopting a revision left in Optuna's shared table) takes the lock, and asks
    again under it.
    """
    with db._guard(), db.engine.connect() as conn:
        if recorded_revision(conn) == head_revision():
            return
    with db._guard(), db.engine.connect() as raw:
        conn = raw.execution_options(**{_IMMEDIATE: True})
        conn.begin()
        if db.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7301995)"))
        if current_revision(conn) != head_revision():
            upgrade(conn)
        if conn.in_transaction():
            conn.commit()
