"""``/api/v1/jobs``: one route per method of ``JobsRepository``.

A job's id is chosen by the machine that runs it (``batch predict`` on a
laptop, a CI runner); the server records it and its progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Router, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody

from modelport.core.store.jobs import JobRecord
from modelport.errors import InvalidInputError, NotFoundError
from modelport.interfaces.team.access import ProjectStore, needs
from modelport.interfaces.team.inputs import storable, storable_request

MAX_LIST = 10_000


@dataclass
class Options:
    options: dict[str, Any]


@dataclass
class Progress:
    rows: int
    rows_failed: int
    parts: int


@dataclass
class Finish:
    status: str
    ended: float
    duration: float
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    result: dict[str, Any] | None = None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIST:
        raise InvalidInputError(f"limit must be 1 to {MAX_LIST}")
    return limit


@post("/", guards=[needs("write")], status_code=201, sync_to_thread=True)
def create_job(store: ProjectStore, data: JSONBody[JobRecord]) -> None:
    storable(data)
    store.jobs.create_job(data)


@get("/", guards=[needs("read")], sync_to_thread=True)
def list_jobs(store: ProjectStore, limit: FromQuery[int] = 100,
              status: FromQuery[str | None] = None,
              kind: FromQuery[str | None] = None, model: FromQuery[str | None] = None
              ) -> list[JobRecord]:
    return store.jobs.list_jobs(  # type: ignore[no-any-return]
        _limit(limit), status, kind, model)


@get("/find", guards=[needs("read")], sync_to_thread=True)
def find_jobs(store: ProjectStore, prefix: FromQuery[str], limit: FromQuery[int] = 10
              ) -> list[JobRecord]:
    return store.jobs.find_jobs(prefix, _limit(limit))  # type: ignore[no-any-return]


@get("/{job_id:str}", guards=[needs("read")], sync_to_thread=True)
def get_job(store: ProjectStore, job_id: FromPath[str]) -> JobRecord:
    found = store.jobs.get_job(job_id)
    if found is None:
        raise NotFoundError(f"job {job_id!r} not found — list them with: modelport jobs list")
    return found  # type: ignore[no-any-return]


@post("/{job_id:str}/restart", guards=[needs("write")], status_code=204, sync_to_thread=True)
def restart_job(store: ProjectStore, job_id: FromPath[str], data: JSONBody[Options]) -> None:
    storable(data)
    store.jobs.restart_job(job_id, data.options)


@put("/{job_id:str}/progress", guards=[needs("write")], status_code=204, sync_to_thread=True)
def set_progress(store: ProjectStore, job_id: FromPath[str], data: JSONBody[Progress]) -> None:
    storable(data)
    store.jobs.set_progress(job_id, data.rows, data.rows_failed, data.parts)


@post("/{job_id:str}/finish", guards=[needs("write")], status_code=204, sync_to_thread=True)
def finish_job(store: ProjectStore, job_id: FromPath[str], data: JSONBody[Finish]) -> None:
    storable(data)
    store.jobs.finish_job(job_id, data.status, data.error, data.ended, data.duration,
                          data.counts, data.result)


router = Router("/api/v1/jobs", route_handlers=[
    create_job, list_jobs, find_jobs, get_job, restart_job, set_progress, finish_job],
    tags=["jobs"], before_request=storable_request)
