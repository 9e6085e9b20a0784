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
from typing import Any, TypeVar

import numpy as np

from modelport.errors import (
    ModelportError,
    NotFoundError,
    SchemaError,
    first_line,
)
from modelport.runtimes.prediction_log import PredictionLog
from modelport.runtimes.serving import edge_routes, feedback, oip_routes, parsing
from modelport.runtimes.serving.auth import (
    OPEN_PATHS,
    ForbiddenError,
    Guard,
    RateLimitedError,
    UnauthorizedError,
    authorize,
    is_loopback,
    retry_after_header,
)
from modelport.runtimes.serving.http import (
    MethodNotAllowedError,
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

T = TypeVar("T")
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
    # under another ASGI server the listening address is only known per connection: while
    # no key is required, answer only connections made to a loopback address
    loopback_only: bool = False


def _given(batch: Any) -> tuple[Any, None]:
    """A batch already parsed (for the shadow, which checks it against its own signature)."""
    return batch, None


def _error(request: Request, exc: ModelportError | None) -> Response:
    """An error as the protocol of the route words it (None: a server bug, 500)."""
    if request.path == "/invocations":
        return mlflow.error(exc.status, exc.message) if exc else \
            mlflow.error(500, "internal server error")
    return error_response(exc) if exc else json_response({"error": "internal server error"}, 500)


def _local(scope: Scope) -> bool:
    """Whether an ASGI connection was made to a loopback address. Unknown (no ``server``
    in the scope, as uvicorn gives for a unix socket) is not: fail closed."""
    server = scope.get("server")
    return server is not None and is_loopback(str(server[0]))


class ServingApp:
    """An ASGI app serving the models of one ``Repository``."""

    def __init__(self, repository: Repository, guard: Guard | None = None,
                 config: AppConfig | None = None, controller: Any = None,
                 predlog: PredictionLog | None = None) -> None:
        self.repo = repository
        self._guard = guard  # followed live: in auto mode it turns on with the first key
        self.guard = guard if guard is not None and guard.on else None  # None: no auth
        self.config = config or AppConfig()
        self.controller = controller
        self.metrics = Metrics()
        self.stats = StatsRecorder()
        self.feedback = feedback.FeedbackMemory()
        self.predlog = predlog  # None: no logging, and one attribute test per request
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
            guard = self._guard
            if guard is not None and time.monotonic() - guard.loaded >= guard.refresh_s:
                try:  # keys follow the store: revoked ones stop, new ones work, auto turns on
                    on = await asyncio.to_thread(guard.refresh)
                    self.guard = guard if on else None
                except Exception:
                    log.exception("reading API keys failed; keeping the last ones")
            try:
                await asyncio.to_thread(self.repo.refresh_endpoints)
            except Exception:  # a database hiccup must not stop serving
                log.exception("background refresh failed; retrying")
            if ticks % round(1 / POLL_S) == 0:
                await self.publish()

    async def publish(self) -> None:
        """Write this worker's statistics, then run the controller: each in its own
        ``try``, so a write the store refuses never holds a rollout where it is."""
        try:
            self.stats.loaded = self.repo.endpoint_versions()
            # counted here, on the loop's thread; written on another
            await asyncio.to_thread(self.stats.write, self.stats.snapshot(), self.repo.ws)
        except Exception:
            log.exception("writing statistics failed; kept for the next write")
        if self.controller is not None:
            try:
                await asyncio.to_thread(self.controller.tick)
            except Exception:
                log.exception("rollout controller tick failed; retrying")

    async def startup(self) -> None:
        await asyncio.to_thread(self.repo.load_all)
        if self.predlog is not None:
            self.predlog.start()
        self._tasks.add(asyncio.get_running_loop().create_task(self._background()))
        log.info("serving %s", ", ".join(f"{s.name}:{s.version} ({s.runtime})"
                                         for s in self.repo.all()) or "no models")

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        try:
            self.stats.flush(self.repo.ws)
        except Exception:  # the last second's statistics are not worth a failed stop
            log.exception("writing the last statistics failed")
        if self.predlog is not None:
            await asyncio.to_thread(self.predlog.close)
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
        failure: ModelportError | None = None
        if self.config.loopback_only and self.guard is None and not _local(scope):
            failure = ForbiddenError("this server requires no API key, so it answers only on a "
                                     "loopback address — create a key with: modelport keys "
                                     "create NAME (or set \"insecure\": true)")
        elif request.method in ("POST", "PUT"):
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
            guard = self.guard
            if guard is not None and request.path not in OPEN_PATHS:  # before any lookup
                request.key = guard.authenticate(request.headers)
            response, request.served, protocol = await self._route(request)
        except RateLimitedError as exc:
            response = _error(request, exc)
            extra.append(retry_after_header(exc))
        except MethodNotAllowedError as exc:
            response = _error(request, exc)
            extra.append((b"allow", ", ".join(exc.allowed).encode()))
        except ModelportError as exc:
            response = _error(request, exc)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = _error(request, None)
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
        """403 unless the request's key may use ``scope`` (on ``model``); the key was
        authenticated before routing, so this is a set lookup — and nothing without auth.
        Fails closed: a route reached without a key while keys are required is 401."""
        if request.key is not None:
            authorize(request.key, scope, model)
        elif self.guard is not None:
            raise UnauthorizedError("an API key is required — send 'Authorization: Bearer KEY'")

    def visible(self, request: Request) -> frozenset[str] | None:
        """The models the request's key may know of; None: all of them."""
        key = request.key
        return key.model_set if key is not None and key.restricted else None

    async def pinned(self, request: Request, name: str, version: int) -> Served:
        """Version ``version`` of ``name``, loaded on first use on a thread (a load takes
        milliseconds to seconds: never on the loop). Behind an endpoint, only the versions
        of its policy unless the key is admin (or the server has no keys)."""
        key = request.key
        label, served = self.repo.pinned(name, version, key is None or "admin" in key.scopes)
        if served is None:
            served = await asyncio.to_thread(self.repo.load, label)
        return served

    async def _route(self, request: Request) -> tuple[Response, Served | None, str]:
        parts = request.path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            if parts[1:2] == ["edge"]:
                return await edge_routes.route(self, request, parts[2:])
            return await oip_routes.route(self, request, parts[1:])
        if head == "v1" and parts[1:2] == ["models"]:
            return await self._kserve_v1(request, parts[2:])
        if head == "invocations" and len(parts) == 1:
            require_method(request, "POST")
            served, router = self.repo.only(request.headers)
            self.allow(request, "predict", router.name if router else served.name)
            outputs, _ = await self.infer(request, served, router, mlflow.batch_of, request,
                                          served.model.signature.names)
            return mlflow.render(outputs), served, "mlflow"
        if len(parts) == 1:
            if head in ("ping", "health"):
                require_method(request, "GET")
                return mlflow.ping(), None, "health"
            if head == "":
                require_method(request, "GET")
                return kserve.live(), None, "health"
            if head == "version":
                require_method(request, "GET")
                return mlflow.version(), None, "health"
            if head == "metrics":
                require_method(request, "GET")
                self.allow(request, "read")
                body = self.metrics.render(self._gauges(), self.visible(request))
                if self.predlog is not None:  # live drift, judged on the log's thread
                    body += self.predlog.gauges(self.visible(request))
                return Response(200, body, b"text/plain; version=0.0.4"), None, "metrics"
        raise NotFoundError(f"no route for {request.method} {request.path}")

    async def _kserve_v1(self, request: Request, rest: list[str]
                         ) -> tuple[Response, Served | None, str]:
        if not rest or rest == [""]:
            require_method(request, "GET")
            self.allow(request, "read")
            visible = self.visible(request)
            names = [n for n in self.repo.names if visible is None or n in visible]
            return kserve.models(names), None, "kserve_v1"
        if len(rest) != 1:
            raise NotFoundError(f"no route for {request.method} {request.path}")
        name, _, verb = rest[0].partition(":")
        if verb == "predict":
            require_method(request, "POST")
            self.allow(request, "predict", name)
            served, router = self.repo.get(name, request.headers)
            outputs, _ = await self.infer(request, served, router, kserve.batch_of, request)
            return kserve.render(outputs), served, "kserve_v1"
        if verb:
            raise NotFoundError(f"unknown verb ':{verb}' — use :predict")
        require_method(request, "GET")
        self.allow(request, "read", name)
        served, _ = self.repo.get(name, request.headers)
        return kserve.model_status(name), served, "kserve_v1"

    def _gauges(self) -> list[tuple[str, str, str, float]]:
        out: list[tuple[str, str, str, float]] = []
        for s in self.repo.all():
            version = s.version_text
            out.append(("modelport_queue_depth", s.name, version, s.batcher.queue_depth))
            out.append(("modelport_model_cost_seconds", s.name, version, s.batcher.cost_s))
        return out

    async def infer(self, request: Request, served: Served, router: EndpointRouter | None,
                    parse: parsing.Parse[T], *args: Any) -> tuple[dict[str, Any], T]:
        """The shared infer path: read the body (``parse(*args)`` gives the batch and what
        the renderer needs), check, batch, predict — and, behind an endpoint, count the
        outcome per version, mirror to the shadow and remember it for feedback. A body
        that cannot be read is the client's error (4xx), never the version's."""
        request.served = served  # named in the response even when this version fails
        try:
            if len(request.body) <= parsing.INLINE_BYTES:  # inline: parsing.read_now's steps
                batch, context = parse(*args)
                x = parsing.rows(served.predictor.matrix(batch))
            else:
                x, batch, context = await parsing.read_off_loop(served, parse, args)
        except Exception as exc:  # the client's mistake: reported apart, never judged
            failure = parsing.client_error(served, exc)
            if router is not None:
                self.stats.request(router.name, served.label, 0.0, failure.status, None)
            raise failure from None
        if router is None:
            outputs = await self._predict(served, x)
            if self.predlog is not None:
                self.predlog.record(served.name, served.version, served.model.signature,
                                    request.id, x, outputs["prediction"])
            return outputs, context
        started = time.perf_counter()
        try:
            outputs = await self._predict(served, x)
        except Exception as exc:  # the input passed its checks: whatever fails is the version's
            status = exc.status if isinstance(exc, ModelportError) else 500
            self.stats.request(router.name, served.label, time.perf_counter() - started,
                               500 if isinstance(exc, SchemaError) else status, None)
            raise
        prediction = outputs["prediction"]
        self.stats.request(router.name, served.label, time.perf_counter() - started, 200,
                           prediction)
        if self.predlog is not None:
            self.predlog.record(served.name, served.version, served.model.signature,
                                request.id, x, prediction)
        self.feedback.remember(request.id, router.name, served.label, prediction, started)
        shadow = router.mirror()
        if shadow is not None and shadow is not served:
            task = asyncio.get_running_loop().create_task(
                self._shadow(router.name, shadow, len(request.body), batch, prediction))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return outputs, context

    async def _predict(self, served: Served, x: np.ndarray) -> dict[str, Any]:
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
            outputs = await self._predict(shadow, x)
        except Exception:
            self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, False,
                              len(stable), 0)
            return
        agree = int((outputs["prediction"] == stable).sum())
        self.stats.shadow(endpoint, shadow.label, time.perf_counter() - started, True,
                          len(stable), agree)

    def record_feedback(self, name: str, request: Request) -> Response:
        return feedback.record(name, request, self.repo.routers.get(name), self.feedback,
                               self.stats)
