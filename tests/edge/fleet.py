"""A fleet for tests: agents as real processes, a status watcher on the real broker,
and an HTTP server that misbehaves the way networks do (stalls, cuts downloads short)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.runtimes.edge.catalog import record_published
from modelport_edge.mqtt import Broker, Topics, client, connect, publish_retained


@dataclass
class Device:
    id: str
    dir: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.dir / "state.json").read_text()))


def start_agent(device_id: str, root: Path, *, broker: str, group: str, prefix: str,
                server: str, trust: Path, heartbeat: float = 1.0) -> Device:
    folder = root / device_id
    folder.mkdir(parents=True, exist_ok=True)
    log = root / f"{device_id}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelport_edge", "agent", "--broker", broker,
             "--device-id", device_id, "--group", group, "--dir", str(folder),
             "--server", server, "--trust", str(trust), "--topic-prefix", prefix,
             "--heartbeat", str(heartbeat), "--retry", "3600"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Device(device_id, folder, proc, log)


def stop_agent(device: Device, kill: bool = False) -> None:
    if device.proc.poll() is None:
        device.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            device.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            device.proc.kill()
            device.proc.wait()


@dataclass
class Watcher:
    """Follows every message under a prefix: device statuses and prediction results."""

    broker: Broker
    prefix: str
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._client = client(self.broker)
        self._client.on_message = self._on_message
        connect(self._client, self.broker)
        self._client.subscribe(f"{self.prefix}/#", qos=1)

    def _on_message(self, c: Any, userdata: Any, msg: Any) -> None:
        if not msg.payload:
            return
        doc = json.loads(msg.payload)
        with self._cond:
            if "/status/" in msg.topic:
                self.statuses[doc["device"]] = doc
            elif "/result/" in msg.topic:
                self.results[str(doc.get("id"))] = doc
            self._cond.notify_all()

    def wait(self, check: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what or check}: "
                                         f"{json.dumps(self.statuses, indent=1)[:3000]}")
                self._cond.wait(min(left, 0.5))

    def on(self, device: str, version: int, timeout: float = 30) -> dict[str, Any]:
        """Wait until ``device`` runs ``version`` and is healthy; its status."""
        self.wait(lambda: (self.statuses.get(device, {}).get("version") == version and
                           self.statuses[device].get("state") == "ok"), timeout,
                  f"{device} on version {version}")
        return self.statuses[device]

    def refused(self, device: str, digest: str, timeout: float = 30) -> dict[str, Any]:
        """Wait until ``device`` reports refusing ``digest``; its status."""
        self.wait(lambda: ((self.statuses.get(device, {}).get("last_error") or {})
                           .get("digest") == digest), timeout, f"{device} to refuse {digest}")
        return self.statuses[device]

    def predict(self, group: str, device: str, rows: list[Any],
                timeout: float = 15) -> dict[str, Any]:
        request_id = f"r{time.monotonic_ns()}"
        payload = json.dumps({"id": request_id, "inputs": rows})
        self._client.publish(Topics(self.prefix).infer(group, device), payload, qos=1)
        self.wait(lambda: request_id in self.results, timeout, f"an answer from {device}")
        return self.results[request_id]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def announce(home: Path, broker: str, prefix: str, group: str, data: bytes, *,
             model: str, version: int, url: str | None = None, percent: float = 100,
             fallback: dict[str, Any] | None = None) -> str:
    """Publish raw bundle bytes as a notice — the way a compromised or broken publisher
    would, without ``modelport edge publish``'s own checks. The bundle's digest."""
    from modelport_edge.bundle import sha256

    ws = Workspace.open(Settings(home=home))
    digest = ws.artifacts.put(data)
    assert digest == sha256(data)
    record_published(f"{model}:{version}", digest, {"group": group}, ws=ws)
    notice = {"model": model, "version": version, "digest": digest, "size": len(data),
              "url": url or f"/v2/edge/bundles/{digest}", "percent": percent,
              "published_at": time.time(), "fallback": fallback}
    publish_retained(Broker.parse(broker), Topics(prefix).update(group), notice)
    return digest


class FlakyServer:
    """Serves one bundle; ``mode`` "stall" sends half of it and hangs (the first time
    only), "truncate" sends half and closes the connection, "ok" sends it whole."""

    def __init__(self, data: bytes, mode: str) -> None:
        self.data, self.mode = data, mode
        self.requests = 0
        self.authorization: list[str | None] = []  # the Authorization header of each request
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                server.authorization.append(self.headers.get("Authorization"))
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.data)))
                self.end_headers()
                if server.mode == "ok" or (server.mode == "stall" and server.requests > 1):
                    self.wfile.write(server.data)
                    return
                self.wfile.write(server.data[: len(server.data) // 2])
                self.wfile.flush()
                if server.mode == "stall":
                    server.release.wait(60)
                self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.base}/bundle"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
