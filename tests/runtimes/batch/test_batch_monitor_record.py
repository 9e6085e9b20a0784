"""``modelport monitor --record``: a report kept as a run of experiment ``monitor``, with
its JSON and HTML as artifacts (what the dashboard's Monitoring page reads)."""

from __future__ import annotations

import json
from pathlib import Path

from _batchdata import frame

from cli_runner import cli
from modelport.core.workspace import Workspace
from modelport.lifecycle.search import search_runs
from modelport.runtimes.batch import predict_job


def test_a_recorded_report_is_a_run_with_its_json_and_html(
        env_ws: Workspace, model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    df = frame(2000, seed=5)
    df["a"] += 5.0  # one feature moved
    df.to_csv(tmp_path / "in.csv", index=False)
    predict_job("clf", str(tmp_path / "in.csv"), str(tmp_path / "out"), log_sample=1.0,
                workers=1, ws=env_ws)
    assert "recorded as run" in cli("monitor", "clf", "--since", "1h", "--record")
    [run] = search_runs("tags.kind = 'monitor'", ws=env_ws).runs
    assert (run.experiment, run.tags["target"], run.tags["action"]) == ("monitor", "clf",
                                                                      "report")
    reports = json.loads(env_ws.artifacts.get(run.artifacts["monitor/report.json"]))
    assert reports[0]["features"]["a"]["status"] == "drift"
    assert "clf:1 a" in json.loads(run.tags["drifted"])
    assert run.metrics["drifted_columns"] == len(json.loads(run.tags["drifted"]))
    html = env_ws.artifacts.get(run.artifacts["monitor/report.html"]).decode()
    assert html.startswith("<!doctype html>") or "<html" in html
