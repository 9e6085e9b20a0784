"""Stream consumers on SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.projects import DEFAULT_PROJECT
from modelport.core.store.sql.projects import name_blobs
from modelport.core.store.sql.upsert import upsert
from modelport.core.store.streams import StreamRecord


class SqlStreams:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start_stream(self, name: str, consumer: str, model: str, config: dict[str, Any],
                     now: float, project: str = DEFAULT_PROJECT) -> None:
        """``project``: the one a new consumer's row is written in (``ScopedStreams``
        names it, so no other project sees the row even for an instant); a restart keeps
        the row's."""
        with self.db.write() as conn:
            upsert(conn, t.streams, {
                "name": name, "consumer": consumer, "model": model, "config": config,
                "state": "running", "stats": {}, "checkpoint": None, "started": now,
                "updated": now, "project": project},
                update=["model", "config", "state", "started", "updated"])

    def get_stream(self, name: str, consumer: str) -> StreamRecord | None:
        found = self._select(select(t.streams).where(t.streams.c.name == name,
                                                     t.streams.c.consumer == consumer))
        return found[0] if found else None

    def list_streams(self, name: str | None) -> list[StreamRecord]:
        query = select(t.streams).order_by(t.streams.c.name, t.streams.c.consumer)
        if name:
            query = query.where(t.streams.c.name == name)
        return self._select(query)

    def heartbeat(self, name: str, consumer: str, stats: dict[str, Any], state: str,
                  now: float) -> None:
        with self.db.write() as conn:
            self._update(conn, name, consumer, stats=stats, state=state, updated=now)

    def save_checkpoint(self, name: str, consumer: str, checkpoint: dict[str, Any],
                        now: float) -> None:
        """The checkpoint's model and window blobs become the stream's."""
        with self.db.write() as conn:
            self._update(conn, name, consumer, checkpoint=checkpoint, updated=now)
            name_blobs(conn, "streams", name, [checkpoint.get("model"), checkpoint.get("window")])

    def _select(self, query: Any) -> list[StreamRecord]:
        with self.db.read() as conn:
            return [StreamRecord(**r) for r in conn.execute(query).mappings()]

    def _update(self, conn: Connection, name: str, consumer: str, **values: Any) -> None:
        s = t.streams
        conn.execute(update(s).where(s.c.name == name, s.c.consumer == consumer)
                     .values(**values))
