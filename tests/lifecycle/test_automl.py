from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.automl import FAMILIES, automl, make_estimator
from modelport.lifecycle.datasets import Dataset, digest_frame, load_dataset
from modelport.lifecycle.loading import load
from modelport.lifecycle.preprocessing import Features
from modelport.lifecycle.registry import get_version
from modelport.lifecycle.search import search_runs

pytest.importorskip("optuna")


BUDGET = 10  # seconds: every family's defaults and then a search, even on half a machine


def test_automl_keeps_the_budget_and_registers_the_best(ws: Workspace) -> None:
    started = time.perf_counter()
    # the search is measured here (every family within BUDGET s, on a core shared with
    # another test worker); importing the ONNX converters
    # takes 1-3 s of a budget, kept under contention in test_automl_budget.py
    result = automl("sklearn:breast_cancer", "target", budget=BUDGET, name="cancer", cv=3,
                    onnx=False, ws=ws)
    wall = time.perf_counter() - started
    assert wall <= BUDGET * 1.1 and result.elapsed <= wall
    assert result.task == "classification" and result.metric == "accuracy"
    tried = {c.family for c in result.leaderboard}
    assert tried == set(FAMILIES)  # every family's defaults, cheapest first
    assert len(result.leaderboard) > len(FAMILIES)  # then a search
    scores = [c.score for c in result.leaderboard]
    assert scores == sorted(scores, reverse=True) and result.best == result.leaderboard[0]
    assert result.best.score > 0.93 and result.test_metrics["test_accuracy"] > 0.9

    runs = search_runs(experiment="cancer", ws=ws).runs
    trials = [r for r in runs if "trial" in r.tags]
    assert len(trials) >= len(result.leaderboard)
    assert {r.tags["family"] for r in trials} >= tried and trials[0].tags["study"] == "cancer"

    version = result.version
    assert version is not None and version.aliases == ["challenger"]
    assert version.tags["family"] == result.best.family
    recipe = json.loads(version.tags["recipe"])
    assert recipe["kind"] == "automl" and recipe["budget"] == BUDGET
    assert recipe["target"] == "target"
    frame = load_dataset("sklearn:breast_cancer").frame
    predictor = load("cancer@challenger", ws=ws)
    assert (predictor.predict(frame) == frame["target"]).mean() > 0.9


@pytest.mark.storage_independent
def test_missing_values_reach_every_family(ws: Workspace) -> None:
    frame = load_dataset("sklearn:diabetes").frame
    rng = np.random.default_rng(0)
    frame = frame.mask(rng.random(frame.shape) < 0.05).dropna(subset=["target"])
    data = Dataset("holes", frame, digest_frame(frame))
    # every family must finish a trial: 3 s left three of four without one on a busy CI machine
    result = automl(data, "target", budget=8, metric="rmse",
                    families=["linear", "knn", "lightgbm", "random_forest"], promote=True,
                    name="holes", cv=3, ws=ws)
    # linear and k-NN impute (they were left out before imputing pipelines could be stored)
    assert {c.family for c in result.leaderboard} == {"linear", "knn", "lightgbm",
                                                      "random_forest"}
    assert result.task == "regression" and result.best.score > 0
    scores = [c.score for c in result.leaderboard]
    assert scores == sorted(scores)  # rmse: smaller is better
    assert result.version is not None and result.version.aliases == ["champion"]
    predicted = load("holes", ws=ws).predict(frame.drop(columns=["target"]))
    assert np.isfinite(predicted).all()


def test_make_estimator_scales_where_needed() -> None:
    linear = make_estimator("linear", "regression", {}, 0)
    assert [name for name, _ in linear.steps] == ["simpleimputer", "standardscaler", "ridge"]
    mixed = make_estimator("linear", "regression", {}, 0,
                           features=Features(categorical=(0,), cardinality=(3,),
                                             width=3))
    columns = mixed.steps[0][1]
    assert [(name, cols) for name, _, cols in columns.transformers] == [
        ("numeric", [1, 2]), ("categories", [0])]
    numeric = columns.transformers[0][1]
    assert [name for name, _ in numeric.steps] == ["simpleimputer", "standardscaler"]
    knn = make_estimator("knn", "classification", {"n_neighbors": 3}, 0)
    assert [name for name, _ in knn.steps] == ["simpleimputer", "standardscaler",
                                               "kneighborsclassifier"]
    booster = make_estimator("lightgbm", "classification", {}, 0)
    assert type(booster).__name__ == "LGBMClassifier" and booster.n_jobs == 1


def _inline(frame: pd.DataFrame) -> Dataset:
    return Dataset("inline", frame, digest_frame(frame))


@pytest.mark.storage_independent
@pytest.mark.parametrize("data, kwargs, message", [
    ("sklearn:iris", {"budget": 0}, "budget must be a positive number"),
    ("sklearn:iris", {"budget": -5}, "budget must be a positive number"),
    ("sklearn:iris", {"budget": float("nan")}, "budget must be a positive number"),
    ("sklearn:iris", {"families": ["neural_magic"]}, "unknown model family 'neural_magic'"),
    ("sklearn:iris", {"target": "label"}, "target column 'label' not in the dataset"),
    ("sklearn:iris", {"metric": "r2", "task": "classification"},
     "'r2' is a regression metric, but the task is classification"),
    ("one-class", {}, "single class"),
    ("empty", {}, "empty"),
    ("missing-target", {}, "missing values"),
])
def test_bad_input_is_a_clear_error_and_registers_nothing(ws: Workspace,
                                                          data: str, kwargs: dict,
                                                          message: str) -> None:
    frames = {"one-class": pd.DataFrame({"x": [1.0, 2.0, 3.0], "target": [1, 1, 1]}),
              "empty": pd.DataFrame({"x": [], "target": []}),
              "missing-target": pd.DataFrame({"x": [1.0, 2.0, 3.0], "target": [0, None, 1]})}
    source: str | Dataset = _inline(frames[data]) if data in frames else data
    args = {"target": "target", "budget": 2, **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        automl(source, args.pop("target"), args.pop("budget"), name="bad", ws=ws, **args)
    with pytest.raises(NotFoundError):
        get_version("bad", ws=ws)


@pytest.mark.storage_independent
def test_large_data_is_searched_on_samples_then_rescored(ws: Workspace,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from modelport.lifecycle import automl as module

    # breast_cancer's 455 training rows play "large data": folds fit on 150-row samples
    monkeypatch.setattr(module, "SAMPLE_ABOVE", 300)
    monkeypatch.setattr(module, "SAMPLE_ROWS", 150)
    result = automl("sklearn:breast_cancer", "target", budget=3, families=["linear", "knn"],
                    cv=3, ws=ws)
    defaults = [c for c in result.leaderboard if not c.params]
    assert defaults and all(not c.sampled and c.rows > 150 for c in defaults)
    # the best sampled candidates were re-scored on all rows before the winner was picked
    assert not result.best.sampled
    assert all(c.rows == 150 for c in result.leaderboard if c.sampled)
