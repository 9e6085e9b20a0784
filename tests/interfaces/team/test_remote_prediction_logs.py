"""Prediction logs on a workspace of a team server: the job is recorded on the server,
naming the machine and directory that hold its log; the Parquet files stay on that
machine (the server's artifacts are blobs by digest, with no hour partitions to list),
and ``monitor`` there reads them against the profile it pulls from the server; a recorded
check is a job on the server, with its decision, and a run holding the reports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.control.monitor_loop import record
from modelport.core.workspace import Workspace
from modelport.lifecycle.monitoring import monitor
from modelport.lifecycle.predlogs import logs_root, read_window
from modelport.lifecycle.registry import register_model
from modelport.runtimes.batch import predict_job
from team_server import team_server

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself


def test_a_remote_batch_job_logs_on_its_machine_and_says_so(tmp_path: Path,
                                                             pg_schema: str) -> None:
    with team_server(Settings(home=tmp_path / "server", db_url=pg_schema)) as (url, key):
        ws = Workspace.open(Settings(home=tmp_path / "client", db_url=url, artifacts_url=url,
                                     token=key))
        X, y = load_iris(return_X_y=True, as_frame=True)
        register_model("iris", LogisticRegression(max_iter=500).fit(X, y), X=X, ws=ws)
        X.to_csv(tmp_path / "in.csv", index=False)
        report = predict_job("iris", str(tmp_path / "in.csv"), str(tmp_path / "out"),
                             workers=1, log_sample=1.0, ws=ws)
        assert logs_root(ws) == tmp_path / "client" / "predictions"
        assert read_window(logs_root(ws), "iris", 1, 0).rows == 150
        job = ws.store.jobs.get_job(report.job.id)  # as the server keeps it
        assert job is not None and job["status"] == "succeeded"
        assert job["options"]["prediction_log"] == \
            f"{socket.gethostname()}:{(tmp_path / 'client' / 'predictions').resolve()}"
        [drift] = monitor("iris", since_s=3600, ws=ws)
        assert drift["rows"] == 150 and set(drift["features"]) == set(X.columns)
        _, checked = record("iris", since_s=3600, ws=ws)
        [kept] = ws.store.jobs.list_jobs(10, None, "monitor", None)  # GET /api/v1/jobs
        assert (kept["id"], kept["status"], kept["rows"]) == (checked.job_id, "succeeded", 150)
        assert kept.get("result") == {k: v for k, v in checked.to_dict().items()
                                      if k != "job_id"}
        assert ws.store.runs.get_runs([checked.run_id])[0].experiment == "monitor"
        ws.store.close()  # type: ignore[attr-defined]
        ws.artifacts.close()  # type: ignore[attr-defined]
    assert not list((tmp_path / "client").rglob("sha256"))  # the model came from the server
