"""The loop back to retraining: drift found in served traffic → retrain → release the winner.

One ``check`` reads the monitoring reports of a target; when a feature (or the
predictions) drifted, it re-runs the champion's recipe on recent labelled data
(``lifecycle/retrain.py``). Behind an endpoint a winning challenger is not promoted at
once: a canary (or shadow) rollout of it starts, and the rollout controller's analysis
of live traffic decides the rest. For a bare model the winner is promoted as
``modelport retrain`` does. Every check is recorded as a run (experiment ``monitor``)
with what drifted and what was decided, so the history can be audited; a cron job or
``--every`` makes it a schedule.

>>> check("credit-api", "recent.parquet", rollout="canary")          # doctest: +SKIP
LoopDecision(action='canary', drifted=['credit:1 debt'], …)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from modelport.control.rollout import start_canary, start_shadow
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError
from modelport.lifecycle.drift import DRIFT
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


def drifted_columns(reports: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in reports:
        columns = dict(r.get("features", {}))
        if r.get("prediction") is not None:
            columns["(prediction)"] = r["prediction"]
        out += [f"{r['model']}:{r['version']} {n}" for n, c in columns.items()
                if c["status"] == DRIFT]
    return out


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
    decision.run_id = _record(decision, ws)
    return decision


def _record(decision: LoopDecision, ws: Workspace) -> str:
    with start_run(name=f"monitor-{decision.target}", experiment="monitor", tags={
            "kind": "monitor", "target": decision.target, "action": decision.action,
            "drifted": json.dumps(decision.drifted)[:8000]}, ws=ws) as run:
        run.log_metrics({"drifted_columns": len(decision.drifted)}, step=0)
    return run.id
