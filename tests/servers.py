"""Starting real ``modelport serve`` processes for tests, and stopping them."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx


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


def start_server(home: Path, *args: str, env: dict[str, str] | None = None,
                 port: int | None = None) -> Server:
    port = port or free_port()
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


@contextlib.contextmanager
def serving(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """A server for the length of a ``with`` block (a fixture's whole life)."""
    server = start_server(home, *args, env=env)
    try:
        yield server
    finally:
        stop_server(server)
