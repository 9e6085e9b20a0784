"""``modelport predict`` on rows with missing values: an answer from a model that imputes,
one line naming the column from one that cannot — never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelport.core.workspace import Workspace
from modelport.lifecycle.datasets import load_dataset
from modelport.lifecycle.registry import register_model
from modelport.lifecycle.train import train

pytestmark = pytest.mark.storage_independent


def _modelport(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MODELPORT_HOME": str(ws.settings.home),
           "MODELPORT_DB_URL": ws.settings.db_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_predict_a_row_with_a_missing_value(env_ws: Workspace, tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    register_model("bare", LogisticRegression(max_iter=500).fit(X, y), X=X, ws=env_ws)
    train("sklearn:iris", "target", "logistic_regression", name="trained", cv=2, ws=env_ws)
    rows = X.head(3).copy()
    rows.iloc[1, 3] = np.nan
    rows.to_csv(tmp_path / "rows.csv", index=False)

    refused = _modelport(env_ws, "predict", "bare", "--input", str(tmp_path / "rows.csv"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: column 'petal width (cm)' has a missing value (null or NaN) in row 1 — this "
        "model cannot take missing values: fill it before sending"]
    answered = _modelport(env_ws, "predict", "trained", "--input", str(tmp_path / "rows.csv"))
    assert answered.returncode == 0, answered.stderr
    assert "trained:1" in answered.stdout
