"""A newcomer's second machine: log in, serve the model the first machine trained, predict
in batch — metadata and artifacts through a team server on PostgreSQL, digests checked."""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from servers import free_port, start_server, stop_server
from team_server import modelport, start, stop

pytestmark = pytest.mark.storage_independent  # the server's database is PostgreSQL itself


def test_machine_b_logs_in_and_serves_what_machine_a_trained(tmp_path: Path,
                                                            pg_schema: str) -> None:
    port = free_port()
    proc, lines = start(tmp_path / "server", port, env={"MODELPORT_DB_URL": pg_schema})
    url, key = f"http://127.0.0.1:{port}", next(ln for ln in lines if ln.startswith("mp_"))
    try:
        a = {"MODELPORT_HOME": str(tmp_path / "a"), "MODELPORT_URL": url, "MODELPORT_TOKEN": key}
        trained = modelport("train", "--data", "sklearn:iris", "--target", "target", "--model",
                            "logistic_regression", "--name", "iris", "--no-onnx", env=a)
        assert "registered iris:1" in trained.stdout, trained.stderr
        assert modelport("models", "alias", "iris", "champion", "1", env=a).returncode == 0
        assert not (tmp_path / "a" / "artifacts").exists()  # the model went to the server

        b = {"MODELPORT_HOME": str(tmp_path / "b"), "XDG_CONFIG_HOME": str(tmp_path / "b-cfg")}
        wrong = modelport("login", url, "--token", "mp_x_forged", env=b)
        assert (wrong.returncode, wrong.stderr.strip()) == (
            1, "error: unknown or revoked API key")
        assert not (tmp_path / "b-cfg" / "modelport" / "login.json").exists()
        logged = modelport("login", url, "--token", key, env=b)
        assert logged.returncode == 0 and f"logged in to {url}" in logged.stdout, logged.stderr
        saved = tmp_path / "b-cfg" / "modelport" / "login.json"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        iris = load_iris(as_frame=True).frame
        features = iris.drop(columns="target")
        served = start_server(tmp_path / "b", "iris@champion", env=b)
        try:
            answer = httpx.post(f"{served.url}/invocations", timeout=30,
                                headers={"Authorization": f"Bearer {key}"},
                                json={"dataframe_split": {"columns": list(features.columns),
                                                          "data": features.values.tolist()}})
            assert answer.status_code == 200, answer.text
            predicted = answer.json()["predictions"]
        finally:
            stop_server(served)
        assert (pd.Series(predicted) == iris["target"]).mean() > 0.9
        assert "serving iris:1" in served.log.read_text()

        features.to_csv(tmp_path / "iris.csv", index=False)
        batch = modelport("batch", "predict", "iris@champion", "--input",
                          str(tmp_path / "iris.csv"), "--output", str(tmp_path / "out"),
                          "--format", "csv", env=b)
        assert batch.returncode == 0, batch.stderr
        with httpx.Client(base_url=f"{url}/api/v1",
                          headers={"Authorization": f"Bearer {key}"}) as api:
            [job] = api.get("/jobs").json()
            digest = api.get("/models/iris/versions/1").json()["artifact_digest"]
        assert (job["model"], job["version"], job["status"], job["rows"]) == (
            "iris", 1, "succeeded", 150)
        outputs = pd.concat(pd.read_csv(p) for p in sorted((tmp_path / "out").glob("*.csv")))
        assert outputs["prediction"].tolist() == predicted
        assert not list((tmp_path / "b").rglob("sha256"))  # nothing stored on machine B

        blob = tmp_path / "server" / "artifacts" / "sha256" / digest[:2] / digest[2:]
        blob.write_bytes(blob.read_bytes()[:-1] + b"!")  # altered at rest on the server
        refused = modelport("batch", "predict", "iris@champion", "--input",
                            str(tmp_path / "iris.csv"), "--output", str(tmp_path / "out2"),
                            "--format", "csv", env=b)
        assert refused.returncode == 1 and "does not match its recorded digest" in \
            refused.stderr and "Traceback" not in refused.stderr
    finally:
        stop(proc)
