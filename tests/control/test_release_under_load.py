"""Releases under real load: a client keeps calling an endpoint while versions change.

(a) a canary failing (5xx) on 20 % of inputs is rolled back, its errors confined to
its share for less than one interval; (b) a canary doing ~30 times the stable version's
work per call is rolled back on latency; (c) a good canary is promoted; (d) a blue-green
switch and a rollback drop nothing; (e) a controller killed mid-rollout resumes; (f)
malformed requests aimed at a canary through its sticky header (4xx) do not abort it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.control.analysis import p99_ms
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import get_endpoint
from modelport.runtimes.serving.stats import read_stats
from releases import ROW, Load, body, ended_at, new_endpoint, wait_state
from servers import Server, serving, start_server, stop_server

VIRGINICA = [6.7, 3.0, 5.2, 2.3]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris:1 stable forest · :2 fails on missing values · :3 slow: 1,000 extremely
    randomised trees to the stable's 30, ~30 times its work per call · :4 a good twin
    · :5 broken: its classes lost one label, so predicting virginica is an IndexError (500)."""
    import numpy as np
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model

    home = tmp_path_factory.mktemp("release") / "home"
    ws = Workspace.open(Settings(home=home))
    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    register_model("iris", RandomForestClassifier(n_estimators=30, random_state=0).fit(X, y),
                   X=X, ws=ws)
    # a bare logistic regression cannot take missing values (a trained one imputes them)
    register_model("iris", LogisticRegression(max_iter=500).fit(X, y), X=X, ws=ws)
    register_model("iris", ExtraTreesClassifier(n_estimators=1000, random_state=0).fit(X, y),
                   X=X, ws=ws)
    register_model("iris", RandomForestClassifier(n_estimators=30, random_state=1).fit(X, y),
                   X=X, ws=ws)
    broken = LogisticRegression(max_iter=300).fit(X, y)
    broken.classes_ = np.array([0, 1])
    register_model("iris", broken, X=X[y == 0], ws=ws)
    forget_stores()
    return home


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[Server]:
    with serving(home) as srv:
        yield srv


@pytest.fixture
def ws(home: Path) -> Iterator[Workspace]:
    yield Workspace.open(Settings(home=home))
    forget_stores()


def test_failing_canary_is_rolled_back_within_its_share(server: Server, ws: Workspace) -> None:
    new_endpoint(server, ws, "ep-a")
    interval = 30.0
    with Load(server.url, "ep-a", bad_share=0.2, bad_row=VIRGINICA) as load:
        time.sleep(1)
        ro.start_canary("ep-a", "iris:5", [20, 100], interval_s=interval,
                        thresholds={"min_requests": 40}, ws=ws)
        started = time.time()
        final = wait_state(ws, "ep-a", ("aborted", "promoted"), timeout=interval)
        ended = ended_at(ws, "ep-a")
        time.sleep(2)
    assert final.state == "aborted"
    assert ended - started < interval  # caught within the first interval
    errors = [(t, v) for t, status, v in load.results if status != 200]
    assert {status for _, status, _ in load.results} == {200, 500}
    assert errors and {v for _, v in errors} == {"iris:5"}  # only the canary failed
    assert max(t for t, _ in errors) < ended + 1.0  # and not after the rollback landed
    during = [v for t, _, v in load.results if started < t < ended + 1.0]
    canary = during.count("iris:5")
    assert 0 < canary / len(during) < 0.45  # the canary only ever had its ~20 % share
    assert len(errors) <= canary
    assert not load.failures
    (_, events), = ro.history("ep-a", ws=ws)
    assert "error rate" in events[-1].reason


def test_slow_canary_is_rolled_back_on_latency(server: Server, ws: Workspace) -> None:
    """The bound is the stable version's own p99 under this load, measured first: no
    number of milliseconds holds on an idle machine and on a loaded one alike, but a
    canary doing ~30 times the work per call is slower than the stable's tail on both."""
    new_endpoint(server, ws, "ep-b")
    with Load(server.url, "ep-b") as load:
        bound = stable_p99_ms(ws, "ep-b", time.time())
        ro.start_canary("ep-b", "iris:3", [25, 100], interval_s=30,
                        thresholds={"min_requests": 20, "max_p99_ms": bound}, ws=ws)
        final = wait_state(ws, "ep-b", ("aborted", "promoted"), timeout=40)
    assert final.state == "aborted"
    (_, events), = ro.history("ep-b", ws=ws)
    assert "p99 latency" in events[-1].reason
    assert events[-1].metrics["candidate"]["p99_ms"] > bound
    assert all(status == 200 for _, status, _ in load.results) and not load.failures


def stable_p99_ms(ws: Workspace, endpoint: str, since: float, requests: int = 200) -> float:
    """The p99 (its bucket's bound, as a rollout's analysis reads it) the server recorded
    for the stable version ``iris:1`` over its first ``requests`` requests after ``since``."""
    deadline = time.time() + 30
    while time.time() < deadline:
        stable = read_stats(endpoint, since, ws).get("iris:1")
        if stable and stable["requests"] >= requests:
            p99 = p99_ms(stable["latency"])
            assert p99 is not None
            return p99
        time.sleep(0.2)
    raise AssertionError(f"{endpoint}: fewer than {requests} requests recorded in 30 s")


def test_good_canary_is_promoted(server: Server, ws: Workspace) -> None:
    new_endpoint(server, ws, "ep-c")
    with Load(server.url, "ep-c") as load:
        ro.start_canary("ep-c", "iris:4", [50, 100], interval_s=2,
                        thresholds={"min_requests": 20}, ws=ws)
        final = wait_state(ws, "ep-c", ("aborted", "promoted"), timeout=40)
        promoted_at = ended_at(ws, "ep-c")
        time.sleep(1.5)
    assert final.state == "promoted"
    assert get_endpoint("ep-c", ws=ws).policy.routes[0].version == "iris:4"
    after = {v for t, _, v in load.results if t > promoted_at + 1.0}
    assert after == {"iris:4"}
    assert all(status == 200 for _, status, _ in load.results) and not load.failures
    (_, events), = ro.history("ep-c", ws=ws)
    assert [e.action for e in events] == ["start", "step", "promote"]


def test_bluegreen_switch_and_rollback_drop_nothing(server: Server, ws: Workspace) -> None:
    new_endpoint(server, ws, "ep-d")
    with Load(server.url, "ep-d", threads=6) as load:
        time.sleep(1)
        ro.start_bluegreen("ep-d", "iris:4", grace_s=60, ws=ws)
        switched = wait_state(ws, "ep-d", ("switched",), timeout=30)
        time.sleep(1.5)
        rolled = ro.rollback("ep-d", ws=ws)
        rollback_at = rolled.updated
        time.sleep(2)
    assert switched.state == "switched"
    assert not load.failures  # nothing dropped
    assert all(status == 200 for _, status, _ in load.results)  # nothing failed
    versions_between = {v for t, _, v in load.results if switched.updated + 1 < t < rollback_at}
    assert versions_between == {"iris:4"}
    # every worker follows a rollback within a second
    assert {v for t, _, v in load.results if t > rollback_at + 1.0} == {"iris:1"}


def test_controller_killed_mid_rollout_resumes(tmp_path: Path) -> None:
    """A home of its own: the module's server runs a controller that would step in."""
    from sklearn.ensemble import RandomForestClassifier

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model

    home = tmp_path / "home"
    ws = Workspace.open(Settings(home=home))
    frame = load_dataset("sklearn:iris").frame
    X, y = frame.drop(columns="target"), frame["target"]
    for seed in range(2):
        register_model("iris", RandomForestClassifier(n_estimators=30, random_state=seed)
                       .fit(X, y), X=X, ws=ws)
    srv = start_server(home, "--no-controller")
    env = {**os.environ, "MODELPORT_HOME": str(home)}

    def controller() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "modelport", "controller"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    try:
        new_endpoint(srv, ws, "ep-e")
        first = controller()
        with Load(srv.url, "ep-e") as load:
            ro.start_canary("ep-e", "iris:2", [30, 60, 100], interval_s=1.5,
                            thresholds={"min_requests": 10}, ws=ws)
            deadline = time.time() + 30
            while ro.latest_rollout("ep-e", ws=ws).step < 1 and time.time() < deadline:
                time.sleep(0.1)
            first.send_signal(signal.SIGKILL)
            first.wait()
            held = ro.latest_rollout("ep-e", ws=ws)
            time.sleep(4)  # no controller: nothing moves
            assert ro.latest_rollout("ep-e", ws=ws).revision == held.revision
            assert held.state == "running" and held.step >= 1
            second = controller()
            try:
                final = wait_state(ws, "ep-e", ("promoted", "aborted"), timeout=40)
            finally:
                second.terminate()
                second.wait()
        assert final.state == "promoted"
        assert all(status == 200 for _, status, _ in load.results) and not load.failures
    finally:
        stop_server(srv)
        forget_stores()


def test_malformed_requests_aimed_at_a_canary_do_not_abort_it(server: Server,
                                                              ws: Workspace) -> None:
    """A client's 4xx says nothing about the version: reported apart, never judged."""
    new_endpoint(server, ws, "ep-f")
    malformed = {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64",
                             "data": [1.0, 2.0, 3.0]}]}
    with Load(server.url, "ep-f") as load, server.client() as attacker:
        ro.start_canary("ep-f", "iris:4", [50, 100], interval_s=3, sticky_header="X-User",
                        thresholds={"min_requests": 20}, ws=ws)
        deadline = time.time() + 10
        user = None
        while user is None and time.time() < deadline:  # a user the canary answers
            for candidate in (f"user-{i}" for i in range(20)):
                r = attacker.post("/v2/models/ep-f/infer", json=body(ROW),
                                  headers={"x-user": candidate})
                if r.headers["x-model-version"] == "iris:4":
                    user = candidate
                    break
        assert user is not None
        answers = [attacker.post("/v2/models/ep-f/infer", json=malformed,
                                 headers={"x-user": user}) for _ in range(100)]
        final = wait_state(ws, "ep-f", ("aborted", "promoted"), timeout=40)
    assert {(a.status_code, a.headers["x-model-version"]) for a in answers} == {(422, "iris:4")}
    assert final.state == "promoted"
    (_, events), = ro.history("ep-f", ws=ws)
    assert [e.action for e in events] == ["start", "step", "promote"]
    first_step = events[1].metrics
    assert first_step["candidate"]["client_errors"] >= 100  # reported, apart
    assert first_step["candidate"]["errors"] == 0
    assert all(status == 200 for _, status, _ in load.results) and not load.failures
