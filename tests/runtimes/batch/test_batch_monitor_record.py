"""``modelport monitor --record``: a report kept as a run of experiment ``monitor``, with
its JSON and HTML as artifacts (what the dashboard's Monitoring page reads), and the check
as a job of kind ``monitor``."""

from __future__ import annotations

import json
from pathlib import Path

from _batchdata import frame

from cli_runner import cli
from modelport.core.workspace import Workspace
from modelport.lifecycle.search import search_runs
from modelport.runtimes.batch import predict_job
from modelport.runtimes.batch.jobs import list_jobs


def test_a_recorded_report_is_a_run_with_its_json_and_html(
        env_ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(2000, seed=5)
    df["a"] += 5.0  # one feature moved
    df.to_csv(tmp_path / "in.csv", index=False)
    predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), log_sample=1.0,
                workers=1, ws=env_ws)
    out = cli("monitor", "clf", "--since", "1h", "--record")
    [run] = search_runs("tags.kind = 'monitor'", ws=env_ws).runs
    [job] = list_jobs(kind="monitor", ws=env_ws)
    assert f"recorded as job {job.id} and run {run.id}" in out
    assert (job.status, job.model, job.version, job.rows) == ("succeeded", "clf", 1, 2000)
    assert job.result is not None and job.result["run_id"] == run.id
    assert (job.result["action"], job.result["drifted"]) == ("report",
                                                             json.loads(run.tags["drifted"]))
    drifted = len(job.result["drifted"])
    listed = cli("jobs", "list", "--kind", "monitor")
    assert job.id[:12] in listed and f"report ({drifted} drifted)" in listed
    shown = cli("jobs", "show", job.id[:8])
    assert "result" in shown and "clf:1 a" in shown and run.id in shown
    assert (run.experiment, run.tags["target"], run.tags["action"]) == ("monitor", "clf",
                                                                      "report")
    reports = json.loads(env_ws.artifacts.get(run.artifacts["monitor/report.json"]))
    assert reports[0]["features"]["a"]["status"] == "drift"
    assert "clf:1 a" in json.loads(run.tags["drifted"])
    assert run.metrics["drifted_columns"] == len(json.loads(run.tags["drifted"]))
    html = env_ws.artifacts.get(run.artifacts["monitor/report.html"]).decode()
    assert html.startswith("<!doctype html>") or "<html" in html
