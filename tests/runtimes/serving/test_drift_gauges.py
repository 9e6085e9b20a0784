"""Live drift gauges on /metrics: judged on the log's thread from the sampled traffic."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.lifecycle.datasets import load_dataset
from modelport.lifecycle.registry import register_artifact, register_model, set_profile
from modelport.runtimes.drift_gauges import LiveDrift
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService

SERIES = re.compile(r'^(modelport_drift_\w+)\{model="([^"]+)",version="(\d+)",'
                    r'feature="((?:[^"\\]|\\.)*)",pid="\d+"\} (\S+)$')


def oip(model: str, frame: pd.DataFrame) -> Request:
    body = {"inputs": [{"name": c, "shape": [len(frame)], "datatype": "FP64",
                        "data": frame[c].tolist()} for c in frame.columns]}
    return Request("POST", f"/v2/models/{model}/infer", {}, json.dumps(body).encode())


def scrape(served: ServingApp, loop: asyncio.AbstractEventLoop) -> dict[tuple[str, str], float]:
    """(metric, feature) → value of every live drift series on /metrics."""
    response = loop.run_until_complete(served.respond(Request("GET", "/metrics", {}, b"")))
    assert response.status == 200
    found = {}
    for line in response.body.decode().splitlines():
        match = SERIES.match(line)
        if match:
            found[match.group(1), match.group(4)] = float(match.group(5))
    return found


@pytest.fixture
def live(model_home: Path, tmp_path: Path
         ) -> Iterator[tuple[ServingApp, asyncio.AbstractEventLoop, PredictionLog, Workspace]]:
    ws = Workspace.open(Settings(home=model_home))
    predlog = PredictionLog(tmp_path / "predictions", sample=1.0, flush_s=3600,
                            live=LiveDrift(ws))
    served = ServingApp(InferenceService(Repository(["flowers"], ws=ws), predlog))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(served.startup())
    yield served, loop, predlog, ws
    loop.run_until_complete(served.shutdown())
    loop.close()
    forget_stores()


def test_a_shifted_feature_shows_on_metrics_and_the_others_stay_ok(live) -> None:  # type: ignore
    served, loop, predlog, _ = live
    frame = load_dataset("sklearn:iris").frame.drop(columns="target")
    assert scrape(served, loop) == {}  # nothing flushed yet: no series at all
    shifted = frame.copy()
    shifted["petal width (cm)"] += 3.0  # far outside training
    for part in (frame, frame, shifted, shifted):
        assert loop.run_until_complete(served.respond(oip("flowers", part))).status == 200
    predlog.flush()  # what the writer thread does every 10 s
    gauges = scrape(served, loop)
    assert gauges["modelport_drift_status", "petal width (cm)"] == 2
    assert gauges["modelport_drift_wasserstein", "petal width (cm)"] > 0.3
    for feature in ("sepal length (cm)", "sepal width (cm)", "petal length (cm)"):
        assert gauges["modelport_drift_status", feature] == 0
        assert gauges["modelport_drift_psi", feature] < 0.1
    assert ("modelport_drift_status", "(prediction)") in gauges
    body = loop.run_until_complete(served.respond(Request("GET", "/metrics", {}, b""))).body
    assert b'modelport_drift_window_rows{model="flowers",version="1"' in body
    assert predlog.gauges(models={"iris"}) == b""  # a key limited to iris sees none of it


def test_the_window_keeps_the_latest_rows_only(model_home: Path) -> None:
    ws = Workspace.open(Settings(home=model_home))
    live = LiveDrift(ws, window_rows=300)  # judged from 200 rows (drift.MIN_ROWS) on
    iris = load_dataset("sklearn:iris").frame.drop(columns="target")
    frame = pd.concat([iris, iris])
    names = list(frame.columns)
    labels = np.array(["setosa"] * 300, dtype=object)
    moved = frame.to_numpy() + np.array([0, 0, 0, 3.0])
    live.observe("flowers", 1, names, moved, labels)
    assert b'feature="petal width (cm)",pid=' in live.render()
    assert _status(live, "petal width (cm)") == 2
    live.observe("flowers", 1, names, frame.to_numpy(), labels)  # pushes the shift out
    assert _status(live, "petal width (cm)") == 0
    forget_stores()


def _status(live: LiveDrift, feature: str) -> float:
    for line in live.render().decode().splitlines():
        if line.startswith("modelport_drift_status{") and f'feature="{feature}"' in line:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no status for {feature}")


def test_hostile_feature_names_cannot_break_the_exposition(tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    rng = np.random.default_rng(0)
    name = 'x"} 1\nmodelport_fake{a="\\'
    X = pd.DataFrame({name: rng.normal(size=400), "plain": rng.normal(size=400)})
    register_model("odd", LogisticRegression().fit(X, X["plain"] > 0), X=X, ws=ws)
    live = LiveDrift(ws)
    live.observe("odd", 1, list(X.columns), X.to_numpy(), np.array([True] * 400))
    lines = live.render().decode().splitlines()
    assert not any(line.startswith("modelport_fake") for line in lines)
    series = [SERIES.match(line) for line in lines if not line.startswith("#")
              and "feature=" in line]
    assert series and all(series)
    assert {m.group(4) for m in series if m} == {"plain", 'x\\"} 1\\nmodelport_fake{a=\\"\\\\',
                                                  "(prediction)"}
    forget_stores()


def test_a_version_without_a_profile_gets_gauges_once_it_has_one(tmp_path: Path) -> None:
    ws = Workspace.open(Settings(home=tmp_path / "home"))
    X = pd.DataFrame({"a": np.arange(300.0)})
    v1 = register_model("bare", LogisticRegression().fit(X, X["a"] > 150), X=X, ws=ws)
    v2 = register_artifact("bare", v1.format, ws.artifacts.get(v1.artifact_digest),
                           v1.signature, ws=ws)  # as a stream or forecast registers
    assert v2.profile_digest is None
    live = LiveDrift(ws)
    live.observe("bare", 2, ["a"], X.to_numpy(), np.array([True] * 300))
    assert live.render() == b""
    assert v1.profile_digest is not None
    set_profile("bare:2", ws.artifacts.get(v1.profile_digest), ws=ws)  # as monitor does
    live.observe("bare", 2, ["a"], X.to_numpy(), np.array([True] * 300))
    assert b'modelport_drift_status{model="bare",version="2",feature="a"' in live.render()
    forget_stores()
