from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from modelport.core.store.engine import HEAD_REVISION, forget_stores, migrate, open_store, redact
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, StoreUnavailableError


def test_migrates_on_first_use_and_is_idempotent(ws: Workspace) -> None:
    with ws.store.read() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert {"runs", "run_metrics", "run_latest_metrics", "models", "model_versions",
            "model_aliases", "model_tags", "datasets"} <= tables
    assert revision == HEAD_REVISION
    migrate(ws.store)  # a second time changes nothing and does not fail
    with ws.store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    forget_stores()


def test_write_rolls_back_on_error(ws: Workspace) -> None:
    from modelport.core.store import schema as t

    with pytest.raises(RuntimeError), ws.store.write() as conn:
        conn.execute(t.models.insert().values(name="m", description="", last_version=0,
                                              created=0.0, updated=0.0))
        raise RuntimeError("boom")
    with ws.store.read() as conn:
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

    from modelport.core.store.engine import _MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [HEAD_REVISION]


def test_opening_a_current_store_takes_no_lock(tmp_path: Path) -> None:
    """Every command opens the store: a writer holding SQLite's lock must not stall it."""
    import threading

    url = f"sqlite:///{tmp_path}/m.db"
    store = open_store(url)
    opened = threading.Event()
    with store.write():
        threading.Thread(target=lambda: (migrate(store), opened.set()), daemon=True).start()
        assert opened.wait(10), "migrate waited for the write lock on a current schema"
    forget_stores()
