"""The loop back to retraining: drift found in served traffic → retrain → release the winner.

One ``check`` reads the monitoring reports of a target; when a feature (or the
predictions) drifted, it re-runs the champion's recipe on recent labelled data
(``lifecycle/retrain.py``). Behind an endpoint a winning challenger is not promoted at
once: a canary (or shadow) rollout of it starts, and the rollout controller's analysis
of live traffic decides the rest. For a bare model the winner is promoted as
``modelport retrain`` does. Every check is recorded as a run (experiment ``monitor``)
with what drifted, what was decided and the numbers it was decided on (the champion's
and challenger's scores), so the history can be audited; ``check_every`` (``--every
1h``) makes it a schedule, each turn its own run.

>>> check("credit-api", "recent.parquet", rollout="canary")          # doctest: +SKIP
LoopDecision(action='canary', drifted=['credit:1 debt'], …)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from modelport.control.rollout import start_canary, start_shadow
from modelport.core.schedule import repeat
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.monitor_runs import EXPERIMENT, drifted_columns, log_reports
from modelport.lifecycle.monitor_runs import tags as monitor_tags
from modelport.lifecycle.monitoring import TRAINING, endpoint_of, monitor
from modelport.lifecycle.retrain import retrain
from modelport.lifecycle.tracking import start_run

ROLLOUTS = ("canary", "shadow")


@dataclass
class LoopDecision:
    target: str
    action: str  # none (no drift) · kept (challenger lost) · promoted · canary · shadow
    drifted: list[str]  # "NAME:VERSION column" of every drifted column
    challenger: str | None = None
    champion_score: float | None = None
    challenger_score: float | None = None
    metric: str | None = None
    rollout_id: str | None = None
    run_id: str | None = None

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
    reports = monitor(target, since_s, baseline, ws=ws)
    decision = LoopDecision(target, "none", drifted_columns(reports))
    if decision.drifted:
        found = endpoint_of(target, ws=ws)
        endpoint = found.name if found is not None else None
        name = str(reports[0]["model"])
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
    decision.run_id = _record(decision, reports, ws)
    return decision


def check_every(target: str, data: str, interval: float, *, times: int | None = None,
                on_decision: Callable[[LoopDecision], None] | None = None,
                sleep: Callable[[float], None] = time.sleep, **options: Any
                ) -> list[LoopDecision]:
    """``check`` now and then every ``interval`` seconds (re-reading ``data``, the latest
    labelled rows), ``times`` times or until stopped; each turn is recorded as it ends."""
    return repeat(lambda: check(target, data, **options), interval, times=times,
                  on_each=on_decision, sleep=sleep)


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
