"""``modelport tune``, ``studies list|show``, ``automl`` and ``retrain``: thin wrappers."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from modelport.errors import InvalidInputError
from modelport.interfaces.cli.columns import DropOpt, FeaturesOpt, chosen
from modelport.interfaces.cli.listing import nothing
from modelport.interfaces.cli.progress import steps
from modelport.interfaces.cli.render import (
    JsonFlag,
    OnnxFlag,
    console,
    emit_json,
    fields,
    onnx_line,
    table,
)

studies = typer.Typer(help="Tuning studies stored in the workspace.", no_args_is_help=True)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)
    app.command("automl")(automl)
    app.command("retrain")(retrain)
    app.add_typer(studies, name="studies")


def parse_duration(text: str, what: str = "duration") -> float:
    """``90``, ``90s``, ``2m``, ``1.5h``, ``1d`` → seconds (positive)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text or "")
    if not match:
        raise InvalidInputError(f"invalid {what} {text!r} — write e.g. 60, 60s, 5m or 1h")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise InvalidInputError(f"the {what} must be positive, got {text!r}")
    return seconds


def tune(
    data: Annotated[str, typer.Option(help="CSV/Parquet path or bundled set, e.g. sklearn:wine")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    model: Annotated[str, typer.Option(help="Estimator short name (random_forest, lightgbm, …)")],
    space: Annotated[str | None, typer.Option(
        help="Search space YAML/JSON file; default: the estimator's preset.")] = None,
    trials: Annotated[int | None, typer.Option(help="Total finished trials in the study.")] = 20,
    timeout: Annotated[float | None, typer.Option(
        help="Wall-clock limit in seconds for the whole command: the search stops in time "
             "to refit and register the best within it too.")] = None,
    metric: Annotated[str | None, typer.Option(
        help="accuracy, f1_macro, roc_auc, r2, rmse, mae (default accuracy / r2)")] = None,
    objectives: Annotated[str, typer.Option(
        help="Comma-separated: score[,latency][,size] — several give a Pareto front.")] = "score",
    sampler: Annotated[str, typer.Option(help="tpe, random, cmaes, gp or nsga2.")] = "tpe",
    name: Annotated[str | None, typer.Option(help="Register the best model as NAME.")] = None,
    study: Annotated[str | None, typer.Option(help="Study name (default: NAME).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes on this machine.")] = 1,
    cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    promote: Annotated[bool, typer.Option(help="Alias the best as champion.")] = False,
    prune: Annotated[bool, typer.Option(help="Prune poor trials fold by fold.")] = True,
    task: Annotated[str | None, typer.Option(
        help="classification or regression (default: the metric's, else the target's).")
                    ] = None,
    onnx: OnnxFlag = True,
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Tune an estimator's hyperparameters with Optuna; every trial is a run."""
    from modelport.lifecycle.tune import tune as _tune

    with steps("loading the data", quiet=as_json) as say:
        result = _tune(data, target, model, space=space, trials=trials, timeout=timeout,
                       metric=metric, objectives=[o.strip() for o in objectives.split(",")],
                       sampler=sampler, study=study, name=name, workers=workers, cv=cv,
                       seed=seed, promote=promote, prune=prune, task=task,
                       **chosen(drop, features), progress=say, onnx=onnx)
    out = {"study": result.study, "storage": result.storage, "metric": result.metric,
           "best_trial": result.best_trial, "best_values": result.best_values,
           "best_params": result.best_params, "pareto": result.pareto, "counts": result.counts,
           "seconds": result.seconds,
           "run_id": result.run_id,
           "version": result.version.ref if result.version else None,
           "aliases": result.version.aliases if result.version else [],
           "onnx": result.version.onnx if result.version else None}
    if as_json:
        emit_json(out)
        return
    counts = result.counts
    within = f" (--timeout {timeout:g} s, refit included)" if timeout is not None else ""
    console.print(f"study [bold]{result.study}[/bold] ({result.storage}): {counts['trials']} "
                  f"trials — {counts['complete']} complete, {counts['pruned']} pruned, "
                  f"{counts['failed']} failed — in {result.seconds:.1f} s{within}")
    objectives_shown = [result.metric, *objectives.split(",")[1:]]
    if len(result.best_values) > 1:
        table("Pareto front", ["trial", *objectives_shown, "params"],
              [[p["trial"], *p["values"], _params(p["params"])] for p in result.pareto])
    fields(f"best trial {result.best_trial}",
           [(result.metric, result.best_values[0]),
            *((k, str(v)) for k, v in result.best_params.items())])
    if result.version:
        console.print(f"run {result.run_id}", soft_wrap=True)
        console.print(f"registered [bold]{result.version.ref}[/bold] as "
                      f"{', '.join(result.version.aliases)}")
        if onnx:
            onnx_line(result.version)


def _params(params: dict[str, object]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())


@studies.command("list")
def studies_list(as_json: JsonFlag = False) -> None:
    """List the studies with their trial counts and best values."""
    from modelport.lifecycle.studies import list_studies

    found = list_studies()
    if as_json:
        emit_json([s.to_dict() for s in found])
        return
    if not found:
        return nothing("studies")
    table("studies", ["study", "storage", "directions", "trials", "complete", "pruned",
                      "failed", "best"],
          [[s.name, s.storage, ",".join(s.directions), s.trials, s.complete, s.pruned,
            s.failed, ", ".join(f"{v:.4g}" for v in s.best_values or [])] for s in found])


@studies.command("show")
def studies_show(
    name: Annotated[str, typer.Argument(help="Study name.")],
    plot: Annotated[bool, typer.Option(
        help="Save the optimization history (HTML) as an artifact of the best run.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Show a study: best trial, parameter importances, history plot."""
    from modelport.lifecycle.trials import study_report

    report = study_report(name, plot=plot)
    if as_json:
        emit_json(report.to_dict())
        return
    s = report.summary
    fields(f"study {s.name}", [
        ("storage", s.storage), ("directions", ", ".join(s.directions)),
        ("trials", f"{s.trials} ({s.complete} complete, {s.pruned} pruned, {s.failed} failed)"),
        ("best trial", str(report.best_trial)),
        ("best values", ", ".join(f"{v:.4g}" for v in s.best_values or [])),
        ("best params", _params(report.best_params))])
    if report.best_run_id:  # on its own line: inside a table it wraps and cannot be copied
        console.print(f"best run {report.best_run_id}", soft_wrap=True)
    if report.importances:
        table("parameter importances", ["param", "importance"],
              sorted(report.importances.items(), key=lambda kv: -kv[1]))
    if report.plot_digest:
        console.print("optimization history saved on the best run — get it with: modelport "
                      f"runs artifacts {report.best_run_id} study/history.html", soft_wrap=True)


def automl(
    data: Annotated[str, typer.Option(help="CSV/Parquet path or bundled set.")],
    target: Annotated[str, typer.Option(help="The column to predict.")],
    budget: Annotated[str, typer.Option(help="Wall-clock budget: 60, 60s, 5m, 1h.")] = "60s",
    metric: Annotated[str | None, typer.Option(help="Metric (default accuracy / r2).")] = None,
    name: Annotated[str | None, typer.Option(help="Register the best model as NAME.")] = None,
    families: Annotated[str | None, typer.Option(
        help="Comma-separated families: linear,knn,lightgbm,xgboost,random_forest,"
             "extra_trees (default all).")] = None,
    cv: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    promote: Annotated[bool, typer.Option(help="Alias the best as champion.")] = False,
    ensemble: Annotated[int, typer.Option(
        help="Also try a soft vote of the best model of the top K families; registered "
             "when it beats the single best on the held-out rows.")] = 1,
    task: Annotated[str | None, typer.Option(
        help="classification or regression (default: the metric's, else the target's).")
                    ] = None,
    onnx: OnnxFlag = True,
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Search model families within a time budget; register the best."""
    from modelport.lifecycle.automl import automl as _automl

    seconds = parse_duration(budget, "budget")
    with steps("loading the data", quiet=as_json) as say:
        result = _automl(data, target, seconds, metric=metric, name=name,
                         families=families.split(",") if families else None, cv=cv, seed=seed,
                         promote=promote, ensemble=ensemble, task=task,
                         **chosen(drop, features), progress=say, onnx=onnx)
    if as_json:
        emit_json({"study": result.study, "task": result.task, "metric": result.metric,
                   "budget": result.budget, "elapsed": result.elapsed,
                   "best": result.best.to_dict(), "test_metrics": result.test_metrics,
                   "leaderboard": [c.to_dict() for c in result.leaderboard],
                   "run_id": result.run_id, "ensemble": result.ensemble,
                   "version": result.version.ref if result.version else None,
                   "onnx": result.version.onnx if result.version else None})
        return
    table(f"leaderboard — {len(result.leaderboard)} candidates in {result.elapsed:.1f} s "
          f"(budget {result.budget:g} s)",
          ["#", "family", f"cv {result.metric}", "std", "seconds", "params"],
          [[i + 1, c.family, c.score, c.std, c.seconds, _params(c.params) or "(defaults)"]
           for i, c in enumerate(result.leaderboard[:15])])
    console.print(f"run {result.run_id}", soft_wrap=True)
    table("held-out test", ["metric", "value"], sorted(result.test_metrics.items()))
    if result.ensemble is not None:
        voted = result.ensemble
        scores = [f"{k}: {v:.4f}" for k, v in voted.items() if k.endswith(result.metric)]
        console.print(f"ensemble of {', '.join(voted['families'])}: "
                      f"{'registered' if voted['registered'] else 'not better, not registered'}"
                      f"{' (' + ', '.join(scores) + ')' if scores else ''}")
    if result.version:
        console.print(f"registered [bold]{result.version.ref}[/bold] as "
                      f"{', '.join(result.version.aliases)}")
        if onnx:
            onnx_line(result.version)


def retrain(
    name: Annotated[str, typer.Argument(help="Registered model whose champion to retrain.")],
    data: Annotated[str, typer.Option(help="The new data: CSV/Parquet path or bundled set.")],
    margin: Annotated[float, typer.Option(
        help="Promote only when the challenger beats the champion by more than this.")] = 0.0,
    holdout: Annotated[float, typer.Option(help="Share of the new data held out.")] = 0.2,
    every: Annotated[str | None, typer.Option(
        help="Repeat at this interval (e.g. 1h), re-reading the data; Ctrl-C stops.")] = None,
    times: Annotated[int | None, typer.Option(
        help="With --every: stop after this many retrains.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the holdout split.")] = 0,
    drop: DropOpt = None,
    features: FeaturesOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-run the champion's recipe on new data; promote the result only if it is better."""
    from modelport.lifecycle.retrain import RetrainDecision, retrain_every

    if times is not None and every is None:
        raise InvalidInputError("--times counts the retrains of --every: give an interval too")

    def show(decision: RetrainDecision) -> None:
        if as_json:
            emit_json(decision.to_dict())
            return
        verdict = "promoted to champion" if decision.promoted else "champion kept"
        table(f"retrain {name}: {verdict}", ["model", decision.metric],
              [[decision.champion + " (champion)", decision.champion_score],
               [decision.challenger + " (challenger)", decision.challenger_score]])

    interval = parse_duration(every, "interval") if every is not None else 1.0
    with steps("loading the data", quiet=as_json) as say:
        def shown(decision: RetrainDecision) -> None:
            show(decision)
            if every is not None:
                say(f"next retrain in {every}")

        retrain_every(name, data, interval, times=1 if every is None else times,
                      on_decision=shown, margin=margin, holdout=holdout, seed=seed,
                      **chosen(drop, features), progress=say)
