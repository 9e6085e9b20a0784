"""No request holds the event loop: hostile bodies are refused up front or read off the loop."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from modelport.runtimes.serving import parsing
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.http import Request

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


def _csv(app: tuple[ServingApp, asyncio.AbstractEventLoop], body: bytes) -> tuple[int, bytes]:
    serving, loop = app
    request = Request("POST", "/invocations", {"content-type": "text/csv"}, body)
    response = loop.run_until_complete(serving.respond(request))
    return response.status, response.body


def test_a_csv_header_wider_than_the_signature_is_refused_before_parsing(app) -> None:  # type: ignore
    # 200,000 column names (1.3 MB): pandas' column filtering took minutes on the loop
    header = ",".join(f"c{i}" for i in range(200_000)).encode()
    started = time.perf_counter()
    status, body = _csv(app, header + b"\n" + b"1," * 199_999 + b"1\n")
    assert time.perf_counter() - started < 1.0
    assert status == 422 and b"200,000 columns" in body and b"takes 4" in body
    # a first row wider than the header: pandas read 200,000 leading values as an index (30 s)
    started = time.perf_counter()
    status, body = _csv(app, ",".join(COLUMNS).encode() + b"\n" + b"1," * 199_999 + b"1\n")
    assert time.perf_counter() - started < 1.0
    assert status == 422 and b"200,000 values" in body
    quoted = ",".join(COLUMNS).encode() + b'\n"5,1",3.5,1.4,0.2\n'  # a quoted comma is one value
    assert b"first CSV row" not in _csv(app, quoted)[1]
    crlf = (",".join(COLUMNS) + "\r" + "5.1,3.5,1.4,0.2\r" * 200).encode()  # old Mac line ends
    assert _csv(app, crlf)[0] == 200
    # extra columns within reason are still read (and ignored)
    extra = ",".join([*COLUMNS, *(f"x{i}" for i in range(60))]).encode()
    status, body = _csv(app, extra + b"\n" + b"5.1,3.5,1.4,0.2" + b",0" * 60 + b"\n")
    assert status == 200, body


def test_a_body_not_read_within_the_deadline_is_413(app, monkeypatch) -> None:  # type: ignore
    monkeypatch.setattr(parsing, "DEADLINE_S", 0.0001)
    body = (",".join(COLUMNS) + "\n" + "5.1,3.5,1.4,0.2\n" * 100_000).encode()
    status, text = _csv(app, body)
    assert status == 413 and b"not read within" in text
    monkeypatch.undo()
    assert _csv(app, body)[0] == 200  # the same body with the normal deadline


def test_any_parse_failure_is_the_clients(app) -> None:  # type: ignore[no-untyped-def]
    """An exception type no parser expected is still a 4xx naming it, never a 500."""
    serving, _ = app
    served, _ = serving.repo.get("iris")

    def surprising(body: bytes) -> tuple[object, None]:
        raise KeyError("surprise")

    def ragged(body: bytes) -> tuple[object, None]:
        return {c: [[1], 2] for c in COLUMNS}, None

    with pytest.raises(Exception) as failure:
        parsing.read_now(served, surprising, (b"",))
    assert failure.value.status == 400 and "KeyError" in failure.value.message  # type: ignore
    with pytest.raises(Exception) as failure:
        parsing.read_now(served, ragged, (b"",))
    assert failure.value.status == 422  # type: ignore[attr-defined]


def test_health_answers_within_100ms_while_a_worker_reads_a_hostile_body(model_home) -> None:  # type: ignore
    from servers import serving

    body = (",".join(COLUMNS) + "\n" + "5.1,3.5,1.4,0.2\n" * 550_000).encode()  # 8.8 MB
    with serving(model_home, "iris") as srv:
        done = threading.Event()
        statuses: list[int] = []

        def hostile() -> None:
            with httpx.Client(base_url=srv.url, timeout=60) as c:
                for _ in range(3):
                    statuses.append(c.post("/invocations", content=body,
                                           headers={"content-type": "text/csv"}).status_code)
            done.set()

        latencies: list[float] = []
        with httpx.Client(base_url=srv.url, timeout=10) as probe:
            probe.get("/v2/health/live")
            worker = threading.Thread(target=hostile)
            worker.start()
            while not done.is_set():
                started = time.perf_counter()
                assert probe.get("/v2/health/live").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.01)
            worker.join()
    assert statuses == [200, 200, 200]
    assert len(latencies) >= 10, latencies  # the probes really ran during the parses
    assert max(latencies) < 0.1, sorted(latencies)[-5:]


def test_a_version_loads_off_the_loop(app, monkeypatch) -> None:  # type: ignore
    """Loading a version on first use (/versions/N) never stalls other requests."""
    serving, loop = app
    load = serving.repo.load

    def slow_load(label: str):  # type: ignore[no-untyped-def]
        time.sleep(0.5)  # a big model's load
        return load(label)

    monkeypatch.setattr(serving.repo, "load", slow_load)

    async def scenario() -> tuple[int, float]:
        body = (b'{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", '
                b'"data": [5.1, 3.5, 1.4, 0.2]}]}')
        pinned = asyncio.ensure_future(serving.respond(
            Request("POST", "/v2/models/iris/versions/2/infer", {}, body)))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        health = await serving.respond(Request("GET", "/v2/health/live", {}))
        waited = time.perf_counter() - started
        assert (await pinned).status == 200
        return health.status, waited

    status, waited = loop.run_until_complete(scenario())
    assert status == 200 and waited < 0.1
