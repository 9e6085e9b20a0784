"""The studies' journal on SQL: one row per entry, numbered under a lock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.studies import MAX_READ

_JOURNAL_LOCK = 7301996  # PostgreSQL advisory lock: one appender numbers entries at a time


class SqlStudies:
    def __init__(self, db: Database) -> None:
        self.db = db

    def read_journal(self, start: int, limit: int = MAX_READ) -> list[dict[str, Any]]:
        j = t.study_journal
        with self.db.read() as conn:
            return [row.entry for row in conn.execute(
                select(j.c.entry).where(j.c.seq >= start).order_by(j.c.seq).limit(limit))]

    def append_journal(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        j = t.study_journal
        with self.db.write() as conn:  # SQLite: the write lock is held from the start
            if self.db.dialect == "postgresql":
                conn.execute(text(f"SELECT pg_advisory_xact_lock({_JOURNAL_LOCK})"))
            after = conn.execute(select(func.coalesce(func.max(j.c.seq), -1))).scalar_one()
            conn.execute(j.insert(), [{"seq": after + 1 + i, "entry": entry}
                                      for i, entry in enumerate(entries)])
