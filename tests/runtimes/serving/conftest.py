"""A real ``modelport serve`` process on a free port, over a workspace with a few models."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelport.config import Settings
from modelport.core.store.engine import forget_stores
from modelport.core.workspace import Workspace


@dataclass
class Server:
    url: str
    host_port: str
    proc: subprocess.Popen[bytes]
    home: Path
    log: Path

    def client(self, **kwargs) -> httpx.Client:  # type: ignore[no-untyped-def]
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_models(home: Path) -> Workspace:
    """iris (classifier, ONNX-exported), diabetes (regressor), flowers (text labels)."""
    from sklearn.linear_model import LogisticRegression

    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.loading import export_onnx
    from modelport.lifecycle.registry import register_model, set_alias
    from modelport.lifecycle.train import train

    ws = Workspace.open(Settings(home=home))
    train("sklearn:iris", "target", "logistic_regression", name="iris", ws=ws)
    train("sklearn:iris", "target", "random_forest", {"n_estimators": 10}, name="iris", ws=ws)
    set_alias("iris", "champion", 1, ws=ws)
    export_onnx("iris:1", ws=ws)
    train("sklearn:diabetes", "target", "ridge", name="diabetes", ws=ws)
    frame = load_dataset("sklearn:iris").frame
    X = frame.drop(columns="target")
    labels = frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    register_model("flowers", LogisticRegression(max_iter=500).fit(X, labels), X=X, ws=ws)
    forget_stores()
    return ws


def start_server(home: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log = home.parent / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelport", "serve", "--port", str(port), *args],
            env={**os.environ, "MODELPORT_HOME": str(home), **(env or {})},
            stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", proc, home, log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{server.url}/v2/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not become ready")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def model_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("serving") / "home"
    make_models(home)
    return home


@pytest.fixture(scope="module")
def server(model_home: Path) -> Iterator[Server]:
    srv = start_server(model_home)
    yield srv
    stop_server(srv)
