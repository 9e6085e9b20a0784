"""The jobs repository's contract, on every store implementation and database."""

from __future__ import annotations

from modelport.core.store import Store
from modelport.core.store.jobs import JobRecord


def job(job_id: str, started: float, **changes: object) -> JobRecord:
    record = JobRecord(id=job_id, kind="predict", model="iris", version=1, status="running",
                       input="in/*.csv", input_digest=None, output="out/",
                       options={"batch_size": 10}, rows=0, rows_failed=0, parts=0, error=None,
                       started=started, ended=None, duration=None, project="default",
                       result=None)
    record.update(changes)  # type: ignore[typeddict-item]
    return record


def test_a_job_runs_and_finishes(store: Store) -> None:
    jobs = store.jobs
    jobs.create_job(job("ab01", 1.0))
    jobs.set_progress("ab01", rows=100, rows_failed=2, parts=1)
    jobs.finish_job("ab01", "failed", "disk full", ended=5.0, duration=4.0, counts={})
    assert jobs.get_job("ab01") == job("ab01", 1.0, rows=100, rows_failed=2, parts=1,
                                       status="failed", error="disk full", ended=5.0,
                                       duration=4.0)
    jobs.restart_job("ab01", {"resumed": 1})
    jobs.finish_job("ab01", "succeeded", None, ended=9.0, duration=8.0,
                    counts={"rows": 300, "parts": 3})
    assert jobs.get_job("ab01") == job("ab01", 1.0, rows=300, rows_failed=2, parts=3,
                                       status="succeeded", ended=9.0, duration=8.0,
                                       options={"resumed": 1})
    assert jobs.get_job("cd") is None


def test_a_job_closes_with_its_result_and_a_restart_clears_it(store: Store) -> None:
    jobs = store.jobs
    jobs.create_job(job("ab01", 1.0, kind="monitor", output="-"))
    assert jobs.get_job("ab01")["result"] is None
    decided = {"action": "canary", "drifted": ["iris:1 petal length (cm)"],
               "champion_score": 0.61, "challenger_score": 0.93, "challenger": "iris:2",
               "run_id": "r1", "rollout_id": None}
    jobs.finish_job("ab01", "succeeded", None, ended=3.0, duration=2.0,
                    counts={"rows": 569}, result=decided)
    assert jobs.get_job("ab01") == job("ab01", 1.0, kind="monitor", output="-",
                                       status="succeeded", ended=3.0, duration=2.0, rows=569,
                                       result=decided)
    assert jobs.list_jobs(10, None, "monitor", None)[0]["result"] == decided
    jobs.restart_job("ab01", {})
    assert jobs.get_job("ab01")["result"] is None
    jobs.finish_job("ab01", "failed", "boom", ended=4.0, duration=3.0, counts={})
    assert jobs.get_job("ab01")["result"] is None


def test_jobs_are_found_by_prefix_and_listed_newest_first(store: Store) -> None:
    jobs = store.jobs
    jobs.create_job(job("ab01", 1.0))
    jobs.create_job(job("ab02", 2.0, kind="forecast", model="sales"))
    jobs.create_job(job("cd03", 3.0, status="succeeded"))
    assert sorted(j["id"] for j in jobs.find_jobs("ab", limit=2)) == ["ab01", "ab02"]
    assert [j["id"] for j in jobs.find_jobs("cd", limit=2)] == ["cd03"]
    assert jobs.find_jobs("ef", limit=2) == []
    assert [j["id"] for j in jobs.list_jobs(10, None, None, None)] == ["cd03", "ab02", "ab01"]
    assert [j["id"] for j in jobs.list_jobs(1, None, None, None)] == ["cd03"]
    assert [j["id"] for j in jobs.list_jobs(10, "running", None, None)] == ["ab02", "ab01"]
    assert [j["id"] for j in jobs.list_jobs(10, None, "forecast", "sales")] == ["ab02"]
    assert jobs.list_jobs(10, None, "forecast", "iris") == []


def test_a_like_wildcard_in_a_prefix_matches_nothing_more(store: Store) -> None:
    store.jobs.create_job(job("ab01", 1.0))
    assert store.jobs.find_jobs("a_", limit=2) == []
    assert store.jobs.find_jobs("%", limit=2) == []
