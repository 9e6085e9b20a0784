"""Jobs: one row per batch prediction, forecast or monitoring check, in the same database as
runs and models.

A job row is written when the work starts, updated as parts commit (so a
killed job shows how far it got) and closed with its outcome. A resumed job
continues the same row: the id lives in the job's staging directory. A job that
decides something (a monitoring check: retrain or not, roll out or not) closes
with a ``result``: the decision and the numbers it was taken on.

>>> job = create_job("predict", "iris", 3, "data/*.parquet", "out/", {"batch_size": 65536})
...                                                                     # doctest: +SKIP
>>> finish_job(job.id, "succeeded")                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from modelport.core.store.jobs import JobRecord
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, ModelportError, NotFoundError

KINDS = ("predict", "forecast", "monitor")
STATUSES = ("running", "succeeded", "failed")
MANIFEST = "_manifest.json"  # in a published output: the job that wrote it, and its counts


@dataclass
class Job:
    id: str
    kind: str
    model: str
    version: int
    status: str
    input: str
    input_digest: str | None
    output: str
    options: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    rows_failed: int = 0
    parts: int = 0
    error: str | None = None
    started: float = 0.0
    ended: float | None = None
    duration: float | None = None
    project: str = "default"
    result: dict[str, Any] | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"

    @property
    def state(self) -> str:
        """``status``, except that a ``running`` job whose process is gone (killed, or its
        machine restarted) reads ``interrupted`` — known for jobs started on this host."""
        process = self.options.get("process") or {}
        if self.status != "running" or process.get("host") != socket.gethostname():
            return self.status
        try:
            os.kill(int(process["pid"]), 0)
        except ProcessLookupError:
            return "interrupted"
        except (PermissionError, KeyError, ValueError, TypeError):
            pass
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state}


def _process() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def create_job(kind: str, model: str, version: int, input: str, output: str,
               options: dict[str, Any], input_digest: str | None = None,
               ws: Workspace | None = None) -> Job:
    """Record a job that starts now, as ``running``."""
    if kind not in KINDS:
        raise InvalidInputError(f"unknown job kind {kind!r} — one of {', '.join(KINDS)}")
    ws = current(ws)
    job = Job(id=uuid.uuid4().hex, kind=kind, model=model, version=version, status="running",
              input=input, input_digest=input_digest, output=output,
              options={**options, "process": _process()}, started=time.time())
    ws.store.jobs.create_job(JobRecord(**asdict(job)))  # type: ignore[typeddict-item]
    return job


def restart_job(job_id: str, ws: Workspace | None = None) -> Job:
    """Mark a job ``running`` again because it is being resumed; counts the resumption."""
    ws = current(ws)
    job = get_job(job_id, ws=ws)
    options = {**job.options, "resumed": int(job.options.get("resumed", 0)) + 1,
               "process": _process()}
    ws.store.jobs.restart_job(job.id, options)
    return get_job(job.id, ws=ws)


def update_progress(job_id: str, rows: int, rows_failed: int, parts: int,
                    ws: Workspace | None = None) -> None:
    """Record how far a running job got; called as parts commit, at most about once a second."""
    current(ws).store.jobs.set_progress(job_id, rows, rows_failed, parts)


def failure(exc: BaseException) -> str:
    """What a job that ``exc`` ended records as its error: the message a user reads."""
    if isinstance(exc, ModelportError):
        return exc.message
    return "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"


def finish_job(job_id: str, status: str, error: str | None = None, *,
               rows: int | None = None, rows_failed: int | None = None,
               parts: int | None = None, result: dict[str, Any] | None = None,
               ws: Workspace | None = None) -> Job:
    """Close a job as ``succeeded`` or ``failed``, with its final counts when given, and
    ``result``: what it decided (a JSON object)."""
    if status not in STATUSES[1:]:
        raise InvalidInputError(f"a job finishes as succeeded or failed, not {status!r}")
    ws = current(ws)
    job = get_job(job_id, ws=ws)
    now = time.time()
    counts = {k: v for k, v in (("rows", rows), ("rows_failed", rows_failed), ("parts", parts))
              if v is not None}
    ws.store.jobs.finish_job(job.id, status, error, now, now - job.started, counts, result)
    return get_job(job.id, ws=ws)


def get_job(job_id: str, ws: Workspace | None = None) -> Job:
    """A job by its id, or by a unique prefix of it (what ``jobs list`` prints)."""
    ws = current(ws)
    if not job_id or not all(c in "0123456789abcdef" for c in job_id):
        raise InvalidInputError(f"invalid job id {job_id!r} — ids are hexadecimal, as printed "
                                "by: modelport jobs list")
    rows = ws.store.jobs.find_jobs(job_id, limit=2)
    if not rows:
        raise NotFoundError(f"job {job_id!r} not found — list jobs with: modelport jobs list")
    if len(rows) > 1:
        raise InvalidInputError(f"job id prefix {job_id!r} is ambiguous — give more characters")
    return _job(rows[0])


def close_published(job_id: str, ws: Workspace | None = None) -> Job | None:
    """Close, as succeeded with its output's counts, the row of a job whose process died
    after publishing the output; None if the job is not in that state."""
    ws = current(ws)
    row = ws.store.jobs.get_job(job_id)
    if row is None or row["status"] != "running":
        return None
    seen = _job(row)
    if seen.status != "succeeded":
        return None
    return finish_job(job_id, "succeeded", rows=seen.rows, rows_failed=seen.rows_failed,
                      parts=seen.parts, ws=ws)


def list_jobs(limit: int = 20, status: str | None = None, kind: str | None = None,
              model: str | None = None, ws: Workspace | None = None) -> list[Job]:
    """The newest jobs first, optionally only those with a status, kind or model."""
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"unknown job status {status!r} — one of {', '.join(STATUSES)}")
    return [_job(r) for r in current(ws).store.jobs.list_jobs(limit, status, kind, model)]


def _job(record: JobRecord) -> Job:
    job = Job(**record)
    return _published(job) if job.status == "running" else job


def _published(job: Job) -> Job:
    """``job`` as its output tells it, when its process died after publishing it and
    before closing the row: succeeded, with the manifest's counts — not ``interrupted``
    with the last progress update's. The job's next run closes the row itself."""
    try:
        manifest = json.loads((Path(job.output) / MANIFEST).read_text())
        if manifest.get("job") != job.id or job.state != "interrupted":
            return job
        finished = float(manifest["finished"])
        return replace(job, status="succeeded", rows=int(manifest["rows"]),
                       rows_failed=int(manifest["failed"]), parts=int(manifest["parts"]),
                       ended=finished, duration=finished - job.started)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return job
