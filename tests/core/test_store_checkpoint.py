"""SQLite checkpoints on the team server's own thread, never inside a write request."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from modelport.core.store.checkpoint import RESTART_FRAMES, SQLITE_DEFAULT, Checkpointer
from modelport.core.store.engine import Database, forget_stores, open_database
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app

ROW = "x" * 3000  # about one page a row


def autocheckpoint(db: Database) -> int:
    with db.read() as conn:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def write_pages(db: Database, pages: int) -> None:
    with db.write() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS filler (body TEXT)")
    for _ in range(pages // 50):  # 50 commits of 50 rows: many commits, as requests make
        with db.write() as conn:
            conn.execute(text("INSERT INTO filler VALUES (:b)"), [{"b": ROW}] * 50)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    yield open_database(f"sqlite:///{tmp_path}/m.db")
    forget_stores()


def test_writes_never_checkpoint_while_the_thread_does(db: Database) -> None:
    checkpoints = Checkpointer(db, every_s=3600)  # the thread waits: only writes could
    checkpoints.start()
    try:
        assert autocheckpoint(db) == 0
        write_pages(db, 2 * SQLITE_DEFAULT)
        busy, frames, done = checkpoints.checkpoint()
        # every frame was still in the WAL: no commit copied it back on its own
        assert frames > 2 * SQLITE_DEFAULT and done == frames and busy == 0
    finally:
        checkpoints.stop()
    assert autocheckpoint(db) == SQLITE_DEFAULT  # the process's connections do again


def test_the_thread_checkpoints_what_writes_leave(db: Database) -> None:
    checkpoints = Checkpointer(db, every_s=0.05)
    checkpoints.start()
    try:
        write_pages(db, SQLITE_DEFAULT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            last = checkpoints.last
            if last is not None and last[1] > 0 and last[1] == last[2]:
                break
            time.sleep(0.05)
        assert last is not None and last[1] > 0 and last[1] == last[2]
    finally:
        checkpoints.stop()


def test_a_busy_file_s_wal_is_started_over(db: Database, tmp_path: Path) -> None:
    """Copying alone would let the WAL grow for as long as commits keep coming: one
    always lands between the thread's copy and the next writer, who would start it
    over only if all of it were copied."""
    wal = tmp_path / "m.db-wal"
    checkpoints = Checkpointer(db, every_s=0.02)
    checkpoints.start()
    longest = 0
    try:
        with db.write() as conn:
            conn.exec_driver_sql("CREATE TABLE filler (body TEXT)")
        for _ in range(4 * RESTART_FRAMES // 50):  # 4x the restart length, a request each
            with db.write() as conn:
                conn.execute(text("INSERT INTO filler VALUES (:b)"), [{"b": ROW}] * 50)
            longest = max(longest, wal.stat().st_size // 4096)
            time.sleep(0.001)  # the gap between two requests
    finally:
        checkpoints.stop()
    assert longest < 3 * RESTART_FRAMES


def test_only_sqlite_has_checkpoints_to_move(pg_schema: str) -> None:
    with pytest.raises(ValueError, match="SQLite"):
        Checkpointer(open_database(pg_schema))


def test_two_apps_on_one_database_share_the_setting(db: Database) -> None:
    first, second = Checkpointer(db, every_s=3600), Checkpointer(db, every_s=3600)
    first.start()
    second.start()
    first.stop()
    assert autocheckpoint(db) == 0  # the second still checkpoints for the process
    second.stop()
    assert autocheckpoint(db) == SQLITE_DEFAULT


@pytest.mark.storage_independent
def test_the_team_server_on_sqlite_checkpoints_on_its_own_thread(ws: Workspace) -> None:
    db = ws.store.inner.db  # type: ignore[attr-defined]
    with TestClient(create_app(ws, auth=False)):
        assert autocheckpoint(db) == 0
    assert autocheckpoint(db) == SQLITE_DEFAULT
