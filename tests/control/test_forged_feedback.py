"""Forged feedback cannot steer or stop a rollout (issue 15, item 19).

A real server with keys and its in-server controller: labels posted for
predictions the server never made do not abort a healthy canary; feedback
needs its own scope; every size is bounded; and on PostgreSQL a statistics
write the store refuses never freezes the controller behind it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.core.keys import create_key
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.runtimes.serving.stats import read_stats
from releases import ROW, Load, body, new_endpoint, wait_state
from servers import Server, serving


def _models(ws: Workspace) -> None:
    """iris:1 a forest, iris:2 its good twin."""
    from sklearn.ensemble import RandomForestClassifier

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model

    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    for seed in range(2):
        register_model("iris", RandomForestClassifier(n_estimators=20, random_state=seed)
                       .fit(X, y), X=X, ws=ws)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("feedback") / "home"
    _models(Workspace.open(Settings(home=home)))
    forget_stores()
    return home


@pytest.fixture(scope="module")
def keys(home: Path) -> dict[str, dict[str, str]]:
    ws = Workspace.open(Settings(home=home))
    made = {"admin": create_key("ops", ["admin"], ws=ws)[1],
            "predict": create_key("app", ["predict"], ws=ws)[1]}
    forget_stores()
    return {name: {"authorization": f"Bearer {secret}"} for name, secret in made.items()}


@pytest.fixture(scope="module")
def server(home: Path, keys: dict[str, dict[str, str]]) -> Iterator[Server]:
    with serving(home) as srv:  # keys exist: authentication is on
        yield srv


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    yield Workspace.open(Settings(home=home))
    forget_stores()


def _forge(client: httpx.Client, endpoint: str, headers: dict[str, str], version: str,
           right: bool) -> httpx.Response:
    """Labels for 100 predictions nobody asked for: all wrong (or all right)."""
    return client.post(f"/v2/models/{endpoint}/feedback", headers=headers, json={
        "version": version, "predictions": [0] * 100, "labels": [0 if right else 1] * 100})


def test_forged_feedback_cannot_abort_a_healthy_canary(server: Server, ws: Workspace,
                                                       keys: dict[str, dict[str, str]]) -> None:
    new_endpoint(server, ws, "ep-forged", keys["admin"])
    with Load(server.url, "ep-forged", headers=keys["predict"]) as load, \
            server.client() as forger:
        ro.start_canary("ep-forged", "iris:2", [50, 100], interval_s=4,
                        thresholds={"min_requests": 20, "min_feedback": 5}, ws=ws)
        deadline = time.time() + 10  # the server follows the new policy within ~0.3 s
        while forger.post("/v2/models/ep-forged/infer", json=body(ROW),
                          headers=keys["predict"]).headers["x-model-version"] != "iris:2":
            assert time.time() < deadline
        answers = []
        for key in ("predict", "admin"):  # a client's key, and even an operator's
            answers += [_forge(forger, "ep-forged", keys[key], "iris:2", right=False),
                        _forge(forger, "ep-forged", keys[key], "iris:1", right=True)]
        final = wait_state(ws, "ep-forged", ("aborted", "promoted"), timeout=40)
    assert final.state == "promoted"
    assert [a.status_code for a in answers] == [403, 403, 200, 200]
    assert "may not feedback" in answers[0].json()["error"]
    assert answers[2].json() == {"recorded": 100, "correct": 0, "verified": False}
    (_, events), = ro.history("ep-forged", ws=ws)
    candidate = events[1].metrics["candidate"]
    assert "accuracy" not in candidate  # nothing verified to judge on
    assert candidate["unverified_feedback"] == 100 and candidate["unverified_accuracy"] == 0
    assert all(status == 200 for _, status, _ in load.results) and not load.failures


def test_labels_by_request_id_count_once_within_scope(server: Server, ws: Workspace,
                                                      keys: dict[str, dict[str, str]]) -> None:
    new_endpoint(server, ws, "ep-labels", keys["admin"])
    labeller = {"authorization": f"Bearer {create_key('labels', ['feedback'], ws=ws)[1]}"}
    elsewhere = create_key("other labels", ["feedback"], models=["ep-other"], ws=ws)[1]
    time.sleep(2.5)  # the server reads new keys every 2 s
    started = time.time()
    with server.client() as c:
        r = c.post("/v2/models/ep-labels/infer", json=body(ROW),
                   headers={**keys["predict"], "x-request-id": "lab-1"})
        assert r.status_code == 200

        def label(request_id: str, headers: dict[str, str]) -> httpx.Response:
            return c.post("/v2/models/ep-labels/feedback", headers=headers,
                          json={"id": request_id, "label": 0})

        assert label("lab-1", {"authorization": f"Bearer {elsewhere}"}).status_code == 403
        first = label("lab-1", labeller)
        assert first.json() == {"recorded": 1, "correct": 1, "verified": True}
        again = label("lab-1", labeller)  # one prediction, one set of labels
        assert again.status_code == 404 and "already labelled" in again.json()["error"]
        assert label("never-made", labeller).status_code == 404
    time.sleep(1.5)  # statistics are written once a second
    stats = read_stats("ep-labels", started, ws)["iris:1"]
    assert (stats["feedback"], stats["correct"], stats["unverified_feedback"]) == (1, 1, 0)


@pytest.mark.parametrize("doc, status, message", [
    ({"version": "x" * 2_000_000, "predictions": [0], "labels": [0]}, 413, "at most"),
    ({"version": "x" * 300, "predictions": [0], "labels": [0]}, 422, "at most 220"),
    ({"version": "iris:9", "predictions": [0], "labels": [0]}, 422, "does not serve 'iris:9'"),
    ({"version": "iris:1", "predictions": [0] * 10_001, "labels": [0] * 10_001}, 422,
     "at most 10,000"),
    ({"version": "iris:1", "predictions": [0], "labels": ["y" * 1000]}, 422, "1,000 characters"),
    ({"version": "iris:1", "predictions": [0], "labels": [{"a": 1}]}, 422, "number, string"),
    ({"id": "i" * 1000, "label": 0}, 422, "at most 200 characters"),
    ({"id": ["a"], "label": 0}, 422, "'id' must be"),
    ({"label": 0}, 422, "needs the request 'id'"),
    ({"version": "iris:1", "predictions": [0, 1], "labels": [0]}, 422, "2 predictions but 1"),
])
def test_feedback_sizes_and_versions_are_bounded(server: Server, ws: Workspace,
                                                 keys: dict[str, dict[str, str]], doc: dict,
                                                 status: int, message: str) -> None:
    if "ep-bounds" not in [e.name for e in _endpoints(ws)]:
        new_endpoint(server, ws, "ep-bounds", keys["admin"])
    started = time.time()
    with server.client() as c:
        r = c.post("/v2/models/ep-bounds/feedback", json=doc, headers=keys["admin"])
    assert r.status_code == status and message in r.json()["error"]
    time.sleep(1.2)
    assert set(read_stats("ep-bounds", started, ws)) <= {"iris:1"}  # nothing else written


def _endpoints(ws: Workspace) -> list:  # type: ignore[type-arg]
    from modelport.lifecycle.endpoints import list_endpoints

    return list_endpoints(ws=ws)


def test_a_refused_stats_write_does_not_freeze_the_controller(tmp_path: Path,
                                                              pg_schema: str) -> None:
    """On PostgreSQL a version over the column's 220 characters makes the write fail: the
    in-server controller must still step and promote a healthy canary."""
    from modelport.control.controller import Controller
    from modelport.interfaces.serving_host import serving_app
    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.runtimes.serving.repository import Repository
    from modelport.runtimes.serving.service import InferenceService

    ws = Workspace.open(Settings(home=tmp_path / "home", db_url=pg_schema))
    _models(ws)
    create_endpoint("api", "iris:1", ws=ws)
    app = serving_app(InferenceService(Repository(["api"], ws=ws)), controller=Controller(ws))

    async def scenario() -> str:
        await app.startup()
        # a row the store refuses, as a 221+ character version once made
        app.service.stats.feedback("api", "v" * 300, 1, 1)
        ro.start_canary("api", "iris:2", [50, 100], interval_s=1,
                        thresholds={"min_requests": 10}, ws=ws)
        transport = httpx.ASGITransport(app=app)
        deadline = time.time() + 30
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            while time.time() < deadline:
                assert (await client.post("/v2/models/api/infer", json=body(ROW))
                        ).status_code == 200
                state = ro.latest_rollout("api", ws=ws).state
                if state != "running":
                    break
                await asyncio.sleep(0.02)
        await app.shutdown()
        return state

    try:
        assert asyncio.run(scenario()) == "promoted"
        stats = read_stats("api", 0, ws)
        assert stats["iris:2"]["requests"] > 0 and "v" * 300 not in stats
    finally:
        forget_stores()
