"""--drop and --features on train, tune, automl and retrain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.interfaces.cli.main import app

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def churn_csv(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(1200)],
                          "age": rng.integers(18, 80, 1200),
                          "spend": rng.normal(100, 30, 1200).round(2)})
    frame["churn"] = (frame.spend < 90).astype(int)
    frame.to_csv(tmp_path / "churn.csv", index=False)
    return str(tmp_path / "churn.csv")


@pytest.mark.storage_independent
def test_train_drop_and_features(env_ws: Workspace, backend: str, churn_csv: str) -> None:
    base = ["train", "--data", churn_csv, "--target", "churn", "--model", "logistic_regression",
            "--name", "churn", "--json"]
    out = runner.invoke(app, [*base, "--drop", "customer_id"], catch_exceptions=False)
    assert json.loads(out.output)["version"] == "churn:1"
    out = runner.invoke(app, [*base, "--features", " spend ,"], catch_exceptions=False)
    assert json.loads(out.output)["version"] == "churn:2"
    inputs = [[c["name"] for c in json.loads(runner.invoke(
        app, ["models", "show", f"churn:{v}", "--json"]).output)["signature"]["inputs"]]
        for v in (1, 2)]
    assert inputs == [["age", "spend"], ["spend"]]


@pytest.mark.storage_independent
@pytest.mark.parametrize("command", [
    ["train", "--model", "knn"], ["tune", "--model", "knn"], ["automl"]])
@pytest.mark.parametrize("flags, message", [
    (["--drop", "customer_id", "--features", "age"], "--drop and --features exclude each other"),
    (["--drop", " , "], "--drop names no column"),
    (["--features", "age,region"], "feature column 'region' is not in dataset"),
])
def test_bad_column_choices_are_refused(env_ws: Workspace, backend: str, churn_csv: str,
                                        command: list[str], flags: list[str],
                                        message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        runner.invoke(app, [*command, "--data", churn_csv, "--target", "churn", *flags],
                      catch_exceptions=False)


@pytest.mark.storage_independent
def test_retrain_takes_the_flags(env_ws: Workspace, backend: str, churn_csv: str) -> None:
    with pytest.raises(InvalidInputError, match="--drop and --features exclude each other"):
        runner.invoke(app, ["retrain", "churn", "--data", churn_csv, "--drop", "a",
                            "--features", "b"], catch_exceptions=False)
