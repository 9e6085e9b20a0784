"""A study's trials and importances as pages read them, and ``studies show`` agreeing."""

from __future__ import annotations

import random
import warnings

import pytest

from modelport.core.workspace import Workspace
from modelport.lifecycle.studies import study_report
from modelport.lifecycle.trials import param_importances, study_detail

optuna = pytest.importorskip("optuna")


def accuracy_and_size(ws: Workspace) -> None:
    """40 trials: accuracy (maximized) rises with ``depth``, size (minimized) with ``width``;
    ``noise`` decides nothing."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from modelport.lifecycle.studies import rdb_storage

    study = optuna.create_study(study_name="two", storage=rdb_storage(ws),
                                directions=["maximize", "minimize"])
    study.set_user_attr("recipe", {"metric": "accuracy", "objectives": ["score", "size"]})
    rng = random.Random(0)
    dists = {k: FloatDistribution(0.0, 1.0) for k in ("depth", "width", "noise")}
    for _ in range(40):
        p = {k: rng.random() for k in dists}
        study.add_trial(create_trial(params=p, distributions=dists,
                                     values=[p["depth"], 10 * p["width"]]))


def test_importances_per_objective_follow_its_direction(ws: Workspace) -> None:
    accuracy_and_size(ws)
    accuracy = param_importances("two", 0, ws=ws)
    size = param_importances("two", 1, ws=ws)
    assert (accuracy.objective, size.objective) == ("accuracy", "size")
    assert max(accuracy.importances, key=accuracy.importances.__getitem__) == "depth"
    assert max(size.importances, key=size.importances.__getitem__) == "width"
    detail = study_detail("two", ws=ws)
    assert detail.objectives == ["accuracy", "size"] and len(detail.trials) == 40
    assert detail.best  # the front is never empty with complete trials


def test_studies_show_ranks_a_multi_objective_study_without_a_warning(ws: Workspace) -> None:
    """``studies show`` used to hand PED-ANOVA the first objective as a target unnegated:
    Optuna warned (an error under this suite) and ranked params for low accuracy."""
    accuracy_and_size(ws)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = study_report("two", plot=False, ws=ws)
    assert report.importances == param_importances("two", 0, ws=ws).importances
