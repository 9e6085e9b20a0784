"""Adaptive micro-batching: batch what is queued, never wait for nothing.

A model that answers in microseconds (an ONNX linear model) is called inline
on the event loop — a hand-off to a thread would cost more than the
prediction. A slower model (a forest on its native runtime) runs in its own
thread; while it works, new requests queue, and the next call takes all of
them at once (up to ``max_batch`` rows). Nothing ever waits for a batch to
fill: under light load every request is its own batch, under heavy load
batches grow by themselves — Triton's default, not BentoML's timed wait.

Texts join a batch padded to its longest (``TensorBatch.join``), and a graph's
cost grows with rows × padded length: one long text would make every short one
beside it pay for its length. So what is queued is split into buckets by
sequence length — powers of two, 9 to 16 tokens, 17 to 32, … — each its own
call: no text is padded to more than twice its bucket's shortest.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from modelport.core.formats.base import Predictor

Outputs = dict[str, np.ndarray]
SAMPLE_EVERY = 8  # inline calls: one in this many is timed to follow the model's cost


class Batcher:
    """Runs one model's predictions; safe to call from many requests at once."""

    def __init__(self, predictor: Predictor, max_batch: int = 256,
                 inline_below_s: float = 0.0003, enabled: bool = True) -> None:
        self.predictor = predictor
        self.max_batch = max_batch
        self.inline_below_s = inline_below_s
        self.enabled = enabled
        self.cost_s = 0.0  # moving average of one call's CPU time, from warm-up on
        self._last_cost = 0.0
        self.inline = True  # fast models run on the event loop, without a thread hand-off
        self._queue: deque[tuple[np.ndarray, asyncio.Future[Outputs]]] = deque()
        self._busy = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="predict")
        self.batches = 0
        self.batched_rows = 0
        self.last_batch = 0
        self.on_batch: Callable[[int], None] | None = None
        self._calls = 0

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def warm(self, x: np.ndarray, repeat: int = 7) -> None:
        """Run a few predictions so the first request is not the slow one, and learn the cost
        (the median of the calls after the first, which pays for lazy initialisation)."""
        costs = []
        for _ in range(repeat):
            self._timed(x[:1])
            costs.append(self._last_cost)
        self.cost_s = float(np.median(costs[1:]))
        self.inline = self.cost_s < self.inline_below_s

    def _timed(self, x: np.ndarray) -> Outputs:
        # CPU time of this thread: waiting for the GIL under load is not the model's cost
        started = time.thread_time()
        out = self.predictor.outputs_of_matrix(x)
        self._last_cost = time.thread_time() - started
        self.cost_s = 0.95 * self.cost_s + 0.05 * self._last_cost if self.cost_s else \
            self._last_cost
        # hysteresis, so one slow call does not flip a fast model off the inline path
        if self.inline and self.cost_s > 4 * self.inline_below_s:
            self.inline = False
        elif not self.inline and self.cost_s < self.inline_below_s:
            self.inline = True
        return out

    def now(self, x: np.ndarray) -> Outputs | None:
        """Predictions right away, when this model runs inline, nothing is queued and the
        request is no bigger than a batch; else None, and the caller awaits ``predict`` —
        no coroutine for the common case, and no big request on the event loop."""
        if not self.inline or self._busy or len(x) > self.max_batch:
            return None
        self._record(len(x))
        self._calls += 1
        if self._calls % SAMPLE_EVERY:  # the CPU clock is a system call: time a sample
            return self.predictor.outputs_of_matrix(x)
        return self._timed(x)

    async def predict(self, x: np.ndarray) -> Outputs:
        """Predictions for the checked matrix ``x`` — exactly its own rows."""
        out = self.now(x)
        if out is not None:
            return out
        if not self.enabled:
            loop = asyncio.get_running_loop()
            self._record(len(x))
            return await loop.run_in_executor(self._executor, self._timed, x)
        future: asyncio.Future[Outputs] = asyncio.get_running_loop().create_future()
        self._queue.append((x, future))
        if not self._busy:
            self._busy = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                parts, futures, rows = [], [], 0
                while self._queue and (
                        rows == 0 or rows + len(self._queue[0][0]) <= self.max_batch):
                    x, future = self._queue.popleft()
                    parts.append(x)
                    futures.append(future)
                    rows += len(x)
                for bucket in _buckets(parts):
                    await self._run([parts[i] for i in bucket], [futures[i] for i in bucket])
        finally:
            self._busy = False

    async def _run(self, parts: list[Any], futures: list[asyncio.Future[Outputs]]) -> None:
        """One graph call for ``parts`` joined; each future gets its own rows."""
        try:
            batch = parts[0] if len(parts) == 1 else _join(parts)
        except ValueError as exc:  # tensors whose dynamic axes differ
            await self._one_by_one(parts, futures, exc)
            return
        self._record(len(batch))
        try:
            out = await asyncio.get_running_loop().run_in_executor(self._executor, self._timed,
                                                                   batch)
        except Exception as exc:
            await self._one_by_one(parts, futures, exc)
            return
        start = 0
        for x, future in zip(parts, futures, strict=True):
            stop = start + len(x)
            if not future.done():
                future.set_result({k: v[start:stop] for k, v in out.items()})
            start = stop

    async def _one_by_one(self, parts: list[np.ndarray], futures: list[asyncio.Future[Outputs]],
                          exc: Exception) -> None:
        """A batch failed: run its requests alone, so one bad request fails by itself."""
        if len(parts) == 1:
            if not futures[0].done():
                futures[0].set_exception(exc)
            return
        loop = asyncio.get_running_loop()
        for x, future in zip(parts, futures, strict=True):
            try:
                result = await loop.run_in_executor(self._executor, self._timed, x)
            except Exception as single:
                if not future.done():
                    future.set_exception(single)
            else:
                if not future.done():
                    future.set_result(result)

    def _record(self, rows: int) -> None:
        self.batches += 1
        self.batched_rows += rows
        self.last_batch = rows
        if self.on_batch is not None:
            self.on_batch(rows)

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def stats(self) -> dict[str, Any]:
        return {"batches": self.batches, "rows": self.batched_rows,
                "queue_depth": self.queue_depth, "cost_ms": self.cost_s * 1000}


def _join(parts: list[Any]) -> Any:
    """Several requests' checked inputs as one: matrices stacked, or named tensors joined
    along their batch axis (``TensorBatch.join``)."""
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    return type(parts[0]).join(parts)


def _buckets(parts: list[Any]) -> list[list[int]]:
    """The indexes of ``parts`` grouped by padded length (a power-of-two bucket of the
    sequence axis; matrices and fixed-shape tensors are all one bucket), in arrival order."""
    groups: dict[int, list[int]] = {}
    for i, x in enumerate(parts):
        width = x.width if hasattr(x, "width") else 0
        groups.setdefault((width - 1).bit_length() if width > 1 else 0, []).append(i)
    return list(groups.values())
