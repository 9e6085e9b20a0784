from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from modelport.core.store import open_store
from modelport.core.store.engine import forget_stores, migrate, open_database
from modelport.core.store.migration import MIGRATIONS, VERSION_TABLE, head_revision
from modelport.core.store.text import redact
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, StoreUnavailableError


def test_migrates_on_first_use_and_is_idempotent(ws: Workspace) -> None:
    with ws.store.db.read() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    assert {"runs", "run_metrics", "run_latest_metrics", "models", "model_versions",
            "model_aliases", "model_tags", "datasets"} <= tables
    assert revision == head_revision()
    assert "alembic_version" not in tables  # Optuna's to create, not ours
    migrate(ws.store.db)  # a second time changes nothing and does not fail
    with ws.store.db.read() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {VERSION_TABLE}")).scalar() == 1


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = open_database(f"sqlite:///{tmp_path}/m.db")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    forget_stores()


def test_write_rolls_back_on_error(ws: Workspace) -> None:
    from modelport.core.store import schema as t

    with pytest.raises(RuntimeError), ws.store.db.write() as conn:
        conn.execute(t.models.insert().values(name="m", description="", last_version=0,
                                              created=0.0, updated=0.0))
        raise RuntimeError("boom")
    with ws.store.db.read() as conn:
        assert conn.execute(t.models.select()).first() is None


def test_unreachable_database_is_one_clear_error() -> None:
    url = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    with pytest.raises(StoreUnavailableError, match=r"cannot reach the database .*MODELPORT_DB_URL"
                       ) as info:
        open_store(url)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize("url", ["not a url", "oracle://x/y", "sqlite+nosuchdriver:///x.db"])
def test_bad_database_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidInputError):
        open_store(url)


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"


def test_head_revision_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [head_revision()]


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "HTTPS://user:secret@127.0.0.1:9/"])
def test_a_remote_store_url_gets_the_server_client(url: str) -> None:
    """Every repository goes to ``modelport server``; one that does not answer is one
    clear error (without the URL's password), not a traceback."""
    store = open_store(url)
    try:
        assert type(store).__name__ == "RestStore"
        with pytest.raises(StoreUnavailableError, match="did not answer") as info:
            store.keys.list_keys(include_revoked=False)
        assert "secret" not in str(info.value)
    finally:
        store.close()  # type: ignore[attr-defined]


def test_opening_a_current_store_takes_no_lock(tmp_path: Path) -> None:
    """Every command opens the store: a writer holding SQLite's lock must not stall it."""
    import threading

    db = open_database(f"sqlite:///{tmp_path}/m.db")
    opened = threading.Event()
    with db.write():
        threading.Thread(target=lambda: (migrate(db), opened.set()), daemon=True).start()
        assert opened.wait(10), "migrate waited for the write lock on a current schema"
    forget_stores()


def test_a_pooled_connection_the_server_dropped_is_replaced_after_idling(
        pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a ping on every checkout, an idle connection is still checked before use."""
    import psycopg

    from modelport.core.store import engine

    db = open_database(pg_schema)
    with db.read() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with db.write() as conn:  # a write after a read, moments later: the same, unpinged
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid
    with psycopg.connect(pg_schema.split("?")[0].replace("+psycopg", ""),
                         autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    monkeypatch.setattr(engine, "IDLE_PING_S", 0.0)  # it has now idled long enough
    with db.read() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    forget_stores()


def test_reads_on_postgresql_leave_no_transaction_open(pg_schema: str) -> None:
    """A read spends no BEGIN / ROLLBACK round trips: it runs in autocommit."""
    db = open_database(pg_schema)
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
        assert conn.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    with db.write() as conn:
        assert not conn.connection.dbapi_connection.autocommit  # type: ignore[union-attr]
    forget_stores()


def test_postgresql_statistics_follow_a_fast_growing_run_table(
        pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Searches are planned from fresh statistics, not autovacuum's minute-old ones."""
    from modelport.core.store.runs import RunRecord
    from modelport.core.store.sql import runs as sql_runs

    monkeypatch.setattr(sql_runs, "_FIRST_ANALYZE", 4)
    store = open_store(pg_schema)

    def rows() -> float:
        with store.db.read() as conn:  # type: ignore[attr-defined]
            return float(conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE oid = 'runs'::regclass")).scalar())

    for i in range(3):
        store.runs.create_run(RunRecord(f"r{i}", "n", "e", "RUNNING", 1.0, None, None, None,
                                        None, {}))
    assert rows() <= 0  # never analyzed yet
    for i in range(3, 7):
        store.runs.log_run(RunRecord(f"r{i}", "n", "e", "FINISHED", 1.0, 2.0, 1.0, None, None,
                                     {}, params={"p": "1"}), [], now=2.0)
    assert rows() == 4  # analyzed at the 4th run; the next time at the 8th
    forget_stores()


def test_postgresql_never_jit_compiles_the_store_statements(pg_schema: str) -> None:
    """A read of 500 records cost more to JIT-compile than to run: JIT is off for the store's
    connections (the URL's own options, here the test schema's search_path, are kept)."""
    db = open_database(pg_schema)
    for use in (db.read, db.write):
        with use() as conn:
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            assert conn.execute(text("SHOW search_path")).scalar().startswith("mp_test_")
    forget_stores()
