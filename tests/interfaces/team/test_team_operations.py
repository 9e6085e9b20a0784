"""The team server's operational routes (endpoints, rollouts, jobs, streams, stats, keys)
refuse bad input with JSON and the right status, before the store sees it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.rest import RestStore
from modelport.core.workspace import Workspace
from modelport.errors import ModelportError
from modelport.interfaces.team import create_app
from team_server import team_server

ONE = {"routes": [{"version": "iris:1", "weight": 100.0}]}
ROLLOUT = {"id": "r1", "endpoint": "api", "kind": "canary", "state": "running",
           "stable": "iris:1", "candidate": "iris:2", "config": {}, "step": 0,
           "step_started": 2.0, "revision": 1, "created": 2.0, "updated": 2.0}
EVENT = {"at": 2.0, "action": "start", "state": "running", "reason": "", "metrics": None}


@pytest.fixture
def clients(ws: Workspace) -> Iterator[dict[str, TestClient]]:  # type: ignore[type-arg]
    """A client of one server per role, each with a key of that role."""
    secrets = {role: create_key(role, [role], ws=ws)[1] for role in ("admin", "deploy", "write",
                                                                      "read")}
    with contextlib.ExitStack() as stack:
        made: dict[str, TestClient] = {}  # type: ignore[type-arg]
        for role, secret in secrets.items():
            made[role] = stack.enter_context(TestClient(create_app(ws)))
            made[role].headers["Authorization"] = f"Bearer {secret}"
        yield made


def answer(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def test_unknown_names_are_404_with_a_code(clients: dict[str, TestClient]) -> None:  # type: ignore[type-arg]
    c = clients["deploy"]  # endpoints are a release pipeline's
    for path in ("/api/v1/endpoints/nope", "/api/v1/jobs/nope", "/api/v1/streams/s/c"):
        assert answer(c.get(path), 404)["code"] == "not_found", path
    assert "endpoint 'nope' not found" in answer(
        c.put("/api/v1/endpoints/nope/policy", json={"policy": ONE, "now": 1.0}), 404)["error"]
    assert answer(c.get("/api/v1/endpoints/nope/rollouts/active"), 200) is None


def test_a_job_result_is_an_object_a_store_can_keep(clients: dict[str, TestClient]  # type: ignore[type-arg]
                                                    ) -> None:
    c = clients["write"]
    job = {"id": "j9", "kind": "monitor", "model": "iris", "version": 1, "status": "running",
           "input": "logs", "input_digest": None, "output": "-", "options": {}, "rows": 0,
           "rows_failed": 0, "parts": 0, "error": None, "started": 1.0, "ended": None,
           "duration": None}  # as a client made before results posts it: no result key
    assert c.post("/api/v1/jobs", json=job).status_code == 201
    finish = {"status": "succeeded", "ended": 2.0, "duration": 1.0}
    for result, field in (({"drifted": ["iris:1 a\x00"]}, "body.result.drifted[0]"),
                          ({"rows": 2**70}, "body.result.rows"), ("canary", "result"),
                          ([1, 2], "result")):
        bad = answer(c.post("/api/v1/jobs/j9/finish", json={**finish, "result": result}), 422)
        assert field in bad["error"], result
    assert answer(c.get("/api/v1/jobs/j9"), 200)["status"] == "running"  # nothing was kept
    decided = {"action": "none", "drifted": [], "run_id": "r1"}
    assert c.post("/api/v1/jobs/j9/finish", json={**finish, "result": decided}
                  ).status_code == 204
    assert answer(c.get("/api/v1/jobs/j9"), 200)["result"] == decided


def test_bad_bodies_are_422_naming_the_field(clients: dict[str, TestClient]) -> None:  # type: ignore[type-arg]
    c = clients["deploy"]  # endpoints are a release pipeline's
    missing = answer(c.post("/api/v1/endpoints", json={"name": "api", "now": 1.0}), 422)
    assert missing["code"] == "invalid_input" and "policy" in missing["error"]
    wrong = answer(c.put("/api/v1/jobs/j1/progress",
                         json={"rows": "many", "rows_failed": 0, "parts": 0}), 422)
    assert "rows" in wrong["error"]
    nul = answer(c.post("/api/v1/endpoints", json={"name": "api", "now": 1.0,
                                                   "policy": {"routes": ["a\x00"]}}), 422)
    assert "body.policy.routes[0]" in nul["error"]
    huge = answer(c.post("/api/v1/stats/windows", json={
        "rows": [{"endpoint": "api", "version": "iris:1", "worker": "w", "window": 1.0,
                  "data": {"requests": 2**70}}], "worker": "w", "forget_before": 0.0}), 422)
    assert "requests" in huge["error"]
    assert "path" in answer(c.get("/api/v1/jobs/a%00b"), 422)["error"]
    assert "query" in answer(c.get("/api/v1/streams", params={"name": "a\x00"}), 422)["error"]
    assert answer(c.get("/api/v1/jobs", params={"limit": 0}), 400)["code"] == "invalid_input"
    for policy in ({}, {"routes": [{"version": "iris:1"}]}, {"routes": [{"version": "iris",
                   "weight": 100}]}, {"routes": [{"version": "iris:1", "weight": "x"}]}):
        bad = answer(c.post("/api/v1/endpoints", json={"name": "api", "policy": policy,
                                                       "now": 1.0}), 422)
        assert "invalid body field 'policy': not a traffic policy" in bad["error"], policy
    assert answer(c.post("/api/v1/endpoints", json={"name": "a/b", "policy": ONE, "now": 1.0}),
                  400)["code"] == "invalid_input"
    assert c.get("/api/v1/endpoints").json() == []  # nothing was stored


def test_a_rollout_is_refused_under_another_endpoint(clients: dict[str, TestClient]) -> None:  # type: ignore[type-arg]
    c = clients["deploy"]  # endpoints are a release pipeline's
    answer(c.post("/api/v1/endpoints", json={"name": "api", "policy": ONE, "now": 1.0}), 201)
    answer(c.post("/api/v1/endpoints", json={"name": "other", "policy": ONE, "now": 1.0}), 201)
    start = {"rollout": ROLLOUT, "policy": ONE, "event": EVENT}
    assert "belongs to endpoint 'api'" in answer(
        c.post("/api/v1/endpoints/other/rollouts", json=start), 400)["error"]
    for wrong in ({"kind": "yolo"}, {"state": "exploded"}, {"candidate": "iris@champion"}):
        odd = {"rollout": {**ROLLOUT, **wrong}, "policy": ONE, "event": EVENT}
        assert answer(c.post("/api/v1/endpoints/api/rollouts", json=odd), 400)["code"] == \
            "invalid_input", wrong
    answer(c.post("/api/v1/endpoints/api/rollouts", json=start), 201)
    assert answer(c.get("/api/v1/endpoints/revisions"), 200)["api"]["revision"] == 2
    moved = {**ROLLOUT, "id": "r2", "revision": 2}
    step = {"rollout": ROLLOUT, "moved": moved, "policy": None, "event": EVENT}
    assert answer(c.post("/api/v1/endpoints/api/rollouts/r1/transitions", json=step),
                  400)["code"] == "invalid_input"
    assert answer(c.post("/api/v1/endpoints/api/rollouts", json=start), 409)["code"] == "conflict"


def test_keys_are_for_admin_keys_only(clients: dict[str, TestClient]) -> None:  # type: ignore[type-arg]
    key = {"id": "k9", "name": "ci", "scopes": ["read"], "models": None, "rate_limit": None,
           "created": 1.0, "revoked": None}
    for role in ("write", "read"):
        assert answer(clients[role].get("/api/v1/keys/active"), 403)["code"] == "forbidden"
        assert answer(clients[role].post("/api/v1/keys", json={"key": key, "digest": "d" * 64}),
                      403)["code"] == "forbidden"
    admin = clients["admin"]
    bad_scope = {"key": {**key, "scopes": ["root"]}, "digest": "d" * 64}
    assert "scopes" in answer(admin.post("/api/v1/keys", json=bad_scope), 400)["error"]
    assert "digest" in answer(admin.post("/api/v1/keys", json={"key": key, "digest": "x"}),
                              400)["error"]
    answer(admin.post("/api/v1/keys", json={"key": key, "digest": "d" * 64}), 201)
    assert answer(admin.post("/api/v1/keys", json={"key": {**key, "id": "k8"},
                                                   "digest": "d" * 64}), 409)["code"] == "conflict"
    assert answer(admin.post("/api/v1/keys/k9/revoke", json={"now": 2.0}), 200) == {
        "revoked": True}
    assert clients["write"].get("/api/v1/jobs").status_code == 200  # write implies read
    assert answer(clients["read"].post("/api/v1/jobs/x/finish", json={
        "status": "failed", "ended": 1.0, "duration": 1.0}), 403)["code"] == "forbidden"


@pytest.mark.storage_independent
def test_a_replica_without_an_admin_key_is_told_what_it_needs(settings: Settings) -> None:
    with team_server(settings) as (url, admin):
        _, writer = create_key("replica", ["write"], ws=Workspace.open(settings))
        store = RestStore(url, writer)
        try:
            deadline = time.monotonic() + 10  # the server re-reads its keys every 2 s
            while True:
                try:
                    store.keys.active_keys_by_digest()
                except ModelportError as exc:
                    if exc.code == "unauthorized" and time.monotonic() < deadline:
                        time.sleep(0.2)
                        continue
                    assert exc.code == "forbidden" and "needs an admin key" in exc.message
                    break
                raise AssertionError("a write key read the server's keys")
        finally:
            store.close()
        store = RestStore(url, admin)
        assert len(store.keys.active_keys_by_digest()) == 2  # the bootstrap key and the writer's
        store.close()
