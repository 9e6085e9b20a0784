"""Training: fit an estimator on a dataset, measure it honestly, track and register it.

The task (classification or regression) comes from the target unless the
estimator says; a stratified held-out split gives the test metrics and k-fold
cross-validation on the training part gives their spread. Everything lands in
one run, and with a name the model is registered from that run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, first_line
from modelport.lifecycle.datasets import DataSource, as_dataset, choose_columns
from modelport.lifecycle.estimators import build, final_step, task_of
from modelport.lifecycle.loading import add_onnx_copy
from modelport.lifecycle.preprocessing import Features, encode
from modelport.lifecycle.registry import ModelVersion, Stored, log_model, register_run
from modelport.lifecycle.tracking import start_run

MAX_CLASSES = 50  # integer targets with more distinct values than this are regression
NUMBERS = "iuf"  # the dtype kinds of a target that may be a quantity
SCORING = {
    "classification": {"accuracy": "accuracy", "f1_macro": "f1_macro"},
    "regression": {"r2": "r2", "rmse": "neg_root_mean_squared_error",
                   "mae": "neg_mean_absolute_error"},
}


@dataclass
class TrainResult:
    run_id: str
    task: str
    estimator: str
    metrics: dict[str, float]
    duration: float
    version: ModelVersion | None
    # the model as its run stored it, for the ONNX export of a version registered later
    stored: Stored | None = field(default=None, repr=False, compare=False)


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["max_depth=5", "criterion=gini"]`` → ``{"max_depth": 5, "criterion": "gini"}``.

    Values are read as JSON (numbers, true/false/null, lists), then Python's
    True/False/None, else kept as text.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key.strip():
            raise InvalidInputError(f"invalid parameter {item!r} — write it as key=value")
        raw = raw.strip()
        try:
            value = json.loads(raw)
        except ValueError:
            value = {"True": True, "False": False, "None": None}.get(raw, raw)
        params[key.strip()] = value
    return params


TASKS = ("classification", "regression")


def metric_task(metric: str | None) -> str | None:
    """The task a metric belongs to (rmse, mae and r2 are regression's), if it names one."""
    if metric == "roc_auc":
        return "classification"
    return next((task for task in TASKS if metric in SCORING[task]), None)


def decide_task(y: Any, metric: str | None = None, task: str | None = None) -> str:
    """The task, decided once on the whole target: ``task`` if given, else the metric's,
    else what the target's values look like (``detect_task``).

    A count target (integers) with few distinct values looks like classes; asked for
    its rmse it is a regression — in every split, fold and retrain of it alike.
    """
    by_metric = metric_task(metric)
    if task is None:
        return by_metric or detect_task(y)
    if task not in TASKS:
        raise InvalidInputError(f"unknown task {task!r} — use classification or regression")
    if by_metric not in (None, task):
        raise InvalidInputError(f"metric {metric!r} is a {by_metric} metric, but the task "
                                f"is {task}")
    return task


def detect_task(y: Any) -> str:
    """Classification for text, bool, category or few distinct integers; else regression."""
    import pandas as pd

    kind = y.dtype.kind if not isinstance(y.dtype, pd.CategoricalDtype) else "O"
    if kind in "OSUb":
        return "classification"
    values = y.to_numpy(dtype=np.float64)
    if kind in "iu" or np.all(np.mod(values, 1) == 0):
        return "classification" if y.nunique() <= MAX_CLASSES else "regression"
    return "regression"


def _estimator(name: str, task: str, params: Mapping[str, Any], seed: int,
               features: Features | None = None, explicit: bool = False,
               rows: int | None = None) -> tuple[Any, str]:
    est = build(name, task, params, seed, features, rows=rows)
    declared = task_of(est)  # an import path declares its own task
    if explicit and declared not in (None, task):
        raise InvalidInputError(f"estimator {name!r} does {declared}, but the task is {task}")
    return est, declared or task


def check_target(frame: Any, target: str, task: str) -> None:
    if target not in frame.columns:
        raise InvalidInputError(
            f"target column {target!r} not in the dataset — columns are: "
            f"{', '.join(map(str, frame.columns[:20]))}")
    y = frame[target]
    if y.isna().any():
        raise InvalidInputError(f"target column {target!r} has {int(y.isna().sum())} missing "
                                "values — drop or fill them first")
    if len(frame.columns) < 2:
        raise InvalidInputError("the dataset has no feature columns besides the target")
    if task == "classification" and y.nunique() < 2:
        raise InvalidInputError(f"target column {target!r} has a single class — a classifier "
                                "needs at least two")
    _not_an_identifier(y, target, task)


def _not_an_identifier(y: Any, target: str, task: str) -> None:
    """Refuse a target that names rows rather than describing them (an id, a row number).

    As classes, most of them would be seen once: nothing to learn, a test accuracy of 0
    and a warning per class. Counted once on the whole target, as identifier features are.
    """
    distinct, rows = int(y.nunique()), len(y)
    if task == "classification" and distinct > max(MAX_CLASSES, rows // 2):
        quantity = ", or give --task regression if it is a quantity" \
            if y.dtype.kind in NUMBERS else ""
        raise InvalidInputError(
            f"target column {target!r} has {distinct:,} distinct values in {rows:,} rows — an "
            f"identifier, not classes to learn; predict another column{quantity}")
    if y.dtype.kind in "iu" and distinct == rows > MAX_CLASSES and \
            int(y.max()) - int(y.min()) == rows - 1:
        raise InvalidInputError(
            f"target column {target!r} numbers the rows ({int(y.min())} to {int(y.max())}, each "
            "once) — an identifier, not a quantity to learn; predict another column")


def train(data: DataSource, target: str, model: str, params: Mapping[str, Any] | None = None,
          name: str | None = None, *, experiment: str = "default", test_size: float = 0.2,
          cv: int = 5, seed: int = 0, run_name: str | None = None, task: str | None = None,
          drop: Sequence[str] | None = None, features: Sequence[str] | None = None,
          progress: Callable[[str], None] | None = None, onnx: bool = True,
          ws: Workspace | None = None) -> TrainResult:
    """Train ``model`` on ``data`` to predict ``target``; register as ``name`` if given.

    ``task`` (classification or regression) overrides what the target looks like;
    ``drop`` or ``features`` choose the columns (``datasets.choose_columns``).
    A registered version gets its parity-checked ONNX copy when the model converts
    (``loading.add_onnx_copy``) unless ``onnx=False``."""
    from sklearn.model_selection import cross_validate, train_test_split

    ws = current(ws)
    say = progress or (lambda _msg: None)
    dataset = choose_columns(as_dataset(data), target, drop=drop, features=features)
    frame = dataset.frame
    if target not in frame.columns:
        check_target(frame, target, "regression")
    raw, y = frame.drop(columns=[target]), frame[target]
    # unusable features fail here, before any fitting; text columns become category codes
    X, signature = encode(raw)
    est, task = _estimator(model, decide_task(y, task=task), params or {}, seed,
                           Features.of(signature, X), explicit=task is not None,
                           rows=len(X))
    check_target(frame, target, task)
    if not 0 < test_size < 1:
        raise InvalidInputError("test_size must be between 0 and 1")

    stratify = y if task == "classification" and y.value_counts().min() >= 2 else None
    try:
        X_train, X_test, y_train, y_test, raw_train, raw_test = train_test_split(
            X, y, raw, test_size=test_size, random_state=seed, stratify=stratify)
    except ValueError as exc:  # too few rows for the held-out share
        raise InvalidInputError(f"cannot hold out {test_size:g} of {len(X)} rows: "
                                f"{first_line(exc)}") from None
    folds = min(cv, int(y_train.value_counts().min()) if task == "classification" else cv,
                len(X_train))
    scoring = dict(SCORING[task])
    if task == "classification" and y.nunique() == 2:
        scoring["roc_auc"] = "roc_auc"

    core = final_step(est)
    estimator_name = f"{type(core).__module__.split('.')[0]}.{type(core).__name__}"
    started = time.perf_counter()
    with start_run(name=run_name or f"{model}-{dataset.name}", experiment=experiment,
                   tags={"task": task, "estimator": estimator_name, "target": target},
                   ws=ws) as run:
        run.log_dataset(dataset)
        run.log_params(_loggable(core.get_params()) | {"estimator": estimator_name,
                                                       "scaled": _scaled(est),
                                                      "test_size": test_size, "cv": folds})
        metrics: dict[str, float] = {}
        try:
            if folds >= 2:
                say(f"cross-validating {estimator_name} ({folds} folds)")
                cv_scores = cross_validate(est, X_train, y_train, cv=folds,
                                           scoring=scoring, error_score="raise")
                for metric in scoring:
                    scores = _sign(metric, cv_scores[f"test_{metric}"])
                    for fold, score in enumerate(scores):
                        run.log_metric(f"cv_{metric}", float(score), step=fold)
                    metrics[f"cv_{metric}_mean"] = float(np.mean(scores))
                    metrics[f"cv_{metric}_std"] = float(np.std(scores))
            say(f"fitting {estimator_name} on {len(X_train)} rows")
            est.fit(X_train, y_train)
        except (ValueError, TypeError) as exc:
            first = first_line(exc)
            raise InvalidInputError(f"{estimator_name} could not be trained: {first}") from None
        metrics |= _holdout(est, X_test, y_test, scoring)
        run.log_metrics(metrics, step=0)
        run.log_metric("train_seconds", time.perf_counter() - started, step=0)
        say("storing the model")
        stored = log_model(run, est, raw_train, sample=raw_test, inputs=signature.inputs)
    version = register_run(name, run.id, ws=ws) if name else None
    if version is not None and onnx:
        say(f"checking an ONNX copy of {version.ref}")
        version = add_onnx_copy(version.ref, ws=ws, stored=stored)
    return TrainResult(run.id, task, estimator_name, metrics, time.perf_counter() - started,
                       version, stored)


def _scaled(est: Any) -> bool:
    return any(type(step).__name__ == "StandardScaler" for _, step in getattr(est, "steps", ()))


def _sign(metric: str, scores: np.ndarray) -> np.ndarray:
    # scikit-learn negates error metrics so that greater is better; we report them as errors
    return -scores if SCORING["regression"].get(metric, "").startswith("neg_") else scores


def _holdout(est: Any, X: Any, y: Any, scoring: Mapping[str, str]) -> dict[str, float]:
    from sklearn.metrics import get_scorer

    out = {}
    for metric, scorer in scoring.items():
        try:
            score = get_scorer(scorer)(est, X, y)
            out[f"test_{metric}"] = float(_sign(metric, np.array([score]))[0])
        except (ValueError, AttributeError):  # e.g. roc_auc on a model without scores
            continue
    return out


def _loggable(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items()
            if v is None or isinstance(v, str | int | float | bool)}


