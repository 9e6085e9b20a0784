"""A study's trials and importances as pages read them, and ``studies show`` agreeing."""

from __future__ import annotations

import random
import warnings
from typing import Any

import pytest

from modelport.core.workspace import Workspace
from modelport.lifecycle.trials import (
    param_importances,
    study_detail,
    study_report,
    thin,
    trial_page,
)

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
    assert detail.objectives == ["accuracy", "size"] and len(detail.page.trials) == 40
    assert detail.best  # the front is never empty with complete trials


def test_studies_show_ranks_a_multi_objective_study_without_a_warning(ws: Workspace) -> None:
    """``studies show`` used to hand PED-ANOVA the first objective as a target unnegated:
    Optuna warned (an error under this suite) and ranked params for low accuracy."""
    accuracy_and_size(ws)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = study_report("two", plot=False, ws=ws)
    assert report.importances == param_importances("two", 0, ws=ws).importances


def best_so_far(series: list[tuple[int, float]], better: Any) -> dict[int, float]:
    out, best = {}, None
    for n, v in series:
        best = v if best is None or better(v, best) else best
        out[n] = best
    return out


def agrees(series: list[tuple[int, float]], kept: list[tuple[int, float]], better: Any
           ) -> None:
    """The thinned best-so-far line is never better than the truth, meets it at every
    record it keeps, and ends at the true best."""
    exact, shown = best_so_far(series, better), best_so_far(kept, better)
    assert all(not better(shown[n], exact[n]) for n, _ in kept)
    assert all(shown[n] == exact[n] for n, v in kept if v == exact[n])
    assert shown[kept[-1][0]] == exact[series[-1][0]]


def test_thinning_keeps_every_extreme_and_so_the_best_so_far() -> None:
    rng = random.Random(3)
    series = [(n, rng.gauss(0, 1) + n / 1000) for n in range(5000)]
    kept = thin(series, 300)
    assert len(kept) <= 300 and kept == sorted(kept) and set(kept) <= set(series)
    for better in (float.__gt__, float.__lt__):  # maximize and minimize
        agrees(series, kept, better)
    assert thin(series[:10], 300) == series[:10]
    assert max(kept, key=lambda p: p[1]) == max(series, key=lambda p: p[1])


TRIALS = 300  # three pages after the first, and each chart thinned to a third


def test_a_large_study_comes_a_page_at_a_time_with_charts_a_screen_can_show(
        ws: Workspace) -> None:
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from modelport.errors import InvalidInputError
    from modelport.lifecycle.studies import rdb_storage

    # written through one pooled storage: a connect per trial (the short-lived storage's
    # way) and twice the trials made this test 2 minutes on PostgreSQL in a loaded suite
    # run; what is tested is reading, and the pages and charts below open their own storage
    storage = rdb_storage(ws, pooled=True)
    study = optuna.create_study(study_name="big", storage=storage,
                                directions=["maximize", "minimize"])
    rng = random.Random(1)
    dist = {"x": FloatDistribution(0.0, 1.0)}
    for n in range(TRIALS):
        x = rng.random()
        failed = n % 50 == 7
        study.add_trial(create_trial(
            params={"x": x}, distributions=dist, values=None if failed else [x, rng.random()],
            state=TrialState.FAIL if failed else TrialState.COMPLETE))
    storage.engine.dispose()
    study = optuna.load_study(study_name="big", storage=rdb_storage(ws))
    detail = study_detail("big", limit=100, points=100, ws=ws)
    assert [t.number for t in detail.page.trials] == list(range(100))
    assert detail.page.next_after == 99 and detail.params == ["x"]
    seen, after = [t.number for t in detail.page.trials], detail.page.next_after
    while after is not None:
        page = trial_page("big", after, 80, ws=ws)
        seen += [t.number for t in page.trials]
        after = page.next_after
    assert seen == list(range(TRIALS))  # every trial once, in order
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) > 2 * 100  # each chart below is thinned, not shown whole
    for k, series in enumerate(detail.history):
        assert len(series) <= 100
        exact = [(t.number, t.values[k]) for t in complete]
        agrees(exact, series, float.__gt__ if k == 0 else float.__lt__)
    front = {t.number for t in study.best_trials}
    assert set(detail.best) == front
    numbers = {p.number for p in detail.scatter}
    assert front <= numbers and len(numbers) <= 100 + len(front)
    with pytest.raises(InvalidInputError, match="limit is 1 to 1000"):
        study_detail("big", limit=5000, ws=ws)
    with pytest.raises(InvalidInputError, match="points is 2 to"):
        study_detail("big", points=1, ws=ws)
