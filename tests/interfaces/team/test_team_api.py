"""The team server's REST API through HTTP (in process): runs, the registry, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from modelport.core.keys import create_key
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.app import MAX_BODY

RUN = {"id": "r1", "name": "first", "experiment": "exp", "status": "running", "start_time": 1.0,
       "end_time": None, "duration": None, "dataset_digest": None, "git_commit": None,
       "packages": {"numpy": "2"}}
VERSION = {"format": "sklearn", "artifact_digest": "a" * 64, "artifact_size": 10,
           "sample_digest": None, "signature": {"inputs": []}, "input_example": None,
           "metrics": {"acc": 0.9}, "run_id": None, "dataset_digest": None, "description": ""}


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:  # type: ignore[type-arg]
    _, secret = create_key("admin", ["admin"], ws=ws)
    with TestClient(create_app(ws)) as c:
        c.headers["Authorization"] = f"Bearer {secret}"
        yield c


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def test_runs_round_trip_with_batches_search_and_pages(client: TestClient) -> None:  # type: ignore[type-arg]
    for i in range(3):
        ok(client.post("/api/v1/runs", json={**RUN, "id": f"r{i}", "start_time": float(i)}), 201)
        ok(client.post(f"/api/v1/runs/r{i}/batch", json={
            "now": 5.0, "params": {"depth": str(i)}, "tags": {"team": "a"},
            "metrics": [{"key": "acc", "value": 0.5 + i / 10, "step": 0},
                        {"key": "acc", "value": 0.6 + i / 10, "step": 1}]}), 204)
    run = ok(client.get("/api/v1/runs/r2"))
    assert run["params"] == {"depth": "2"} and run["metrics"] == {"acc": pytest.approx(0.8)}
    assert run["tags"] == {"team": "a"} and run["packages"] == {"numpy": "2"}
    assert ok(client.get("/api/v1/runs/r2/metrics/acc")) == [[0, 0.7], [1, pytest.approx(0.8)]]

    page = ok(client.post("/api/v1/runs/search", json={
        "filter": "metrics.acc > 0.65", "order_by": ["metrics.acc DESC"], "max_results": 1}))
    assert [r["id"] for r in page["runs"]] == ["r2"] and page["next_page_token"]
    rest = ok(client.post("/api/v1/runs/search", json={
        "filter": "metrics.acc > 0.65", "order_by": ["metrics.acc DESC"], "max_results": 1,
        "page_token": page["next_page_token"]}))
    assert [r["id"] for r in rest["runs"]] == ["r1"]
    assert ok(client.get("/api/v1/runs/ids", params={"prefix": "r", "limit": 10})) == \
        ["r0", "r1", "r2"]

    ok(client.post("/api/v1/runs/r0/end", json={"status": "finished", "end_time": 9.0,
                                                "duration": 8.0}), 204)
    assert ok(client.get("/api/v1/runs/r0"))["status"] == "finished"
    ok(client.delete("/api/v1/runs/r0"), 204)
    assert ok(client.get("/api/v1/runs/r0"), 404)["code"] == "not_found"


def test_a_whole_run_in_one_request(client: TestClient) -> None:  # type: ignore[type-arg]
    whole = {"run": {**RUN, "status": "finished", "end_time": 2.0, "duration": 1.0,
                     "params": {"depth": "3"}, "tags": {"team": "a"}, "metrics": {"acc": 0.9}},
             "now": 3.0, "metrics": [{"key": "loss", "value": 0.5, "step": 1}]}
    for _ in range(2):  # the same request again (a client's retry) is answered the same
        ok(client.put("/api/v1/runs/r1", json=whole), 204)
    run = ok(client.get("/api/v1/runs/r1"))
    assert (run["status"], run["params"], run["tags"]) == ("finished", {"depth": "3"},
                                                           {"team": "a"})
    assert run["metrics"] == {"acc": 0.9, "loss": 0.5}
    assert "path" in ok(client.put("/api/v1/runs/other", json=whole), 400)["error"]
    assert ok(client.put("/api/v1/runs/r1", json={"now": 1.0}), 422)["code"] == "invalid_input"
    assert ok(client.get("/api/v1/runs/other"), 404)["code"] == "not_found"


def test_registry_versions_aliases_tags(client: TestClient) -> None:  # type: ignore[type-arg]
    for _ in range(2):
        ok(client.post("/api/v1/models/iris/versions",
                       json={"version": VERSION, "now": 1.0, "tags": {"stage": "dev"}}), 201)
    ok(client.put("/api/v1/models/iris/aliases/champion", json={"version": 1}), 204)
    ok(client.put("/api/v1/models/iris/versions/2/tags/bundle", json={"value": "d1"}), 204)
    ok(client.put("/api/v1/models/iris/description", json={"description": "flowers"}), 204)

    model = ok(client.get("/api/v1/models/iris"))
    assert (model["latest_version"], model["aliases"], model["description"]) == \
        (2, {"champion": 1}, "flowers")
    assert [v["version"] for v in ok(client.get("/api/v1/models/iris/versions"))] == [2, 1]
    assert ok(client.get("/api/v1/models/iris/versions/1"))["aliases"] == ["champion"]
    assert ok(client.post("/api/v1/models/iris/pick", json={"aliases": ["champion"]})) == \
        {"version": 1}
    assert ok(client.get("/api/v1/registry/tags/bundle")) == \
        {"name": "iris", "version": 2, "value": "d1"}
    assert ok(client.post("/api/v1/registry/digests/referenced",
                          json={"digests": ["a" * 64, "b" * 64]})) == ["a" * 64]

    ok(client.delete("/api/v1/models/iris/aliases/champion"), 204)
    ok(client.delete("/api/v1/models/iris/versions/2"), 204)
    assert ok(client.post("/api/v1/models/iris/pick", json={"aliases": ["champion"]})) == \
        {"version": 1}
    ok(client.delete("/api/v1/models/iris"), 204)
    assert "not found" in ok(client.get("/api/v1/models/iris"), 404)["error"]


@pytest.mark.storage_independent
def test_bad_input_is_json_with_the_right_status(client: TestClient) -> None:  # type: ignore[type-arg]
    ok(client.post("/api/v1/runs", json=RUN), 201)
    assert ok(client.post("/api/v1/runs", json=RUN), 409)["code"] == "conflict"
    assert ok(client.post("/api/v1/runs/nope/batch", json={"now": 1.0, "params": {"a": "b"}}),
              404)["code"] == "not_found"
    too_big = client.get(f"/api/v1/models/iris/versions/{2**70}")
    assert too_big.status_code in (400, 422) and too_big.json()["code"] == "invalid_input"
    wrong_type = ok(client.post("/api/v1/runs/r1/batch", json={"now": 1.0, "params": {"a": 1}}),
                    422)
    assert wrong_type["code"] == "invalid_input" and "params" in wrong_type["error"]
    missing = ok(client.post("/api/v1/runs", json={k: v for k, v in RUN.items() if k != "name"}),
                 422)
    assert "name" in missing["error"]
    assert ok(client.post("/api/v1/runs", content=b"{not json"), 400)["code"] == "invalid_input"
    assert ok(client.get("/api/v1/no/such/route"), 404)["code"] == "not_found"
    assert ok(client.get("/api/v1/models/nope/versions/1"), 404)["code"] == "not_found"
    assert ok(client.post("/api/v1/runs/search", json={"filter": "metrics.acc >>> 1"}),
              400)["code"] == "invalid_input"
    assert "page token" in ok(client.post("/api/v1/runs/search", json={"page_token": "forged"}),
                              400)["error"]
    # a parsed query (what a REST store client sends) is held to what the parser would make
    for condition in ({"term": {"kind": "metrics", "key": "acc"}, "op": "LIKE", "value": 1},
                      {"term": {"kind": "metrics", "key": "acc"}, "op": ">", "value": "x"},
                      {"term": {"kind": "params", "key": "p"}, "op": ">", "value": "1"},
                      {"term": {"kind": "params", "key": "p"}, "op": "; DROP", "value": "1"},
                      {"term": {"kind": "runs", "key": "id"}, "op": "=", "value": "1"},
                      {"term": {"kind": "attributes", "key": "secret"}, "op": "=", "value": "1"}):
        refused = client.post("/api/v1/runs/search", json={"conditions": [condition]})
        assert ok(refused, 400)["code"] == "invalid_input", condition
    bad_order = {"ordering": [{"term": {"kind": "attributes", "key": "x"}, "descending": True}]}
    assert ok(client.post("/api/v1/runs/search", json=bad_order), 400)["code"] == "invalid_input"
    oversize = client.post("/api/v1/runs", content=b" " * (MAX_BODY + 1),
                           headers={"Content-Type": "application/json"})
    assert ok(oversize, 413)["code"] == "too_large"
    # a param is write-once: the conflict leaves the stored value as it was
    ok(client.post("/api/v1/runs/r1/batch", json={"now": 1.0, "params": {"lr": "0.1"}}), 204)
    assert ok(client.post("/api/v1/runs/r1/batch", json={"now": 1.0, "params": {"lr": "0.2"}}),
              409)["code"] == "conflict"
    assert ok(client.get("/api/v1/runs/r1"))["params"] == {"lr": "0.1"}


@pytest.mark.storage_independent
def test_probes_and_openapi(client: TestClient) -> None:  # type: ignore[type-arg]
    assert ok(client.get("/healthz")) == {"status": "ok"}
    assert ok(client.get("/readyz")) == {"status": "ready"}
    spec = ok(client.get("/api/v1/openapi.json"))
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/runs", "/api/v1/runs/search", "/api/v1/models/{name}/versions",
            "/api/v1/models/{name}/aliases/{alias}"} <= set(spec["paths"])
    batch = spec["paths"]["/api/v1/runs/{run_id}/batch"]["post"]
    assert "requestBody" in batch
