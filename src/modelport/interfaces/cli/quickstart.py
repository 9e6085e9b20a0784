"""``modelport quickstart``: the whole first loop on the embedded defaults.

Train two candidates on a bundled dataset, register both, crown the better
one ``champion``, prove its ONNX copy, load it back and predict. No server, no
account, no download.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from modelport.interfaces.cli.progress import steps
from modelport.interfaces.cli.render import console, onnx_line, table

DATASET, TARGET, NAME = "sklearn:breast_cancer", "target", "breast_cancer"
CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("logistic_regression", {}), ("random_forest", {"n_estimators": 100, "max_depth": 8}))
SELECT_BY = "cv_accuracy_mean"


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)


def quickstart(
    name: Annotated[str, typer.Option(help="Model name to register under.")] = NAME,
) -> None:
    """Train, register, promote, export and serve-test a model in one go."""
    from modelport.core.workspace import current
    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.loading import load
    from modelport.lifecycle.registry import set_alias
    from modelport.lifecycle.train import train

    started = time.perf_counter()
    ws = current()
    console.print(f"[bold]modelport quickstart[/bold] — metadata in {ws.settings.db_url}, "
                  f"artifacts in {ws.settings.artifacts_url}")
    results = []
    # one step per candidate, the library's own steps as its detail: each ✓ line says
    # what that step alone took
    with steps(f"loading {DATASET}") as say:
        dataset = load_dataset(DATASET)
        say(f"loading {DATASET}: {dataset.rows} rows, {len(dataset.frame.columns) - 1} "
            "features")
        for estimator, params in CANDIDATES:
            step = f"training {estimator}"
            say(step)
            result = train(dataset, TARGET, estimator, params, name, ws=ws,
                           progress=_within(say, step))
            assert result.version is not None
            results.append(result)
            say(f"{step}: registered {result.version.ref}")
        best = max(results, key=lambda r: r.metrics[SELECT_BY])
        assert best.version is not None
        set_alias(name, "champion", best.version.version, ws=ws)
    onnx_line(best.version)  # train registered it with its checked ONNX copy, if it converts

    table("candidates", ["version", "estimator", "cv accuracy", "test accuracy", "test roc_auc"],
          ([r.version.ref if r.version else "-", r.estimator, r.metrics[SELECT_BY],
            r.metrics.get("test_accuracy"), r.metrics.get("test_roc_auc")] for r in results))
    console.print(f"champion: [bold]{name}@champion[/bold] → {best.version.ref} "
                  f"({best.estimator})")

    predictor = load(f"{name}@champion", ws=ws)
    rows = dataset.frame.sample(5, random_state=int(time.time()) % 1000)
    outputs = predictor.predict_outputs(rows)
    table(f"predictions of {name}@champion on 5 rows", ["row", "actual", "predicted",
                                                         "probability"],
          ([int(i), int(actual), int(pred), float(proba.max())] for i, actual, pred, proba in
           zip(rows.index, rows[TARGET], outputs["prediction"], outputs["probabilities"],
               strict=True)))
    console.print(f"done in {time.perf_counter() - started:.1f} s. Try next:")
    for line in (f"modelport models versions {name}",
                 f"modelport models show {name}@champion",
                 "modelport runs list --order-by 'metrics.test_accuracy DESC'",
                 f"modelport predict {name}@champion --input {DATASET} --runtime onnx",
                 f"modelport train --data {DATASET} --target {TARGET} --model gradient_boosting "
                 f"--name {name}"):
        console.print(f"  {line}")


def _within(say: Callable[[str], None], step: str) -> Callable[[str], None]:
    """Report the library's steps as the detail of one of ours."""
    return lambda msg: say(f"{step}: {msg}")
