"""The audit log on SQL: one row per write request, appended in batches."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from modelport.core.store import schema as t
from modelport.core.store.audit import AuditEntry, AuditRecord
from modelport.core.store.engine import Database


class SqlAudit:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            with self.db.write() as conn:
                conn.execute(t.audit_log.insert(), [dict(e) for e in entries])

    def entries(self, limit: int, before: int | None, key_id: str | None,
                since: float | None) -> list[AuditRecord]:
        a = t.audit_log
        query = select(a).order_by(a.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(a.c.id < before)
        if key_id is not None:
            query = query.where(a.c.key_id == key_id)
        if since is not None:
            query = query.where(a.c.at >= since)
        with self.db.read() as conn:
            return [AuditRecord(**row) for row in conn.execute(query).mappings()]  # type: ignore[typeddict-item]
