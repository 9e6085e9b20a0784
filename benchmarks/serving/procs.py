"""The servers under test and their processes: start pinned, wait, check, always stop.

Each server is started in its own session, pinned with ``taskset -c 0`` (its
children inherit the pinning), listening on 127.0.0.1 only. ``stop`` sends
SIGTERM to its process group and to the group of every descendant (BentoML
starts its worker in a session of its own), then SIGKILL to whatever is left
after a grace period; ``Fleet`` remembers every server it started so a failure
or Ctrl-C still stops them all.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quiet import proc_stats, tree

SERVER_CORE = "0"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 180.0


@dataclass
class Endpoint:
    key: str  # short name used in the results: "v2", "invocations", "predict", "noop"
    path: str
    body: Path
    label_of: Callable[[Any], Any] | None  # reads the predicted label from an answer


@dataclass
class ServerSpec:
    key: str  # "ceiling", "modelport", "modelport-native", "mlflow", "bentoml", …
    label: str  # what the report calls it
    argv: list[str]  # the command, before pinning; "{port}" is filled in
    endpoints: list[Endpoint]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    notes: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def post(url: str, body: bytes, timeout: float = 10.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Running:
    """One started server."""

    def __init__(self, spec: ServerSpec, proc: subprocess.Popen[bytes], port: int,
                 log: Path) -> None:
        self.spec = spec
        self.proc = proc
        self.port = port
        self.log = log

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, endpoint: Endpoint) -> str:
        return f"http://{HOST}:{self.port}{endpoint.path}"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, expected: Any, timeout: float = READY_TIMEOUT_S) -> None:
        """Until every endpoint answers 200 with the expected label (or raise)."""
        deadline = time.monotonic() + timeout
        for endpoint in self.spec.endpoints:
            url, body = self.url(endpoint), endpoint.body.read_bytes()
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.spec.label} exited ({self.proc.returncode}) "
                                       f"before it was ready:\n{self.log_tail()}")
                try:
                    status, answer = post(url, body, timeout=5)
                except (OSError, urllib.error.URLError):
                    status, answer = 0, b""
                if status == 200:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.spec.label} not ready on {url} after "
                                       f"{timeout:.0f} s (last status {status}: "
                                       f"{answer[:200]!r}):\n{self.log_tail()}")
                time.sleep(0.25)
            if endpoint.label_of is not None:
                got = endpoint.label_of(json.loads(answer))
                if got != expected:
                    raise RuntimeError(f"{self.spec.label} {endpoint.path} answered label "
                                       f"{got!r}, expected {expected!r}: {answer[:300]!r}")


class Fleet:
    """Starts servers and guarantees they are stopped."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[Running] = []

    def start(self, spec: ServerSpec, tag: str) -> Running:
        port = free_port()
        argv = [a.replace("{port}", str(port)) for a in spec.argv]
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{tag}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(["taskset", "-c", SERVER_CORE, *argv], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    cwd=spec.cwd, env={**os.environ, **spec.env},
                                    start_new_session=True)
        running = Running(spec, proc, port, log)
        self.running.append(running)
        return running

    def stop(self, running: Running, grace: float = 15.0) -> None:
        """SIGTERM to the server's process group and to the group of every descendant (some
        servers start workers in sessions of their own), SIGKILL to what is left after
        ``grace`` seconds."""
        pids = set(tree(running.proc.pid))
        groups = {os.getpgid(p) for p in pids if _exists(p)} | {running.proc.pid}
        for group in groups:
            _signal_group(group, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pids):
            running.proc.poll()
            pids |= {p for p in tree(running.proc.pid) if p not in pids}
            time.sleep(0.1)
        if _alive(pids):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        running.proc.poll()
        if running in self.running:
            self.running.remove(running)

    def stop_all(self) -> None:
        for running in list(self.running):
            self.stop(running)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _alive(pids: set[int]) -> bool:
    """Whether any of ``pids`` still runs (zombies waiting to be reaped do not count)."""
    stats = proc_stats()
    return any(stats[pid][0] != "Z" for pid in pids if pid in stats)
