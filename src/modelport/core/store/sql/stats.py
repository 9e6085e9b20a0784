"""Endpoint statistics on SQL."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.sql.upsert import upsert
from modelport.core.store.stats import StatsRow


class SqlStats:
    def __init__(self, db: Database) -> None:
        self.db = db

    def write_windows(self, rows: Sequence[StatsRow], worker: str, forget_before: float
                      ) -> None:
        s = t.endpoint_stats
        with self.db.write() as conn:
            upsert(conn, s, [dict(r) for r in rows], update=["data"])
            conn.execute(delete(s).where(s.c.worker == worker, s.c.window < forget_before))

    def read_windows(self, endpoint: str, since: float) -> list[StatsRow]:
        s = t.endpoint_stats
        with self.db.read() as conn:
            return [StatsRow(**r) for r in conn.execute(  # type: ignore[typeddict-item]
                select(s).where(s.c.endpoint == endpoint, s.c.window >= since)).mappings()]
