"""``modelport tune``, ``studies``, ``automl`` and ``retrain`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_runner import cli, cli_json
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.interfaces.cli.tune import parse_duration
from stderr_lines import error_lines

pytest.importorskip("optuna")
@pytest.mark.storage_independent
def test_tune_studies_automl_retrain(env_ws: Workspace, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("n_neighbors: {type: int, low: 1, high: 20}\nweights: [uniform, distance]\n")
    tuned = cli_json("tune", "--data", "sklearn:wine", "--target", "target", "--model", "knn",
                     "--space", str(space), "--trials", "4", "--cv", "3", "--name", "wine",
                     "--promote")
    assert tuned["version"] == "wine:1" and tuned["aliases"] == ["champion"]
    assert tuned["counts"]["trials"] == 4 and set(tuned["best_params"]) == {"n_neighbors",
                                                                             "weights"}
    shown = cli("tune", "--data", "sklearn:diabetes", "--target", "target", "--model", "ridge",
                "--trials", "3", "--cv", "3", "--objectives", "score,size", "--study", "mo")
    assert "Pareto front" in shown and "best trial" in shown

    studies = cli_json("studies", "list")
    assert {s["name"] for s in studies} == {"wine", "mo"}
    assert "wine" in cli("studies", "list")
    report = cli_json("studies", "show", "wine")
    assert report["summary"]["trials"] == 4 and report["plot_digest"]
    shown = cli("studies", "show", "wine")
    assert f"\nbest run {report['best_run_id']}\n" in shown  # ids on a line of their own
    assert (f"get it with: modelport runs artifacts {report['best_run_id']} "
            "study/history.html\n") in shown
    assert "parameter importances" in cli("studies", "show", "wine", "--no-plot")

    found = cli_json("automl", "--data", "sklearn:iris", "--target", "target", "--budget", "2s",
                     "--families", "linear,knn", "--cv", "3", "--name", "iris")
    # the budget itself is checked in test_automl; here a second for a busy machine
    assert found["version"] == "iris:1" and found["elapsed"] <= 2 * 1.1 + 1
    assert found["leaderboard"][0]["family"] in ("linear", "knn")
    table = cli("automl", "--data", "sklearn:iris", "--target", "target", "--budget", "1",
                "--families", "knn", "--cv", "3")
    assert "leaderboard" in table and "held-out test" in table

    decision = cli_json("retrain", "wine", "--data", "sklearn:wine", "--margin", "0.01")
    assert decision["champion"] == "wine:1" and decision["challenger"] == "wine:2"
    assert "champion" in cli("retrain", "wine", "--data", "sklearn:wine", "--margin", "1")


@pytest.mark.storage_independent
def test_automl_ensemble_on_text_columns_then_retrain_every(env_ws: Workspace,
                                                            tmp_path: Path) -> None:
    from frames import mixed_frame

    data = tmp_path / "mixed.csv"
    mixed_frame().to_csv(data, index=False)
    # both families within 3 s: importing the ONNX converters would take a fifth of it
    found = cli_json("automl", "--data", str(data), "--target", "target", "--budget", "8s",
                     "--families", "linear,lightgbm", "--cv", "3", "--ensemble", "2",
                     "--name", "mixed", "--promote", "--no-onnx")
    voted = found["ensemble"]
    assert voted["families"] in (["linear", "lightgbm"], ["lightgbm", "linear"])
    assert voted["registered"] == (voted["ensemble_test_accuracy"] > voted["best_test_accuracy"])
    assert "ensemble of" in cli("automl", "--data", str(data), "--target", "target",
                                "--budget", "2s", "--families", "linear,knn", "--cv", "3",
                                "--ensemble", "2")

    started = time.perf_counter()
    out = cli("retrain", "mixed", "--data", str(data), "--every", "1s", "--times", "2",
              "--json")
    assert time.perf_counter() - started >= 1  # one real wait, between the two retrains
    decoder, docs, at = json.JSONDecoder(), [], 0
    while out[at:].strip():
        at += len(out[at:]) - len(out[at:].lstrip())
        doc, at = decoder.raw_decode(out, at)
        docs.append(doc)
    assert [d["challenger"] for d in docs] == ["mixed:2", "mixed:3"]
    assert all(d["holdout_rows"] == 114 for d in docs)


def _modelport(env_ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELPORT_HOME": str(env_ws.settings.home),
           "MODELPORT_DB_URL": env_ws.settings.db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


@pytest.mark.parametrize("backend", ["sqlite"])  # the error path is storage-independent
@pytest.mark.parametrize("args, message", [
    (["tune", "--data", "sklearn:iris", "--target", "target", "--model", "knn", "--trials",
      "0"], "--trials must be positive"),
    (["tune", "--data", "sklearn:iris", "--target", "target", "--model", "knn", "--space",
      "nowhere.yaml"], "search space file 'nowhere.yaml' not found"),
    (["automl", "--data", "sklearn:iris", "--target", "target", "--budget", "0s"],
     "the budget must be positive"),
    (["retrain", "ghost", "--data", "sklearn:iris"], "model 'ghost' not found"),
    (["retrain", "ghost", "--data", "sklearn:iris", "--times", "2"],
     "--times counts the retrains of --every"),
    (["studies", "show", "ghost"], "study 'ghost' not found"),
])
def test_errors_are_one_line(env_ws: Workspace, args: list[str], message: str) -> None:
    result = _modelport(env_ws, *args)
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr


@pytest.mark.parametrize("text, seconds", [("90", 90), ("90s", 90), ("2m", 120), ("1.5h", 5400),
                                           ("1d", 86400)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-1s", "0", "5 minutes"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_duration(text)
