"""The model page's actions through the API: export a version to ONNX, start a rollout.

A write key may do both; a read key is refused (403) and nothing changes; a second
export of a checked copy, a second rollout and bad steps are refused with a clear
JSON error the page shows as one line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app, export
from modelport.lifecycle.endpoints import create_endpoint
from team_server import team_server


@pytest.fixture
def client(ws: Workspace, keys: dict[str, dict[str, str]]
           ) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(ws)) as c:  # after the keys: the server reads them at start
        yield c


@pytest.fixture
def keys(ws: Workspace) -> dict[str, dict[str, str]]:
    return {scope: {"X-API-Key": create_key(scope, [scope], ws=ws)[1]}
            for scope in ("read", "write", "deploy")}


def answer(response: Any, status: int) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def two_versions(ws: Workspace, iris: Any) -> None:
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model

    X, y = iris.frame.iloc[:, :-1], iris.frame.iloc[:, -1]
    for c in (1.0, 0.5):
        register_model("iris", LogisticRegression(C=c, max_iter=300).fit(X, y), X=X, ws=ws)


def test_a_write_key_exports_a_version_to_onnx_once(
        ws: Workspace, iris: Any, client: TestClient,  # type: ignore[type-arg]
        keys: dict[str, dict[str, str]]) -> None:
    pytest.importorskip("skl2onnx")
    import onnx

    two_versions(ws, iris)
    url = "/api/v1/models/iris/versions/2/export-onnx"
    refused = answer(client.post(url, headers=keys["read"]), 403)
    assert refused["code"] == "forbidden"
    assert ws.store.registry.get_version("iris", 2)["onnx"] is None

    got = answer(client.post(url, headers=keys["write"]), 201)
    assert got["version"] == 2 and got["onnx"]["passed"] is True
    assert got["onnx"]["rows"] > 0 and got["onnx"]["max_abs_diff"] < 1e-3
    stored = ws.store.registry.get_version("iris", 2)["onnx"]
    assert stored == got["onnx"]
    graph = onnx.load_model_from_string(ws.artifacts.get(stored["digest"])).graph
    assert graph.node and [i.name for i in graph.input]  # a real graph, stored by digest
    assert ws.store.registry.get_version("iris", 1)["onnx"] is None  # only the one asked for

    again = answer(client.post(url, headers=keys["write"]), 409)
    assert again == {"error": "iris:2 already has an ONNX copy that passed its parity check",
                     "code": "conflict"}
    assert answer(client.post("/api/v1/models/iris/versions/9/export-onnx",
                              headers=keys["write"]), 404)["code"] == "not_found"
    assert answer(client.post("/api/v1/models/nope/versions/1/export-onnx",
                              headers=keys["write"]), 404)["code"] == "not_found"
    assert answer(client.post("/api/v1/models/iris/versions/x/export-onnx",
                              headers=keys["write"]), 404)["code"] == "not_found"
    assert client.post(url).status_code == 401


def test_rollouts_started_from_the_page_and_their_refusals(
        ws: Workspace, iris: Any, client: TestClient,  # type: ignore[type-arg]
        keys: dict[str, dict[str, str]]) -> None:
    two_versions(ws, iris)
    create_endpoint("shop", "iris:1", ws=ws)
    base = "/api/v1/endpoints/shop/rollout"
    canary = {"to": "iris:2", "steps": [10, 50, 100], "interval_s": 300}
    assert answer(client.post(f"{base}/canary", json=canary, headers=keys["read"]),
                  403)["code"] == "forbidden"
    assert answer(client.post(f"{base}/canary", json={**canary, "steps": [50, 10]},
                              headers=keys["deploy"]), 400)["error"].startswith(
        "steps must be increasing percentages")
    malformed = answer(client.post(f"{base}/canary", json={**canary, "steps": ["ten"]},
                                   headers=keys["deploy"]), 422)
    assert "steps" in malformed["error"]
    assert answer(client.post(f"{base}/shadow", json={"to": "iris:2", "percent": 0},
                              headers=keys["deploy"]), 400)["error"].startswith("the shadow share")
    assert client.get(base, headers=keys["read"]).status_code == 404  # nothing started

    started = answer(client.post(f"{base}/canary", json=canary, headers=keys["deploy"]), 201)
    assert (started["kind"], started["state"], started["stable"], started["candidate"]) == \
        ("canary", "running", "iris:1", "iris:2")
    assert started["config"]["steps"] == [10, 50, 100]
    busy = answer(client.post(f"{base}/bluegreen", json={"to": "iris:2"},
                              headers=keys["deploy"]), 409)
    assert busy["code"] == "conflict" and "already has a rollout in progress" in busy["error"]


def test_exports_wait_their_turn_and_one_version_is_never_exported_twice_at_once(
        settings: Settings, ws: Workspace, iris: Any) -> None:
    pytest.importorskip("skl2onnx")
    two_versions(ws, iris)
    with team_server(settings) as (url, admin):
        headers = {"X-API-Key": admin}
        for _ in range(export.AT_ONCE):  # every turn taken: the next export must wait
            export._turns.acquire()
        answers: list[httpx.Response] = []
        first = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{url}/api/v1/models/iris/versions/1/export-onnx", headers=headers, timeout=60)))
        first.start()
        try:
            deadline = time.monotonic() + 10
            while ("iris", 1) not in export._running:
                assert time.monotonic() < deadline, "the export never started"
                time.sleep(0.02)
            twice = httpx.post(f"{url}/api/v1/models/iris/versions/1/export-onnx",
                               headers=headers, timeout=10)
            assert twice.status_code == 409
            assert twice.json()["error"] == "iris:1 is being exported to ONNX already"
            assert ws.store.registry.get_version("iris", 1)["onnx"] is None  # still waiting
        finally:
            for _ in range(export.AT_ONCE):
                export._turns.release()
            first.join(60)
        assert answers[0].status_code == 201, answers[0].text
        assert answers[0].json()["onnx"]["passed"] is True and not export._running
