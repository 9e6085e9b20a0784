"""Jobs on SQL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from modelport.core.store import schema as t
from modelport.core.store.engine import Database
from modelport.core.store.jobs import JobRecord
from modelport.errors import ConflictError

_COUNTS = ("rows", "rows_failed", "parts")


class SqlJobs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create_job(self, job: JobRecord) -> None:
        try:
            with self.db.write() as conn:
                conn.execute(t.jobs.insert().values(**job))
        except IntegrityError:  # the id is taken
            raise ConflictError(f"job {job['id']!r} already exists") from None

    def get_job(self, job_id: str) -> JobRecord | None:
        found = self._select(select(t.jobs).where(t.jobs.c.id == job_id))
        return found[0] if found else None

    def find_jobs(self, prefix: str, limit: int) -> list[JobRecord]:
        return self._select(select(t.jobs).where(t.jobs.c.id.startswith(prefix, autoescape=True))
                            .limit(limit))

    def list_jobs(self, limit: int, status: str | None, kind: str | None, model: str | None
                  ) -> list[JobRecord]:
        query = select(t.jobs).order_by(t.jobs.c.started.desc()).limit(max(1, limit))
        for column, value in (("status", status), ("kind", kind), ("model", model)):
            if value is not None:
                query = query.where(t.jobs.c[column] == value)
        return self._select(query)

    def restart_job(self, job_id: str, options: dict[str, Any]) -> None:
        self._update(job_id, status="running", error=None, ended=None, duration=None,
                     result=None, options=options)

    def set_progress(self, job_id: str, rows: int, rows_failed: int, parts: int) -> None:
        self._update(job_id, rows=rows, rows_failed=rows_failed, parts=parts)

    def finish_job(self, job_id: str, status: str, error: str | None, ended: float,
                   duration: float, counts: Mapping[str, int],
                   result: Mapping[str, Any] | None = None) -> None:
        self._update(job_id, status=status, error=error, ended=ended, duration=duration,
                     result=None if result is None else dict(result),
                     **{k: int(v) for k, v in counts.items() if k in _COUNTS})

    def _select(self, query: Any) -> list[JobRecord]:
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def _update(self, job_id: str, **values: Any) -> None:
        with self.db.write() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(**values))


def _record(row: Any) -> JobRecord:
    record: JobRecord = dict(row)  # type: ignore[assignment]
    record["options"] = record["options"] or {}
    return record
