"""Endpoints' and rollouts' contract with the store.

A rollout's every transition is one call — the rollout (guarded by its own
revision, so two controllers never both act), the endpoint's new policy and an
event with the reason — so an implementation makes it one transaction, and a
controller that dies between two calls loses nothing. Policies travel as the
JSON dicts ``lifecycle/endpoints.Policy`` writes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol, TypedDict

ACTIVE = ("running", "paused", "warming", "switched")  # a rollout's states before its end
STATES = (*ACTIVE, "promoted", "aborted", "rolled_back", "completed")


class EndpointRecord(TypedDict):
    name: str
    policy: dict[str, Any]
    revision: int  # +1 on every policy change: what serving workers poll
    created: float
    updated: float


@dataclass
class Rollout:
    id: str
    endpoint: str
    kind: str
    state: str
    stable: str
    candidate: str
    config: dict[str, Any]
    step: int
    step_started: float
    revision: int
    created: float
    updated: float

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Event:
    at: float
    action: str
    state: str
    reason: str
    metrics: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Watch(Protocol):
    """Tells a serving worker when endpoints or rollouts changed, so it re-reads them only
    then. ``pushed``: changes come from the store as they happen (a change feed); else
    ``wait`` polls. Thread-safe; ``wait`` is called from one thread at a time."""

    pushed: bool

    def wait(self, timeout: float) -> bool:
        """Block until something changed since the last call (True; the first call always)
        or ``timeout`` seconds passed (False)."""
        ...

    def close(self) -> None: ...


class PollingWatch:
    """A ``Watch`` that reads every endpoint's revision each ``poll_s``: for a store that
    pushes nothing (a database)."""

    pushed = False

    def __init__(self, repo: EndpointsRepository, poll_s: float = 0.25) -> None:
        self.repo = repo
        self.poll_s = poll_s
        self.seen: dict[str, tuple[float, int]] | None = None

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.repo.endpoint_revisions()
            if seen != self.seen:
                self.seen = seen
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.poll_s, left))

    def close(self) -> None:
        pass


class EndpointsRepository(Protocol):
    """Endpoints and their rollouts. Thread-safe; every method is one transaction.
    A missing endpoint raises ``NotFoundError`` where a method changes one."""

    def create_endpoint(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        """A new endpoint at revision 1; ``ConflictError`` if the name is taken."""
        ...

    def get_endpoint(self, name: str) -> EndpointRecord | None: ...

    def list_endpoints(self) -> list[EndpointRecord]:
        """By name."""
        ...

    def endpoint_revisions(self) -> dict[str, tuple[float, int]]:
        """Every endpoint's (created, revision): the cheap read serving workers poll."""
        ...

    def set_policy(self, name: str, policy: dict[str, Any], now: float) -> EndpointRecord:
        """Replace the policy and bump the revision."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """The endpoint with its rollouts and live statistics."""
        ...

    def start_rollout(self, rollout: Rollout, policy: dict[str, Any], event: Event) -> None:
        """Record a new rollout, set the endpoint's policy and log ``event``; a
        ``ConflictError`` if the endpoint already has an active rollout."""
        ...

    def transition(self, rollout: Rollout, moved: Rollout, policy: dict[str, Any] | None,
                   event: Event) -> None:
        """Replace ``rollout`` by ``moved`` (its revision one higher), set the policy when
        given and log ``event`` — or a ``ConflictError``, changing nothing, if the stored
        rollout is no longer at ``rollout``'s revision."""
        ...

    def active_rollout(self, endpoint: str) -> Rollout | None: ...

    def latest_rollout(self, endpoint: str) -> Rollout | None: ...

    def active_rollouts(self) -> list[Rollout]: ...

    def rollout_history(self, endpoint: str) -> list[tuple[Rollout, list[Event]]]:
        """Every rollout of ``endpoint``, oldest first, each with its events in order."""
        ...

    def watch(self) -> Watch:
        """A new watch of endpoint and rollout changes (the caller closes it)."""
        ...
