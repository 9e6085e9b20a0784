"""Jobs' contract with the store: one record per prediction, forecast or monitoring job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, Protocol, TypedDict


class JobRecord(TypedDict):
    id: str
    kind: str  # predict | forecast | monitor
    model: str
    version: int
    status: str  # running | succeeded | failed
    input: str
    input_digest: str | None
    output: str
    options: dict[str, Any]
    rows: int
    rows_failed: int
    parts: int
    error: str | None
    started: float
    ended: float | None
    duration: float | None
    project: NotRequired[str]  # the store fills it in: ``default`` unless named
    result: NotRequired[dict[str, Any] | None]  # set as it finishes: what it decided


class JobsRepository(Protocol):
    """Jobs. Thread-safe; every method is one transaction. Updating a job that does
    not exist changes nothing (the caller read it first)."""

    def create_job(self, job: JobRecord) -> None: ...

    def get_job(self, job_id: str) -> JobRecord | None: ...

    def find_jobs(self, prefix: str, limit: int) -> list[JobRecord]:
        """Up to ``limit`` jobs whose id starts with ``prefix``, taken literally (a ``%``
        or ``_`` in it is no wildcard)."""
        ...

    def list_jobs(self, limit: int, status: str | None, kind: str | None, model: str | None
                  ) -> list[JobRecord]:
        """The newest first."""
        ...

    def restart_job(self, job_id: str, options: dict[str, Any]) -> None:
        """``running`` again, its outcome (error, end, result) cleared, with new options."""
        ...

    def set_progress(self, job_id: str, rows: int, rows_failed: int, parts: int) -> None: ...

    def finish_job(self, job_id: str, status: str, error: str | None, ended: float,
                   duration: float, counts: Mapping[str, int],
                   result: Mapping[str, Any] | None = None) -> None:
        """Close a job; ``counts`` may set its final rows, rows_failed and parts, and
        ``result`` what it found or decided (a JSON object)."""
        ...
