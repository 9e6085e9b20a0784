"""AutoML: strong defaults first, then a cost-aware search across model families.

>>> result = modelport.automl("sklearn:breast_cancer", "target", budget=60,
...                           name="cancer")                          # doctest: +SKIP
>>> result.leaderboard[0].family, result.version.ref                  # doctest: +SKIP
('lightgbm', 'cancer:1')

At small budgets a well-chosen default beats a search (FIELD.md: FLAML tied
or lost to plain LightGBM defaults on 5 of 6 data sets at 10 s), so every
family is first cross-validated with its defaults, cheapest first. Each family
gets the preprocessing it needs (``preprocessing.py``): text columns become
category codes, one-hot encoded for linear models and k-NN, whose missing
numbers are imputed; trees and boosters take codes and NaN as they are. The
rest of the budget goes to a TPE search
inside the best three families, each given time in proportion to its rank —
a cheap family gets more trials for the same seconds. On large data search
trials fit on a sample first and only the best are re-scored on all rows. Every candidate is a Run
(tags ``study``, ``trial``, ``family``); the winner is refitted on the whole
training part, measured on the held-out rows and registered with the recipe
that ``retrain`` re-runs.

The wall clock is kept, on a busy machine too: a trial that would not finish
before the deadline (minus the time the final refit and registration need) is
not started, a fold that would not finish is not started, and a trial that
runs late is abandoned between folds. What the end needs is measured, not
guessed: the refit costs about one fold on all rows, and the registration's
fixed cost is scaled by how much slower than its CPU time this process's
trials ran (wall / CPU: 1 on an idle machine, 3-5 with a load of 10 on 2 cores).

With ``ensemble=K`` the best configuration of each of the top K families is
refitted too, and their soft vote (``core/formats/ensemble.py``: each member
stored in its own format, no pickle) is registered instead of the single
winner when it scores better on the held-out rows; both scores are recorded.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, first_line
from modelport.lifecycle.datasets import Dataset, DataSource, as_dataset, choose_columns
from modelport.lifecycle.estimators import threads_for
from modelport.lifecycle.preprocessing import Features
from modelport.lifecycle.registry import ModelVersion, Stored
from modelport.lifecycle.tuning_data import Prepared, greater_is_better, prepare, score_model

# family -> (classifier short name, regressor short name), cheapest first
FAMILIES: dict[str, tuple[str, str]] = {
    "linear": ("logistic_regression", "ridge"),
    "knn": ("knn", "knn"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "xgboost": ("xgboost", "xgboost"),
    "random_forest": ("random_forest", "random_forest"),
    "extra_trees": ("extra_trees", "extra_trees"),
}
SAMPLE_ABOVE = 20_000  # training rows above which search trials fit on a sample first
SAMPLE_ROWS = 10_000
TOP_FAMILIES = (1.0, 0.6, 0.35)  # share of the search time by rank
# kept back from the budget for the final refit's tracking and registration, as CPU
# time: scaled by the slowdown the search measured. Measured with the modules it needs
# imported up front (``_warm``): 0.03-0.13 s idle and busy; cold, 0.5 s idle, 2.6 s busy
OVERHEAD = (0.3, 0.01)  # seconds + share of the budget
# ... and for the winner's ONNX copy (conversion and parity check), converters imported
# up front: 0.06 s (linear) to 0.5 s (a 100-tree forest) on breast_cancer, busy machine
ONNX_OVERHEAD = (0.5, 0.01)
MAX_SLOWDOWN = 8.0


@dataclass
class Candidate:
    """One configuration tried: a leaderboard row."""

    trial: int
    family: str
    params: dict[str, Any]
    score: float
    std: float
    seconds: float
    rows: int  # training rows per fold
    run_id: str
    sampled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class AutoMLResult:
    study: str
    task: str
    metric: str
    budget: float
    elapsed: float
    leaderboard: list[Candidate]
    best: Candidate
    test_metrics: dict[str, float]
    run_id: str
    # the fitted winner (or ensemble); it takes the encoded frame (preprocessing.encode),
    # so predict raw rows through the registered model: modelport.load(version.ref)
    estimator: Any = None
    version: ModelVersion | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    # with ensemble=K: members' families, both held-out scores, whether it was registered
    ensemble: dict[str, Any] | None = None


def automl(data: DataSource, target: str, budget: float = 60, *, metric: str | None = None,
           name: str | None = None, study: str | None = None, families: list[str] | None = None,
           cv: int = 5, seed: int = 0, test_size: float = 0.2, promote: bool = False,
           ensemble: int = 1, task: str | None = None, drop: Sequence[str] | None = None,
           features: Sequence[str] | None = None,
           progress: Callable[[str], None] | None = None, onnx: bool = True,
           ws: Workspace | None = None) -> AutoMLResult:
    """Find a good model for ``target`` within ``budget`` seconds; register it as ``name``
    (with its parity-checked ONNX copy when it converts, unless ``onnx=False``).

    ``ensemble`` > 1 tries a soft vote of the top that many families (see above);
    ``drop`` or ``features`` choose the columns (``datasets.choose_columns``)."""
    started = time.perf_counter()
    ws = current(ws)
    say = progress or (lambda _msg: None)
    if not isinstance(budget, int | float) or not math.isfinite(budget) or budget <= 0:
        raise InvalidInputError(f"the budget must be a positive number of seconds, got {budget}")
    chosen = list(families or FAMILIES)
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown or not chosen:
        raise InvalidInputError(f"unknown model family {unknown[0] if unknown else ''!r} — "
                                f"choose from {', '.join(FAMILIES)}")
    if not isinstance(ensemble, int) or not 1 <= ensemble <= len(FAMILIES):
        raise InvalidInputError(f"ensemble must be 1 (no ensemble) to {len(FAMILIES)} "
                                f"families, got {ensemble}")
    if ensemble > 1 and test_size <= 0:
        raise InvalidInputError("an ensemble is kept only if it beats the best model on "
                                "held-out rows: use a test_size above 0")
    dataset = choose_columns(as_dataset(data), target, drop=drop, features=features)
    prepared = prepare(dataset, target, None, metric, test_size, seed, cv, task)
    fast_path = bool(name) and onnx
    _warm(fast_path)
    study = study or name or f"automl-{int(time.time())}"
    recipe = {"kind": "automl", "data": dataset.name, "target": target, "budget": budget,
              "metric": prepared.metric, "families": chosen, "cv": cv, "seed": seed,
              "test_size": test_size, **({"ensemble": ensemble} if ensemble > 1 else {}),
              **({"features": dataset.chosen} if dataset.chosen else {})}
    search = _Search(prepared, dataset, study, seed, ws, deadline=started + budget,
                     ensemble=ensemble, overhead=_overhead(budget, fast_path))
    search.run([f for f in FAMILIES if f in chosen], say)
    if not search.board:
        raise InvalidInputError(f"AutoML tried nothing within {budget} s, nothing was "
                                f"registered: {search.last_error or 'the budget is too small'}")
    best = search.board[0]
    say(f"refitting the winner ({best.family}) on {len(prepared.X)} rows")
    estimator = _fit(best, prepared, seed)
    family, voted = best.family, None
    if ensemble > 1:
        estimator, voted = _vote(estimator, search.top_families(ensemble), prepared, seed, say)
        family = "ensemble" if voted["registered"] else family
    run_id, test_metrics, stored = _log(estimator, family, best, prepared, dataset, study,
                                        recipe, voted, ws)
    version = None
    if name:
        from modelport.lifecycle.tune import register_version

        tags = {"recipe": json.dumps(recipe), "study": study, "family": family}
        if family == "ensemble" and voted is not None:
            tags["members"] = ",".join(voted["families"])
        version = register_version(name, run_id, tags, promote, ws, onnx=onnx, stored=stored)
    return AutoMLResult(study, prepared.task, prepared.metric, float(budget),
                        time.perf_counter() - started, search.board, best, test_metrics, run_id,
                        estimator, version, recipe, voted)


def _overhead(budget: float, fast_path: bool) -> float:
    """CPU seconds to keep back for registering the winner (and its ONNX copy)."""
    reserve = OVERHEAD[0] + OVERHEAD[1] * budget
    return reserve + (ONNX_OVERHEAD[0] + ONNX_OVERHEAD[1] * budget if fast_path else 0.0)


def _warm(fast_path: bool) -> None:
    """Import what registering the winner needs now, while the budget is measured:
    imported at the end, it cost up to seconds past the budget on a busy machine (the
    ONNX converters and onnxruntime alone take 1-3 s)."""
    import skops.io  # noqa: F401  (the format scikit-learn models are stored in)

    from modelport.lifecycle import registry, tune  # noqa: F401

    if fast_path:
        with contextlib.suppress(ImportError):  # without the onnx extra, nothing to warm
            import onnxruntime  # noqa: F401
            import skl2onnx  # noqa: F401


def make_estimator(family: str, task: str, params: Mapping[str, Any], seed: int,
                   threads: int = 1, features: Features | None = None) -> Any:
    """The family's estimator with the preprocessing it needs (scaling for linear and
    k-NN; with ``features``, category codes and missing values as ``preprocessing``
    decides); ``threads`` as ``estimators.threads_for`` chooses them."""
    from modelport.lifecycle.estimators import build

    short = FAMILIES[family][0 if task == "classification" else 1]
    extra: dict[str, Any] = {}
    if family in ("random_forest", "extra_trees", "lightgbm", "xgboost"):
        extra["n_jobs"] = threads
    return build(short, task, {**extra, **params}, seed, features,
                 scale=True if family == "linear" else None)


class _Search:
    """The search state: the leaderboard and the time spent per family."""

    def __init__(self, prepared: Prepared, dataset: Dataset, study: str, seed: int,
                 ws: Workspace, deadline: float, ensemble: int = 1, overhead: float = 0.0
                 ) -> None:
        self.p, self.dataset, self.study, self.seed, self.ws = prepared, dataset, study, seed, ws
        self.deadline = deadline  # the whole budget's end: refit and registration included
        self.overhead = overhead  # CPU seconds the registration needs
        self.wall = self.cpu = 0.0  # of the trials so far: how busy the machine is
        self.ensemble = ensemble
        self.board: list[Candidate] = []
        self.spent: dict[str, float] = {}
        self.cost: dict[str, float] = {}  # seconds of the family's last trial
        self.full_cost: dict[str, float] = {}  # ... of its last trial on all rows
        self.trials = 0
        self.last_error: str | None = None
        self.threads = threads_for(len(prepared.X))
        self.sign = 1.0 if greater_is_better(prepared.metric) else -1.0
        self.rng = np.random.default_rng(seed)

    @property
    def slowdown(self) -> float:
        """Wall time over CPU time of the trials so far: how much a busy machine stretches
        this process's work (1 when idle)."""
        if self.cpu <= 0:
            return 1.0
        return min(max(self.wall / self.cpu, 1.0), MAX_SLOWDOWN)

    def remaining(self, keep: float = 0.0) -> float:
        # the final refit (of each ensemble member) costs about one fold fit on 1/(k-1)
        # more rows; registering it a fixed CPU cost, stretched as the trials were
        refits = [c.family for c in self.top_families(self.ensemble)] if self.board else []
        reserve = 1.3 * sum(self.full_cost.get(f, 0) for f in refits) / len(self.p.folds)
        reserve += self.overhead * self.slowdown
        return self.deadline - reserve - keep - time.perf_counter()

    def top_families(self, k: int) -> list[Candidate]:
        """The best candidate scored on all rows of each of the ``k`` best families."""
        top: dict[str, Candidate] = {}
        for cand in self.board:  # sorted: all-row scores first, best first
            if not cand.sampled and cand.family not in top:
                top[cand.family] = cand
        return list(top.values())[:k]

    def run(self, families: list[str], say: Callable[[str], None]) -> None:
        for i, family in enumerate(families):  # strong defaults first, cheapest first
            if i and self.remaining() <= 0:  # the cheapest family's defaults always run
                break
            say(f"searching: {family} with its defaults")
            self.evaluate(family, {}, sample=False)
        self._search(say)
        # candidates scored on all rows rank first: a sample's score is only a preview
        self.board.sort(key=lambda c: (c.sampled, -self.sign * c.score, c.seconds))

    def _search(self, say: Callable[[str], None]) -> None:
        from modelport.lifecycle.studies import optuna, quiet
        from modelport.lifecycle.tune_spaces import preset

        opt = optuna()
        ranked = sorted(self.board, key=lambda c: -self.sign * c.score)
        top: list[str] = []
        for cand in ranked:
            if cand.family not in top:
                top.append(cand.family)
        top = top[:len(TOP_FAMILIES)]
        if not top:
            return
        studies = {}
        for i, family in enumerate(top):
            with quiet():
                sampler = opt.samplers.TPESampler(seed=self.seed + i, n_startup_trials=5,
                                                  multivariate=True)
            studies[family] = opt.create_study(direction="maximize", sampler=sampler)
        spaces = {f: preset(FAMILIES[f][0 if self.p.task == "classification" else 1])
                  for f in top}
        sample = len(self.p.X) > SAMPLE_ABOVE
        # on samples, keep time to re-score the three best on all rows
        keep = min(3 * max(self.full_cost.get(f, 0) for f in top),
                   0.3 * self.remaining()) if sample else 0.0
        while self.remaining(keep) > 0:
            weights = dict(zip(top, TOP_FAMILIES, strict=False))
            family = min(top, key=lambda f: self.spent.get(f, 0) / weights[f])
            if self.cost.get(family, 0) > self.remaining(keep):
                top.remove(family)  # this family can no longer finish a trial in time
                if not top:
                    break
                continue
            with quiet():
                trial = studies[family].ask()
                params = {n: p.suggest(trial) for n, p in spaces[family].items()}
            say(f"searching: trial {self.trials}, {family}")
            tried = self.evaluate(family, params, sample=sample)
            if tried is None:
                studies[family].tell(trial, state=opt.trial.TrialState.FAIL)
            else:
                studies[family].tell(trial, self.sign * tried.score)
        if sample:
            self._rescore_on_all_rows()

    def _rescore_on_all_rows(self) -> None:
        sampled = sorted((c for c in self.board if c.sampled),
                         key=lambda c: -self.sign * c.score)[:3]
        for cand in sampled:
            if self.remaining() <= 0:
                break
            self.evaluate(cand.family, cand.params, sample=False)

    def evaluate(self, family: str, params: dict[str, Any], sample: bool) -> Candidate | None:
        """Cross-validate one configuration as a run; ``None`` if it failed or ran late."""
        from sklearn.base import clone

        from modelport.lifecycle.tracking import create_run

        number = self.trials
        self.trials += 1
        started, cpu = time.perf_counter(), time.process_time()
        run = create_run(name=f"{self.study}-{number}", experiment=self.study,
                         tags={"study": self.study, "trial": number, "family": family,
                               "kind": "automl"}, ws=self.ws)
        scores: list[float] = []
        rows = 0
        try:
            run.log_params({**params, "family": family})
            est = make_estimator(family, self.p.task, params, self.seed, self.threads,
                                 self.p.features)
            fold = self.cost.get(family, 0.0) / len(self.p.folds)
            for fit_rows, val_rows in self.p.folds:
                if scores:  # this trial's own folds tell best what the next one costs
                    fold = (time.perf_counter() - started) / len(scores)
                if self.remaining(fold) < 0:
                    if self.board:
                        raise TimeoutError("would run past the budget")
                    if scores:  # the first candidate: scored on fewer folds rather than none
                        break
                if sample and len(fit_rows) > SAMPLE_ROWS:
                    fit_rows = self.rng.choice(fit_rows, SAMPLE_ROWS, replace=False)
                rows = len(fit_rows)
                model = clone(est).fit(self.p.X.iloc[fit_rows], self.p.y.iloc[fit_rows])
                scores.append(score_model(model, self.p.X.iloc[val_rows],
                                          self.p.y.iloc[val_rows], self.p.metric))
        except Exception as exc:
            first = first_line(exc)
            self.last_error = f"{family}: {first}"
            run.set_tag("error", first[:500])
            run.end("FAILED")
            self._charge(family, started, cpu, scores, sample)
            return None
        seconds = time.perf_counter() - started
        run.log_batch(metrics={f"cv_{self.p.metric}_mean": float(np.mean(scores)),
                               f"cv_{self.p.metric}_std": float(np.std(scores)),
                               "fit_seconds": seconds}, step=0)
        run.end("FINISHED")
        cand = Candidate(number, family, params, float(np.mean(scores)), float(np.std(scores)),
                         seconds, rows, run.id, sampled=sample)
        self.board.append(cand)
        self.board.sort(key=lambda c: (c.sampled, -self.sign * c.score, c.seconds))
        self._charge(family, started, cpu, scores, sample)
        return cand

    def _charge(self, family: str, started: float, cpu: float, scores: list[float],
                sampled: bool = False) -> None:
        seconds = time.perf_counter() - started
        if self.threads == 1:  # wall / CPU is a slowdown only for one thread's work
            self.wall += seconds
            self.cpu += time.process_time() - cpu
        self.spent[family] = self.spent.get(family, 0) + seconds
        if scores:
            # the cost of a whole trial, extrapolated from the folds that ran
            self.cost[family] = seconds * len(self.p.folds) / len(scores)
            if not sampled:
                self.full_cost[family] = self.cost[family]


def _fit(cand: Candidate, p: Prepared, seed: int) -> Any:
    return make_estimator(cand.family, p.task, cand.params, seed, threads_for(len(p.X)),
                          p.features).fit(p.X, p.y)


def _vote(best: Any, top: list[Candidate], p: Prepared, seed: int,
          say: Callable[[str], None]) -> tuple[Any, dict[str, Any]]:
    """The soft vote of ``top`` if it beats ``best`` on the held-out rows, else ``best``."""
    from modelport.core.formats.ensemble import Ensemble

    families = [c.family for c in top]
    report: dict[str, Any] = {"families": families, "registered": False}
    if len(top) < 2:
        report["reason"] = "fewer than two families finished a trial on all rows"
        return best, report
    say(f"refitting {', '.join(families[1:])} for an ensemble with {families[0]}")
    voting = Ensemble([best] + [_fit(c, p, seed) for c in top[1:]])
    single = score_model(best, p.X_test, p.y_test, p.metric)
    voted = score_model(voting, p.X_test, p.y_test, p.metric)
    better = voted > single if greater_is_better(p.metric) else voted < single
    report.update({f"best_test_{p.metric}": single, f"ensemble_test_{p.metric}": voted,
                   "registered": better})
    return (voting if better else best), report


def _log(est: Any, family: str, best: Candidate, p: Prepared, dataset: Dataset, study: str,
         recipe: Mapping[str, Any], voted: Mapping[str, Any] | None, ws: Workspace
         ) -> tuple[str, dict[str, float], Stored]:
    """Measure the final model on the held-out rows and log it in the study's best run
    (with the model as stored, for its ONNX export)."""
    from modelport.lifecycle.registry import log_model
    from modelport.lifecycle.tracking import start_run
    from modelport.lifecycle.tuning_data import metrics_for

    test_metrics: dict[str, float] = {}
    if p.X_test is not None:
        for metric in metrics_for(p.task, p.y):
            try:
                test_metrics[f"test_{metric}"] = score_model(est, p.X_test, p.y_test, metric)
            except (ValueError, AttributeError):  # roc_auc on a model without scores
                continue
    extra = {k: v for k, v in (voted or {}).items() if k.endswith(f"test_{p.metric}")}
    with start_run(name=f"{study}-best", experiment=study,
                   tags={"study": study, "kind": "automl", "family": family,
                         "best_trial": best.trial}, ws=ws) as run:
        run.log_dataset(dataset)
        run.log_params({**best.params, "family": family, "recipe": json.dumps(recipe),
                        **({"members": ",".join(voted["families"])} if voted else {})})
        run.log_metrics({f"cv_{p.metric}_mean": best.score, f"cv_{p.metric}_std": best.std,
                         **test_metrics, **extra}, step=0)
        stored = log_model(run, est, p.raw_X, sample=p.raw_X_test, inputs=p.inputs)
    return run.id, test_metrics, stored
