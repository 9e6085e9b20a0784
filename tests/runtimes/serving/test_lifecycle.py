"""Processes: several workers on one port, and a graceful stop that drops nothing."""

from __future__ import annotations

import collections
import contextlib
import http.client
import json
import signal
import socket
import threading
import time

import httpx

BODY = {"inputs": [{"name": "input", "shape": [2000, 4], "datatype": "FP64",
                    "data": [5.1, 3.5, 1.4, 0.2] * 2000}]}


def test_sigterm_lets_in_flight_requests_finish(model_home) -> None:  # type: ignore
    from servers import start_server, stop_server

    srv = start_server(model_home, "iris:2", "--runtime", "native", "--no-batching")
    host, port = srv.host_port.split(":")
    body = json.dumps(BODY)
    connections = [http.client.HTTPConnection(host, int(port), timeout=60) for _ in range(8)]
    try:
        for conn in connections:  # accepted by the server, not waiting in the backlog
            conn.request("GET", "/v2/health/live")
            conn.getresponse().read()
        for conn in connections:
            conn.request("POST", "/v2/models/iris/infer", body,
                         {"content-type": "application/json"})
        time.sleep(0.3)  # every request is received; they run one at a time
        srv.proc.send_signal(signal.SIGTERM)
        statuses = [conn.getresponse().status for conn in connections]
        assert statuses == [200] * 8
        assert srv.proc.wait(timeout=30) == 0
    finally:
        for conn in connections:
            conn.close()
        stop_server(srv)


def test_several_workers_serve_one_port(model_home) -> None:  # type: ignore[no-untyped-def]
    from servers import start_server, stop_server

    srv = start_server(model_home, "iris", "--workers", "2")
    try:
        pids = set()
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            for _ in range(40):
                metrics = c.get("/metrics").text
                pids |= {line.split('pid="')[1].split('"')[0] for line in metrics.splitlines()
                         if 'pid="' in line}
                assert c.post("/v2/models/iris/infer", json=BODY).status_code == 200
        assert len(pids) >= 1
    finally:
        stop_server(srv)


def test_request_id_is_echoed_or_made(server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/v2/health/live", headers={"x-request-id": "r-1"}).headers[
            "x-request-id"] == "r-1"
        made = {c.get("/v2/health/live").headers["x-request-id"] for _ in range(3)}
        assert len(made) == 3 and all(len(i) > 12 for i in made)


class Load:
    """Clients that keep sending requests on keep-alive connections, and retry a
    refused connection (as a Kubernetes Service's clients do) — every other failure
    is counted: a reset, a connection closed under a request, a 5xx."""

    def __init__(self, port: int, clients: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.answered: collections.Counter[str] = collections.Counter()  # by process
        self.refused = 0
        self.threads = [threading.Thread(target=self._client, daemon=True)
                        for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)

    def _client(self) -> None:
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                                       "data": [5.1, 3.5, 1.4, 0.2]}]})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stop.is_set():
            try:
                conn.request("POST", "/v2/models/iris/infer", body,
                             {"content-type": "application/json"})
                response = conn.getresponse()
                response.read()
            except ConnectionRefusedError:  # nothing listens: safe to try again
                self.refused += 1
                conn.close()
                time.sleep(0.02)
                continue
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
                conn.close()
                continue
            if response.status != 200:
                self.failures.append(f"status {response.status}")
            self.answered[response.getheader("x-request-id", "").split("-")[0]] += 1
        conn.close()


def test_a_rolling_restart_under_load_fails_no_request(model_home) -> None:  # type: ignore
    """Two workers under 16 keep-alive clients; SIGTERM, then a new server on the same
    port: every request is answered, by the old server or by the new one."""
    from servers import free_port, start_server, stop_server

    port = free_port()
    args = ("iris:1", "--workers", "2")
    old = start_server(model_home, *args, port=port)
    try:
        with Load(port, 16) as load:
            time.sleep(1.0)
            stopped = time.monotonic()
            old.proc.send_signal(signal.SIGTERM)
            assert old.proc.wait(timeout=20) == 0
            exit_s = time.monotonic() - stopped
            new = start_server(model_home, *args, port=port)
            try:
                served = sum(load.answered.values())
                deadline = time.monotonic() + 10
                while sum(load.answered.values()) < served + 200 and \
                        time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                load.stop.set()
                stop_server(new)
    finally:
        stop_server(old)
    assert load.failures == []
    assert sum(load.answered.values()) >= served + 200  # the new server took over
    assert len(load.answered) >= 2  # answers came from old and new worker processes
    assert exit_s < 3.0  # a short drain, then out: no 30 s grace, no busy polling


def test_slowloris_does_not_lock_clients_out_of_a_real_server(model_home) -> None:  # type: ignore
    """Under ``ulimit -n 256``, 400 connections sending a header a byte at a time: the
    server caps its connections below what it may open (so it never runs out of
    descriptors), and health probes and inference from new clients are still
    answered quickly, the slowest heads making room."""
    import resource

    from servers import start_server, stop_server

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        srv = start_server(model_home, "iris:1")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    host, port = srv.host_port.split(":")
    slow = []
    try:
        for _ in range(400):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            slow.append(sock)
        for _ in range(3):
            for sock in slow:
                with contextlib.suppress(OSError):
                    sock.send(b"v")
            started = time.monotonic()
            with httpx.Client(base_url=srv.url, timeout=5) as c:
                assert c.get("/v2/health/ready").status_code == 200
                assert c.post("/v2/models/iris/infer", json=BODY).status_code == 200
            assert time.monotonic() - started < 1.0
    finally:
        for sock in slow:
            sock.close()
        stop_server(srv)
