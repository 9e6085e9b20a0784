"""Driving releases against a real server: a client load, waiting for rollout states."""

from __future__ import annotations

import random
import threading
import time

import httpx

from modelport.control import rollout as ro
from modelport.core.workspace import Workspace
from modelport.lifecycle.endpoints import create_endpoint
from servers import Server

ROW = [5.1, 3.5, 1.4, 0.2]  # setosa: every iris version answers it


def body(row: list[float | None]) -> dict[str, object]:
    return {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": row}]}


class Load:
    """Threads calling an endpoint until stopped; every answer is kept.

    A ``bad_share`` of the requests carries ``bad_row`` instead of ``ROW``."""

    def __init__(self, url: str, endpoint: str, threads: int = 4, bad_share: float = 0.0,
                 bad_row: list[float | None] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.url, self.endpoint, self.bad_share = url, endpoint, bad_share
        self.bad_row = bad_row or [None] * 4
        self.headers = headers or {}
        self.results: list[tuple[float, int, str]] = []  # (time, status, version)
        self.failures: list[str] = []  # transport errors: dropped requests
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=30, headers=self.headers) as client:
            while not self._stop.is_set():
                row = self.bad_row if rng.random() < self.bad_share else ROW
                try:
                    r = client.post(f"/v2/models/{self.endpoint}/infer", json=body(row))
                except httpx.TransportError as exc:
                    self.failures.append(repr(exc))
                    continue
                self.results.append((time.time(), r.status_code,
                                     r.headers.get("x-model-version", "")))

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def new_endpoint(server: Server, ws: Workspace, name: str,
                 headers: dict[str, str] | None = None) -> None:
    create_endpoint(name, "iris:1", ws=ws)
    deadline = time.time() + 10
    while time.time() < deadline:
        if httpx.get(f"{server.url}/v2/models/{name}/ready",
                     headers=headers).status_code == 200:
            return
        time.sleep(0.1)
    raise AssertionError(f"server never picked up endpoint {name}")


def wait_state(ws: Workspace, endpoint: str, states: tuple[str, ...],
               timeout: float) -> ro.Rollout:
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = ro.latest_rollout(endpoint, ws=ws)
        if r.state in states:
            return r
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} never reached {states}: {ro.latest_rollout(endpoint, ws=ws)}")


def ended_at(ws: Workspace, endpoint: str) -> float:
    (_, events), = ro.history(endpoint, ws=ws)[-1:]
    return events[-1].at
