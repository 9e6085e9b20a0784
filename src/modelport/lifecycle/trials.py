"""A study's trials as a page shows them: every trial, its run, and what was best.

``modelport studies show`` reports one study for a terminal; the dashboard
needs its trials with their values, params, times and run, what the objectives
are called, which trials are best — the best value for one objective, the
Pareto front (``lifecycle.pareto``, O(n log n)) for several — and, asked for
apart, the parameter importances (PED-ANOVA).

A study may have many thousands of trials, so a page gets them a page at a time
(keyset on the trial number: ``after``, ``limit``), and its charts get what a
screen can show: each objective's history thinned to the lowest and highest value
of each run of trials (the best value and every record kept stay exact; the
best-so-far line can only step later within one run, under a pixel wide), and the
trials of the Pareto chart sampled evenly, the front's trials always among them.

Studies live in Optuna's storages (``lifecycle.studies``): Optuna reads and
writes its own tables, so nothing here touches SQL.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, require
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
class TrialPage:
    trials: list[Trial]  # by number
    next_after: int | None  # ``after`` for the next page; None on the last


@dataclass
class Point:
    number: int
    values: list[float | None]


@dataclass
class StudyDetail:
    summary: StudySummary
    objectives: list[str]  # the name of each value, in order
    params: list[str]  # every parameter any trial has, by name
    page: TrialPage  # the first ``limit`` trials
    best: list[int]  # trial numbers: the best value's trials, or the Pareto front
    # per objective, (trial number, value) of the complete trials, thinned to ``points``
    history: list[list[tuple[int, float]]]
    scatter: list[Point]  # complete trials for the Pareto chart: at most ``points`` + front


MAX_LIMIT = 1000
MAX_POINTS = 10_000


def thin(series: list[tuple[int, float]], most: int) -> list[tuple[int, float]]:
    """At most ``most`` points of ``series`` (in order): the lowest and the highest of each
    of ``most // 2`` equal runs, so each run's extremes — and with them the best value,
    for either direction — are kept, as a chart ``most`` pixels wide would draw them."""
    if len(series) <= most:
        return series
    runs = max(most // 2, 1)
    out: list[tuple[int, float]] = []
    for i in range(runs):
        run = series[i * len(series) // runs:(i + 1) * len(series) // runs]
        lo, hi = min(run, key=lambda p: p[1]), max(run, key=lambda p: p[1])
        out.extend(sorted({lo, hi}))
    return out


def _page(trials: list[Trial], after: int, limit: int) -> TrialPage:
    rest = [t for t in trials if t.number > after]
    rest.sort(key=lambda t: t.number)
    page = rest[:limit]
    return TrialPage(page, page[-1].number if len(rest) > limit else None)


def _check_window(limit: int, points: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit is 1 to {MAX_LIMIT} trials")
    if not 2 <= points <= MAX_POINTS:
        raise InvalidInputError(f"points is 2 to {MAX_POINTS}")


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


def _trial(t: Any) -> Trial:
    return Trial(t.number, t.state.name.lower(), _finite(t.values), dict(t.params),
                 t.user_attrs.get("run_id"), _seconds(t.datetime_start),
                 _seconds(t.datetime_complete), t.user_attrs.get("error"))


def study_detail(name: str, limit: int = 100, points: int = 1000,
                 ws: Workspace | None = None) -> StudyDetail:
    """Study ``name``: its best trials, its first ``limit`` trials, and its charts' points
    (at most about ``points`` each)."""
    from optuna.trial import TrialState

    _check_window(limit, points)
    study = find_study(name, ws=current(ws))
    kind = "journal" if type(study._storage).__name__ == "JournalStorage" else "database"
    raw = study.get_trials(deepcopy=False)
    done = sorted((t for t in raw if t.state == TrialState.COMPLETE), key=lambda t: t.number)
    directions = [d.name.lower() for d in study.directions]
    best = sorted(done[i].number for i in front([t.values for t in done], directions))
    history = [thin([(t.number, float(t.values[k])) for t in done
                     if math.isfinite(t.values[k])], points) for k in range(len(directions))]
    on_front = set(best)
    stride = max(1, math.ceil(len(done) / points))
    scatter = [Point(t.number, _finite(t.values) or []) for i, t in enumerate(done)
               if i % stride == 0 or t.number in on_front]
    params = sorted({p for t in raw for p in t.params})
    return StudyDetail(summarize(study, kind), objective_names(study), params,
                       _page([_trial(t) for t in raw], -1, limit), best, history, scatter)


def trial_page(name: str, after: int = -1, limit: int = 100,
               ws: Workspace | None = None) -> TrialPage:
    """The trials of study ``name`` numbered above ``after``, at most ``limit`` of them."""
    _check_window(limit, 2)
    study = find_study(name, ws=current(ws))
    return _page([_trial(t) for t in study.get_trials(deepcopy=False)], after, limit)


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


@dataclass
class StudyReport:
    summary: StudySummary
    best_trial: int | None
    best_params: dict[str, Any]
    best_run_id: str | None
    importances: dict[str, float]
    plot_digest: str | None
    trials: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["summary"] = self.summary.to_dict()
        return out


def study_report(name: str, plot: bool = True, ws: Workspace | None = None) -> StudyReport:
    """The best trial, parameter importances and (``plot``) the optimization history,
    saved as ``study/history.html`` on the best trial's run."""
    ws = current(ws)
    opt = optuna()
    from optuna.trial import TrialState

    study = find_study(name, ws=ws)
    kind = "journal" if isinstance(study._storage, opt.storages.JournalStorage) else "database"
    summary = summarize(study, kind)
    trials = [{"trial": t.number, "state": t.state.name.lower(), "values": t.values,
               "params": t.params, "run_id": t.user_attrs.get("run_id")}
              for t in study.get_trials(deepcopy=False)]
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return StudyReport(summary, None, {}, None, {}, None, trials)
    maximize = study.directions[0].name.lower() == "maximize"
    best = max(study.best_trials, key=lambda t: t.values[0] if maximize else -t.values[0])
    run_id = best.user_attrs.get("run_id")
    first = (lambda t: t.values[0]) if len(study.directions) > 1 else None
    importances: dict[str, float] = {}
    if best.params:
        importances = param_importances(name, 0, ws=ws).importances  # the first objective's
    digest = None
    if plot and run_id:
        digest = _history_plot(study, first, run_id, ws)
    return StudyReport(summary, best.number, dict(best.params), run_id, importances, digest,
                       trials)


def _history_plot(study: Any, target: Any, run_id: str, ws: Workspace) -> str:
    from optuna import visualization

    from modelport.lifecycle.search import get_run
    from modelport.lifecycle.tracking import Run

    require("plotly", "tune")
    name = str(study.user_attrs.get("recipe", {}).get("metric") or "score")
    with quiet():
        figure = visualization.plot_optimization_history(study, target=target, target_name=name)
    html = figure.to_html(include_plotlyjs="cdn", full_html=True).encode()
    return Run(ws, get_run(run_id, ws=ws)).log_artifact(html, "study/history.html")
