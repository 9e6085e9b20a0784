"""Retraining: re-run the champion's recorded recipe on new data, promote only if better.

>>> decision = modelport.retrain("wine", "new_wine.csv", margin=0.01)   # doctest: +SKIP
>>> decision.promoted, decision.challenger                              # doctest: +SKIP
(True, 'wine:4')

``tune`` and ``automl`` record on each version they register *how* it was
made (the recipe: kind, target, estimator or families, space, budget,
metric, seed). Retraining holds out part of the new data, re-runs that recipe
on the rest, registers the result as ``challenger`` and scores both stored
models — through the same ``Predictor`` that serves them — on the held-out
rows. The champion moves only when the challenger wins by more than
``margin``. Each decision is a run (experiment ``retrain``) and a tag on the
challenger version, so the history of promotions can be audited.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.core.schedule import repeat
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.datasets import (
    Dataset,
    DataSource,
    as_dataset,
    choose_columns,
    digest_frame,
)
from modelport.lifecycle.registry import (
    delete_alias,
    get_version,
    register_run,
    set_alias,
    set_tag,
)
from modelport.lifecycle.tuning_data import greater_is_better, prepare


@dataclass
class RetrainDecision:
    name: str
    champion: str
    challenger: str
    metric: str
    champion_score: float
    challenger_score: float
    margin: float
    promoted: bool
    run_id: str
    holdout_rows: int
    won: bool = False  # beat the champion by more than the margin (promoted or not)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def retrain(name: str, data: DataSource, *, margin: float = 0.0, holdout: float = 0.2,
            seed: int = 0, drop: Sequence[str] | None = None,
            features: Sequence[str] | None = None, promote: bool = True,
            progress: Callable[[str], None] | None = None,
            ws: Workspace | None = None) -> RetrainDecision:
    """Retrain ``name``'s champion recipe on ``data``; promote the result if it is better.

    The columns are those the recipe chose (``features``), unless ``drop`` or
    ``features`` choose again (``datasets.choose_columns``). ``promote=False``: a winner
    stays ``challenger`` (``won``), for a caller that releases it by a rollout instead of
    moving the alias at once (the monitor loop)."""
    ws = current(ws)
    say = progress or (lambda _msg: None)
    if margin < 0:
        raise InvalidInputError(f"--margin must be zero or positive, got {margin}")
    if not 0 < holdout < 1:
        raise InvalidInputError("the holdout share must be between 0 and 1")
    champion = get_version(f"{name}@champion", ws=ws)
    recipe = _recipe(champion.tags, champion.ref)
    target = recipe["target"]
    dataset = choose_columns(as_dataset(data), target, drop=drop,
                             features=features or (None if drop else recipe.get("features")))
    # checks the new data (target present, not a single class…) and splits off the holdout
    split = prepare(dataset, target, recipe.get("estimator"), recipe.get("metric"), holdout,
                    seed, int(recipe.get("cv", 5)))
    train_frame = split.raw_X.assign(**{target: split.y.to_numpy()})
    fresh = Dataset(dataset.name, train_frame, digest_frame(train_frame))
    say(f"re-running the {recipe['kind']} recipe of {champion.ref} on {len(train_frame)} rows")
    run_id = _rerun(recipe, fresh, name, ws, say)
    new_recipe = {**recipe, "data": dataset.name,
                  **({"features": dataset.chosen} if dataset.chosen else {})}
    challenger = register_run(name, run_id, tags={
        "recipe": json.dumps(new_recipe), "retrained_from": champion.ref}, ws=ws)
    set_alias(name, "challenger", challenger.version, ws=ws)
    metric = split.metric
    say(f"scoring {champion.ref} and {challenger.ref} on {len(split.X_test)} held-out rows")
    scores = {ref: _score(ref, split.raw_X_test, split.y_test, metric, ws)
              for ref in (champion.ref, challenger.ref)}
    gain = scores[challenger.ref] - scores[champion.ref]
    if not greater_is_better(metric):
        gain = -gain
    won = gain > margin
    promoted = won and promote
    if promoted:  # the challenger has won: it is the champion now, not a challenger
        set_alias(name, "champion", challenger.version, ws=ws)
        delete_alias(name, "challenger", ws=ws)
    verdict = "promoted" if promoted else "won" if won else "kept"
    decision_run = _record(name, champion.ref, challenger.ref, metric, scores, margin, verdict,
                           dataset, ws)
    decision = RetrainDecision(name, champion.ref, challenger.ref, metric,
                               scores[champion.ref], scores[challenger.ref], margin, promoted,
                               decision_run, len(split.X_test), won)
    set_tag(challenger.ref, "retrain_decision", json.dumps(decision.to_dict()), ws=ws)
    return decision


def retrain_every(name: str, data: str, interval: float, *, times: int | None = None,
                  on_decision: Callable[[RetrainDecision], None] | None = None,
                  sleep: Callable[[float], None] = time.sleep, **options: Any
                  ) -> list[RetrainDecision]:
    """``retrain`` now and then every ``interval`` seconds, re-reading ``data`` each time
    (a path whose file is replaced with fresh rows), ``times`` times or until stopped
    (``core/schedule.py``)."""
    return repeat(lambda: retrain(name, data, **options), interval, times=times,
                  on_each=on_decision, sleep=sleep)


def _recipe(tags: Mapping[str, str], ref: str) -> dict[str, Any]:
    raw = tags.get("recipe")
    if not raw:
        raise InvalidInputError(
            f"{ref} has no recorded recipe — only models registered by modelport tune or "
            "modelport automl can be retrained")
    try:
        recipe = json.loads(raw)
    except ValueError:
        raise InvalidInputError(f"{ref} has an unreadable recipe tag") from None
    if not isinstance(recipe, dict) or recipe.get("kind") not in ("tune", "automl"):
        raise InvalidInputError(f"{ref} has a recipe of unknown kind")
    return recipe


def _rerun(recipe: Mapping[str, Any], data: Dataset, name: str, ws: Workspace,
           say: Callable[[str], None]) -> str:
    """Run the recipe on ``data``; the id of the run holding the new model."""
    study = f"{name}-retrain-{int(time.time() * 1000)}"
    if recipe["kind"] == "automl":
        from modelport.lifecycle.automl import automl

        return automl(data, recipe["target"], recipe["budget"], metric=recipe["metric"],
                      study=study, families=recipe.get("families"), cv=recipe["cv"],
                      seed=recipe["seed"], test_size=recipe["test_size"],
                      ensemble=int(recipe.get("ensemble", 1)), progress=say, ws=ws).run_id
    from modelport.lifecycle.train import metric_task, train
    from modelport.lifecycle.tune import tune

    result = tune(data, recipe["target"], recipe["estimator"], space=recipe["space"],
                  trials=recipe["trials"], timeout=recipe["timeout"], metric=recipe["metric"],
                  objectives=recipe["objectives"], sampler=recipe["sampler"], study=study,
                  cv=recipe["cv"], seed=recipe["seed"], test_size=recipe["test_size"],
                  prune=recipe["prune"], progress=say, ws=ws)
    return train(data, recipe["target"], recipe["estimator"], result.best_params,
                 experiment=study, test_size=recipe["test_size"], cv=recipe["cv"],
                 seed=recipe["seed"], run_name=f"{study}-best",
                 task=metric_task(result.metric), ws=ws).run_id  # the search's task


def _score(ref: str, X: Any, y: Any, metric: str, ws: Workspace) -> float:
    """``metric`` of the stored model ``ref`` on (X, y), through its Predictor."""
    from sklearn import metrics as m

    from modelport.lifecycle.loading import load

    predictor = load(ref, ws=ws)
    truth = np.asarray(y)
    if metric == "roc_auc":
        classes = predictor.signature.classes or []
        proba = predictor.predict_proba(X)
        return float(m.roc_auc_score(truth == classes[1], proba[:, 1]))
    predicted = predictor.predict(X)
    scorers: dict[str, Callable[[Any, Any], float]] = {
        "accuracy": m.accuracy_score,
        "f1_macro": lambda t, p: m.f1_score(t, p, average="macro"),
        "r2": m.r2_score,
        "rmse": lambda t, p: float(np.sqrt(m.mean_squared_error(t, p))),
        "mae": m.mean_absolute_error,
    }
    return float(scorers[metric](truth, predicted))


def _record(name: str, champion: str, challenger: str, metric: str,
            scores: Mapping[str, float], margin: float, verdict: str, dataset: Dataset,
            ws: Workspace) -> str:
    from modelport.lifecycle.tracking import start_run

    with start_run(name=f"retrain-{name}", experiment="retrain", tags={
            "kind": "retrain", "model": name, "champion": champion, "challenger": challenger,
            "decision": verdict, "metric": metric}, ws=ws) as run:
        run.log_dataset(dataset)
        run.log_metrics({"champion_score": scores[champion],
                         "challenger_score": scores[challenger], "margin": margin}, step=0)
    return run.id
