"""The data side of a search: checked features, the held-out split, CV folds, scores.

Tuning and AutoML split exactly as ``train`` does (same ``test_size``, seed
and stratification), so when ``train`` refits the winner its test metrics
come from rows the search never saw. Features are encoded once, before the
split (``preprocessing.encode``): every trial fits on category codes, and the
raw frames are kept for the registered model's example and parity sample.
Scores are signed as ``train`` reports them: errors (rmse, mae) are positive
and smaller is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.signature import ColumnSpec
from modelport.errors import InvalidInputError
from modelport.lifecycle.datasets import Dataset
from modelport.lifecycle.preprocessing import Features, encode
from modelport.lifecycle.train import SCORING, check_target, decide_task, metric_task

ERRORS = {"rmse", "mae"}


@dataclass
class Prepared:
    X: Any  # the training part, encoded (a float DataFrame); folds index into it
    y: Any
    X_test: Any  # encoded too
    y_test: Any
    task: str
    metric: str
    folds: list[tuple[np.ndarray, np.ndarray]]
    inputs: list[ColumnSpec]  # the signature's inputs, from all the rows
    features: Features
    raw_X: Any  # the training part as the user gave it
    raw_X_test: Any


def metrics_for(task: str, y: Any) -> dict[str, str]:
    """Metric name -> scikit-learn scorer for ``task`` (roc_auc for binary targets only)."""
    scoring = dict(SCORING[task])
    if task == "classification" and y.nunique() == 2:
        scoring["roc_auc"] = "roc_auc"
    return scoring


def greater_is_better(metric: str) -> bool:
    return metric not in ERRORS


def score_model(model: Any, X: Any, y: Any, metric: str) -> float:
    """``metric`` of a fitted model on (X, y), errors as positive numbers."""
    from sklearn.metrics import get_scorer

    scorer = {**SCORING["classification"], **SCORING["regression"], "roc_auc": "roc_auc"}[metric]
    score = float(get_scorer(scorer)(model, X, y))
    return -score if metric in ERRORS else score


def prepare(dataset: Dataset, target: str, estimator: str | None, metric: str | None,
            test_size: float, seed: int, cv: int, task: str | None = None) -> Prepared:
    """Check the data and split it. The task is decided once, on the whole target: by
    ``task``, else the metric, else an estimator given by import path, else the target's
    values (``train.decide_task``)."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    from modelport.lifecycle.estimators import build, task_of

    frame = dataset.frame
    if frame is None or len(frame) == 0:
        raise InvalidInputError(f"dataset {dataset.name!r} is empty")
    if target not in frame.columns:
        check_target(frame, target, "regression")
    raw, y = frame.drop(columns=[target]), frame[target]
    X, signature = encode(raw)  # unusable features fail here, before any search
    features = Features.of(signature, X)
    decided = decide_task(y, metric, task)
    declared = task_of(build(estimator, decided, {})) if estimator is not None else None
    if declared not in (None, decided) and (task or metric_task(metric)):
        raise InvalidInputError(f"estimator {estimator!r} does {declared}, but the "
                                f"{'task' if task else 'metric ' + repr(metric)} says {decided}")
    task = declared or decided
    check_target(frame, target, task)
    scoring = metrics_for(task, y)
    metric = metric or ("accuracy" if task == "classification" else "r2")
    if metric not in scoring:
        raise InvalidInputError(f"unknown metric {metric!r} for {task} — use one of "
                                f"{', '.join(scoring)}")
    if not 0 <= test_size < 1:
        raise InvalidInputError("test_size must be at least 0 and below 1")
    if cv < 2:
        raise InvalidInputError(f"cv must be at least 2, got {cv}")
    X_test = y_test = raw_test = None
    if test_size > 0:
        stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
        X, X_test, y, y_test, raw, raw_test = train_test_split(
            X, y, raw, test_size=test_size, random_state=seed, stratify=stratify)
    X, y, raw = X.reset_index(drop=True), y.reset_index(drop=True), raw.reset_index(drop=True)
    if task == "classification":
        folds_n = min(cv, int(y.value_counts().min()))
        splitter: Any = StratifiedKFold(max(folds_n, 2), shuffle=True, random_state=seed)
    else:
        folds_n = min(cv, len(y))
        splitter = KFold(max(folds_n, 2), shuffle=True, random_state=seed)
    if folds_n < 2:
        raise InvalidInputError(f"too few rows to cross-validate: the smallest class of "
                                f"{target!r} has {folds_n} row(s) in the training part")
    folds = list(splitter.split(X, y))
    return Prepared(X, y, X_test, y_test, task, metric, folds, signature.inputs, features, raw,
                    raw_test)
