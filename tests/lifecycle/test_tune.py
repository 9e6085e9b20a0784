from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.datasets import Dataset, digest_frame, load_dataset
from modelport.lifecycle.loading import load
from modelport.lifecycle.registry import get_version
from modelport.lifecycle.search import get_run, search_runs
from modelport.lifecycle.studies import find_study, list_studies
from modelport.lifecycle.tracking import metric_history
from modelport.lifecycle.trials import study_report
from modelport.lifecycle.tune import tune

pytest.importorskip("optuna")

FOREST = {"n_estimators": {"type": "int", "low": 5, "high": 30},
          "max_depth": {"type": "int", "low": 2, "high": 8}}


def test_tune_records_trials_as_runs_and_registers_the_best(ws: Workspace) -> None:
    result = tune("sklearn:wine", "target", "random_forest", space=FOREST, trials=5, cv=3,
                  name="wine", ws=ws)
    assert result.counts["trials"] == 5 and result.counts["complete"] >= 1
    assert result.storage == "database" and result.directions == ["maximize"]
    assert set(result.best_params) == {"n_estimators", "max_depth"}
    trial_runs = search_runs(filter="tags.study = 'wine'", experiment="wine", ws=ws).runs
    trials = [r for r in trial_runs if "trial" in r.tags]
    assert len(trials) == 5 and {r.tags["trial"] for r in trials} == {str(i) for i in range(5)}
    finished = [r for r in trials if r.status == "FINISHED"]
    steps = metric_history(finished[0].id, "cv_accuracy", ws=ws)
    assert [s for s, _ in steps] == [0, 1, 2]  # one step per fold
    assert finished[0].params.keys() >= {"n_estimators", "max_depth"}

    version = result.version
    assert version is not None and version.ref == "wine:1" and version.aliases == ["challenger"]
    recipe = json.loads(version.tags["recipe"])
    assert recipe["kind"] == "tune" and recipe["estimator"] == "random_forest"
    assert recipe["space"]["n_estimators"]["high"] == 30 and recipe["trials"] == 5
    assert version.tags["study"] == "wine" and "test_accuracy" in version.metrics
    frame = load_dataset("sklearn:wine").frame
    assert (load("wine@challenger", ws=ws).predict(frame) == frame["target"]).mean() > 0.85

    # the same command resumes the study up to its total, and --promote moves champion
    again = tune("sklearn:wine", "target", "random_forest", space=FOREST, trials=7, cv=3,
                 name="wine", promote=True, ws=ws)
    assert again.counts["trials"] == 7 and again.version is not None
    assert again.version.ref == "wine:2" and again.version.aliases == ["champion"]

    with pytest.raises(InvalidInputError, match="started with another space"):
        tune("sklearn:wine", "target", "random_forest", trials=8, cv=3, study="wine", ws=ws)

    [summary] = [s for s in list_studies(ws=ws) if s.name == "wine"]
    assert summary.trials == 7 and summary.best_values is not None
    report = study_report("wine", ws=ws)
    assert report.best_run_id and report.plot_digest
    assert set(report.importances) == {"n_estimators", "max_depth"}
    best_run = get_run(report.best_run_id, ws=ws)
    html = ws.artifacts.get(best_run.artifacts["study/history.html"])
    assert b"Optimization History" in html


@pytest.mark.storage_independent
def test_poor_trials_are_pruned_fold_by_fold(ws: Workspace) -> None:
    space = {"max_depth": {"type": "int", "low": 1, "high": 12}}
    result = tune("sklearn:digits", "target", "decision_tree", space=space, trials=16,
                  sampler="random", cv=5, study="prune", ws=ws)
    assert result.counts["pruned"] >= 1
    pruned = [r for r in search_runs(experiment="prune", ws=ws).runs if r.status == "PRUNED"]
    assert pruned and all("pruned_at_fold" in r.tags for r in pruned)
    assert len(metric_history(pruned[0].id, "cv_accuracy", ws=ws)) < 5


@pytest.mark.storage_independent
def test_multi_objective_shows_the_pareto_front(ws: Workspace) -> None:
    result = tune("sklearn:diabetes", "target", "random_forest", space=FOREST, trials=6, cv=3,
                  metric="rmse", objectives=["score", "size"], sampler="nsga2", study="mo",
                  name="dia", ws=ws)
    assert result.directions == ["minimize", "minimize"] and result.counts["pruned"] == 0
    assert result.pareto and all(len(p["values"]) == 2 for p in result.pareto)
    rmse = [p["values"][0] for p in result.pareto]
    assert rmse == sorted(rmse) and result.best_values == result.pareto[0]["values"]
    assert result.version is not None and result.version.metrics["test_rmse"] > 0
    latency = tune("sklearn:diabetes", "target", "ridge", trials=3, cv=3,
                   objectives=["score", "latency"], study="mo-latency", ws=ws)
    assert latency.best_values[1] > 0


def test_workers_share_one_study(ws: Workspace, backend: str) -> None:
    # trials slow enough (~1 s) that the second process starts before the first is done
    space = {"n_estimators": {"type": "int", "low": 80, "high": 100}}
    result = tune("sklearn:digits", "target", "random_forest", space=space, trials=6, cv=3,
                  workers=2, study="shared", name="digits", prune=False, ws=ws)
    assert result.storage == ("journal" if backend == "sqlite" else "database")
    assert result.counts["trials"] >= 6 and result.counts["failed"] == 0
    workers = {t.user_attrs["modelport_worker"] for t in find_study("shared", ws=ws).trials}
    assert len(workers) == 2  # both processes ran trials
    assert result.version is not None and result.version.ref == "digits:1"
    assert any(s.name == "shared" for s in list_studies(ws=ws))


def test_kill_9_of_a_worker_fails_its_trial_and_the_study_goes_on(
        ws: Workspace, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from optuna.trial import TrialState

    from modelport.lifecycle import studies
    from modelport.lifecycle.tune import Budget, TuneSpec, _create_study, _spawn

    monkeypatch.setenv("MODELPORT_TUNE_HEARTBEAT", "1")  # the child's heartbeat
    monkeypatch.setattr(studies, "HEARTBEAT_SECONDS", 1)  # ours: stale after 2 s
    if backend == "postgresql":  # as if the worker ran on another machine: only the
        monkeypatch.setattr(studies.socket, "gethostname", lambda: "elsewhere")  # heartbeat
    slow = {"n_estimators": {"type": "int", "low": 150, "high": 200}}
    spec = TuneSpec("sklearn:digits", "target", "random_forest", slow, "killed", trials=2,
                    metric="accuracy", cv=3, prune=False)
    _create_study(spec, studies.storage_for("killed", 2, ws=ws))
    child, _log = _spawn(spec, ws.settings, 1, Budget())
    try:
        deadline = time.time() + 60
        running: list = []
        while not running and time.time() < deadline:
            time.sleep(0.1)
            running = [t for t in find_study("killed", ws=ws).get_trials(
                states=(TrialState.RUNNING,)) if "modelport_worker" in t.user_attrs]
        assert running, "the worker never started a trial"
        time.sleep(0.5)  # mid-trial, after its first heartbeat
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    time.sleep(2.5)  # past the heartbeat's grace period

    result = tune("sklearn:digits", "target", "random_forest", space=slow, trials=2, cv=3,
                  study="killed", prune=False, ws=ws)
    states = {t.number: t.state for t in find_study("killed", ws=ws).trials}
    assert states[running[0].number] == TrialState.FAIL
    assert result.counts["complete"] == 1 and result.counts["failed"] == 1


def _frame(**columns: list) -> Dataset:  # type: ignore[type-arg]
    frame = pd.DataFrame(columns)
    return Dataset("inline", frame, digest_frame(frame))


@pytest.mark.storage_independent
@pytest.mark.parametrize("kwargs, message", [
    ({"trials": 0}, "--trials must be positive"),
    ({"trials": None, "timeout": -1}, "--timeout must be positive"),
    ({"trials": None}, "give a budget"),
    ({"sampler": "magic"}, "unknown sampler"),
    ({"metric": "rmse", "task": "classification"},
     "'rmse' is a regression metric, but the task is classification"),
    ({"objectives": ["latency"]}, "objectives must start with score"),
    ({"target": "label"}, "target column 'label' not in the dataset"),
    ({"space": {"n_estimators": {"type": "int", "low": 9, "high": 3}}}, "low 9 >= high 3"),
    ({"space": {"colour": ["red"]}}, "has no parameter 'colour'"),
    ({"space": {"n_estimators": {"type": "integer"}}}, "unknown type 'integer'"),
    ({"space": {"n_estimators": [-5]}}, "completed no trial, nothing was registered"),
    ({"model": "ridge"}, "invalid search space|no built-in search space|does only"),
])
def test_bad_input_is_a_clear_error_and_registers_nothing(ws: Workspace,
                                                          kwargs: dict, message: str) -> None:
    args = {"data": "sklearn:iris", "target": "target", "model": "random_forest",
            "space": FOREST, "trials": 2, "cv": 3, **kwargs}
    with pytest.raises(InvalidInputError, match=message):
        tune(args.pop("data"), args.pop("target"), args.pop("model"), name="bad", ws=ws, **args)
    with pytest.raises(NotFoundError):
        get_version("bad", ws=ws)


@pytest.mark.storage_independent
def test_bad_data_and_space_files(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("n_estimators: {type: int, low: [")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "log.yaml").write_text("n_estimators: {type: int, low: 0, high: 9, log: true}")
    for name, message in [("broken.yaml", "invalid search space"),
                          ("list.yaml", "expected a non-empty mapping"),
                          ("log.yaml", "needs low > 0"), ("missing.yaml", "not found")]:
        with pytest.raises((InvalidInputError, NotFoundError), match=message):
            tune("sklearn:iris", "target", "random_forest", space=tmp_path / name, trials=2,
                 ws=ws)
    one_class = _frame(x=[1.0, 2.0, 3.0, 4.0], y=[1, 1, 1, 1])
    with pytest.raises(InvalidInputError, match="single class"):
        tune(one_class, "y", "random_forest", space=FOREST, trials=2, ws=ws)
    empty = _frame(x=[], y=[])
    with pytest.raises(InvalidInputError, match="empty"):
        tune(empty, "y", "random_forest", space=FOREST, trials=2, ws=ws)
    with pytest.raises(InvalidInputError, match="several workers need data"):
        tune(one_class, "y", "random_forest", trials=2, workers=2, ws=ws)
