"""``modelport serve`` as a newcomer meets it: every mistake is one line before the banner,
and the banner says who may call the server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from servers import free_port, start_server, stop_server

pytestmark = pytest.mark.storage_independent


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with one model, iris:1 (no alias)."""
    from sklearn.linear_model import LogisticRegression

    from modelport.config import Settings
    from modelport.core.store.engine import forget_stores
    from modelport.core.workspace import Workspace
    from modelport.lifecycle.datasets import load_dataset
    from modelport.lifecycle.registry import register_model

    home = tmp_path_factory.mktemp("serve-cli") / "home"
    frame = load_dataset("sklearn:iris").frame
    X = frame.drop(columns="target")
    register_model("iris", LogisticRegression(max_iter=300).fit(X, frame["target"]), X=X,
                   ws=Workspace.open(Settings(home=home)))
    forget_stores()
    return home


def serve(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``modelport serve`` expected to refuse: it must exit on its own, well before the
    timeout a started server would run into."""
    env = {**os.environ, "MODELPORT_HOME": str(home), "COLUMNS": "200"}
    env.pop("MODELPORT_DB_URL", None)
    return subprocess.run([sys.executable, "-m", "modelport", "serve", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def assert_one_line(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result
    assert "serving on" not in result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], \
        result.stderr


@pytest.mark.parametrize("args, message", [
    (["iris@champion", "wine:3", "--workers", "2", "--port", "0"],
     "model 'iris' has no alias 'champion'"),
    (["iris", "wine:3", "--workers", "2", "--port", "0"], "model 'wine' not found"),
    (["--port", "99999"], "--port must be between 0 and 65535, not 99999"),
    (["--port", "-1"], "--port must be between 0 and 65535, not -1"),
    (["--port", "eighty"], "--port must be a number, not 'eighty'"),
    (["--grpc-port", "70000"], "--grpc-port must be between 0 and 65535, not 70000"),
    (["--port", "9000", "--grpc-port", "9000"], "--grpc-port must differ from --port"),
])
def test_a_bad_reference_or_port_is_one_line_before_the_banner(
        home: Path, args: list[str], message: str) -> None:
    assert_one_line(serve(home, *args), message)


def test_a_port_in_use_is_one_line_before_the_banner(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(home, "iris", "--workers", "2", "--port", str(port))
    assert_one_line(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_a_grpc_port_in_use_is_one_line_before_the_banner(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve(home, "iris", "--port", "0", "--grpc-port", str(port))
    assert_one_line(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")


def test_an_empty_workspace_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path / "empty")}
    env.pop("MODELPORT_DB_URL", None)
    made = subprocess.run([sys.executable, "-m", "modelport", "models", "list"], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert "created workspace" in made.stderr  # said once, by the command that made it
    result = serve(tmp_path / "empty", "--port", str(free_port()))
    assert_one_line(result, "nothing to serve")
    assert "modelport train" in result.stderr


def _banner(server_log: Path) -> str:
    return next(line for line in server_log.read_text().splitlines() if "serving on" in line)


def test_the_banner_says_whether_keys_are_required(home: Path) -> None:
    from modelport.config import Settings
    from modelport.core.keys import create_key, revoke_key
    from modelport.core.store.engine import forget_stores
    from modelport.core.workspace import Workspace

    srv = start_server(home, "iris")
    stop_server(srv)
    assert "no API key required" in _banner(srv.log)

    ws = Workspace.open(Settings(home=home))
    created = [create_key("app", ["predict"], ["iris"], None, ws=ws),
               create_key("labels", ["feedback", "read"], None, None, ws=ws)]
    forget_stores()
    try:
        srv = start_server(home, "iris", "--workers", "2")
        stop_server(srv)
        banner = _banner(srv.log)
        assert "API keys required (2 active keys; scopes: feedback, predict, read)" in banner
        assert not any(secret in srv.log.read_text() for _, secret in created)
    finally:
        for key, _ in created:
            revoke_key(key.id, ws=Workspace.open(Settings(home=home)))
        forget_stores()
