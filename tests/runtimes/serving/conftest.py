"""A workspace with a few models, served by a real ``modelport serve`` process on a free
port (``server``) or by a ``ServingApp`` on an event loop of the test's own (``app``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.service import InferenceService
from servers import Server, serving


def make_models(home: Path) -> Workspace:
    """iris (classifier; version 1 ONNX-exported, 2 native only), diabetes (regressor),
    flowers (text labels)."""
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model, set_alias
    from modelport.lifecycle.train import train

    ws = Workspace.open(Settings(home=home))
    train("sklearn:iris", "target", "logistic_regression", name="iris", ws=ws)  # + its ONNX
    train("sklearn:iris", "target", "random_forest", {"n_estimators": 10}, name="iris",
          onnx=False, ws=ws)
    set_alias("iris", "champion", 1, ws=ws)
    train("sklearn:diabetes", "target", "ridge", name="diabetes", onnx=False, ws=ws)
    frame = load_dataset("sklearn:iris").frame
    X = frame.drop(columns="target")
    labels = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    register_model("flowers", LogisticRegression(max_iter=500).fit(X, labels), X=X, ws=ws)
    forget_stores()
    return ws


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serving") / "home"
    make_models(home)
    return home


@pytest.fixture(scope="module")
def server(model_home: Path) -> Iterator[Server]:
    with serving(model_home) as srv:
        yield srv


@pytest.fixture(scope="module")
def app(model_home: Path) -> Iterator[tuple[ServingApp, asyncio.AbstractEventLoop]]:
    """The app serving iris in-process, started on a loop the test drives itself."""
    ws = Workspace.open(Settings(home=model_home))
    served = ServingApp(InferenceService(Repository(["iris"], ws=ws)))
    loop = asyncio.new_event_loop()
    loop.run_until_complete(served.startup())
    yield served, loop
    loop.run_until_complete(served.shutdown())
    loop.close()
    forget_stores()
