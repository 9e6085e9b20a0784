"""Endpoints and rollouts over REST: ``EndpointsRepository`` as calls to ``/api/v1/endpoints``.

A transition travels whole (the rollout as read, the moved one, the policy,
the event), so the server applies it as one transaction guarded by the
rollout's revision, exactly as the SQL store does in-process.
"""

from __future__ import annotations

from typing import Any

from modelport.core.store.endpoints import EndpointRecord, Event, Rollout, Watch
from modelport.core.store.rest.api import Api, segment
from modelport.core.store.rest.watch import FeedWatch


def _rollout(data: dict[str, Any] | None) -> Rollout | None:
    return None if data is None else Rollout(**data)


class RestEndpoints:
    def __init__(self, api: Api) -> None:
        self.api = api

    def _at(self, name: str) -> str:
        return f"/endpoints/{segment(name)}"

    def create_endpoint(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        return self.api.call(  # type: ignore[no-any-return]
            "POST", "/endpoints", {"name": name, "policy": policy, "now": now})

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        return self.api.found(self._at(name))  # type: ignore[no-any-return]

    def list_endpoints(self) -> list[EndpointRecord]:
        return list(self.api.call("GET", "/endpoints"))

    def endpoint_revisions(self) -> dict[str, tuple[float, int]]:
        return {name: (float(r["created"]), int(r["revision"]))
                for name, r in self.api.call("GET", "/endpoints/revisions").items()}

    def set_policy(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        return self.api.call(  # type: ignore[no-any-return]
            "PUT", f"{self._at(name)}/policy", {"policy": policy, "now": now})

    def delete_endpoint(self, name: str) -> None:
        self.api.call("DELETE", self._at(name))

    def start_rollout(self, rollout: Rollout, policy: dict[str, Any], event: Event) -> None:
        self.api.call("POST", f"{self._at(rollout.endpoint)}/rollouts", {
            "rollout": rollout.to_dict(), "policy": policy, "event": event.to_dict()})

    def transition(self, rollout: Rollout, moved: Rollout, policy: dict[str, Any] | None,
                   event: Event) -> None:
        self.api.call("POST", f"{self._at(rollout.endpoint)}/rollouts/"
                              f"{segment(rollout.id)}/transitions", {
                                  "rollout": rollout.to_dict(), "moved": moved.to_dict(),
                                  "policy": policy, "event": event.to_dict()})

    def active_rollout(self, endpoint: str) -> Rollout | None:
        return _rollout(self.api.call("GET", f"{self._at(endpoint)}/rollouts/active"))

    def latest_rollout(self, endpoint: str) -> Rollout | None:
        return _rollout(self.api.call("GET", f"{self._at(endpoint)}/rollouts/latest"))

    def active_rollouts(self) -> list[Rollout]:
        return [Rollout(**r) for r in self.api.call("GET", "/rollouts/active")]

    def rollout_history(self, endpoint: str) -> list[tuple[Rollout, list[Event]]]:
        return [(Rollout(**h["rollout"]), [Event(**e) for e in h["events"]])
                for h in self.api.call("GET", f"{self._at(endpoint)}/rollouts")]

    def watch(self) -> Watch:
        """Changes pushed by the server's change feed: no polling."""
        return FeedWatch(self.api.base, self.api.token)
