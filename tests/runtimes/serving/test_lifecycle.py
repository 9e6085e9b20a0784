"""Processes: several workers on one port, and a graceful stop that drops nothing."""

from __future__ import annotations

import http.client
import json
import signal
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
