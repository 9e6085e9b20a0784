"""Weighted and sticky routing, shadow mirroring and feedback through a real server."""

from __future__ import annotations

import time
from collections import Counter
from types import SimpleNamespace

import httpx
import pytest

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import Endpoint, Policy, Route, create_endpoint, set_policy
from modelport.runtimes.serving.routing import EndpointRouter

BODY = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                    "data": [5.1, 3.5, 1.4, 0.2]}]}


def _router(policy: Policy) -> EndpointRouter:
    versions = {v: SimpleNamespace(label=v) for v in policy.versions()}
    return EndpointRouter(Endpoint("ep", policy, 1, 0.0, 0.0), versions)  # type: ignore[arg-type]


def test_weights_are_followed() -> None:
    router = _router(Policy([Route("m:1", 80), Route("m:2", 20)]))
    counts = Counter(router.choose({}).label for _ in range(20_000))
    assert 0.17 < counts["m:2"] / 20_000 < 0.23


def test_sticky_header_keeps_a_user_on_one_version() -> None:
    router = _router(Policy([Route("m:1", 50), Route("m:2", 50)], sticky_header="X-User"))
    for user in ("alice", "bob", "carol", "dave"):
        seen = {router.choose({"x-user": user}).label for _ in range(50)}
        assert len(seen) == 1
    users = Counter(router.choose({"x-user": f"u{i}"}).label for i in range(4000))
    assert 0.4 < users["m:2"] / 4000 < 0.6


def test_zero_weight_versions_get_nothing() -> None:
    router = _router(Policy([Route("m:1", 100), Route("m:2", 0)], warm=["m:3"]))
    assert {router.choose({}).label for _ in range(1000)} == {"m:1"}


@pytest.fixture
def endpoint(server):  # type: ignore[no-untyped-def]
    ws = Workspace.open(Settings(home=server.home))
    create_endpoint("iris-ep", "iris:1", ws=ws)
    deadline = time.time() + 10
    while httpx.get(f"{server.url}/v2/models/iris-ep/ready").status_code != 200:
        assert time.time() < deadline
        time.sleep(0.1)
    yield ws
    from modelport.lifecycle.endpoints import delete_endpoint

    delete_endpoint("iris-ep", ws=ws)
    forget_stores()


def test_endpoint_follows_policy_changes_live(server, endpoint) -> None:  # type: ignore
    with server.client() as c:
        r = c.post("/v2/models/iris-ep/infer", json=BODY)
        assert r.status_code == 200 and r.headers["x-model-version"] == "iris:1"
        assert r.json()["model_name"] == "iris-ep"
        set_policy("iris-ep", Policy.single("iris:2"), ws=endpoint)
        changed_at = time.time()
        while c.post("/v2/models/iris-ep/infer", json=BODY).headers["x-model-version"] != \
                "iris:2":
            assert time.time() - changed_at < 1.0  # every change lands within a second
        assert c.post("/v1/models/iris-ep:predict", json={"instances": [[5.1, 3.5, 1.4, 0.2]]}
                      ).headers["x-model-version"] == "iris:2"


def test_shadow_answers_nobody_but_is_measured(server, endpoint) -> None:  # type: ignore
    from modelport.runtimes.serving.stats import read_stats

    set_policy("iris-ep", Policy([Route("iris:1", 100)], shadow="iris:2", shadow_percent=100),
               ws=endpoint)
    time.sleep(0.6)
    started = time.time()
    with server.client() as c:
        versions = {c.post("/v2/models/iris-ep/infer", json=BODY).headers["x-model-version"]
                    for _ in range(30)}
    assert versions == {"iris:1"}
    time.sleep(1.5)  # statistics are published once a second
    shadow = read_stats("iris-ep", started, endpoint)["iris:2"]
    assert shadow["shadow_requests"] >= 25
    assert shadow["shadow_agree"] == shadow["shadow_rows"]  # both say setosa


def test_feedback_by_request_id_and_by_prediction(server, endpoint) -> None:  # type: ignore
    from modelport.runtimes.serving.stats import read_stats

    started = time.time()
    with server.client() as c:
        r = c.post("/v2/models/iris-ep/infer", json=BODY, headers={"x-request-id": "req-1"})
        assert r.status_code == 200
        ok = c.post("/v2/models/iris-ep/feedback", json={"id": "req-1", "label": 0})
        assert ok.json() == {"recorded": 1, "correct": 1, "verified": True}
        held = c.post("/v2/models/iris-ep/feedback",
                      json={"version": "iris:1", "predictions": [0, 1], "labels": [2, 1]})
        assert held.json() == {"recorded": 2, "correct": 1, "verified": False}
        missing = c.post("/v2/models/iris-ep/feedback", json={"id": "nope", "label": 0})
        assert missing.status_code == 404
        bad = c.post("/v2/models/iris-ep/feedback", json={"label": 0})
        assert bad.status_code == 422
        not_endpoint = c.post("/v2/models/iris/feedback", json={"id": "req-1", "label": 0})
        assert not_endpoint.status_code == 404 and "not an endpoint" in not_endpoint.json()["error"]
    time.sleep(1.5)
    stats = read_stats("iris-ep", started, endpoint)["iris:1"]
    assert (stats["feedback"], stats["correct"]) == (1, 1)  # what the server answered
    assert (stats["unverified_feedback"], stats["unverified_correct"]) == (2, 1)  # apart
