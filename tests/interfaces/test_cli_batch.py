"""``modelport batch``, ``jobs`` and ``forecast`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import cli, cli_json, invoke
from modelport.core.workspace import Workspace
from stderr_lines import error_lines


def _modelport(env_ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELPORT_HOME": str(env_ws.settings.home),
           "MODELPORT_DB_URL": env_ws.settings.db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


@pytest.fixture
def scored_input(env_ws: Workspace, tmp_path: Path) -> Path:
    """iris registered as a model, and its rows (with an id) as a Parquet file."""
    from modelport.lifecycle.train import train

    train("sklearn:iris", "target", "logistic_regression", name="iris", ws=env_ws)
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame.drop(columns=["target"])
    frame.insert(0, "flower", [f"f{i}" for i in range(len(frame))])
    frame.to_parquet(tmp_path / "iris.parquet", row_group_size=40)
    return tmp_path / "iris.parquet"


def test_batch_predict_and_jobs(env_ws: Workspace, scored_input: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores"
    report = cli_json("batch", "predict", "iris", "--input", str(scored_input),
                      "--output", str(out), "--keep", "flower", "--batch-size", "50",
                      "--workers", "1")
    assert report["rows"] == 150 and report["failed"] == 0 and report["model"] == "iris:1"
    result = pd.read_parquet(out)
    assert list(result.columns) == ["flower", "prediction", "proba_0", "proba_1", "proba_2"]
    assert sorted(result.flower) == sorted(f"f{i}" for i in range(150))
    assert (result.prediction == 0).sum() == 50  # setosa is separable

    text = cli("batch", "predict", "iris", "-i", str(scored_input), "-o", str(out),
               "--overwrite", "--format", "csv", "--no-proba")
    assert "150 rows predicted with iris:1" in text and str(out) in text
    assert [p.suffix for p in out.iterdir() if p.name.startswith("part-")] == [".csv"]

    listed = cli_json("jobs", "list")
    assert [j["status"] for j in listed] == ["succeeded", "succeeded"]
    assert listed[0]["options"]["format"] == "csv"
    table = cli("jobs", "list")
    assert "iris:1" in table and "succeeded" in table
    shown = cli("jobs", "show", listed[1]["id"][:10])
    assert shown.startswith(f"job {listed[1]['id']}\n")  # the id on a line of its own
    assert "input digest" in shown and listed[1]["input_digest"] in shown
    assert cli_json("jobs", "show", listed[1]["id"])["rows"] == 150


@pytest.mark.storage_independent
def test_batch_errors_are_one_line(env_ws: Workspace, scored_input: Path,
                                   tmp_path: Path) -> None:
    pd.read_parquet(scored_input).drop(columns=["petal width (cm)"]).to_csv(
        tmp_path / "partial.csv", index=False)
    result = _modelport(env_ws, "batch", "predict", "iris", "-i", str(tmp_path / "partial.csv"),
                        "-o", str(tmp_path / "out"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = error_lines(result.stderr)
    assert line.startswith("error:") and "lacks column 'petal width (cm)'" in line

    frame = pd.read_parquet(scored_input)
    frame.loc[7, "sepal length (cm)"] = np.inf  # a trained model imputes NaN; inf is refused
    frame.to_parquet(tmp_path / "holes.parquet")
    result = _modelport(env_ws, "batch", "predict", "iris", "-i", str(tmp_path / "holes.parquet"),
                        "-o", str(tmp_path / "out"))
    [line] = error_lines(result.stderr)
    assert result.returncode == 1
    assert "row 8: column 'sepal length (cm)' has an infinite value" in line
    assert "--on-error skip or quarantine" in line
    assert not (tmp_path / "out").exists()
    [failed] = cli_json("jobs", "list", "--status", "failed")
    assert "infinite value" in failed["error"]


@pytest.mark.storage_independent
def test_forecast_train_and_predict(env_ws: Workspace, tmp_path: Path) -> None:
    pytest.importorskip("statsforecast", reason="the forecast extra is not installed")
    trained = cli_json("forecast", "train", "--data", "statsforecast:air_passengers",
                       "--name", "air", "--horizon", "12", "--id-col", "unique_id",
                       "--models", "AutoETS,SeasonalNaive")
    assert trained["version"] == "air:1" and trained["series"] == 1
    shown = cli("forecast", "predict", "air", "--horizon", "3")
    assert "lo_95" in shown and "1961-01-31" in shown and "warning" not in shown
    out = tmp_path / "air.csv"
    text = cli("forecast", "predict", "air:1", "--output", str(out), "--levels", "50,99")
    assert "wrote 12 forecasts (1 series)" in text
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["unique_id", "ds", "forecast", "lo_50", "hi_50", "lo_99",
                                   "hi_99", "model"]
    assert (frame.hi_99 - frame.lo_99 > frame.hi_50 - frame.lo_50).all()
    newest, first = cli_json("jobs", "list", "--kind", "forecast")
    assert (newest["status"], newest["rows"], first["rows"]) == ("succeeded", 12, 3)
    past = invoke("forecast", "predict", "air", "--horizon", "14", "--limit", "14")
    assert past.exit_code == 0 and "1962-02-28" in past.stdout  # forecast all the same
    assert past.stderr == ("warning: forecasting 14 steps ahead, but air:1 was chosen and its "
                           "error measured by cross-validation over 12: steps 13-14 are untested "
                           "extrapolation, their intervals unchecked — for a tested forecast, "
                           "train with --horizon 14\n")

    pd.DataFrame({"ds": ["2020-01-01", "2020-01-02", "2020-01-05"], "y": [1, 2, 3]}).to_csv(
        tmp_path / "gappy.csv", index=False)
    result = _modelport(env_ws, "forecast", "train", "--data", str(tmp_path / "gappy.csv"),
                        "--name", "gappy", "--horizon", "1", "--freq", "D")
    *_progress, line = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "series 'series' is irregular: after 2020-01-02 comes 2020-01-05" in line
