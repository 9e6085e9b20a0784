"""The feedback memory: recent predictions by request id, each labelled once, for a while."""

from __future__ import annotations

import time

import numpy as np

from modelport.runtimes.serving.feedback import MAX_ID_CHARS, FeedbackMemory


def test_keeps_the_recent_half_to_all_of_its_rows() -> None:
    memory = FeedbackMemory(rows=4)
    now = time.perf_counter()
    for i in range(5):
        memory.remember(f"r{i}", "ep", "m:1", [i], now)
    assert [memory.take(f"r{i}", "ep") for i in range(5)] == [
        None, None, ("m:1", [2]), ("m:1", [3]), ("m:1", [4])]


def test_large_batches_and_long_ids_cannot_fill_it() -> None:
    memory = FeedbackMemory(rows=1000)
    now = time.perf_counter()
    for i in range(10):
        memory.remember(f"big{i}", "ep", "m:1", np.zeros(600), now)
    held = [i for i in range(10) if memory.take(f"big{i}", "ep") is not None]
    assert held == [9]  # 600 rows each: only the last request is still held
    memory.remember("i" * (MAX_ID_CHARS + 1), "ep", "m:1", [0], now)
    assert memory.take("i" * (MAX_ID_CHARS + 1), "ep") is None  # never labellable: not kept


def test_each_prediction_is_labelled_once_on_its_own_endpoint() -> None:
    memory = FeedbackMemory()
    memory.remember("r1", "ep", "m:1", [0], time.perf_counter())
    assert memory.take("r1", "other") is None  # not another endpoint's to label
    assert memory.take("r1", "ep") == ("m:1", [0])
    assert memory.take("r1", "ep") is None


def test_ids_older_than_the_retention_are_refused() -> None:
    memory = FeedbackMemory(retention_s=60)
    memory.remember("old", "ep", "m:1", [0], time.perf_counter() - 61)
    memory.remember("new", "ep", "m:1", [0], time.perf_counter() - 59)
    assert memory.take("old", "ep") is None
    assert memory.take("new", "ep") == ("m:1", [0])
