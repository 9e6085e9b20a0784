"""The ASGI application: routing, auth, limits and metrics around one infer path.

Every protocol ends in the same three steps — check the batch against the
signature, hand it to the model's batcher, render the outputs — so the hot
path is the same short sequence whichever client calls.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelport.errors import (
    InvalidInputError,
    ModelportError,
    NotFoundError,
    SchemaError,
    first_line,
)
from modelport.runtimes.serving import edge_routes, oip_routes
from modelport.runtimes.serving.auth import Guard, RateLimitedError, retry_after_header
from modelport.runtimes.serving.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    header_map,
    json_response,
    read_body,
    require_method,
    send_response,
)
from modelport.runtimes.serving.metrics import Metrics
from modelport.runtimes.serving.protocols import kserve, mlflow
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.routing import EndpointRouter
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.stats import StatsRecorder

log = logging.getLogger("modelport.serve")
access = logging.getLogger("modelport.access")

DEFAULT_MAX_BODY = 10 * 1024 * 1024
# request ids: unique per process prefix plus a counter — a uuid4 per request cost 8 % of
# a small model's time
_ID_PREFIX = f"{uuid.uuid4().hex[:12]}-"
_ids = itertools.count(1)
POLL_S = 0.25  # how often workers look for endpoint changes: a rollback lands within ~0.3 s


@dataclass
class AppConfig:
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = False


class ServingApp:
    """An ASGI app serving the models of one ``Repository``."""

    def __init__(self, repository: Repository, guard: Guard | None = None,
                 config: AppConfig | None = None, controller: Any = None) -> None:
        self.repo = repository
        self.guard = guard
        self.config = config or AppConfig()
        self.controller = controller
        self.metrics = Metrics()
        self.stats = StatsRecorder()
        self.feedback = FeedbackMemory()
        self._tasks: set[asyncio.Task[Any]] = set()
        repository.on_load = self._instrument

    def _instrument(self, served: Served) -> None:
        labels = (served.name, served.version_text)
        served.batcher.on_batch = functools.partial(self.metrics.batch_size.observe, labels)

    async def _background(self) -> None:
        """Follow endpoint policies (4×/s); publish statistics, run the controller (1×/s)."""
        ticks = 0
        while True:
            await asyncio.sleep(POLL_S)
            ticks += 1
            try:
                await asyncio.to_thread(self.repo.refresh_endpoints)
                if ticks % round(1 / POLL_S) == 0:
                    self.stats.loaded = self.repo.endpoint_versions()
                    # counted here, on the loop's thread; written on another
                    await asyncio.to_thread(self.stats.write, self.stats.snapshot(),
                                            self.repo.ws)
                    if self.controller is not None:
                        await asyncio.to_thread(self.controller.tick)
            except Exception:  # a database hiccup must not stop serving
                log.exception("background refresh failed; retrying")

    async def startup(self) -> None:
        await asyncio.to_thread(self.repo.load_all)
        self._tasks.add(asyncio.get_running_loop().create_task(self._background()))
        log.info("serving %s", ", ".join(f"{s.name}:{s.version} ({s.runtime})"
                                         for s in self.repo.all()) or "no models")

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        self.stats.flush(self.repo.ws)
        self.repo.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI, so the app also runs under any ASGI server (and in-process in tests)."""
        if scope["type"] == "http":
            await self._asgi_http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    text = exc.message if isinstance(exc, ModelportError) else repr(exc)
                    await send({"type": "lifespan.startup.failed", "message": text})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _asgi_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope["method"], scope["path"], header_map(scope),
                          query=scope.get("query_string", b"").decode("latin-1"))
        failure = None
        if request.method in ("POST", "PUT"):
            try:
                request.body = await read_body(receive, self.config.max_body,
                                               request.headers.get("content-length"),
                                               request.headers.get("content-encoding"))
            except ModelportError as exc:
                failure = exc
        await send_response(send, await self.respond(request, failure))

    async def respond(self, request: Request, failure: ModelportError | None = None
                      ) -> Response:
        """One request, body already read, to its response: route, errors, ids, metrics.

        ``failure`` is what already went wrong while reading the request (an over-long
        body): it is answered the same way as an error raised by a route."""
        started = time.perf_counter()
        request_id = request.headers.get("x-request-id") or f"{_ID_PREFIX}{next(_ids):x}"
        request.id = request_id
        extra = [(b"x-request-id", request_id.encode("latin-1"))]
        protocol = "other"
        try:
            if failure is not None:
                raise failure
            response, request.served, protocol = await self._route(request)
        except RateLimitedError as exc:
            response = error_response(exc)
            extra.append(retry_after_header(exc))
        except ModelportError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = json_response({"error": "internal server error"}, 500)
        served: Served | None = request.served
        if served is not None:
            extra.append((b"x-model-version", served.header))
        response.headers.extend(extra)
        elapsed = time.perf_counter() - started
        self.metrics.request(served.name if served else "", served.version_text if served
                             else "", protocol, response.status, elapsed)
        if self.config.access_log:
            access.info("%s %s %d %.2fms %s", request.method, request.path, response.status,
                        elapsed * 1000, request_id)
        return response

    def allow(self, request: Request, scope: str, model: str | None = None) -> None:
        if self.guard is not None:
            request.key = self.guard.check(request.headers, scope, model)

    async def _route(self, request: Request) -> tuple[Response, Served | None, str]:
        parts = request.path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            if parts[1:2] == ["edge"]:
                return await edge_routes.route(self, request, parts[2:])
            return await oip_routes.route(self, request, parts[1:])
        if head == "v1" and len(parts) == 3 and parts[1] == "models":
            name, _, verb = parts[2].partition(":")
            served, router = self.repo.get(name, headers=request.headers)
            if verb == "predict":
                require_method(request, "POST")
                self.allow(request, "predict", name)
                outputs = await self.infer(request, served, kserve.batch_of(request), router)
                return kserve.render(outputs), served, "kserve_v1"
            if verb:
                raise NotFoundError(f"unknown verb ':{verb}' — use :predict")
            require_method(request, "GET")
            self.allow(request, "read", name)
            return kserve.model_status(name), served, "kserve_v1"
        if head == "invocations":
            require_method(request, "POST")
            served, router = self.repo.only(request.headers)
            self.allow(request, "predict", router.name if router else served.name)
            batch = mlflow.batch_of(request, served.model.signature.names)
            outputs = await self.infer(request, served, batch, router)
            return mlflow.render(outputs), served, "mlflow"
        if head in ("ping", "health") and len(parts) == 1:
            require_method(request, "GET")
            return mlflow.ping(), None, "health"
        if head == "version" and len(parts) == 1:
            return mlflow.version(), None, "health"
        if head == "metrics" and len(parts) == 1:
            require_method(request, "GET")
            self.allow(request, "read")
            return Response(200, self.metrics.render(self._gauges()),
                            b"text/plain; version=0.0.4"), None, "metrics"
        raise NotFoundError(f"no route for {request.method} {request.path}")

    def _gauges(self) -> list[tuple[str, str, str, float]]:
        out: list[tuple[str, str, str, float]] = []
        for s in self.repo.all():
            version = s.version_text
            out.append(("modelport_queue_depth", s.name, version, s.batcher.queue_depth))
            out.append(("modelport_model_cost_seconds", s.name, version, s.batcher.cost_s))
        return out

    async def infer(self, request: Request, served: Served, batch: Any,
                    router: EndpointRouter | None = None) -> dict[str, Any]:
        """The shared infer path: check, batch, predict — and, behind an endpoint, count
        the outcome per version, mirror to the shadow and remember it for feedback."""
        request.served = served  # named in the response even when this version fails
        if router is None:
            return await self._predict(served, batch)
        started = time.perf_counter()
        try:
            outputs = await self._predict(served, batch)
        except ModelportError as exc:
            if exc.status >= 500 or isinstance(exc, SchemaError):  # the version failed
                self.stats.request(router.name, served.label, time.perf_counter() - started,
                                   False, None)
            raise
        prediction = outputs["prediction"]
        self.stats.request(router.name, served.label, time.perf_counter() - started, True,
                           prediction)
        self.feedback.remember(request.id, router.name, served.label, prediction)
        shadow = router.mirror()
        if shadow is not None and shadow is not served:
            task = asyncio.get_running_loop().create_task(
                self._shadow(router.name, shadow, batch, prediction))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return outputs

    async def _predict(self, served: Served, batch: Any) -> dict[str, Any]:
        x = served.predictor.matrix(batch)
        if len(x) == 0:
            raise InvalidInputError("the request has no rows")
        try:
            return served.batcher.now(x) or await served.batcher.predict(x)
        except ModelportError:
            raise
        except (ValueError, TypeError) as exc:
            first = first_line(exc)
            raise SchemaError(f"the model could not score this input: {first}") from None

    async def _shadow(self, endpoint: str, shadow: Served, batch: Any,
                      stable: Any) -> None:
        started = time.perf_counter()
        try:
            outputs = await self._predict(shadow, batch)
        except Exception:
            self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, False,
                              len(stable), 0)
            return
        agree = int((outputs["prediction"] == stable).sum())
        self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, True,
                          len(stable), agree)

    def record_feedback(self, name: str, doc: Any) -> Response:
        """Labels for earlier predictions: by request id, or with the prediction itself."""
        if not isinstance(doc, dict) or ("label" not in doc and "labels" not in doc):
            raise InvalidInputError("feedback needs 'label' (or 'labels') and the 'id' of the "
                                    "request, or the 'version' and 'predictions' it answered")
        labels = doc.get("labels", [doc.get("label")])
        if "id" in doc:
            seen = self.feedback.recall(str(doc["id"]))
            if seen is None or seen[0] != name:
                raise NotFoundError(f"no recent prediction with id {doc['id']!r} on {name!r} — "
                                    "send 'version' and 'predictions' with the labels instead")
            _, version, predictions = seen
        elif isinstance(doc.get("version"), str) and "predictions" in doc:
            version, predictions = doc["version"], doc["predictions"]
        else:
            raise InvalidInputError("feedback needs the request 'id', or 'version' and "
                                    "'predictions'")
        pred = np.asarray(predictions).astype(str).ravel()
        true = np.asarray(labels).astype(str).ravel()
        if pred.shape != true.shape:
            raise InvalidInputError(f"{pred.size} predictions but {true.size} labels")
        correct = int((pred == true).sum())
        self.stats.feedback(name, version, int(pred.size), correct)
        return json_response({"recorded": int(pred.size), "correct": correct})


class FeedbackMemory:
    """Recent endpoint predictions by request id, so labels can arrive later by id.

    Two plain dicts, the newer filled until it holds half of ``size``, then the older
    dropped: between ``size / 2`` and ``size`` ids are remembered, and remembering one
    is a dict store — an ordered dict's upkeep cost 1 µs of every endpoint request."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._new: dict[str, tuple[str, str, Any]] = {}
        self._old: dict[str, tuple[str, str, Any]] = {}

    def remember(self, request_id: str, endpoint: str, version: str, prediction: Any) -> None:
        self._new[request_id] = (endpoint, version, prediction)
        if len(self._new) >= self.size // 2:
            self._old, self._new = self._new, {}

    def recall(self, request_id: str) -> tuple[str, str, Any] | None:
        found = self._new.get(request_id)
        return found if found is not None else self._old.get(request_id)
