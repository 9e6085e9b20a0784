"""SQLite's WAL checkpoints, moved off the request path of a long-running writer.

In WAL mode SQLite appends each commit to the ``-wal`` file, and by default the
commit that takes it past 1,000 pages copies them back into the database file
and syncs it: one write request in every ~100 logged runs pays for the last
hundred, ~1 ms a run on average (2,000 runs logged in process: 4.7–5.7 ms a run,
3.6–3.7 ms without). The team server checkpoints on a thread of its own
instead: its connections never do, the thread does every ``every_s`` seconds.
Each round is PASSIVE first: it never waits for a writer or a reader and copies
what no reader's snapshot still needs. That alone lets a busy file's WAL grow
without end (a gigabyte in 15 s of back-to-back commits): SQLite starts the WAL
over only when a writer finds all of it copied, and a commit always lands between
the thread's copy and the next writer. So once the WAL passes ``RESTART_FRAMES``,
the round ends with a RESTART checkpoint, which holds new writers back until the
few frames since are copied and readers have moved on — waiting at most
``RESTART_WAIT_MS`` for them, else it is tried again next round. Other processes
on the same file keep SQLite's default.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import event

from modelport.core.store.engine import BUSY_TIMEOUT_MS, Database

log = logging.getLogger("modelport.store")
CHECKPOINT_S = 0.25
SQLITE_DEFAULT = 1000  # pages: SQLite's wal_autocheckpoint
RESTART_FRAMES = 4 * SQLITE_DEFAULT  # a WAL this long (~16 MB) is started over
RESTART_WAIT_MS = 100


_holders: dict[int, int] = {}  # id(engine) -> running checkpointers (apps in one process)
_holders_lock = threading.Lock()


def _without_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    """Checkpoints ``db`` (SQLite) on its own thread between ``start`` and ``stop``."""

    def __init__(self, db: Database, every_s: float = CHECKPOINT_S) -> None:
        if db.dialect != "sqlite":
            raise ValueError("only a SQLite database has WAL checkpoints to move")
        self.db = db
        self.every_s = every_s
        self.last: tuple[int, int, int] | None = None  # (busy, WAL frames, checkpointed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints",
                                        daemon=True)

    def start(self) -> None:
        engine = self.db.engine
        with _holders_lock:
            _holders[id(engine)] = _holders.get(id(engine), 0) + 1
            if _holders[id(engine)] == 1:
                event.listen(engine, "connect", _without_autocheckpoint)
                engine.dispose()  # pooled connections come back under the listener
        self._thread.start()

    def stop(self) -> None:
        """Checkpoint what is left; this process's connections checkpoint again."""
        self._stop.set()
        self._thread.join()
        engine = self.db.engine
        with _holders_lock:
            _holders[id(engine)] -= 1
            if not _holders[id(engine)]:
                del _holders[id(engine)]
                event.remove(engine, "connect", _without_autocheckpoint)
                engine.dispose()
        self.checkpoint()

    def checkpoint(self) -> tuple[int, int, int]:
        """One round: what a PASSIVE checkpoint found (busy, WAL frames, copied)."""
        raw = self.db.engine.raw_connection()  # in autocommit: no transaction around it
        try:
            cursor = raw.cursor()
            busy, frames, done = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames >= RESTART_FRAMES and done == frames:
                cursor.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                try:
                    cursor.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                finally:
                    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cursor.close()
        finally:
            raw.close()
        self.last = (busy, frames, done)
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.checkpoint()
            except Exception as exc:  # a locked or vanished file: the next round retries
                log.warning("SQLite checkpoint failed: %s", exc)
