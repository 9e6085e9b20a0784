"""Online models: build a River pipeline from a short recipe, teach it a table
row by row, measure it the online way, and register it.

>>> modelport.train_online("sklearn:breast_cancer", "target",
...                        "preprocessing.StandardScaler | linear_model.LogisticRegression",
...                        name="cancer-online")                        # doctest: +SKIP

The score is *progressive validation*: each row is predicted before it is
learnt, so every row is test data once — the metric a stream will report
later, and honest without a held-out split. The registered version is an
ordinary model version (format ``river``): it serves over HTTP, scores batch
files, and keeps learning in ``modelport stream run --learn``.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from modelport.core.formats import get_format
from modelport.core.signature import Signature
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, first_line, require
from modelport.lifecycle.datasets import DataSource, as_dataset, choose_columns
from modelport.lifecycle.online_score import OnlineScore
from modelport.lifecycle.registry import ModelVersion, register_artifact, takes_missing
from modelport.lifecycle.tracking import start_run
from modelport.lifecycle.train import check_target, detect_task

PRESETS = {
    "logistic_regression": "preprocessing.StandardScaler | linear_model.LogisticRegression",
    "linear_regression": "preprocessing.StandardScaler | linear_model.LinearRegression",
    "pa_classifier": "preprocessing.StandardScaler | linear_model.PAClassifier",
    "hoeffding_tree": "tree.HoeffdingTreeClassifier",
}
LOG_POINTS = 20  # metric history points per training pass


@dataclass
class OnlineResult:
    run_id: str
    task: str
    recipe: str
    metrics: dict[str, float]
    duration: float
    version: ModelVersion | None


def build_online(recipe: str, params: Mapping[str, Any] | None = None) -> Any:
    """A fresh River model from ``"module.Class(arg=1) | module.Class"`` or a preset name.

    Only names inside River and literal arguments are accepted (parsed, never
    evaluated), so a recipe from a command line or a registry tag cannot run code.
    ``params`` go to the last step.
    """
    require("river", "stream")
    text = PRESETS.get(recipe, recipe)
    steps = [s.strip() for s in text.split("|")]
    if not all(steps):
        raise InvalidInputError(f"invalid online model {recipe!r} — write steps like "
                                "'preprocessing.StandardScaler | linear_model.LogisticRegression'"
                                f" or use a preset: {', '.join(PRESETS)}")
    built = [_step(s, recipe) for s in steps]
    if params:
        try:
            built[-1] = built[-1].clone(dict(params))
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{type(built[-1]).__name__}: {first_line(exc)}") from None
    model = built[0]
    for step in built[1:]:
        model = model | step
    return model


def _step(text: str, recipe: str) -> Any:
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        raise InvalidInputError(f"cannot read {text!r} in online model {recipe!r}") from None
    return _value(node, text)


def _value(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Call):
        factory = _river_attr(node.func, text)
        args = [_value(a, text) for a in node.args]
        kwargs = {k.arg: _value(k.value, text) for k in node.keywords if k.arg}
        try:
            return factory(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"{text}: {first_line(exc)}") from None
    if isinstance(node, ast.Name | ast.Attribute):
        return _river_attr(node, text)()
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise InvalidInputError(f"{text}: only River classes and literal values are allowed"
                                ) from None


def _river_attr(node: ast.AST, text: str) -> Any:
    import importlib

    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.insert(0, node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or not parts:
        raise InvalidInputError(f"{text}: name a River class as module.Class, e.g. "
                                "linear_model.LogisticRegression")
    parts.insert(0, node.id)
    if parts[0] == "river":
        parts.pop(0)
    try:
        obj: Any = importlib.import_module("river." + parts[0])
        for part in parts[1:]:
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        raise InvalidInputError(f"River has no {'.'.join(parts)!r}") from None
    if not isinstance(obj, type):
        raise InvalidInputError(f"{'.'.join(parts)} is not a River class")
    return obj


def task_of_online(model: Any) -> str:
    from river import base

    last = list(model.steps.values())[-1] if hasattr(model, "steps") else model
    if isinstance(last, base.Classifier):
        return "classification"
    if isinstance(last, base.Regressor):
        return "regression"
    raise InvalidInputError(f"{type(model).__name__} neither classifies nor regresses — "
                            "end the pipeline with a classifier or a regressor")


def train_online(data: DataSource, target: str, recipe: str,
                 params: Mapping[str, Any] | None = None, name: str | None = None, *,
                 experiment: str = "default", drop: Sequence[str] | None = None,
                 features: Sequence[str] | None = None,
                 progress: Callable[[str], None] | None = None,
                 ws: Workspace | None = None) -> OnlineResult:
    """Teach a River model ``data`` row by row in order; register it as ``name`` if given.

    ``drop`` or ``features`` choose the columns (``datasets.choose_columns``)."""
    ws = current(ws)
    say = progress or (lambda _msg: None)
    dataset = choose_columns(as_dataset(data), target, drop=drop, features=features)
    frame = dataset.frame
    model = build_online(recipe, params)
    task = task_of_online(model)
    check_target(frame, target, task)
    if task == "classification" and detect_task(frame[target]) == "regression":
        raise InvalidInputError(f"target column {target!r} looks continuous, but "
                                f"{recipe!r} is a classifier")
    X, y = frame.drop(columns=[target]), frame[target]
    classes = sorted(y.unique().tolist()) if task == "classification" else None
    signature = Signature.infer(
        X, classes=classes,
        prediction_dtype=np.asarray(classes).dtype.name if classes else "float64")
    predictor = get_format("river").predictor(model, signature)
    matrix = signature.to_matrix(X)
    labels = y.tolist()

    started = time.perf_counter()
    with start_run(name=f"online-{dataset.name}", experiment=experiment,
                   tags={"task": task, "estimator": recipe, "target": target, "online": "true"},
                   ws=ws) as run:
        run.log_dataset(dataset)
        run.log_params({"recipe": recipe, **{f"param.{k}": v for k, v in (params or {}).items()}})
        say(f"learning {len(labels)} rows one at a time")
        metrics = _progressive(predictor, matrix, labels, task, run)
        run.log_metrics(metrics, step=len(labels))
        run.log_metric("train_seconds", time.perf_counter() - started, step=0)
    version = None
    if name:
        data_bytes = get_format("river").dump(model)
        example = X.head(5).to_dict(orient="records")
        # whether it answers a missing value, as learnt: River's linear models would
        # answer NaN with a NaN score (a made-up label); then the signature refuses it
        signature = replace(signature, takes_missing=takes_missing(predictor, matrix))
        version = register_artifact(
            name, "river", data_bytes, signature, example=example, sample=matrix[:100],
            metrics=metrics, run_id=run.id, dataset_digest=dataset.digest,
            tags={"recipe": recipe, "online": "true"}, ws=ws)
    return OnlineResult(run.id, task, recipe, metrics, time.perf_counter() - started, version)


def _progressive(predictor: Any, matrix: np.ndarray, labels: list[Any], task: str,
                 run: Any) -> dict[str, float]:
    score = OnlineScore(task)
    every = max(1, len(labels) // LOG_POINTS)
    model, rows = predictor.model, predictor.rows(matrix)
    for i, (row, label) in enumerate(zip(rows, labels, strict=True), 1):
        score.update(label, model.predict_one(row))
        predictor.learn_one(row, label)
        if i % every == 0:
            run.log_metrics(score.values(), step=i)
    return score.values()
