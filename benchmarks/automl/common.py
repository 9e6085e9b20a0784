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
    # breast_cancer with two text columns (one carries signal) and 8 % holes in ten numeric
    # columns and the text: what real tables look like, generated so nothing is downloaded
    "cancer_mixed": ("classification", "accuracy"),
}
TEST_SIZE = 0.25
FOLDS = 5
SEED = 0


def load(name: str) -> tuple[Any, Any, Any, Any, str, str]:
    """The training part (index reset, as modelport does) and the test part of a data set."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    if name == "cancer_mixed":
        frame = mixed()
    else:
        frame = getattr(datasets, f"load_{name}")(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    task, metric = DATASETS[name]
    X, y = frame.drop(columns=["target"]), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SEED,
        stratify=y if task == "classification" else None)
    return (X_train.reset_index(drop=True), X_test, y_train.reset_index(drop=True), y_test,
            task, metric)


def mixed() -> Any:
    """breast_cancer plus ``grade`` (text that tracks the target 70/30), ``site`` (noise)
    and missing values. Text columns are pandas categories: FLAML, LightGBM and
    modelport all take those as they are."""
    import numpy as np
    from sklearn import datasets

    frame = datasets.load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(SEED)
    benign = frame["target"].to_numpy() == 1
    grade = np.where(benign, rng.choice(["low", "mid", "high"], len(frame), p=[0.6, 0.3, 0.1]),
                     rng.choice(["low", "mid", "high"], len(frame), p=[0.1, 0.3, 0.6]))
    frame.insert(0, "grade", grade)
    frame.insert(1, "site", rng.choice(["north", "south", "east", "west"], len(frame)))
    holes = ["grade", *frame.columns[2:12]]
    for column in holes:
        frame.loc[rng.random(len(frame)) < 0.08, column] = None
    return frame.astype({"grade": "category", "site": "category"})


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
