"""A real ``modelport server`` (or ``modelport ui``) for tests: uvicorn in a thread on a free
port, or the ``modelport server`` command in its own process; and the CLI as a user runs it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn
from litestar import Litestar

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.access import bootstrap_key
from servers import free_port


@contextlib.contextmanager
def serving(app: Litestar) -> Iterator[str]:
    """The URL of ``app`` served on 127.0.0.1, for a ``with`` block."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("modelport server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def team_server(settings: Settings, max_artifact: int | None = None,
                log_retention_s: float | None = None) -> Iterator[tuple[str, str]]:
    """(URL, admin key) of a server over ``settings``' store, for a ``with`` block."""
    ws = Workspace.open(settings)
    secret = bootstrap_key(ws)
    assert secret is not None, "a fresh store has no admin key yet"
    app = create_app(ws, log_retention_s=log_retention_s)
    if max_artifact is not None:
        app.state.max_artifact = max_artifact
    with serving(app) as url:
        yield url, secret


def modelport(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelport", *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200", **env}, timeout=120,
                          check=False)


def start(home: Path, port: int, env: dict[str, str] | None = None, log: Path | None = None,
          args: tuple[str, ...] = ()) -> tuple[subprocess.Popen[str], list[str]]:
    """The server and the lines it printed up to its address. With ``log``, what it prints
    goes on into that file (a long-lived server: a pipe nobody reads would fill and stall
    it); else into a pipe (``stop`` closes it)."""
    out = log.open("w+") if log is not None else subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-m", "modelport", "server", "--port", str(port),
                             *args],
                            env={**os.environ, "MODELPORT_HOME": str(home), **(env or {})},
                            stdout=out, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = open(log) if log is not None else proc.stdout  # noqa: SIM115 - closed below
    assert reader is not None
    try:
        deadline = time.monotonic() + 60
        while not lines or not lines[-1].startswith("modelport server on"):
            line = reader.readline()
            if not line:
                assert proc.poll() is None and time.monotonic() < deadline, \
                    f"server exited: {lines}"
                time.sleep(0.05)  # a file: the server has not printed the next line yet
                continue
            lines.append(line.strip())
    finally:
        if log is not None:
            reader.close()
            out.close()  # type: ignore[union-attr]  # the child holds its own copy
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc, lines
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not become ready")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()


def remote_workspace(url: str, key: str, home: Path, project: str = "default") -> Workspace:
    """A workspace of another machine (its own ``home``) on the server at ``url``."""
    return Workspace.open(Settings(home=home, db_url=url, artifacts_url=url, token=key,
                                   project=project))


def close(ws: Workspace) -> None:
    """Close a remote workspace's connections to its server."""
    ws.store.close()  # type: ignore[attr-defined]
    ws.artifacts.close()  # type: ignore[attr-defined]


def project_keys(url: str, admin: str, home: Path, projects: tuple[str, ...] = ("a", "b")
                 ) -> dict[str, str]:
    """The admin key and a ``write`` key limited to each of ``projects``, made through the
    server (known to it at once), by project name."""
    from modelport.core.keys import create_key

    ws = remote_workspace(url, admin, home)
    try:
        return {"admin": admin} | {project: create_key(project, ["write"], None,
                                                       projects=[project], ws=ws)[1]
                                   for project in projects}
    finally:
        close(ws)
