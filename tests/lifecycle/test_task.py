"""The task is decided once, on the whole target: an explicit task, else the metric, else
what the target looks like. A count target (few distinct integers) asked for its rmse is a
regression in every search, split and retrain of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.lifecycle.automl import automl
from modelport.lifecycle.datasets import Dataset, digest_frame
from modelport.lifecycle.train import decide_task, train
from modelport.lifecycle.tuning_data import prepare

pytestmark = pytest.mark.storage_independent


def counts(n: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    y = np.clip(np.round(3 + 2 * x[:, 0] + x[:, 1]), 0, 8).astype(int)  # 9 distinct counts
    frame = pd.DataFrame(x, columns=["a", "b", "c"]).assign(visits=y)
    return frame


def data() -> Dataset:
    frame = counts()
    return Dataset("counts", frame, digest_frame(frame))


def test_decide_task() -> None:
    y = counts()["visits"]
    assert decide_task(y) == "classification"  # few integers: classes, as before
    for metric in ("rmse", "mae", "r2"):
        assert decide_task(y, metric) == "regression"
    assert decide_task(y, "accuracy") == decide_task(y, "roc_auc") == "classification"
    assert decide_task(y, task="regression") == "regression"
    assert decide_task(y, "rmse", "regression") == "regression"
    with pytest.raises(InvalidInputError, match="'rmse' is a regression metric, but the task"):
        decide_task(y, "rmse", "classification")
    with pytest.raises(InvalidInputError, match="unknown task 'clustering'"):
        decide_task(y, task="clustering")


def test_a_regression_metric_makes_a_count_target_a_regression() -> None:
    split = prepare(data(), "visits", None, "rmse", 0.2, 0, 3)
    assert split.task == "regression" and split.metric == "rmse"
    split = prepare(data(), "visits", "ridge", "mae", 0.2, 0, 3)
    assert split.task == "regression"
    assert prepare(data(), "visits", None, None, 0.2, 0, 3, task="regression").metric == "r2"


def test_train_and_automl_take_an_explicit_task(ws: Workspace) -> None:
    result = train(data(), "visits", "ridge", task="regression", cv=2, ws=ws)
    assert result.task == "regression" and "test_rmse" in result.metrics
    with pytest.raises(InvalidInputError, match="does regression, but the task is classif"):
        train(data(), "visits", "sklearn.linear_model.Ridge", task="classification", ws=ws)
    found = automl(data(), "visits", 4, metric="rmse", families=["linear"], cv=2, ws=ws)
    assert found.task == "regression" and found.metric == "rmse"
