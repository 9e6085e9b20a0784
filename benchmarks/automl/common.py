"""Data and splits every system of the AutoML benchmark uses — NumPy and scikit-learn only,
so it imports the same way in modelport's venv and in FLAML's."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

DATASETS = {  # name -> (task, metric)
    "breast_cancer": ("classification", "accuracy"),
    "wine": ("classification", "accuracy"),
    "digits": ("classification", "accuracy"),
    "iris": ("classification", "accuracy"),
    "diabetes": ("regression", "r2"),
}
TEST_SIZE = 0.25
FOLDS = 5
SEED = 0


def load(name: str) -> tuple[Any, Any, Any, Any, str, str]:
    """The training part (index reset, as modelport does) and the test part of a data set."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    task, metric = DATASETS[name]
    X, y = frame.drop(columns=["target"]), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED,
        stratify=y if task == "classification" else None)
    return (X_train.reset_index(drop=True), X_test, y_train.reset_index(drop=True), y_test,
            task, metric)


def splitter(task: str) -> Any:
    """The same CV folds for every system: modelport builds exactly this one internally."""
    from sklearn.model_selection import KFold, StratifiedKFold

    cls = StratifiedKFold if task == "classification" else KFold
    return cls(FOLDS, shuffle=True, random_state=SEED)


def score(metric: str, y_true: Any, y_pred: Any) -> float:
    from sklearn.metrics import accuracy_score, r2_score

    return float(accuracy_score(y_true, y_pred) if metric == "accuracy"
                 else r2_score(y_true, y_pred))


def main(fit: Any) -> None:
    """Worker entry point: ``python run_X.py DATASET BUDGET OUT.json``."""
    name, budget, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    X_train, X_test, y_train, y_test, task, metric = load(name)
    started = time.perf_counter()
    predict, detail = fit(X_train, y_train, task, metric, budget)
    wall = time.perf_counter() - started
    result = {"dataset": name, "budget": budget, "wall": wall, "metric": metric,
              "test_score": score(metric, y_test, predict(X_test)), **detail}
    with open(out, "w") as f:
        json.dump(result, f)
