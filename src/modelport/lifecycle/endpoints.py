"""Endpoints: a stable serving name whose traffic policy says which versions answer.

>>> modelport.create_endpoint("iris-api", "iris@champion")   # doctest: +SKIP

A policy routes by weight (optionally sticky on a request header, so one
user always meets one version), may mirror a share of requests to a shadow
version, and lists versions to keep loaded and warm without routing to them
(blue-green's idle slot, a rolled-back version's grace period). Every change
bumps the endpoint's ``revision``; serving workers poll revisions and follow
within a second.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from modelport.core.store.endpoints import EndpointRecord
from modelport.core.workspace import Workspace, current
from modelport.errors import InvalidInputError, NotFoundError
from modelport.lifecycle.refs import check_name, parse_ref
from modelport.lifecycle.registry import get_version


@dataclass
class Route:
    version: str  # NAME:VERSION
    weight: float


@dataclass
class Policy:
    routes: list[Route]
    shadow: str | None = None
    shadow_percent: float = 0.0
    sticky_header: str | None = None
    warm: list[str] = field(default_factory=list)

    @classmethod
    def single(cls, version: str) -> Policy:
        return cls([Route(version, 100.0)])

    def versions(self) -> list[str]:
        """Every version a server must hold loaded for this policy."""
        seen = [r.version for r in self.routes]
        for v in [self.shadow, *self.warm]:
            if v and v not in seen:
                seen.append(v)
        return seen

    def weight_of(self, version: str) -> float:
        return sum(r.weight for r in self.routes if r.version == version)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Policy:
        return cls(routes=[Route(**r) for r in data["routes"]], shadow=data.get("shadow"),
                   shadow_percent=float(data.get("shadow_percent", 0.0)),
                   sticky_header=data.get("sticky_header"), warm=list(data.get("warm", [])))

    def check(self) -> Policy:
        if not self.routes or any(r.weight < 0 for r in self.routes):
            raise InvalidInputError("a policy needs at least one route, with weights ≥ 0")
        if sum(r.weight for r in self.routes) <= 0:
            raise InvalidInputError("a policy's weights must add up to more than 0")
        if not 0 <= self.shadow_percent <= 100:
            raise InvalidInputError("shadow percent must be between 0 and 100")
        return self


@dataclass
class Endpoint:
    name: str
    policy: Policy
    revision: int
    created: float
    updated: float

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "policy": self.policy.to_dict()}


def version_label(ref: str, ws: Workspace | None = None) -> str:
    """``NAME:VERSION`` for any reference, resolved now."""
    v = get_version(ref, ws=ws)
    return f"{v.name}:{v.version}"


def _endpoint(record: EndpointRecord) -> Endpoint:
    return Endpoint(record["name"], Policy.from_dict(record["policy"]), record["revision"],
                    record["created"], record["updated"])


def create_endpoint(name: str, model: str, ws: Workspace | None = None) -> Endpoint:
    """A new endpoint sending all traffic to ``model`` (resolved to a version now)."""
    ws = current(ws)
    check_name(name)
    policy = Policy.single(version_label(model, ws=ws))
    return _endpoint(ws.store.endpoints.create_endpoint(name, policy.to_dict(), time.time()))


def get_endpoint(name: str, ws: Workspace | None = None) -> Endpoint:
    row = current(ws).store.endpoints.get_endpoint(name)
    if row is None:
        raise NotFoundError(f"endpoint {name!r} not found — create it with: modelport endpoints "
                            f"create {name} --model MODEL")
    return _endpoint(row)


def list_endpoints(ws: Workspace | None = None) -> list[Endpoint]:
    return [_endpoint(r) for r in current(ws).store.endpoints.list_endpoints()]


def revisions(ws: Workspace | None = None) -> dict[str, tuple[float, int]]:
    """Every endpoint's (created, revision): the cheap query serving workers poll.

    ``created`` tells a deleted-and-recreated endpoint from the old one, whose
    revision counter it may repeat.
    """
    return current(ws).store.endpoints.endpoint_revisions()


def set_policy(name: str, policy: Policy, ws: Workspace | None = None) -> Endpoint:
    """Replace an endpoint's policy."""
    ws = current(ws)
    return _endpoint(ws.store.endpoints.set_policy(name, checked(policy), time.time()))


def checked(policy: Policy) -> dict[str, Any]:
    """A policy as the store keeps it, once it is known to be sound and to name fixed
    versions."""
    policy.check()
    for version in policy.versions():
        ref = parse_ref(version)
        if ref.version is None:
            raise InvalidInputError(f"policies name fixed versions (NAME:VERSION), not {version}")
    return policy.to_dict()


def delete_endpoint(name: str, ws: Workspace | None = None) -> None:
    current(ws).store.endpoints.delete_endpoint(name)
