"""Hyperparameter tuning on Optuna: every trial a Run, the best model registered.

>>> result = modelport.tune("sklearn:wine", "target", "random_forest",
...                         trials=30, name="wine")                  # doctest: +SKIP
>>> result.version.ref, result.version.aliases                        # doctest: +SKIP
('wine:1', ['challenger'])

The study is stored in the workspace's database (see ``studies.py``), so an
interrupted study resumes and ``--workers N`` processes — or the same command
on another machine sharing PostgreSQL — fill one study. Each trial
cross-validates on the training part, reports its running mean fold by fold
so a poor trial is pruned early, and logs every fold as a step of the
``cv_METRIC`` metric of its run. The best parameters are then refitted by
``train`` on the same split (so the held-out test metrics were never seen by
the search) and registered with the recipe that ``retrain`` re-runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelport.config import Settings
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, MissingDependencyError, first_line
from modelport.lifecycle.datasets import (
    Dataset,
    DataSource,
    as_dataset,
    choose_columns,
    load_dataset,
)
from modelport.lifecycle.registry import ModelVersion, Stored, register_run, set_alias
from modelport.lifecycle.studies import (
    WORKER_ATTR,
    fail_dead_trials,
    optuna,
    quiet,
    storage_for,
    this_worker,
)
from modelport.lifecycle.tune_spaces import Space, load_space, parse_space, preset, space_to_dict
from modelport.lifecycle.tuning_data import Prepared, prepare, score_model

SAMPLERS = ("tpe", "random", "cmaes", "gp", "nsga2")
OBJECTIVES = ("score", "latency", "size")  # latency: ms per 1000 rows; size: kB stored
# the refit of the best is a trial's cross-validation again, one fit on all the rows, then
# storing and registering the model: about this many trials, plus this many seconds
REFIT_TRIALS = 2.0
REFIT_SECONDS = 1.5


@dataclass
class TuneSpec:
    """What a study runs — passed to worker processes, and recorded as the recipe."""

    data: str
    target: str
    estimator: str
    space: dict[str, Any]
    study: str
    trials: int | None = 20
    timeout: float | None = None
    metric: str | None = None
    objectives: list[str] = field(default_factory=lambda: ["score"])
    sampler: str = "tpe"
    cv: int = 5
    seed: int = 0
    test_size: float = 0.2
    prune: bool = True
    features: list[str] | None = None  # the columns a user chose (None: every one)

    def recipe(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("study")
        return {"kind": "tune", **out}


@dataclass
class TuneResult:
    study: str
    storage: str
    metric: str
    directions: list[str]
    best_params: dict[str, Any]
    best_values: list[float]
    best_trial: int
    pareto: list[dict[str, Any]]
    counts: dict[str, int]
    run_id: str | None = None
    version: ModelVersion | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # the whole call, refit included


@dataclass(frozen=True)
class Budget:
    """When a search must stop: ``deadline`` (a ``time.time()``, or None for trials alone),
    leaving time for the refit of the best when there is one (``refit``)."""

    deadline: float | None = None
    refit: bool = False

    def search_seconds(self) -> float | None:
        """What Optuna's own timeout may use: the time left, less the refit's fixed part."""
        if self.deadline is None:
            return None
        return self.deadline - time.time() - (REFIT_SECONDS if self.refit else 0.0)

    def stop_in_time(self) -> Callable[[Any, Any], None]:
        """An Optuna callback: stop before a trial that, with the refit after it, would end
        past the deadline. A started trial runs to its end (Optuna's timeout only stops new
        ones), so the next is assumed to take as long as the longest so far."""
        longest = 0.0
        deadline = self.deadline
        assert deadline is not None

        def check(study: Any, trial: Any) -> None:
            nonlocal longest
            if trial.datetime_start is not None and trial.datetime_complete is not None:
                seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
                longest = max(longest, seconds)
            refit = REFIT_TRIALS * longest + REFIT_SECONDS if self.refit else 0.0
            if time.time() + longest + refit > deadline:
                study.stop()

        return check


def tune(data: DataSource, target: str, estimator: str, *, space: str | Path |
         Mapping[str, Any] | None = None, trials: int | None = 20, timeout: float | None = None,
         metric: str | None = None, objectives: Sequence[str] = ("score",), sampler: str = "tpe",
         study: str | None = None, name: str | None = None, workers: int = 1, cv: int = 5,
         seed: int = 0, test_size: float = 0.2, prune: bool = True, promote: bool = False,
         task: str | None = None, drop: Sequence[str] | None = None,
         features: Sequence[str] | None = None, progress: Callable[[str], None] | None = None,
         onnx: bool = True, ws: Workspace | None = None) -> TuneResult:
    """Search ``space`` for ``estimator``'s best parameters; register the best as ``name``
    (with its parity-checked ONNX copy when it converts, unless ``onnx=False``).

    ``drop`` or ``features`` choose the columns (``datasets.choose_columns``).

    ``trials`` is the total number of finished trials the study should hold
    (so re-running the command resumes it), ``timeout`` the wall-clock limit
    in seconds for this whole call: the search stops in time for the refit and
    registering of the best to fit in it too.
    """
    started = time.time()
    ws = current(ws)
    say = progress or (lambda _msg: None)
    _check_budget(trials, timeout, workers)
    deadline = None if timeout is None else started + timeout
    if sampler not in SAMPLERS:
        raise InvalidInputError(f"unknown sampler {sampler!r} — use one of {', '.join(SAMPLERS)}")
    objectives = list(objectives)
    if not objectives or objectives[0] != "score" or not set(objectives) <= set(OBJECTIVES):
        raise InvalidInputError(f"objectives must start with score, then any of latency, size — "
                                f"got {','.join(objectives)!r}")
    if isinstance(data, Dataset) and workers > 1:
        raise InvalidInputError("several workers need data they can each load: give a path "
                                "or sklearn:NAME")
    parsed = _space(space, estimator)
    dataset = choose_columns(as_dataset(data), target, drop=drop, features=features)
    prepared = prepare(dataset, target, estimator, metric, test_size, seed, cv, task)
    _check_space_fits(parsed, estimator, prepared.task)
    spec = TuneSpec(dataset.name, target, estimator, space_to_dict(parsed),
                    study or name or f"{estimator}-{int(time.time())}", trials, timeout,
                    prepared.metric, objectives, sampler, cv, seed, test_size, prune,
                    dataset.chosen)
    _sampler(spec, 0)  # a missing sampler dependency fails before any study exists
    storage = storage_for(spec.study, workers, ws=ws)
    opt_study = _create_study(spec, storage)
    _check_same_recipe(opt_study, spec)
    opt_study.set_user_attr("recipe", spec.recipe())
    failed = fail_dead_trials(opt_study)
    if failed:
        say(f"marked failed the trials of dead workers: {failed}")
    say(f"study {spec.study}: {workers} worker(s)")
    budget = Budget(deadline, refit=name is not None)
    children = [_spawn(spec, ws.settings, i, budget) for i in range(1, workers)]
    try:
        _optimize(spec, opt_study, prepared, dataset, ws, 0, budget, say=say)
    finally:
        logs = [_reap(child, log) for child, log in children]
    fail_dead_trials(opt_study)
    result = _result(spec, opt_study, storage)
    if result.counts["complete"] == 0:
        detail = next((t.user_attrs["error"] for t in opt_study.get_trials(deepcopy=False)
                       if "error" in t.user_attrs), None) or next((log for log in logs if log),
                                                                   "no trial ran")
        raise InvalidInputError(f"study {spec.study!r} completed no trial, nothing was "
                                f"registered: {detail}")
    if name:
        say(f"refitting the best trial ({result.best_trial}) and registering {name}")
        _register(result, spec, dataset, name, promote, onnx, ws)
    result.seconds = time.time() - started
    return result


def _check_same_recipe(study: Any, spec: TuneSpec) -> None:
    """A resumed or joined study must search the same thing it started with."""
    before = study.user_attrs.get("recipe")
    if not before:
        return
    keys = ("target", "estimator", "space", "metric", "objectives", "cv", "seed", "test_size",
            "features")
    changed = [k for k in keys if before.get(k) != spec.recipe().get(k)]
    if changed:
        raise InvalidInputError(f"study {spec.study!r} was started with another {changed[0]} — "
                                "use a new study name (--study) to search something else")


def _check_budget(trials: int | None, timeout: float | None, workers: int) -> None:
    if trials is None and timeout is None:
        raise InvalidInputError("give a budget: --trials N and/or --timeout SECONDS")
    if trials is not None and trials <= 0:
        raise InvalidInputError(f"--trials must be positive, got {trials}")
    if timeout is not None and timeout <= 0:
        raise InvalidInputError(f"--timeout must be positive, got {timeout}")
    if workers <= 0:
        raise InvalidInputError(f"--workers must be positive, got {workers}")


def _space(space: str | Path | Mapping[str, Any] | None, estimator: str) -> Space:
    if space is None:
        return preset(estimator)
    if isinstance(space, Mapping):
        return parse_space(space)
    return load_space(space)


def _check_space_fits(space: Space, estimator: str, task: str) -> None:
    from modelport.lifecycle.estimators import build, final_step

    known = final_step(build(estimator, task, {})).get_params()
    unknown = sorted(set(space) - set(known))
    if unknown:
        raise InvalidInputError(f"invalid search space: {estimator} has no parameter "
                                f"{unknown[0]!r}")


def _sampler(spec: TuneSpec, worker: int) -> Any:
    opt = optuna()
    seed = spec.seed + worker
    try:
        if spec.sampler == "random":
            return opt.samplers.RandomSampler(seed=seed)
        if spec.sampler == "cmaes":
            import cmaes  # noqa: F401

            return opt.samplers.CmaEsSampler(seed=seed)
        if spec.sampler == "gp":
            import torch  # noqa: F401

            return opt.samplers.GPSampler(seed=seed)
    except ImportError as exc:
        raise MissingDependencyError(exc.name or spec.sampler, "tune") from None
    if spec.sampler == "nsga2":
        return opt.samplers.NSGAIISampler(seed=seed)
    with quiet():
        return opt.samplers.TPESampler(seed=seed, multivariate=True)


def _directions(spec: TuneSpec) -> list[str]:
    from modelport.lifecycle.tuning_data import greater_is_better

    first = "maximize" if greater_is_better(spec.metric or "") else "minimize"
    return [first] + ["minimize"] * (len(spec.objectives) - 1)


def _create_study(spec: TuneSpec, storage: Any, worker: int = 0) -> Any:
    opt = optuna()
    pruner = (opt.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
              if spec.prune and len(spec.objectives) == 1 else opt.pruners.NopPruner())
    study = opt.create_study(study_name=spec.study, storage=storage, load_if_exists=True,
                             sampler=_sampler(spec, worker), pruner=pruner,
                             directions=_directions(spec))
    if [d.name.lower() for d in study.directions] != _directions(spec):
        raise InvalidInputError(f"study {spec.study!r} already exists with other objectives — "
                                "use a new study name")
    return study


def _optimize(spec: TuneSpec, study: Any, prepared: Prepared, dataset: Dataset, ws: Workspace,
              worker: int, budget: Budget, say: Callable[[str], None] | None = None) -> None:
    opt = optuna()
    from optuna.trial import TrialState

    finished = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    callbacks: list[Callable[[Any, Any], None]] = [] if say is None else [_reporter(spec, say)]
    if spec.trials is not None:
        done = len(study.get_trials(deepcopy=False, states=finished))
        if done >= spec.trials:
            return
        callbacks.append(opt.study.MaxTrialsCallback(spec.trials, states=finished))
    timeout = budget.search_seconds()
    if timeout is not None:
        if timeout <= 0:
            return
        callbacks.append(budget.stop_in_time())
    objective = _objective(spec, prepared, dataset, ws)
    with quiet():
        study.optimize(objective, timeout=timeout, callbacks=callbacks,
                       catch=(Exception,), gc_after_trial=False)


def _reporter(spec: TuneSpec, say: Callable[[str], None]) -> Callable[[Any, Any], None]:
    """An Optuna callback saying how far the search is, after each trial."""
    of = f" of {spec.trials}" if spec.trials is not None else ""

    def report(study: Any, trial: Any) -> None:
        best = ""
        if len(spec.objectives) == 1:
            with contextlib.suppress(ValueError):  # no trial has completed yet
                best = f", best {spec.metric} {study.best_value:.4g}"
        say(f"searching: trial {trial.number + 1}{of}{best}")

    return report


def _objective(spec: TuneSpec, prepared: Prepared, dataset: Dataset, ws: Workspace
               ) -> Callable[[Any], Any]:
    from sklearn.base import clone

    from modelport.lifecycle.estimators import build
    from modelport.lifecycle.tracking import create_run

    opt = optuna()
    space = parse_space(spec.space)
    metric = spec.metric or ""
    multi = len(spec.objectives) > 1

    def objective(trial: Any) -> Any:
        trial.set_user_attr(WORKER_ATTR, this_worker())
        params = {name: p.suggest(trial) for name, p in space.items()}
        run = create_run(name=f"{spec.study}-{trial.number}", experiment=spec.study,
                         tags={"study": spec.study, "trial": trial.number,
                               "estimator": spec.estimator, "kind": "tune"}, ws=ws)
        trial.set_user_attr("run_id", run.id)
        try:
            run.log_dataset(dataset)
            run.log_params(params)
            est = build(spec.estimator, prepared.task, params, spec.seed,
                        features=prepared.features, rows=len(prepared.X))
            scores: list[float] = []
            model = est
            for fold, (fit_rows, val_rows) in enumerate(prepared.folds):
                model = clone(est).fit(prepared.X.iloc[fit_rows], prepared.y.iloc[fit_rows])
                score = score_model(model, prepared.X.iloc[val_rows],
                                    prepared.y.iloc[val_rows], metric)
                scores.append(score)
                run.log_metric(f"cv_{metric}", score, step=fold)
                if not multi and spec.prune:
                    trial.report(float(np.mean(scores)), fold)
                    if trial.should_prune():
                        run.set_tag("pruned_at_fold", fold)
                        run.end("PRUNED")
                        raise opt.TrialPruned()
            values = [float(np.mean(scores))]
            extra = _extra_objectives(spec.objectives[1:], model,
                                      prepared.X.iloc[prepared.folds[-1][1]])
            values += extra
            run.log_metrics({f"cv_{metric}_mean": values[0],
                             f"cv_{metric}_std": float(np.std(scores)),
                             **dict(zip(spec.objectives[1:], extra, strict=True))}, step=0)
        except opt.TrialPruned:
            raise
        except Exception as exc:
            first = first_line(exc)
            trial.set_user_attr("error", f"{type(exc).__name__}: {first}"[:500])
            run.set_tag("error", first[:500])
            run.end("FAILED")
            raise
        run.end("FINISHED")
        return values if multi else values[0]

    return objective


def _extra_objectives(kinds: Sequence[str], model: Any, X: Any) -> list[float]:
    out = []
    for kind in kinds:
        if kind == "latency":
            matrix = X.to_numpy()
            reps = max(1, 2000 // max(len(matrix), 1))
            start = time.perf_counter()
            for _ in range(reps):
                model.predict(matrix if not hasattr(model, "feature_names_in_") else X)
            out.append((time.perf_counter() - start) / (reps * len(matrix)) * 1e6)
        else:
            from modelport.core.formats import format_for

            out.append(len(format_for(model).dump(model)) / 1024)
    return out


def _result(spec: TuneSpec, study: Any, storage: Any) -> TuneResult:
    from optuna.trial import TrialState

    from modelport.lifecycle.studies import summarize

    summary = summarize(study, "journal" if "Journal" in type(storage).__name__ else "database")
    counts = {"trials": summary.trials, "complete": summary.complete, "pruned": summary.pruned,
              "failed": summary.failed}
    result = TuneResult(spec.study, summary.storage, spec.metric or "", summary.directions,
                        {}, [], -1, [], counts, recipe=spec.recipe())
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return result
    front = study.best_trials
    sign = 1 if summary.directions[0] == "maximize" else -1
    best = max(front, key=lambda t: sign * t.values[0])
    result.best_params, result.best_values, result.best_trial = (
        dict(best.params), list(best.values), best.number)
    result.pareto = [{"trial": t.number, "values": list(t.values), "params": dict(t.params),
                      "run_id": t.user_attrs.get("run_id")}
                     for t in sorted(front, key=lambda t: -sign * t.values[0])]
    return result


def _register(result: TuneResult, spec: TuneSpec, dataset: Dataset, name: str, promote: bool,
              onnx: bool, ws: Workspace) -> None:
    from modelport.lifecycle.train import train

    trained = train(dataset, spec.target, spec.estimator, result.best_params,
                    experiment=spec.study, test_size=spec.test_size, cv=spec.cv, seed=spec.seed,
                    run_name=f"{spec.study}-best", ws=ws)
    result.run_id = trained.run_id
    tags = {"recipe": json.dumps(result.recipe), "study": spec.study,
            "best_trial": str(result.best_trial)}
    result.version = register_version(name, trained.run_id, tags, promote, ws, onnx=onnx,
                                      stored=trained.stored)


def register_version(name: str, run_id: str, tags: Mapping[str, str], promote: bool,
                     ws: Workspace, onnx: bool = True, stored: Stored | None = None
                     ) -> ModelVersion:
    """Register a run's model with alias ``challenger``, or ``champion`` when promoted;
    its ONNX copy is checked before the alias moves, so what the alias serves is fast.
    ``stored``: the model as the run stored it (``registry.log_model``), for that check."""
    from modelport.lifecycle.loading import add_onnx_copy
    from modelport.lifecycle.registry import get_version

    version = register_run(name, run_id, tags=tags, ws=ws)
    if onnx:
        add_onnx_copy(version.ref, ws=ws, stored=stored)
    set_alias(name, "champion" if promote else "challenger", version.version, ws=ws)
    return get_version(version.ref, ws=ws)


# ---------------------------------------------------------------- worker processes

def _spawn(spec: TuneSpec, settings: Settings, worker: int, budget: Budget
           ) -> tuple[subprocess.Popen[bytes], Path]:
    log = Path(settings.home) / "studies" / f"{spec.study}.worker-{worker}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"spec": asdict(spec), "worker": worker, "budget": asdict(budget),
                          "settings": {"home": str(settings.home), "db_url": settings.db_url,
                                       "artifacts_url": settings.artifacts_url,
                                       "project": settings.project}})
    env = dict(os.environ)
    if settings.token:  # a server's key travels in the environment, never in argv (ps shows it)
        env["MODELPORT_TOKEN"] = settings.token
    with log.open("wb") as out:
        child = subprocess.Popen([sys.executable, "-m", "modelport.lifecycle.tune", payload],
                                 stdout=out, stderr=subprocess.STDOUT, env=env)
    return child, log


def _reap(child: subprocess.Popen[bytes], log: Path) -> str:
    """Wait for a worker; the last line of its log if it failed."""
    code = child.wait()
    if code == 0:
        return ""
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return lines[-1] if lines else f"worker exited with code {code}"


def run_worker(payload: Mapping[str, Any]) -> None:
    """One worker process: join the study and optimize until the budget is spent."""
    spec = TuneSpec(**payload["spec"])
    settings = Settings(**payload["settings"])
    ws = Workspace.open(settings)
    dataset = choose_columns(load_dataset(spec.data), spec.target, features=spec.features)
    prepared = prepare(dataset, spec.target, spec.estimator, spec.metric, spec.test_size,
                       spec.seed, spec.cv)
    study = _create_study(spec, storage_for(spec.study, 2, ws=ws), payload["worker"])
    _optimize(spec, study, prepared, dataset, ws, payload["worker"], Budget(**payload["budget"]))


if __name__ == "__main__":
    run_worker(json.loads(sys.argv[1]))
