"""--drop and --features on train, tune, automl and retrain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import cli_json, invoke
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError


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
            "--name", "churn"]
    assert cli_json(*base, "--drop", "customer_id")["version"] == "churn:1"
    assert cli_json(*base, "--features", " spend ,")["version"] == "churn:2"
    inputs = [[c["name"] for c in cli_json("models", "show", f"churn:{v}")["signature"]["inputs"]]
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
        invoke(*command, "--data", churn_csv, "--target", "churn", *flags)


@pytest.mark.storage_independent
def test_retrain_takes_the_flags(env_ws: Workspace, backend: str, churn_csv: str) -> None:
    with pytest.raises(InvalidInputError, match="--drop and --features exclude each other"):
        invoke("retrain", "churn", "--data", churn_csv, "--drop", "a", "--features", "b")
