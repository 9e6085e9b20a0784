from __future__ import annotations

import json

import numpy as np
import pytest

from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.datasets import Dataset, digest_frame, load_dataset
from modelport.lifecycle.registry import get_model, get_version
from modelport.lifecycle.retrain import retrain
from modelport.lifecycle.search import get_run
from modelport.lifecycle.train import train
from modelport.lifecycle.tune import tune

pytest.importorskip("optuna")

SPACE = {"n_neighbors": {"type": "int", "low": 1, "high": 15}}


def _noisy(share: float, seed: int = 0) -> Dataset:
    """breast_cancer with ``share`` of its labels flipped at random."""
    frame = load_dataset("sklearn:breast_cancer").frame
    rng = np.random.default_rng(seed)
    flip = rng.random(len(frame)) < share
    frame.loc[flip, "target"] = 1 - frame.loc[flip, "target"]
    return Dataset(f"noisy-{share}", frame, digest_frame(frame))


def test_a_better_challenger_is_promoted_and_the_decision_recorded(ws: Workspace) -> None:
    # the champion learned from labels that are 45 % noise; the new data is clean
    first = tune(_noisy(0.45), "target", "knn", space=SPACE, trials=3, cv=3, name="cancer",
                 promote=True, ws=ws)
    assert first.version is not None and first.version.aliases == ["champion"]
    decision = retrain("cancer", "sklearn:breast_cancer", margin=0.05, ws=ws)
    assert decision.champion == "cancer:1" and decision.challenger == "cancer:2"
    assert decision.metric == "accuracy" and decision.holdout_rows == 114
    assert decision.challenger_score > decision.champion_score + 0.05 and decision.promoted
    assert get_model("cancer", ws=ws).aliases == {"champion": 2}

    challenger = get_version("cancer:2", ws=ws)
    assert challenger.tags["retrained_from"] == "cancer:1"
    recorded = json.loads(challenger.tags["retrain_decision"])
    assert recorded["promoted"] is True and recorded["champion"] == "cancer:1"
    recipe = json.loads(challenger.tags["recipe"])
    assert recipe["kind"] == "tune" and recipe["data"] == "sklearn:breast_cancer"
    run = get_run(decision.run_id, ws=ws)
    assert run.experiment == "retrain" and run.tags["decision"] == "promoted"
    assert run.metrics["challenger_score"] == decision.challenger_score


@pytest.mark.storage_independent
def test_the_champion_stays_unless_the_margin_is_beaten(ws: Workspace) -> None:
    from modelport.lifecycle.automl import automl

    automl("sklearn:breast_cancer", "target", budget=2, families=["linear", "knn"], cv=3,
           name="cancer", promote=True, ws=ws)
    decision = retrain("cancer", _noisy(0.02, seed=1), margin=0.5, seed=1, ws=ws)
    assert not decision.promoted and decision.challenger == "cancer:2"
    model = get_model("cancer", ws=ws)
    assert model.aliases == {"champion": 1, "challenger": 2}
    assert json.loads(get_version("cancer:2", ws=ws).tags["recipe"])["kind"] == "automl"
    assert get_run(decision.run_id, ws=ws).tags["decision"] == "kept"


@pytest.mark.storage_independent
def test_bad_retrain_input(ws: Workspace) -> None:
    with pytest.raises(NotFoundError, match="model 'ghost' not found"):
        retrain("ghost", "sklearn:iris", ws=ws)
    train("sklearn:iris", "target", "knn", name="plain", ws=ws)
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        retrain("plain", "sklearn:iris", ws=ws)
    from modelport.lifecycle.registry import set_alias

    set_alias("plain", "champion", 1, ws=ws)
    with pytest.raises(InvalidInputError, match="no recorded recipe"):
        retrain("plain", "sklearn:iris", ws=ws)
    tune("sklearn:iris", "target", "knn", space=SPACE, trials=2, cv=3, name="iris",
         promote=True, ws=ws)
    with pytest.raises(InvalidInputError, match="target column 'target' not in the dataset"):
        retrain("iris", _without_target(), ws=ws)
    with pytest.raises(InvalidInputError, match="margin"):
        retrain("iris", "sklearn:iris", margin=-1, ws=ws)
    assert get_model("iris", ws=ws).versions == 1  # nothing registered by a failed retrain


def _without_target() -> Dataset:
    frame = load_dataset("sklearn:iris").frame.drop(columns=["target"])
    return Dataset("no-target", frame, digest_frame(frame))
