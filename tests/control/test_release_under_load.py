"""Releases under real load: a client keeps calling an endpoint while versions change.

(a) a canary failing on 20 % of inputs is rolled back, its errors confined to its
share for less than one interval; (b) a canary 100 ms slower is rolled back on
latency; (c) a good canary is promoted; (d) a blue-green switch and a rollback
drop nothing; (e) a controller killed mid-rollout resumes.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.control import rollout as ro
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import create_endpoint, get_endpoint
from servers import Server, serving, start_server, stop_server

ROW = [5.1, 3.5, 1.4, 0.2]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """iris:1 stable forest · :2 fails on missing values · :3 ~100 ms slower · :4 a good twin."""
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
    register_model("iris", ExtraTreesClassifier(n_estimators=3500, random_state=0).fit(X, y),
                   X=X, ws=ws)
    register_model("iris", RandomForestClassifier(n_estimators=30, random_state=1).fit(X, y),
                   X=X, ws=ws)
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


class Load:
    """Threads calling an endpoint until stopped; every answer is kept."""

    def __init__(self, url: str, endpoint: str, threads: int = 4, bad_share: float = 0.0) -> None:
        self.url, self.endpoint, self.bad_share = url, endpoint, bad_share
        self.results: list[tuple[float, int, str]] = []  # (time, status, version)
        self.failures: list[str] = []  # transport errors: dropped requests
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self._stop.is_set():
                row = [None] * 4 if rng.random() < self.bad_share else ROW
                body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                                    "data": row}]}
                try:
                    r = client.post(f"/v2/models/{self.endpoint}/infer", json=body)
                except httpx.TransportError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.results.append((time.time(), r.status_code,
                                     r.headers.get("x-model-version", "")))

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def _new_endpoint(server: Server, ws: Workspace, name: str) -> None:
    create_endpoint(name, "iris:1", ws=ws)
    deadline = time.time() + 10
    while time.time() < deadline:
        if httpx.get(f"{server.url}/v2/models/{name}/ready").status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"server never picked up endpoint {name}")


def _wait_state(ws: Workspace, endpoint: str, states: tuple[str, ...],
                timeout: float) -> ro.Rollout:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = ro.latest_rollout(endpoint, ws=ws)
        if r.state in states:
            return r
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} never reached {states}: {ro.latest_rollout(endpoint, ws=ws)}")


def _ended_at(ws: Workspace, endpoint: str) -> float:
    (_, events), = ro.history(endpoint, ws=ws)[-1:]
    return events[-1].at


def test_failing_canary_is_rolled_back_within_its_share(server: Server, ws: Workspace) -> None:
    _new_endpoint(server, ws, "ep-a")
    interval = 30.0
    with Load(server.url, "ep-a", bad_share=0.2) as load:
        time.sleep(1)
        ro.start_canary("ep-a", "iris:2", [20, 100], interval_s=interval,
                        thresholds={"min_requests": 40}, ws=ws)
        started = time.time()
        final = _wait_state(ws, "ep-a", ("aborted", "promoted"), timeout=interval)
        ended = _ended_at(ws, "ep-a")
        time.sleep(2)
    assert final.state == "aborted"
    assert ended - started < interval  # caught within the first interval
    errors = [(t, v) for t, status, v in load.results if status != 200]
    assert errors and {v for _, v in errors} == {"iris:2"}  # only the canary failed
    assert max(t for t, _ in errors) < ended + 1.0  # and not after the rollback landed
    during = [v for t, _, v in load.results if started < t < ended + 1.0]
    canary = during.count("iris:2")
    assert 0 < canary / len(during) < 0.45  # the canary only ever had its ~20 % share
    assert len(errors) <= canary
    assert not load.failures
    (_, events), = ro.history("ep-a", ws=ws)
    assert "error rate" in events[-1].reason


def test_slow_canary_is_rolled_back_on_latency(server: Server, ws: Workspace) -> None:
    _new_endpoint(server, ws, "ep-b")
    with Load(server.url, "ep-b") as load:
        time.sleep(1)
        ro.start_canary("ep-b", "iris:3", [25, 100], interval_s=30,
                        thresholds={"min_requests": 20, "max_p99_ms": 50}, ws=ws)
        final = _wait_state(ws, "ep-b", ("aborted", "promoted"), timeout=40)
    assert final.state == "aborted"
    (_, events), = ro.history("ep-b", ws=ws)
    assert "p99 latency" in events[-1].reason
    assert events[-1].metrics["candidate"]["p99_ms"] > 50
    assert all(status == 200 for _, status, _ in load.results) and not load.failures


def test_good_canary_is_promoted(server: Server, ws: Workspace) -> None:
    _new_endpoint(server, ws, "ep-c")
    with Load(server.url, "ep-c") as load:
        ro.start_canary("ep-c", "iris:4", [50, 100], interval_s=2,
                        thresholds={"min_requests": 20}, ws=ws)
        final = _wait_state(ws, "ep-c", ("aborted", "promoted"), timeout=40)
        promoted_at = _ended_at(ws, "ep-c")
        time.sleep(1.5)
    assert final.state == "promoted"
    assert get_endpoint("ep-c", ws=ws).policy.routes[0].version == "iris:4"
    after = {v for t, _, v in load.results if t > promoted_at + 1.0}
    assert after == {"iris:4"}
    assert all(status == 200 for _, status, _ in load.results) and not load.failures
    (_, events), = ro.history("ep-c", ws=ws)
    assert [e.action for e in events] == ["start", "step", "promote"]


def test_bluegreen_switch_and_rollback_drop_nothing(server: Server, ws: Workspace) -> None:
    _new_endpoint(server, ws, "ep-d")
    with Load(server.url, "ep-d", threads=6) as load:
        time.sleep(1)
        ro.start_bluegreen("ep-d", "iris:4", grace_s=60, ws=ws)
        switched = _wait_state(ws, "ep-d", ("switched",), timeout=30)
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
        _new_endpoint(srv, ws, "ep-e")
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
                final = _wait_state(ws, "ep-e", ("promoted", "aborted"), timeout=40)
            finally:
                second.terminate()
                second.wait()
        assert final.state == "promoted"
        assert all(status == 200 for _, status, _ in load.results) and not load.failures
    finally:
        stop_server(srv)
        forget_stores()
