"""Rollouts: recorded state machines that move an endpoint from one version to the next.

Every transition is one transaction — the rollout row (guarded by its own
revision, so two controllers never both act), the endpoint's new policy and
an event with the reason and the metrics behind it. A controller that dies
mid-rollout loses nothing: the next one reads the row and carries on.

States: ``running`` / ``paused`` (canary, shadow), ``warming`` → ``switched``
(blue-green), and the ends ``promoted``, ``aborted``, ``rolled_back``,
``completed``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from modelport.core.store.endpoints import Event, Rollout
from modelport.core.workspace import Workspace, current
from modelport.errors import ConflictError, InvalidInputError, NotFoundError
from modelport.lifecycle.endpoints import Policy, Route, checked, get_endpoint, version_label
from modelport.lifecycle.registry import get_version

KINDS = ("canary", "bluegreen", "shadow")


# ------------------------------------------------------------------ policies

def canary_policy(r: Rollout, percent: float) -> Policy:
    return Policy([Route(r.stable, 100.0 - percent), Route(r.candidate, percent)],
                  sticky_header=r.config.get("sticky_header"))


def shadow_policy(r: Rollout) -> Policy:
    return Policy([Route(r.stable, 100.0)], shadow=r.candidate,
                  shadow_percent=float(r.config.get("percent", 100.0)))


# ------------------------------------------------------------------ reading

def active_rollout(endpoint: str, ws: Workspace | None = None) -> Rollout | None:
    return current(ws).store.endpoints.active_rollout(endpoint)


def latest_rollout(endpoint: str, ws: Workspace | None = None) -> Rollout:
    ws = current(ws)
    get_endpoint(endpoint, ws=ws)
    row = ws.store.endpoints.latest_rollout(endpoint)
    if row is None:
        raise NotFoundError(f"endpoint {endpoint!r} has had no rollout — start one with: "
                            f"modelport rollout canary {endpoint} --to MODEL:VERSION")
    return row


def active_rollouts(ws: Workspace | None = None) -> list[Rollout]:
    return current(ws).store.endpoints.active_rollouts()


def history(endpoint: str, ws: Workspace | None = None) -> list[tuple[Rollout, list[Event]]]:
    ws = current(ws)
    get_endpoint(endpoint, ws=ws)
    return ws.store.endpoints.rollout_history(endpoint)


# ------------------------------------------------------------------ starting

def _check_candidate(stable: str, candidate: str, ws: Workspace) -> None:
    """Pre-promotion checks: the candidate takes what clients send the stable version,
    and answers its own input example and the stable version's."""
    from modelport.lifecycle.loading import load

    if stable == candidate:
        raise InvalidInputError(f"{candidate} is already what the endpoint serves")
    old, new = get_version(stable, ws=ws), get_version(candidate, ws=ws)
    missing = [c for c in new.signature.names if c not in old.signature.names]
    if missing:
        raise InvalidInputError(
            f"{candidate} needs column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} that clients of {stable} do not send")
    predictor = load(candidate, runtime="auto", ws=ws)
    for label, example in (("its own", new.input_example), (f"{stable}'s", old.input_example)):
        if example:
            try:
                predictor.predict(example)
            except Exception as exc:
                raise InvalidInputError(f"{candidate} fails on {label} input example: "
                                        f"{exc}") from None


def _start(endpoint: str, kind: str, to: str, config: dict[str, Any], state: str,
           policy_for: Any, ws: Workspace | None) -> Rollout:
    ws = current(ws)
    ep = get_endpoint(endpoint, ws=ws)
    if active_rollout(endpoint, ws=ws) is not None:
        raise ConflictError(f"endpoint {endpoint!r} already has a rollout in progress — see "
                            f"modelport rollout status {endpoint}")
    stable = max(ep.policy.routes, key=lambda r: r.weight).version
    candidate = version_label(to, ws=ws)
    _check_candidate(stable, candidate, ws)
    now = time.time()
    r = Rollout(uuid.uuid4().hex, endpoint, kind, state, stable, candidate, config, 0, now, 1,
                now, now)
    ws.store.endpoints.start_rollout(
        r, checked(policy_for(r)), Event(now, "start", state, f"{kind} of {candidate} over "
                                         f"{stable}", None))
    return r


def start_canary(endpoint: str, to: str, steps: list[float], interval_s: float,
                 thresholds: dict[str, Any] | None = None, sticky_header: str | None = None,
                 ws: Workspace | None = None) -> Rollout:
    if not steps or any(not 0 < s <= 100 for s in steps) or steps != sorted(steps):
        raise InvalidInputError("steps must be increasing percentages in (0, 100], e.g. "
                                "5,25,50,100")
    if interval_s <= 0:
        raise InvalidInputError("the interval must be positive")
    config = {"steps": steps, "interval_s": interval_s, "thresholds": thresholds or {},
              "sticky_header": sticky_header}
    return _start(endpoint, "canary", to, config, "running",
                  lambda r: canary_policy(r, steps[0]), ws)


def start_bluegreen(endpoint: str, to: str, grace_s: float = 60.0, warm_timeout_s: float = 60.0,
                    ws: Workspace | None = None) -> Rollout:
    config = {"grace_s": grace_s, "warm_timeout_s": warm_timeout_s}
    return _start(endpoint, "bluegreen", to, config, "warming",
                  lambda r: Policy([Route(r.stable, 100.0)], warm=[r.candidate]), ws)


def start_shadow(endpoint: str, to: str, percent: float, ws: Workspace | None = None) -> Rollout:
    if not 0 < percent <= 100:
        raise InvalidInputError("the shadow share must be a percentage in (0, 100]")
    return _start(endpoint, "shadow", to, {"percent": percent}, "running", shadow_policy, ws)


# ------------------------------------------------------------------ transitions

def transition(r: Rollout, action: str, reason: str, *, state: str | None = None,
               step: int | None = None, policy: Policy | None = None,
               metrics: dict[str, Any] | None = None, ws: Workspace | None = None) -> Rollout:
    """Apply one transition if nobody else changed the rollout since ``r`` was read."""
    ws = current(ws)
    now = time.time()
    new_state = state or r.state
    new_step = r.step if step is None else step
    restart_clock = new_step != r.step or new_state != r.state
    moved = Rollout(**{**r.to_dict(), "state": new_state, "step": new_step,
                       "step_started": now if restart_clock else r.step_started,
                       "revision": r.revision + 1, "updated": now})
    ws.store.endpoints.transition(r, moved, checked(policy) if policy is not None else None,
                                  Event(now, action, new_state, reason, metrics))
    return moved


def _require_active(endpoint: str, ws: Workspace | None) -> Rollout:
    r = active_rollout(endpoint, ws=ws)
    if r is None:
        raise NotFoundError(f"endpoint {endpoint!r} has no rollout in progress")
    return r


def pause(endpoint: str, ws: Workspace | None = None) -> Rollout:
    r = _require_active(endpoint, ws)
    if r.state != "running":
        raise ConflictError(f"the rollout of {endpoint} is {r.state}, not running")
    return transition(r, "pause", "paused by an operator", state="paused", ws=ws)


def resume(endpoint: str, ws: Workspace | None = None) -> Rollout:
    r = _require_active(endpoint, ws)
    if r.state != "paused":
        raise ConflictError(f"the rollout of {endpoint} is {r.state}, not paused")
    return transition(r, "resume", "resumed by an operator", state="running", ws=ws)


def promote(endpoint: str, reason: str = "promoted by an operator",
            ws: Workspace | None = None, metrics: dict[str, Any] | None = None) -> Rollout:
    """Send all traffic to the candidate now (the stable version stays warm a while)."""
    r = _require_active(endpoint, ws)
    return transition(r, "promote", reason, state="promoted",
                      policy=Policy.single(r.candidate), metrics=metrics, ws=ws)


def abort(endpoint: str, reason: str = "aborted by an operator", ws: Workspace | None = None,
          metrics: dict[str, Any] | None = None) -> Rollout:
    """Send all traffic back to the stable version now."""
    r = _require_active(endpoint, ws)
    return transition(r, "abort", reason, state="aborted", policy=Policy.single(r.stable),
                      metrics=metrics, ws=ws)


def rollback(endpoint: str, ws: Workspace | None = None) -> Rollout:
    """Undo the last release of ``endpoint``: back to the version it replaced, at once."""
    ws = current(ws)
    r = active_rollout(endpoint, ws=ws) or latest_rollout(endpoint, ws=ws)
    if r.state in ("aborted", "rolled_back"):
        raise ConflictError(f"the last rollout of {endpoint} already went back to {r.stable}")
    return transition(r, "rollback", "rolled back by an operator", state="rolled_back",
                      policy=Policy.single(r.stable), ws=ws)
