"""Micro-batching merges concurrent requests and still answers each with its own rows."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from modelport.core.formats.base import Predictor
from modelport.core.signature import ColumnSpec, Signature
from modelport.runtimes.serving.batching import Batcher


class SlowDoubler(Predictor):
    """Answers 2·x after a fixed amount of CPU work, and remembers the size of every call."""

    runtime = "test"

    def __init__(self, delay: float = 0.02) -> None:
        super().__init__(Signature([ColumnSpec("x", "float64")]))
        self.delay = delay
        self.calls: list[int] = []
        self.lock = threading.Lock()

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            self.calls.append(len(x))
        if np.isnan(x).any():
            raise ValueError("Input contains NaN")
        end = time.thread_time() + self.delay  # burn CPU, as a real model does
        while time.thread_time() < end:
            pass
        return x[:, 0] * 2


async def _fire(batcher: Batcher, values: list[list[float]]) -> list[np.ndarray | Exception]:
    async def one(rows: list[float]) -> np.ndarray | Exception:
        try:
            return (await batcher.predict(np.array(rows).reshape(-1, 1)))["prediction"]
        except Exception as exc:
            return exc
    return await asyncio.gather(*(one(v) for v in values))


def test_concurrent_requests_are_merged_and_split_back() -> None:
    model = SlowDoubler()
    batcher = Batcher(model, max_batch=64)
    batcher.warm(np.zeros((1, 1)))
    model.calls.clear()
    requests = [[float(i), float(i) + 0.5] if i % 3 else [float(i)] for i in range(40)]
    results = asyncio.run(_fire(batcher, requests))
    for rows, got in zip(requests, results, strict=True):
        np.testing.assert_array_equal(got, np.array(rows) * 2)
    assert len(model.calls) < len(requests) / 2  # merged
    assert max(model.calls) > 1 and max(model.calls) <= 64
    assert sum(model.calls) == sum(len(r) for r in requests)
    batcher.close()


def test_max_batch_is_respected() -> None:
    model = SlowDoubler()
    batcher = Batcher(model, max_batch=8)
    batcher.warm(np.zeros((1, 1)))
    model.calls.clear()
    asyncio.run(_fire(batcher, [[1.0, 2.0, 3.0]] * 20))
    assert max(model.calls) <= 8
    batcher.close()


def test_one_bad_request_does_not_fail_its_batch() -> None:
    model = SlowDoubler()
    batcher = Batcher(model)
    batcher.warm(np.zeros((1, 1)))
    requests = [[1.0], [float("nan")], [3.0], [4.0]] * 5
    results = asyncio.run(_fire(batcher, requests))
    for rows, got in zip(requests, results, strict=True):
        if np.isnan(rows[0]):
            assert isinstance(got, ValueError)
        else:
            np.testing.assert_array_equal(got, np.array(rows) * 2)
    batcher.close()


def test_fast_models_run_inline_and_unbatched_mode_never_merges() -> None:
    fast = SlowDoubler(delay=0)
    batcher = Batcher(fast, inline_below_s=0.05)  # generous: a loaded CI machine is slow
    batcher.warm(np.zeros((1, 1)))
    assert batcher.inline
    asyncio.run(_fire(batcher, [[1.0]] * 10))
    assert fast.calls[-10:] == [1] * 10
    slow = SlowDoubler()
    plain = Batcher(slow, enabled=False)
    plain.warm(np.zeros((1, 1)))
    slow.calls.clear()
    asyncio.run(_fire(plain, [[1.0]] * 10))
    assert slow.calls == [1] * 10
    batcher.close()
    plain.close()


@pytest.mark.parametrize("concurrency", [16])
def test_server_batches_a_slow_model(model_home, concurrency: int) -> None:  # type: ignore
    """The native forest (iris:2) is slow enough to batch; metrics show it."""
    import concurrent.futures

    import httpx

    from servers import start_server, stop_server

    srv = start_server(model_home, "iris:2", "--runtime", "native")
    body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64",
                        "data": [5.1, 3.5, 1.4, 0.2]}]}
    try:
        with httpx.Client(base_url=srv.url, timeout=30,
                          limits=httpx.Limits(max_connections=concurrency)) as c:
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                statuses = list(pool.map(lambda _: c.post("/v2/models/iris/infer",
                                                          json=body).status_code, range(300)))
            assert statuses == [200] * 300
            metrics = c.get("/metrics").text
        assert 'modelport_requests_total{model="iris",version="2",protocol="v2",status="200"' \
            in metrics
        count = float(next(line.split()[-1] for line in metrics.splitlines()
                           if line.startswith("modelport_batch_size_rows_count")))
        assert count < 300  # fewer model calls than requests: batches were merged
        assert "modelport_request_duration_seconds_bucket" in metrics
        assert "modelport_queue_depth" in metrics
    finally:
        stop_server(srv)
