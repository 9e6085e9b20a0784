"""Connecting to the metadata database and keeping its schema current.

One code path for SQLite (embedded default) and PostgreSQL (shared). SQLite
runs in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so two writers queue on the lock instead of failing with
"database is locked" halfway through. Migrations run on first use, under a
lock, so two processes opening a fresh database do not race.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from modelport.errors import InvalidInputError, MissingDependencyError, StoreUnavailableError

HEAD_REVISION = "0006"
_MIGRATIONS = Path(__file__).parent / "migrations"
_IMMEDIATE = "modelport_immediate"


def redact(url: str) -> str:
    """A database URL safe to print: the password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]+@", r"\1***@", url)


class Store:
    """A migrated database: hands out read and write connections.

    Thread-safe: the engine's pool gives each thread its own connection.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._guard(), self.engine.connect() as conn:
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
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _server_engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


_ENGINES = {"sqlite": _sqlite_engine, "postgresql": _server_engine}

_open_lock = threading.Lock()
_open: dict[str, Store] = {}


def open_store(url: str) -> Store:
    """The store at ``url``, created and migrated on first use; one per URL per process."""
    with _open_lock:
        store = _open.get(url)
        if store is None:
            store = _open[url] = _connect(url)
        return store


def forget_stores() -> None:
    """Close every open store (tests, and processes that fork)."""
    with _open_lock:
        for store in _open.values():
            store.dispose()
        _open.clear()


def _connect(url: str) -> Store:
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
    store = Store(engine)
    migrate(store)
    return store


def migrate(store: Store) -> None:
    """Bring the schema to HEAD_REVISION; a no-op costing one query when it is current."""
    with store._guard(), store.engine.connect() as raw:
        conn = raw.execution_options(**{_IMMEDIATE: True})
        conn.begin()
        if store.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(7301995)"))
        if _current_revision(conn) != HEAD_REVISION:
            _upgrade(conn)
        if conn.in_transaction():
            conn.commit()


def _current_revision(conn: Connection) -> str | None:
    from sqlalchemy import inspect

    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _upgrade(conn: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")
