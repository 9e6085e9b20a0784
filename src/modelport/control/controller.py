"""The rollout controller: one tick a second moves every active rollout along.

It keeps no state of its own — everything is in the rollout rows — so any
number of controllers (one per serving worker, or ``modelport controller``)
can tick; a transition already made by another is refused by the row's
revision and simply skipped.
"""

from __future__ import annotations

import logging
import time

from modelport.control.analysis import Thresholds, analyse
from modelport.control.rollout import (
    Rollout,
    abort,
    active_rollouts,
    canary_policy,
    promote,
    transition,
)
from modelport.core.workspace import Workspace, current
from modelport.errors import ConflictError
from modelport.lifecycle.endpoints import Policy, Route
from modelport.runtimes.serving.stats import loaded_by, read_stats

log = logging.getLogger("modelport.controller")


class Controller:
    def __init__(self, ws: Workspace | None = None) -> None:
        self.ws = current(ws)

    def tick(self) -> int:
        """Move every active rollout one step if its analysis says so; how many were
        active."""
        rollouts = active_rollouts(ws=self.ws)
        for r in rollouts:
            handler = {"canary": self._canary, "bluegreen": self._bluegreen}.get(r.kind)
            if handler is None:  # a shadow runs until an operator promotes or aborts it
                continue
            try:
                handler(r)
            except ConflictError:
                continue  # another controller acted first
            except Exception:  # one rollout that cannot move never holds the others
                log.exception("rollout of %s failed this tick; retrying", r.endpoint)
        return len(rollouts)

    def _canary(self, r: Rollout) -> None:
        if r.state != "running":
            return
        steps = r.config["steps"]
        stats = read_stats(r.endpoint, r.step_started, self.ws)
        verdict = analyse(stats.get(r.candidate), stats.get(r.stable),
                          Thresholds.from_dict(r.config.get("thresholds", {})),
                          time.time() - r.step_started, r.config["interval_s"])
        if verdict.decision == "fail":
            log.warning("aborting %s canary of %s: %s", r.endpoint, r.candidate, verdict.reason)
            abort(r.endpoint, f"step {r.step + 1} ({steps[r.step]:g}%) failed: {verdict.reason}",
                  ws=self.ws, metrics=verdict.metrics)
        elif verdict.decision == "pass":
            if r.step + 1 >= len(steps):
                promote(r.endpoint, f"every step passed: {verdict.reason}", ws=self.ws,
                        metrics=verdict.metrics)
            else:
                nxt = r.step + 1
                transition(r, "step", f"step {r.step + 1} ({steps[r.step]:g}%) passed: "
                           f"{verdict.reason}; now {steps[nxt]:g}%", step=nxt,
                           policy=canary_policy(r, steps[nxt]), metrics=verdict.metrics,
                           ws=self.ws)

    def _bluegreen(self, r: Rollout) -> None:
        elapsed = time.time() - r.step_started
        if r.state == "warming":
            holding, alive = loaded_by(r.endpoint, r.candidate, 3.0, self.ws)
            if holding >= alive or elapsed > r.config["warm_timeout_s"]:
                why = (f"{r.candidate} warm in {holding}/{alive} serving workers" if alive
                       else "no serving worker is running")
                transition(r, "switch", f"switched to {r.candidate}: {why}", state="switched",
                           policy=Policy([Route(r.candidate, 100.0)], warm=[r.stable]),
                           ws=self.ws)
        elif r.state == "switched" and elapsed > r.config["grace_s"]:
            transition(r, "complete", f"grace period of {r.config['grace_s']:g} s over; "
                       f"{r.stable} released", state="completed",
                       policy=Policy.single(r.candidate), ws=self.ws)

    def run(self, every_s: float = 1.0) -> None:
        while True:
            try:
                self.tick()
            except Exception:  # keep controlling through a database hiccup
                log.exception("controller tick failed; retrying")
            time.sleep(every_s)

