"""Edge fixtures: a publisher home with a signing key and registered models, and the
real Mosquitto on 127.0.0.1:1883 (skipped without it, failed under
MODELPORT_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport.config import Settings
from modelport.core.workspace import Workspace

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883
BROKER = f"mqtt://{BROKER_HOST}:{BROKER_PORT}"


def _root_conftest() -> Any:
    """tests/conftest.py as a module: every conftest is named "conftest", so a plain
    import would find whichever one pytest loaded last."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_modelport_tests_conftest", Path(__file__).resolve().parents[1] / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def mosquitto() -> str:
    try:
        with socket.create_connection((BROKER_HOST, BROKER_PORT), timeout=2):
            pass
    except OSError as exc:
        reason = f"nothing listens on {BROKER_HOST}:{BROKER_PORT} ({exc.strerror or exc})"
        _root_conftest()._require_service("Mosquitto", reason)
    return BROKER


@pytest.fixture
def prefix(mosquitto: str) -> Iterator[str]:
    """A topic prefix of the test's own; its retained messages are cleared afterwards."""
    from modelport_edge.mqtt import Broker, collect_retained, publish_retained

    value = f"mptest/{uuid.uuid4().hex[:10]}"
    yield value
    broker = Broker.parse(mosquitto)
    for topic in collect_retained(broker, f"{value}/#", 0.5):
        publish_retained(broker, topic, None)


def train_models(ws: Workspace) -> None:
    """breast_cancer v1 (logistic regression) and v2 (random forest): one signature;
    wine v1: another signature."""
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.registry import register_model

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    # Newton-Cholesky: the same optimum in ~10 iterations on these unscaled features, where
    # L-BFGS took ~2,500 (2 CPU s each fit, ~17 s wall under load, once per test worker)
    register_model("cancer", LogisticRegression(solver="newton-cholesky").fit(X, y), X=X, ws=ws)
    register_model("cancer", RandomForestClassifier(20, max_depth=5, random_state=0).fit(X, y),
                   X=X, ws=ws)
    Xw, yw = load_wine(return_X_y=True, as_frame=True)
    register_model("wine", LogisticRegression(solver="newton-cholesky").fit(Xw, yw), X=Xw,
                   ws=ws)


@pytest.fixture(scope="session")
def publisher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite publisher home with signing key 'release' (public half beside the home as
    release.pub) and the models above; built once per session."""
    home = tmp_path_factory.mktemp("publisher") / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        from modelport.runtimes.edge.signing import create_signing_key, public_pem

        create_signing_key("release")
        (home.parent / "release.pub").write_bytes(public_pem("release"))
    train_models(Workspace.open(Settings(home=home)))
    return home


@pytest.fixture(autouse=True)
def publisher_env(publisher: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Edge tests run as the publisher: MODELPORT_HOME points at its home."""
    monkeypatch.setenv("MODELPORT_HOME", str(publisher))
    monkeypatch.delenv("MODELPORT_DB_URL", raising=False)
    monkeypatch.delenv("MODELPORT_ARTIFACTS_URL", raising=False)
