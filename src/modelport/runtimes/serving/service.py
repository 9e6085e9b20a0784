"""The inference path with no transport in it: which version answers, and its outputs.

``InferenceService`` is what every protocol and every transport calls, so the
hot path is written once: find the version that answers a model name (a pinned
version, a served model, or an endpoint's router choosing per request), read
the request's rows against that version's signature, hand them to its batcher,
and — behind an endpoint — count the outcome per version, mirror to the shadow
and remember the answer for feedback. It knows requests only as what a
protocol parsed: a name, an optional version, a reader for the rows, a request
id, the caller's key and the metadata a sticky route may hash (HTTP headers or
gRPC metadata alike). Rendering, status codes and routes are the transport's.

>>> served, router = service.route("iris", metadata={})            # doctest: +SKIP
>>> outputs, _ = await service.infer(served, router, Call(read, (doc,), 120, "r-1"))
...                                                                 # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np

from modelport.errors import ModelportError, SchemaError, first_line
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving import feedback, parsing
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.routing import EndpointRouter
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.stats import StatsRecorder

T = TypeVar("T")
log = logging.getLogger("modelport.serve")


@dataclass(slots=True)
class Call(Generic[T]):
    """One parsed infer request, before its rows are read against a signature.

    ``read(*args)`` gives (batch, what the renderer needs): the rows are read only once
    the answering version is known, since its signature says what the columns are.
    ``size`` (bytes of the request) decides whether they are read on the event loop or on
    a parse thread with a deadline."""

    read: parsing.Parse[T]
    args: tuple[Any, ...]
    size: int
    request_id: str


def _given(batch: Any) -> tuple[Any, None]:
    """A batch already parsed (for the shadow, which checks it against its own signature)."""
    return batch, None


class InferenceService:
    """Models of one ``Repository``, answered through their batchers.

    Not thread-safe: one per event loop (a server worker runs one). ``stats`` counts
    endpoint outcomes in memory; writing them to the store is the host's work."""

    def __init__(self, repository: Repository, predlog: PredictionLog | None = None) -> None:
        self.repo = repository
        self.stats = StatsRecorder()
        self.feedback = feedback.FeedbackMemory()
        self.predlog = predlog  # None: no logging, and one attribute test per request
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        """Load and warm every model (on a thread: a load takes milliseconds to seconds)."""
        await asyncio.to_thread(self.repo.load_all)
        if self.predlog is not None:
            await asyncio.to_thread(self.predlog.start)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.predlog is not None:
            await asyncio.to_thread(self.predlog.close)
        self.repo.close()

    def route(self, name: str, metadata: Mapping[str, str]
              ) -> tuple[Served, EndpointRouter | None]:
        """The version that answers ``name``, and the endpoint's router when an endpoint
        chose it (a sticky policy hashes one of ``metadata``, HTTP headers or gRPC
        metadata). A version asked for by number is ``pinned``."""
        return self.repo.get(name, metadata)

    def only(self, metadata: Mapping[str, str]) -> tuple[Served, EndpointRouter | None]:
        """The single served model or endpoint, for protocols without a name (MLflow)."""
        return self.repo.only(metadata)

    async def pinned(self, name: str, version: int, caller: Any) -> Served:
        """Version ``version`` of ``name``, loaded on first use on a thread. Behind an
        endpoint, only the versions of its policy unless the caller (its API key; None on
        a server without keys) is admin."""
        label, served = self.repo.pinned(name, version, caller is None or
                                         "admin" in caller.scopes)
        if served is None:
            served = await asyncio.to_thread(self.repo.load, label)
        return served

    async def infer(self, served: Served, router: EndpointRouter | None, call: Call[T]
                    ) -> tuple[dict[str, Any], T]:
        """Read, check, batch, predict: the outputs and what the renderer needs. A request
        whose rows cannot be read is the client's error (4xx), never the version's."""
        try:
            if call.size <= parsing.INLINE_BYTES:  # inline: parsing.read_now's steps
                batch, context = call.read(*call.args)
                x = parsing.rows(served.predictor.matrix(batch))
            else:
                x, batch, context = await parsing.read_off_loop(served, call.read, call.args)
        except Exception as exc:  # the client's mistake: reported apart, never judged
            failure = parsing.client_error(served, exc)
            if router is not None:
                self.stats.request(router.name, served.label, 0.0, failure.status, None)
            raise failure from None
        if router is None:
            outputs = await self.predict(served, x)
            if self.predlog is not None and self.predlog.sampled():
                self.predlog.keep(served.name, served.version, served.model.signature,
                                  call.request_id, x, served.predictor.prediction(outputs),
                                  served.incarnation)
            return outputs, context
        return await self._routed(served, router, call, x, batch), context

    async def _routed(self, served: Served, router: EndpointRouter, call: Call[Any],
                      x: np.ndarray, batch: Any) -> dict[str, Any]:
        """An endpoint's request: counted per version, remembered, maybe mirrored."""
        started = time.perf_counter()
        try:
            outputs = await self.predict(served, x)
        except Exception as exc:  # the input passed its checks: whatever fails is the version's
            status = exc.status if isinstance(exc, ModelportError) else 500
            self.stats.request(router.name, served.label, time.perf_counter() - started,
                               500 if isinstance(exc, SchemaError) else status, None)
            raise
        prediction = served.predictor.prediction(outputs)
        self.stats.request(router.name, served.label, time.perf_counter() - started, 200,
                           prediction)
        if self.predlog is not None and self.predlog.sampled():
            self.predlog.keep(served.name, served.version, served.model.signature,
                              call.request_id, x, prediction, served.incarnation)
        self.feedback.remember(call.request_id, router.name, served.label, prediction, started)
        shadow = router.mirror()
        if shadow is not None and shadow is not served:
            task = asyncio.get_running_loop().create_task(
                self._shadow(router.name, shadow, call.size, batch, prediction))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return outputs

    async def predict(self, served: Served, x: np.ndarray) -> dict[str, Any]:
        """``x`` (a checked matrix) through the version's batcher; a value the model
        cannot score is a 422, not a crash."""
        try:
            return served.batcher.now(x) or await served.batcher.predict(x)
        except ModelportError:
            raise
        except (ValueError, TypeError) as exc:
            first = first_line(exc)
            raise SchemaError(f"the model could not score this input: {first}") from None

    async def _shadow(self, endpoint: str, shadow: Served, size: int, batch: Any,
                      stable: Any) -> None:
        started = time.perf_counter()
        try:
            x, _, _ = parsing.read_now(shadow, _given, (batch,)) \
                if size <= parsing.INLINE_BYTES else \
                await parsing.read_off_loop(shadow, _given, (batch,))
            outputs = await self.predict(shadow, x)
        except Exception:
            self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, False,
                              len(stable), 0)
            return
        agree = int((shadow.predictor.prediction(outputs) == stable).sum())
        self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, True,
                          len(stable), agree)
