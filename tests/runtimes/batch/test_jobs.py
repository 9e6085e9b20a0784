"""The jobs table: created running, updated as parts commit, closed with an outcome."""

from __future__ import annotations

import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtimes.batch.jobs import (
    create_job,
    failure,
    finish_job,
    get_job,
    list_jobs,
    restart_job,
    update_progress,
)


def test_job_lifecycle_and_listing(ws: Workspace) -> None:
    first = create_job("predict", "iris", 2, "in/*.csv", "out", {"batch_size": 10}, "ab" * 32,
                       ws=ws)
    second = create_job("forecast", "sales", 1, "series.csv", "f.parquet", {}, ws=ws)
    assert get_job(first.id, ws=ws).state == "running"  # this very process
    assert get_job(first.id, ws=ws).to_dict()["state"] == "running"
    update_progress(first.id, rows=100, rows_failed=2, parts=3, ws=ws)
    job = get_job(first.id[:8], ws=ws)
    assert (job.rows, job.rows_failed, job.parts, job.ref) == (100, 2, 3, "iris:2")
    done = finish_job(first.id, "failed", error="boom", rows=120, ws=ws)
    assert (done.status, done.error, done.rows, done.parts) == ("failed", "boom", 120, 3)
    assert done.ended is not None and done.duration is not None and done.duration >= 0
    again = restart_job(first.id, ws=ws)
    assert (again.status, again.error, again.options["resumed"]) == ("running", None, 1)
    finish_job(first.id, "succeeded", ws=ws)

    assert [j.id for j in list_jobs(ws=ws)] == [second.id, first.id]
    assert [j.id for j in list_jobs(kind="predict", ws=ws)] == [first.id]
    assert [j.id for j in list_jobs(status="running", ws=ws)] == [second.id]
    assert [j.id for j in list_jobs(model="sales", ws=ws)] == [second.id]
    assert len(list_jobs(limit=1, ws=ws)) == 1


def test_bad_job_lookups(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="job 'abc' not found — list jobs with"):
        get_job("abc", ws=ws)
    with pytest.raises(InvalidInputError, match="invalid job id"):
        get_job("x'; drop table jobs", ws=ws)
    with pytest.raises(InvalidInputError, match="unknown job kind 'train'"):
        create_job("train", "m", 1, "i", "o", {}, ws=ws)
    with pytest.raises(InvalidInputError, match="unknown job status 'done'"):
        list_jobs(status="done", ws=ws)
    job = create_job("predict", "m", 1, "i", "o", {}, ws=ws)
    with pytest.raises(InvalidInputError, match="finishes as succeeded or failed"):
        finish_job(job.id, "running", ws=ws)
    ids = [job.id] + [create_job("predict", "m", 1, "i", "o", {}, ws=ws).id for _ in range(20)]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(InvalidInputError, match=f"job id prefix '{shared}' is ambiguous"):
        get_job(shared, ws=ws)


def test_a_job_that_decides_closes_with_its_result(ws: Workspace) -> None:
    job = create_job("monitor", "iris", 1, "prediction logs of iris, last 24 h", "-",
                     {"target": "iris"}, ws=ws)
    done = finish_job(job.id, "succeeded", rows=600, ws=ws,
                      result={"action": "none", "drifted": [], "run_id": "r1"})
    assert (done.kind, done.rows, done.result) == ("monitor", 600,
                                                   {"action": "none", "drifted": [],
                                                    "run_id": "r1"})
    assert done.to_dict()["result"] == done.result
    assert create_job("predict", "iris", 1, "i", "o", {}, ws=ws).result is None


def test_a_failure_is_recorded_as_the_message_a_user_reads() -> None:
    assert failure(NotFoundError("no logged traffic for iris:1")) == \
        "no logged traffic for iris:1"
    assert failure(KeyboardInterrupt()) == "interrupted"
    assert failure(OSError("disk full")) == "OSError: disk full"
