"""An operator moves a rollout through the team server: the control layer's verbs over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sklearn.linear_model import LogisticRegression

from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.lifecycle.endpoints import create_endpoint, get_endpoint
from modelport.lifecycle.registry import register_model


@pytest.fixture
def client(ws: Workspace, iris) -> Iterator[TestClient]:  # type: ignore[no-untyped-def, type-arg]
    X, y = iris.frame.drop(columns="target"), iris.frame["target"]
    for c in (1.0, 0.5):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)
    create_endpoint("api", "iris:1", ws=ws)
    _, secret = create_key("ops", ["deploy"], ws=ws)
    with TestClient(create_app(ws)) as c:
        c.headers["Authorization"] = f"Bearer {secret}"
        yield c


def answer(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_a_canary_is_started_paused_resumed_promoted_and_rolled_back(
        client: TestClient, ws: Workspace) -> None:  # type: ignore[type-arg]
    at = "/api/v1/endpoints/api/rollout"
    started = answer(client.post(f"{at}/canary", json={"to": "iris:2", "steps": [10, 100],
                                                       "interval_s": 60}), 201)
    assert (started["state"], started["candidate"]) == ("running", "iris:2")
    assert get_endpoint("api", ws=ws).policy.weight_of("iris:2") == 10
    assert answer(client.post(f"{at}/canary", json={"to": "iris:2", "steps": [10],
                                                    "interval_s": 60}), 409)["code"] == "conflict"
    assert answer(client.post(f"{at}/pause"))["state"] == "paused"
    assert answer(client.post(f"{at}/pause"), 409)["code"] == "conflict"
    assert answer(client.post(f"{at}/resume"))["state"] == "running"
    assert answer(client.post(f"{at}/promote", json={}))["state"] == "promoted"
    assert get_endpoint("api", ws=ws).policy.weight_of("iris:2") == 100
    assert answer(client.post(f"{at}/rollback"))["state"] == "rolled_back"
    assert get_endpoint("api", ws=ws).policy.weight_of("iris:1") == 100
    assert answer(client.get(at))["state"] == "rolled_back"
    [history] = answer(client.get("/api/v1/endpoints/api/rollouts"))
    assert [e["action"] for e in history["events"]] == [
        "start", "pause", "resume", "promote", "rollback"]
    assert "promoted by an operator" in history["events"][3]["reason"]


def test_bad_rollouts_are_refused_with_their_reason(client: TestClient) -> None:  # type: ignore[type-arg]
    at = "/api/v1/endpoints/api/rollout"
    assert "steps" in answer(client.post(f"{at}/canary", json={
        "to": "iris:2", "steps": [50, 10], "interval_s": 60}), 400)["error"]
    assert answer(client.post(f"{at}/shadow", json={"to": "iris:2"}), 422)["code"] == \
        "invalid_input"
    assert answer(client.post(f"{at}/shadow", json={"to": "iris:9", "percent": 5}),
                  404)["code"] == "not_found"
    assert answer(client.post("/api/v1/endpoints/nope/rollout/pause"), 404)["code"] == \
        "not_found"
    assert "no rollout in progress" in answer(client.post(f"{at}/abort", json={}), 404)["error"]
