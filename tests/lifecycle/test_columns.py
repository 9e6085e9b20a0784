"""Choosing the columns a model learns from: drop= / features= on train, tune, automl, retrain."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, SchemaError
from modelport.lifecycle.datasets import as_dataset, choose_columns
from modelport.lifecycle.registry import get_version
from modelport.lifecycle.train import train


def _customers(rows: int = 1200, seed: int = 0) -> pd.DataFrame:
    """A churn table whose first column is an id: too many distinct values to be a feature."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"customer_id": [f"C{i:06d}" for i in range(rows)],
                          "age": rng.integers(18, 80, rows),
                          "spend": rng.normal(100, 30, rows).round(2),
                          "plan": rng.choice(["basic", "pro"], rows)})
    frame["churn"] = (frame.spend < 90).astype(int)
    return frame


def test_choose_columns_keeps_the_choice_and_the_target() -> None:
    data = as_dataset(_customers(20))
    dropped = choose_columns(data, "churn", drop=["customer_id"])
    assert list(dropped.frame.columns) == ["age", "spend", "plan", "churn"]
    assert dropped.chosen == ["age", "spend", "plan"] and dropped.digest == data.digest
    kept = choose_columns(data, "churn", features=["spend", "age", "spend"])
    assert list(kept.frame.columns) == ["spend", "age", "churn"]
    assert choose_columns(data, "churn") is data and data.chosen is None


@pytest.mark.parametrize("drop, features, message", [
    (["customer_id"], ["age"], "not both"),
    (["custid"], None, "dropped column 'custid' is not in dataset 'dataframe' — its columns "
                       "are: customer_id, age, spend, plan, churn"),
    (None, ["age", "Age"], "feature column 'Age' is not in dataset"),
    (["churn"], None, "'churn' is the target"),
    (None, ["churn"], "'churn' is the target"),
    (["customer_id", "age", "spend", "plan"], None, "no feature column is left"),
])
def test_a_bad_choice_is_one_clear_error(drop: list[str] | None, features: list[str] | None,
                                         message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        choose_columns(as_dataset(_customers(20)), "churn", drop=drop, features=features)


def test_train_without_the_id_column_records_only_the_used_columns(ws: Workspace) -> None:
    frame = _customers()
    with pytest.raises(SchemaError, match=r"customer_id.*--drop customer_id"):
        train(frame, "churn", "logistic_regression", ws=ws)
    result = train(frame, "churn", "logistic_regression", name="churn", drop=["customer_id"],
                   ws=ws)
    version = get_version("churn:1", ws=ws)
    assert [c.name for c in version.signature.inputs] == ["age", "spend", "plan"]
    assert result.metrics["test_accuracy"] > 0.9
    train(frame, "churn", "logistic_regression", name="churn", features=["spend"], ws=ws)
    assert [c.name for c in get_version("churn:2", ws=ws).signature.inputs] == ["spend"]


@pytest.mark.storage_independent
def test_retrain_repeats_the_recipes_choice_on_new_data(ws: Workspace, backend: str) -> None:
    pytest.importorskip("optuna")
    from modelport.lifecycle.automl import automl
    from modelport.lifecycle.retrain import retrain
    from modelport.lifecycle.tune import tune

    tuned = tune(_customers(), "churn", "knn", trials=2, cv=3, name="churn", promote=True,
                 features=["age", "spend"], space={"n_neighbors": {"type": "int", "low": 3,
                                                                   "high": 9}}, ws=ws)
    assert tuned.recipe["features"] == ["age", "spend"]
    assert json.loads(get_version("churn@champion", ws=ws).tags["recipe"])["features"] == [
        "age", "spend"]
    # the new rows carry the id column too: the recipe's choice leaves it out again
    decision = retrain("churn", _customers(seed=1), ws=ws)
    challenger = get_version(decision.challenger, ws=ws)
    assert [c.name for c in challenger.signature.inputs] == ["age", "spend"]
    assert json.loads(challenger.tags["recipe"])["features"] == ["age", "spend"]
    with pytest.raises(InvalidInputError, match="dropped column 'region' is not in dataset"):
        retrain("churn", _customers(seed=2), drop=["region"], ws=ws)

    found = automl(_customers(), "churn", budget=3, families=["linear"], cv=3, name="auto",
                   drop=["customer_id", "plan"], ws=ws)
    assert found.recipe["features"] == ["age", "spend"]
    assert [c.name for c in get_version("auto:1", ws=ws).signature.inputs] == ["age", "spend"]
