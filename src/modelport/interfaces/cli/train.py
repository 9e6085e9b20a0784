"""``modelport train``: fit, evaluate, track and (with --name) register a model."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelport.interfaces.cli.columns import Columns, DropOpt, FeaturesOpt, chosen
from modelport.interfaces.cli.progress import steps
from modelport.interfaces.cli.render import OnnxFlag, console, emit_json, onnx_line, table


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    data: Annotated[str, typer.Option(help="CSV/Parquet path or bundled set, e.g. sklearn:iris")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    model: Annotated[str, typer.Option(
        help="Estimator: short name (random_forest, logistic_regression, lightgbm, …) or "
             "import path (sklearn.svm.SVC)")],
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Estimator parameter key=value (repeatable).")] = None,
    name: Annotated[str | None, typer.Option(help="Register the model under this name.")] = None,
    experiment: Annotated[str, typer.Option(help="Experiment the run belongs to.")] = "default",
    test_size: Annotated[float, typer.Option(help="Held-out share of rows.")] = 0.2,
    cv: Annotated[int, typer.Option(help="Cross-validation folds on the training part.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed for the split and the estimator.")] = 0,
    task: Annotated[str | None, typer.Option(
        help="classification or regression (default: what the target looks like: text, "
             "bools and up to 50 distinct integers are classes).")] = None,
    online: Annotated[bool, typer.Option(
        help="An online (River) model, learnt row by row: --model is a pipeline such as "
             "'preprocessing.StandardScaler | linear_model.LogisticRegression' or a preset "
             "(logistic_regression, linear_regression, pa_classifier, hoeffding_tree).")
                      ] = False,
    onnx: OnnxFlag = True,
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Train an estimator on a dataset and record the run."""
    from modelport.lifecycle.train import parse_params
    from modelport.lifecycle.train import train as _train

    columns = chosen(drop, features)
    if online:
        _train_online(data, target, model, parse_params(param or []), name, experiment, columns,
                      as_json)
        return
    with steps("loading the data", quiet=as_json) as say:
        result = _train(data, target, model, parse_params(param or []), name,
                        experiment=experiment, test_size=test_size, cv=cv, seed=seed,
                        task=task, **columns, progress=say, onnx=onnx)
    _show(result, result.estimator, f"{result.estimator} ({result.task})", as_json)
    if result.version and onnx and not as_json:
        onnx_line(result.version)


def _train_online(data: str, target: str, model: str, params: dict[str, Any], name: str | None,
                  experiment: str, columns: Columns, as_json: bool) -> None:
    from modelport.lifecycle.online import train_online

    with steps("loading the data", quiet=as_json) as say:
        result = train_online(data, target, model, params, name, experiment=experiment,
                              **columns, progress=say)
    _show(result, result.recipe, f"{result.recipe} ({result.task}, progressive validation)",
          as_json)


def _show(result: Any, estimator: str, title: str, as_json: bool) -> None:
    if as_json:
        emit_json({"run_id": result.run_id, "task": result.task, "estimator": estimator,
                   "metrics": result.metrics,
                   "version": result.version.ref if result.version else None,
                   "onnx": result.version.onnx if result.version else None})
        return
    # the id on a line of its own: inside a table title it wraps and cannot be copied whole
    console.print(f"run {result.run_id}", soft_wrap=True)
    table(title, ["metric", "value"], sorted(result.metrics.items()))
    if result.version:
        console.print(f"registered [bold]{result.version.ref}[/bold]")
    else:
        console.print(f"register it with: modelport models register NAME --run {result.run_id}",
                      soft_wrap=True)
