"""The endpoints-and-rollouts repository's contract, on every implementation and database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pytest

from modelport.core.store import Store
from modelport.core.store.endpoints import Event, Rollout
from modelport.errors import ConflictError, NotFoundError

ONE = {"routes": [{"version": "iris:1", "weight": 100.0}]}
SPLIT = {"routes": [{"version": "iris:1", "weight": 90.0}, {"version": "iris:2", "weight": 10.0}]}


def rollout(rollout_id: str, created: float, state: str = "running") -> Rollout:
    return Rollout(rollout_id, "api", "canary", state, "iris:1", "iris:2", {"steps": [10, 100]},
                   0, created, 1, created, created)


def test_endpoints_are_created_changed_and_deleted(store: Store) -> None:
    eps = store.endpoints
    made = eps.create_endpoint("api", ONE, now=1.0)
    assert made == {"name": "api", "policy": ONE, "revision": 1, "created": 1.0, "updated": 1.0}
    with pytest.raises(ConflictError, match=r"endpoint 'api' already exists"):
        eps.create_endpoint("api", SPLIT, now=2.0)
    assert eps.set_policy("api", SPLIT, now=3.0) == {**made, "policy": SPLIT, "revision": 2,
                                                     "updated": 3.0}
    eps.create_endpoint("aaa", ONE, now=4.0)
    assert [e["name"] for e in eps.list_endpoints()] == ["aaa", "api"]
    assert eps.endpoint_revisions() == {"api": (1.0, 2), "aaa": (4.0, 1)}
    eps.start_rollout(rollout("r1", 5.0), SPLIT, Event(5.0, "start", "running", "go", None))
    store.stats.write_windows([{"endpoint": "api", "version": "iris:1", "worker": "w",
                                "window": 5.0, "data": {"requests": 1}}], "w", 0.0)
    eps.delete_endpoint("api")
    assert eps.get_endpoint("api") is None and eps.latest_rollout("api") is None
    assert store.stats.read_windows("api", 0.0) == []  # its statistics go with it
    for call in (lambda: eps.delete_endpoint("api"), lambda: eps.set_policy("api", ONE, 1.0),
                 lambda: eps.start_rollout(rollout("r2", 6.0), SPLIT,
                                           Event(6.0, "start", "running", "", None))):
        with pytest.raises(NotFoundError, match=r"endpoint 'api' not found"):
            call()


def test_a_rollout_moves_with_its_policy_and_events(store: Store) -> None:
    eps = store.endpoints
    eps.create_endpoint("api", ONE, now=1.0)
    r = rollout("r1", 2.0)
    eps.start_rollout(r, SPLIT, Event(2.0, "start", "running", "canary", None))
    assert eps.active_rollout("api") == r == eps.latest_rollout("api")
    assert eps.get_endpoint("api")["revision"] == 2  # type: ignore[index]
    moved = replace(r, state="promoted", revision=2, updated=3.0)
    eps.transition(r, moved, {"routes": [{"version": "iris:2", "weight": 100.0}]},
                   Event(3.0, "promote", "promoted", "good", {"errors": 0.0}))
    assert eps.active_rollout("api") is None and eps.active_rollouts() == []
    assert eps.latest_rollout("api") == moved
    assert eps.get_endpoint("api")["policy"]["routes"][0]["version"] == "iris:2"  # type: ignore[index]
    [(stored, events)] = eps.rollout_history("api")
    assert stored == moved
    assert [(e.action, e.state, e.metrics) for e in events] == [
        ("start", "running", None), ("promote", "promoted", {"errors": 0.0})]


def test_one_active_rollout_per_endpoint(store: Store) -> None:
    eps = store.endpoints
    eps.create_endpoint("api", ONE, now=1.0)
    eps.start_rollout(rollout("r1", 2.0), SPLIT, Event(2.0, "start", "running", "", None))
    with pytest.raises(ConflictError, match="already has a rollout in progress"):
        eps.start_rollout(rollout("r2", 3.0), ONE, Event(3.0, "start", "running", "", None))
    assert [r.id for r in eps.active_rollouts()] == ["r1"]
    assert eps.get_endpoint("api")["policy"] == SPLIT  # type: ignore[index]


def test_two_controllers_never_both_act(store: Store) -> None:
    """Of concurrent transitions from one read of a rollout, exactly one lands."""
    eps = store.endpoints
    eps.create_endpoint("api", ONE, now=1.0)
    r = rollout("r1", 2.0)
    eps.start_rollout(r, SPLIT, Event(2.0, "start", "running", "", None))
    outcomes = _race(4, lambda i: eps.transition(r, replace(r, step=i, revision=2), None,
                                                 Event(3.0, f"step{i}", "running", "", None)))
    assert outcomes == ["conflict"] * 3 + ["done"]
    [(stored, events)] = eps.rollout_history("api")
    assert stored.revision == 2 and len(events) == 2


def test_a_transition_on_a_stale_read_changes_nothing(store: Store) -> None:
    eps = store.endpoints
    eps.create_endpoint("api", ONE, now=1.0)
    r = rollout("r1", 2.0)
    eps.start_rollout(r, SPLIT, Event(2.0, "start", "running", "", None))
    eps.transition(r, replace(r, state="paused", revision=2), None,
                   Event(3.0, "pause", "paused", "", None))
    with pytest.raises(ConflictError, match="changed meanwhile"):
        eps.transition(r, replace(r, state="aborted", revision=2), ONE,
                       Event(4.0, "abort", "aborted", "", None))
    assert eps.active_rollout("api").state == "paused"  # type: ignore[union-attr]
    assert eps.get_endpoint("api")["policy"] == SPLIT  # type: ignore[index]
    assert len(eps.rollout_history("api")[0][1]) == 2


def _race(n: int, act: Callable[[int], None]) -> list[str]:
    """Run ``act(i)`` on ``n`` threads at once; each outcome is "done" or "conflict"."""
    outcomes: list[str] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            act(i)
            outcomes.append("done")
        except ConflictError:
            outcomes.append("conflict")

    workers = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sorted(outcomes)


def test_racing_creations_of_one_endpoint(store: Store) -> None:
    outcomes = _race(4, lambda i: store.endpoints.create_endpoint("api", ONE, now=float(i)))
    assert outcomes == ["conflict"] * 3 + ["done"]
    assert len(store.endpoints.list_endpoints()) == 1


def test_racing_rollouts_of_one_endpoint(store: Store) -> None:
    store.endpoints.create_endpoint("api", ONE, now=1.0)
    outcomes = _race(4, lambda i: store.endpoints.start_rollout(
        rollout(f"r{i}", 2.0 + i), SPLIT, Event(2.0, "start", "running", "", None)))
    assert outcomes == ["conflict"] * 3 + ["done"]
    assert len(store.endpoints.active_rollouts()) == 1
    assert store.endpoints.get_endpoint("api")["revision"] == 2  # type: ignore[index]


def test_a_watch_wakes_on_a_policy_change_and_not_otherwise(store: Store) -> None:
    store.endpoints.create_endpoint("api", ONE, now=1.0)
    watch = store.endpoints.watch()
    try:
        assert watch.wait(5.0)  # the first look reads everything
        while watch.wait(1.0):  # a feed's follower also says when it connects: until quiet
            pass
        store.endpoints.set_policy("api", SPLIT, now=2.0)
        started = time.monotonic()
        assert watch.wait(5.0)
        assert time.monotonic() - started < 2.0
        assert not watch.wait(0.3)
    finally:
        watch.close()
