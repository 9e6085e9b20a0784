"""Starting, measuring and stopping the two servers the benchmark compares.

Each server is a subprocess on a free loopback port; ``Server`` waits for it to
answer, reads the resident memory of its whole process tree from ``/proc``
(MLflow's server runs worker and job-runner children) and stops the tree.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

READY_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    total_kb, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += _children(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


@dataclass
class Server:
    """One running server: its base URL, its process, the lines it printed."""

    label: str
    argv: list[str]
    url: str
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    log: Path | None = None

    def start(self, log: Path) -> None:
        self.log = log
        self.proc = subprocess.Popen(self.argv, env={**os.environ, **self.env},
                                     stdout=log.open("w"), stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label} exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + self.ready_path, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.label} did not become ready: {log.read_text()[-2000:]}")

    def rss_mb(self) -> float:
        assert self.proc is not None
        return tree_rss_mb(self.proc.pid)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)  # the server's own session: it and its workers
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
