"""The reads behind the endpoint and study pages: live numbers per version, studies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from modelport.config import Settings
from modelport.core.keys import create_key
from modelport.core.store.feed import FeedError, follow
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.lifecycle.endpoints import Policy, Route
from modelport.lifecycle.tracking import create_run
from modelport.runtimes.serving.stats import StatsRecorder
from team_server import team_server


@pytest.fixture
def reader(ws: Workspace) -> str:
    return create_key("reader", ["read"], ws=ws)[1]


@pytest.fixture
def client(ws: Workspace, reader: str) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(create_app(ws)) as c:
        c.headers["X-API-Key"] = reader
        yield c


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def canary_endpoint(ws: Workspace, iris: Any) -> None:
    """iris:1 with 90 %, iris:2 with 10 %, iris:3 as the shadow."""
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.endpoints import create_endpoint
    from modelport.lifecycle.registry import register_model

    X, y = iris.frame.iloc[:, :-1], iris.frame.iloc[:, -1]
    model = LogisticRegression(max_iter=200).fit(X, y)
    for _ in range(3):
        register_model("iris", model, X=X, ws=ws)
    create_endpoint("ep", "iris:1", ws=ws)
    policy = Policy([Route("iris:1", 90.0), Route("iris:2", 10.0)], shadow="iris:3",
                    shadow_percent=50.0)
    ws.store.endpoints.set_policy("ep", policy.to_dict(), time.time())


def test_live_numbers_per_version_with_shares_and_the_shadow(
        ws: Workspace, iris: Any, client: TestClient) -> None:  # type: ignore[type-arg]
    canary_endpoint(ws, iris)
    recorder = StatsRecorder()
    for _ in range(90):
        recorder.request("ep", "iris:1", 0.002, 200, None)
    for i in range(10):
        recorder.request("ep", "iris:2", 0.004, 500 if i < 2 else 200, None)
    recorder.request("ep", "iris:2", 0.001, 422, None)  # the client's mistake: apart
    for i in range(40):
        recorder.shadow("ep", "iris:3", 0.003, True, 1, 1 if i < 30 else 0)
    recorder.flush(ws)

    got = ok(client.get("/api/v1/endpoints/ep/live", params={"window_s": 5}))
    assert got["endpoint"] == "ep" and got["window_s"] == 5 and got["span_s"] == 60
    versions = {v["version"]: v for v in got["versions"]}
    assert [v["version"] for v in got["versions"]] == ["iris:1", "iris:2", "iris:3"]
    stable, canary, shadow = versions["iris:1"], versions["iris:2"], versions["iris:3"]
    assert (stable["role"], stable["share"]) == ("route", 90.0)
    assert (canary["role"], canary["share"]) == ("route", 10.0)
    assert (shadow["role"], shadow["share"]) == ("shadow", 0.0)
    assert stable["stats"]["requests"] == 90 and stable["stats"]["error_rate"] == 0.0
    assert canary["stats"]["requests"] == 10 and canary["stats"]["error_rate"] == 0.2
    assert canary["stats"]["client_errors"] == 1
    assert 4.0 <= canary["stats"]["p99_ms"] <= 5.0  # the bucket just past 4 ms
    assert shadow["stats"]["shadow_agreement"] == 0.75
    assert 90 / 6 <= stable["requests_per_s"] <= 90  # between 1 and 6 seconds' worth
    # the requests fall in the open second: whole seconds only, once it has closed
    assert len(stable["per_second"]) == 60 and sum(stable["per_second"]) in (0, 90)
    time.sleep(1.0)
    later = ok(client.get("/api/v1/endpoints/ep/live"))["versions"][0]
    assert sum(later["per_second"]) == 90 and later["per_second"][-1] in (0, 90)


def test_live_refuses_what_it_cannot_answer(ws: Workspace, iris: Any, reader: str,
                                            client: TestClient) -> None:  # type: ignore[type-arg]
    canary_endpoint(ws, iris)
    assert ok(client.get("/api/v1/endpoints/nope/live"), 404)["code"] == "not_found"
    for bad in ({"window_s": 0}, {"window_s": 4000}, {"span_s": 0}):
        assert "1 to 3600 seconds" in ok(client.get("/api/v1/endpoints/ep/live", params=bad),
                                         400)["error"]
    assert ok(client.get("/api/v1/endpoints/ep/live", params={"window_s": "x"}), 422)
    assert client.get("/api/v1/endpoints/ep/live", headers={"X-API-Key": ""}).status_code == 401
    # no traffic yet: every version at zero, nothing divided by zero
    got = ok(client.get("/api/v1/endpoints/ep/live"))
    assert all(v["requests_per_s"] == 0 and v["stats"]["p99_ms"] is None
               for v in got["versions"])


def two_objective_study(ws: Workspace, name: str) -> dict[int, str]:
    """Five trials over (accuracy ↑, size_kb ↓), each with a run; one failed, one hostile
    param. Returns trial number → run id."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import TrialState, create_trial

    from modelport.lifecycle.studies import rdb_storage

    study = optuna.create_study(study_name=name, storage=rdb_storage(ws),
                                directions=["maximize", "minimize"])
    study.set_user_attr("recipe", {"metric": "accuracy", "objectives": ["score", "size"]})
    dists = {"C": FloatDistribution(0.01, 10.0, log=True),
             "solver": CategoricalDistribution(["lbfgs", "<b>saga</b>"])}
    runs = {}
    rows = [(0.1, "lbfgs", [0.90, 10.0]), (1.0, "lbfgs", [0.95, 20.0]),
            (3.0, "<b>saga</b>", [0.93, 30.0]), (5.0, "lbfgs", [0.95, 25.0]),
            (9.0, "lbfgs", None)]
    for number, (c, solver, values) in enumerate(rows):
        run = create_run(name=f"{name}-{number}", ws=ws)
        runs[number] = run.id
        study.add_trial(create_trial(
            params={"C": c, "solver": solver}, distributions=dists, values=values,
            state=TrialState.COMPLETE if values else TrialState.FAIL,
            user_attrs={"run_id": run.id, **({} if values else {"error": "ValueError: no"})}))
    return runs


def test_studies_their_trials_front_and_importances(ws: Workspace, reader: str,
                                                     client: TestClient) -> None:  # type: ignore[type-arg]
    pytest.importorskip("optuna")
    runs = two_objective_study(ws, "lr size")  # a query parameter: any characters
    listed = ok(client.get("/api/v1/studies"))
    assert [(s["name"], s["trials"], s["complete"], s["failed"]) for s in listed] == \
        [("lr size", 5, 4, 1)]

    got = ok(client.get("/api/v1/studies/detail", params={"name": "lr size"}))
    assert got["objectives"] == ["accuracy", "size"]
    assert got["summary"]["directions"] == ["maximize", "minimize"]
    assert got["best"] == [0, 1]  # 2 is beaten by 1 on both; 3 ties 1's accuracy, is larger
    assert got["params"] == ["C", "solver"] and got["page"]["next_after"] is None
    trials = {t["number"]: t for t in got["page"]["trials"]}
    assert trials[2]["params"] == {"C": 3.0, "solver": "<b>saga</b>"}
    assert trials[4]["state"] == "fail" and trials[4]["values"] is None
    assert trials[4]["error"] == "ValueError: no"
    assert {n: t["run_id"] for n, t in trials.items()} == runs
    assert all(t["started"] and t["completed"] for t in got["page"]["trials"])
    assert got["history"] == [[[0, 0.9], [1, 0.95], [2, 0.93], [3, 0.95]],
                              [[0, 10.0], [1, 20.0], [2, 30.0], [3, 25.0]]]
    assert [p["number"] for p in got["scatter"]] == [0, 1, 2, 3]
    page = ok(client.get("/api/v1/studies/trials", params={"name": "lr size", "after": 1,
                                                            "limit": 2}))
    assert [t["number"] for t in page["trials"]] == [2, 3] and page["next_after"] == 3
    last = ok(client.get("/api/v1/studies/trials", params={"name": "lr size", "after": 3}))
    assert [t["number"] for t in last["trials"]] == [4] and last["next_after"] is None
    for bad in ({"limit": 0}, {"limit": 1001}, {"points": 1}):
        assert "is 1 to 1000" in ok(client.get("/api/v1/studies/detail", params={
            "name": "lr size", **bad}), 400)["error"] or "points is 2" in ok(client.get(
                "/api/v1/studies/detail", params={"name": "lr size", **bad}), 400)["error"]
    assert ok(client.get("/api/v1/studies/trials", params={"name": "lr size", "after": "x"}),
              422)["code"] == "invalid_input"

    imp = ok(client.get("/api/v1/studies/importances",
                        params={"name": "lr size", "objective": 1}))
    assert imp["objective"] == "size" and imp["trials"] == 4
    assert imp["method"].startswith("PED-ANOVA")
    assert set(imp["importances"]) <= {"C", "solver"}
    assert abs(sum(imp["importances"].values()) - 1) < 1e-6

    assert "objective(s)" in ok(client.get("/api/v1/studies/importances", params={
        "name": "lr size", "objective": 2}), 400)["error"]
    assert ok(client.get("/api/v1/studies/detail", params={"name": "nope"}), 404)["code"] == \
        "not_found"
    assert "'name'" in ok(client.get("/api/v1/studies/detail"), 422)["error"]
    assert client.get("/api/v1/studies", headers={"X-API-Key": "bad"}).status_code == 401


def test_a_read_key_may_watch_a_rollout_but_not_move_it(ws: Workspace, iris: Any,
                                                        client: TestClient) -> None:  # type: ignore[type-arg]
    """The page hides the buttons from a read key; the server refuses the verbs anyway."""
    from modelport.control import rollout as ro

    canary_endpoint(ws, iris)
    ws.store.endpoints.set_policy("ep", Policy.single("iris:1").to_dict(), time.time())
    ro.start_canary("ep", "iris:2", [50, 100], interval_s=60, ws=ws)
    for verb in ("pause", "resume", "promote", "abort", "rollback"):
        refused = ok(client.post(f"/api/v1/endpoints/ep/rollout/{verb}", json={}), 403)
        assert refused["code"] == "forbidden", verb
    assert ok(client.get("/api/v1/endpoints/ep/rollout"))["state"] == "running"
    assert [v["version"] for v in ok(client.get("/api/v1/endpoints/ep/live"))["versions"]] == \
        ["iris:1", "iris:2"]


def test_the_feed_sends_a_watched_endpoints_numbers_each_second(
        settings: Settings, ws: Workspace, iris: Any) -> None:
    canary_endpoint(ws, iris)
    with team_server(settings) as (url, key):
        with pytest.raises(FeedError, match="stats topic follows one endpoint"):
            next(follow(url, key, topics=["stats"]))
        stream = follow(url, key, topics=["stats", "rollout"], endpoint="ep")
        try:
            first = next(stream)
            assert first.kind == "stats" and first.data["endpoint"] == "ep"
            assert first.data["window_s"] == 5.0
            recorder = StatsRecorder()
            for _ in range(25):
                recorder.request("ep", "iris:2", 0.003, 200, None)
            recorder.flush(ws)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # one event a second until the requests show
                event = next(stream)
                assert event.kind == "stats"
                canary = event.data["versions"][1]
                if canary["stats"]["requests"] == 25:
                    break
            else:
                raise AssertionError("the requests never showed in the feed")
            assert canary["version"] == "iris:2" and canary["share"] == 10.0
        finally:
            stream.close()


def test_the_stats_of_an_unknown_endpoint_are_a_404_not_an_empty_stream(
        settings: Settings, ws: Workspace, iris: Any) -> None:
    canary_endpoint(ws, iris)
    with team_server(settings) as (url, key):
        feed, headers = f"{url}/api/v1/feed", {"X-API-Key": key}
        with httpx.stream("GET", feed, params={"topics": "stats,rollout", "endpoint": "nope"},
                          headers=headers, timeout=10) as refused:
            assert refused.status_code == 404
            assert refused.headers["content-type"].startswith("application/json")
            body = json.loads(refused.read())
        assert body["code"] == "not_found" and "'nope'" in body["error"]
        # a rollout follower may wait for an endpoint still to be made: only stats asks
        with httpx.stream("GET", feed, params={"topics": "rollout", "endpoint": "later"},
                          headers=headers, timeout=10) as waiting:
            assert waiting.status_code == 200
