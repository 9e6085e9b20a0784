"""Jobs over REST: ``JobsRepository`` as calls to ``/api/v1/jobs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelport.core.store.jobs import JobRecord
from modelport.core.store.rest.api import Api, segment


class RestJobs:
    def __init__(self, api: Api) -> None:
        self.api = api

    def create_job(self, job: JobRecord) -> None:
        self.api.call("POST", "/jobs", dict(job))

    def get_job(self, job_id: str) -> JobRecord | None:
        return self.api.found(f"/jobs/{segment(job_id)}")  # type: ignore[no-any-return]

    def find_jobs(self, prefix: str, limit: int) -> list[JobRecord]:
        return list(self.api.call("GET", "/jobs/find", prefix=prefix, limit=limit))

    def list_jobs(self, limit: int, status: str | None, kind: str | None, model: str | None
                  ) -> list[JobRecord]:
        return list(self.api.call("GET", "/jobs", limit=limit, status=status, kind=kind,
                                  model=model))

    def restart_job(self, job_id: str, options: dict[str, Any]) -> None:
        self.api.call("POST", f"/jobs/{segment(job_id)}/restart", {"options": options})

    def set_progress(self, job_id: str, rows: int, rows_failed: int, parts: int) -> None:
        self.api.call("PUT", f"/jobs/{segment(job_id)}/progress",
                      {"rows": rows, "rows_failed": rows_failed, "parts": parts})

    def finish_job(self, job_id: str, status: str, error: str | None, ended: float,
                   duration: float, counts: Mapping[str, int],
                   result: Mapping[str, Any] | None = None) -> None:
        self.api.call("POST", f"/jobs/{segment(job_id)}/finish", {
            "status": status, "error": error, "ended": ended, "duration": duration,
            "counts": dict(counts), "result": None if result is None else dict(result)})
