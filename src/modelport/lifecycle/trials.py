"""A study's trials as a page shows them: every trial, its run, and what was best.

``modelport studies show`` reports one study for a terminal; the dashboard
needs every trial with its values, params, times and run, what the objectives
are called, which trials are best — the best value for one objective, the
Pareto front (``lifecycle.pareto``, O(n log n)) for several — and, asked for
apart, the parameter importances (PED-ANOVA).

Studies live in Optuna's storages (``lifecycle.studies``): Optuna reads and
writes its own tables, so nothing here touches SQL.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.pareto import front
from modelport.lifecycle.studies import StudySummary, find_study, optuna, quiet, summarize

METHOD = ("PED-ANOVA (Optuna's default): how differently each parameter is spread among the "
          "best 10 % of complete trials than among all of them")


@dataclass
class Trial:
    number: int
    state: str  # complete | pruned | fail | running | waiting
    values: list[float | None] | None  # one per objective; None where not finite
    params: dict[str, Any]
    run_id: str | None
    started: float | None  # seconds since the epoch
    completed: float | None
    error: str | None


@dataclass
class StudyDetail:
    summary: StudySummary
    objectives: list[str]  # the name of each value, in order
    trials: list[Trial]
    best: list[int]  # trial numbers: the best value's trials, or the Pareto front


@dataclass
class Importances:
    objective: str
    method: str  # how they were computed
    trials: int  # the complete trials they were computed from
    importances: dict[str, float]  # parameter -> share, summing to 1, largest first


def objective_names(study: Any) -> list[str]:
    """What each value measures, from the recipe ``modelport tune`` recorded."""
    recipe = study.user_attrs.get("recipe") or {}
    names = [str(recipe.get("metric") or "score")]
    names += [str(o) for o in (recipe.get("objectives") or [])[1:]]
    n = len(study.directions)
    return names if len(names) == n else [f"value {i}" for i in range(n)]


def _seconds(moment: Any) -> float | None:
    return None if moment is None else float(moment.timestamp())


def _finite(values: list[float] | None) -> list[float | None] | None:
    if values is None:
        return None
    return [float(v) if math.isfinite(v) else None for v in values]


def study_detail(name: str, ws: Workspace | None = None) -> StudyDetail:
    """Every trial of study ``name`` and its best trials."""
    from optuna.trial import TrialState

    study = find_study(name, ws=current(ws))
    kind = "journal" if type(study._storage).__name__ == "JournalStorage" else "database"
    raw = study.get_trials(deepcopy=False)
    trials = [Trial(t.number, t.state.name.lower(), _finite(t.values), dict(t.params),
                    t.user_attrs.get("run_id"), _seconds(t.datetime_start),
                    _seconds(t.datetime_complete), t.user_attrs.get("error"))
              for t in raw]
    done = [t for t in raw if t.state == TrialState.COMPLETE]
    directions = [d.name.lower() for d in study.directions]
    best = [done[i].number for i in front([t.values for t in done], directions)]
    return StudyDetail(summarize(study, kind), objective_names(study), trials, best)


def param_importances(name: str, objective: int = 0, ws: Workspace | None = None
                      ) -> Importances:
    """How much each parameter matters to objective ``objective``.

    Optuna's default evaluator, PED-ANOVA: how differently each parameter is
    distributed among the best trials (the top 10 % for that objective) than among
    all complete trials — a sort and a histogram per parameter, no model fit, so it
    stays fast with thousands of trials. Computed on request from the stored trials.
    """
    from optuna.importance import PedAnovaImportanceEvaluator
    from optuna.trial import TrialState

    opt = optuna()
    study = find_study(name, ws=current(ws))
    names = objective_names(study)
    if not 0 <= objective < len(names):
        raise InvalidInputError(f"study {name!r} has {len(names)} objective(s): choose 0 to "
                                f"{len(names) - 1}")
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    # the evaluator ranks low targets best: a maximized objective is negated
    sign = -1.0 if study.directions[objective].name.lower() == "maximize" else 1.0
    found: dict[str, float] = {}
    if len(done) >= 2 and any(t.params for t in done):
        try:
            with quiet(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", "PedAnovaImportanceEvaluator computes",
                                        UserWarning)  # it warns of the negation just made
                found = {k: float(v) for k, v in opt.importance.get_param_importances(
                    study, evaluator=PedAnovaImportanceEvaluator(),
                    target=lambda t: sign * t.values[objective]).items()}
        except (RuntimeError, ValueError):  # too few distinct values to rank anything
            found = {}
    return Importances(names[objective], METHOD, len(done), found)
