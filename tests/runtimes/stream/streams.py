"""Helpers shared by the stream tests: a concept-drift generator and small
publish / read / wait utilities over the broker registry."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson
import pandas as pd

from modelport.runtimes.stream import brokers
from modelport.runtimes.stream.runner import StreamRunner

FEATURES = [f"x{i}" for i in range(5)]


def concept_drift(n: int, change: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Five features; the label is the sign of a fixed mix of them — which flips at ``change``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES)))
    w = np.array([1.5, -2.0, 1.0, 0.5, 0.0])
    y = (x @ w > 0).astype(int)
    y[change:] = 1 - y[change:]
    return pd.DataFrame(x, columns=FEATURES), y


def publish_events(url: str, frame: pd.DataFrame, start: int = 0,
                   extra: Sequence[bytes] = ()) -> None:
    payloads = [orjson.dumps({"id": f"e{start + i}", "features": row})
                for i, row in enumerate(frame.to_dict(orient="records"))]
    with brokers.open_sink(url) as sink:
        for i in range(0, len(payloads), 1000):
            sink.publish(payloads[i:i + 1000])
        if extra:
            sink.publish(list(extra))


def publish_labels(url: str, y: np.ndarray, start: int = 0) -> None:
    payloads = [orjson.dumps({"id": f"e{start + i}", "label": int(v)}) for i, v in enumerate(y)]
    with brokers.open_sink(url) as sink:
        for i in range(0, len(payloads), 1000):
            sink.publish(payloads[i:i + 1000])


def read_all(url: str, expect: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Everything on ``url``: at least ``expect`` messages (waiting up to ``timeout``),
    then whatever else is there until a read comes back empty."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    with brokers.open_source(url, "reader", "r1") as source:
        while time.monotonic() < deadline:
            batch = source.read(1000, 0.2)
            out += [orjson.loads(m.data) for m in batch]
            source.ack(batch)
            # an empty fetch is not the end on JetStream: ask how much is left
            if not batch and len(out) >= expect and source.info().lag in (0, None):
                break
    return out


def run_in_thread(runner: StreamRunner) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    return thread, stop


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
