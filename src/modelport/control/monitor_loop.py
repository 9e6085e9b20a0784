"""The loop back to retraining: drift found in served traffic → retrain → release the winner.

One ``check`` reads the monitoring reports of a target; when a feature (or the
predictions) drifted, it re-runs the champion's recipe on recent labelled data
(``lifecycle/retrain.py``). Behind an endpoint a winning challenger is not promoted at
once: a canary (or shadow) rollout of it starts, and the rollout controller's analysis
of live traffic decides the rest. For a bare model the winner is promoted as
``modelport retrain`` does. Every check is a job (kind ``monitor``: running, then
succeeded or failed with its error) whose result is the decision and the numbers it was
taken on — what drifted, the champion's and challenger's scores, the rollout — and a run
(experiment ``monitor``) holding the reports, so the history can be audited from
``modelport jobs``, the dashboard's jobs page or the runs. ``check_every`` (``--every
1h``) makes it a schedule, each turn its own job and run; ``record`` is a check that
decides nothing (``modelport monitor --record``).

>>> check("credit-api", "recent.parquet", rollout="canary")          # doctest: +SKIP
LoopDecision(action='canary', drifted=['credit:1 debt'], …)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from modelport.control.rollout import start_canary, start_shadow
from modelport.core.schedule import repeat
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, ModelportError
from modelport.lifecycle.monitor_runs import EXPERIMENT, drifted_columns, log_reports
from modelport.lifecycle.monitor_runs import record as record_reports
from modelport.lifecycle.monitor_runs import tags as monitor_tags
from modelport.lifecycle.monitoring import TRAINING, endpoint_of, monitor, versions_of
from modelport.lifecycle.retrain import retrain
from modelport.lifecycle.tracking import start_run
from modelport.runtimes.batch.jobs import create_job, failure, finish_job

ROLLOUTS = ("canary", "shadow")


@dataclass
class LoopDecision:
    target: str
    action: str  # none (no drift) · kept (challenger lost) · promoted · canary · shadow ·
    # report (a recorded check, which decides nothing) · failed (see the job's error)
    drifted: list[str]  # "NAME:VERSION column" of every drifted column
    rows: int = 0  # logged rows the reports read
    challenger: str | None = None
    champion_score: float | None = None
    challenger_score: float | None = None
    metric: str | None = None
    rollout_id: str | None = None
    run_id: str | None = None  # the run holding the reports (JSON and HTML)
    job_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(target: str, data: str, *, since_s: float = 86400.0, baseline: str = TRAINING,
          rollout: str = "canary", steps: tuple[float, ...] = (10.0, 50.0, 100.0),
          interval_s: float = 300.0, margin: float = 0.0, ws: Workspace | None = None
          ) -> LoopDecision:
    """One turn of the loop on ``target`` (an endpoint or a model), retraining on ``data``."""
    ws = current(ws)
    if rollout not in ROLLOUTS:
        raise InvalidInputError(f"--rollout must be one of {', '.join(ROLLOUTS)}")
    options = {"on_drift": "retrain", "data": data, "rollout": rollout, "margin": margin,
               "steps": list(steps), "interval_s": interval_s}
    with _job(target, since_s, baseline, options, "none", ws) as decision:
        reports = monitor(target, since_s, baseline, ws=ws)
        _observed(decision, reports)
        if decision.drifted:
            _retrain(decision, str(reports[0]["model"]), data, rollout, steps, interval_s,
                     margin, ws)
        decision.run_id = _record(decision, reports, ws)
    return decision


def record(target: str, *, since_s: float = 86400.0, baseline: str = TRAINING,
           labels: Mapping[str, tuple[int, int]] | None = None, ws: Workspace | None = None
           ) -> tuple[list[dict[str, Any]], LoopDecision]:
    """A check that decides nothing (``modelport monitor --record``): the reports, kept as
    a run, and the job that made them. ``labels`` as ``monitor()`` takes them."""
    ws = current(ws)
    with _job(target, since_s, baseline, {"on_drift": "none"}, "report", ws) as decision:
        reports = monitor(target, since_s, baseline, labels, ws=ws)
        _observed(decision, reports)
        decision.run_id = record_reports(target, reports, ws=ws)
    return reports, decision


def check_every(target: str, data: str, interval: float, *, times: int | None = None,
                on_decision: Callable[[LoopDecision], None] | None = None,
                sleep: Callable[[float], None] = time.sleep, **options: Any
                ) -> list[LoopDecision]:
    """``check`` now and then every ``interval`` seconds (re-reading ``data``, the latest
    labelled rows), ``times`` times or until stopped; each turn is recorded as it ends."""
    return repeat(lambda: check(target, data, **options), interval, times=times,
                  on_each=on_decision, sleep=sleep)


@contextmanager
def _job(target: str, since_s: float, baseline: str, options: dict[str, Any], action: str,
         ws: Workspace) -> Iterator[LoopDecision]:
    """A check as a job of kind ``monitor``, running while the block works on the decision
    it yields, then closed — as failed with the error if the block raised — with the
    decision as far as it got (what drifted, what was retrained) as the job's result."""
    model, version = _filed_under(target, ws)
    job = create_job("monitor", model, version,
                     f"prediction logs of {target}, last {since_s / 3600:g} h", "-",
                     {"target": target, "since_s": since_s, "baseline": baseline, **options},
                     ws=ws)
    decision = LoopDecision(target, action, [], job_id=job.id)
    try:
        yield decision
    except BaseException as exc:
        decision.action = "failed"
        finish_job(job.id, "failed", failure(exc), rows=decision.rows,
                   result=_result(decision), ws=ws)
        raise
    finish_job(job.id, "succeeded", rows=decision.rows, result=_result(decision), ws=ws)


def _filed_under(target: str, ws: Workspace) -> tuple[str, int]:
    """The model and version a check's job is listed under (``jobs list --model``): the
    first version ``target`` names, an endpoint's stable one — or, when it names none,
    the target itself as version 0 (the check then fails saying why, and its job with it)."""
    try:
        ref = versions_of(target, ws=ws)[0]
    except ModelportError:
        return target[:200], 0
    return ref.name, ref.version or 0


def _result(decision: LoopDecision) -> dict[str, Any]:
    """The decision as a job keeps it: JSON, so a score that is not a number is null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v
            for k, v in decision.to_dict().items() if k != "job_id"}


def _observed(decision: LoopDecision, reports: list[dict[str, Any]]) -> None:
    decision.drifted = drifted_columns(reports)
    decision.rows = sum(int(r["volume"]["rows"]) for r in reports if "volume" in r)


def _retrain(decision: LoopDecision, name: str, data: str, rollout: str,
             steps: tuple[float, ...], interval_s: float, margin: float, ws: Workspace
             ) -> None:
    """Retrain ``name`` on ``data``; release a winner behind an endpoint by ``rollout``
    (a bare model's winner is promoted)."""
    found = endpoint_of(decision.target, ws=ws)
    endpoint = found.name if found is not None else None
    outcome = retrain(name, data, margin=margin, promote=endpoint is None, ws=ws)
    decision.challenger, decision.metric = outcome.challenger, outcome.metric
    decision.champion_score = outcome.champion_score
    decision.challenger_score = outcome.challenger_score
    decision.action = "promoted" if outcome.promoted else "kept"
    if outcome.won and endpoint is not None:
        started = start_canary(endpoint, outcome.challenger, list(steps), interval_s,
                               ws=ws) if rollout == "canary" else \
            start_shadow(endpoint, outcome.challenger, steps[0], ws=ws)
        decision.action, decision.rollout_id = rollout, started.id


def _record(decision: LoopDecision, reports: list[dict[str, Any]], ws: Workspace) -> str:
    tags = monitor_tags(decision.target, reports, decision.action)
    tags.update({k: str(v) for k, v in (("challenger", decision.challenger),
                                        ("metric", decision.metric),
                                        ("rollout_id", decision.rollout_id)) if v is not None})
    numbers = {"drifted_columns": float(len(decision.drifted))}
    numbers.update({k: float(v) for k, v in (("champion_score", decision.champion_score),
                                             ("challenger_score", decision.challenger_score))
                    if v is not None})
    with start_run(name=f"monitor-{decision.target}", experiment=EXPERIMENT, tags=tags,
                   ws=ws) as run:
        log_reports(run, reports)
        run.log_metrics(numbers, step=0)
    return run.id
