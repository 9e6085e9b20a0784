"""``/api/v1/endpoints/NAME/rollout``: the operator's verbs on an endpoint's rollout.

``start`` (canary, blue-green, shadow), ``pause``, ``resume``, ``promote``,
``abort`` and ``rollback`` run the control layer's own functions on the
server's workspace, so a dashboard or ``curl`` moves a rollout exactly as
``modelport rollout`` does; each answers the rollout as it now stands.
The store's repository routes (``…/rollouts``) stay what a remote controller
uses; the history is ``GET …/rollouts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Router, get, post
from litestar.params import FromPath, JSONBody

from modelport.control import rollout
from modelport.core.store.endpoints import Rollout
from modelport.interfaces.team.access import ProjectWorkspace, needs
from modelport.interfaces.team.inputs import storable, storable_request


@dataclass
class Canary:
    to: str
    steps: list[float]
    interval_s: float
    thresholds: dict[str, Any] = field(default_factory=dict)
    sticky_header: str | None = None


@dataclass
class BlueGreen:
    to: str
    grace_s: float = 60.0
    warm_timeout_s: float = 60.0


@dataclass
class Shadow:
    to: str
    percent: float


@dataclass
class Reason:
    reason: str = "by an operator through modelport server"


@get("/", guards=[needs("read")], sync_to_thread=True)
def status(ws: ProjectWorkspace, name: FromPath[str]) -> Rollout:
    """The endpoint's rollout in progress, or its last one."""
    return rollout.latest_rollout(name, ws=ws)


@post("/canary", guards=[needs("deploy")], status_code=201, sync_to_thread=True)
def canary(ws: ProjectWorkspace, name: FromPath[str], data: JSONBody[Canary]) -> Rollout:
    storable(data)
    return rollout.start_canary(name, data.to, data.steps, data.interval_s, data.thresholds,
                                data.sticky_header, ws=ws)


@post("/bluegreen", guards=[needs("deploy")], status_code=201, sync_to_thread=True)
def bluegreen(ws: ProjectWorkspace, name: FromPath[str], data: JSONBody[BlueGreen]) -> Rollout:
    storable(data)
    return rollout.start_bluegreen(name, data.to, data.grace_s, data.warm_timeout_s,
                                   ws=ws)


@post("/shadow", guards=[needs("deploy")], status_code=201, sync_to_thread=True)
def shadow(ws: ProjectWorkspace, name: FromPath[str], data: JSONBody[Shadow]) -> Rollout:
    storable(data)
    return rollout.start_shadow(name, data.to, data.percent, ws=ws)


@post("/pause", guards=[needs("deploy")], status_code=200, sync_to_thread=True)
def pause(ws: ProjectWorkspace, name: FromPath[str]) -> Rollout:
    return rollout.pause(name, ws=ws)


@post("/resume", guards=[needs("deploy")], status_code=200, sync_to_thread=True)
def resume(ws: ProjectWorkspace, name: FromPath[str]) -> Rollout:
    return rollout.resume(name, ws=ws)


@post("/promote", guards=[needs("deploy")], status_code=200, sync_to_thread=True)
def promote(ws: ProjectWorkspace, name: FromPath[str], data: JSONBody[Reason]) -> Rollout:
    storable(data)
    return rollout.promote(name, f"promoted {data.reason}", ws=ws)


@post("/abort", guards=[needs("deploy")], status_code=200, sync_to_thread=True)
def abort(ws: ProjectWorkspace, name: FromPath[str], data: JSONBody[Reason]) -> Rollout:
    storable(data)
    return rollout.abort(name, f"aborted {data.reason}", ws=ws)


@post("/rollback", guards=[needs("deploy")], status_code=200, sync_to_thread=True)
def rollback(ws: ProjectWorkspace, name: FromPath[str]) -> Rollout:
    return rollout.rollback(name, ws=ws)


router = Router("/api/v1/endpoints/{name:str}/rollout", route_handlers=[
    status, canary, bluegreen, shadow, pause, resume, promote, abort, rollback],
    tags=["endpoints"], before_request=storable_request)
