"""The HTTP data plane: routes, auth, errors and metrics around the ``InferenceService``.

Every protocol route does the same three things — parse the body (a protocol
module), call the service, render its outputs (the same module) — so the hot
path is one short sequence whichever client calls. Transports hand requests to
``respond``: modelport's own HTTP/1.1 server (``h1``) or any ASGI server
(``asgi``). Work that is not answering requests — following endpoints and keys,
writing statistics, the rollout controller, edge downloads — is composed in by
the host (``interfaces/serving_host.py``) as companions and mounts.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from modelport.errors import ModelportError, NotFoundError
from modelport.runtimes.serving import asgi, feedback, oip_routes
from modelport.runtimes.serving.auth import (
    OPEN_PATHS,
    Guard,
    RateLimitedError,
    UnauthorizedError,
    authorize,
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
    json_response,
    require_method,
)
from modelport.runtimes.serving.metrics import Metrics
from modelport.runtimes.serving.protocols import kserve, mlflow
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.service import Call, InferenceService

log = logging.getLogger("modelport.serve")
access = logging.getLogger("modelport.access")

DEFAULT_MAX_BODY = 10 * 1024 * 1024
# request ids: unique per process prefix plus a counter — a uuid4 per request cost 8 % of
# a small model's time
_ID_PREFIX = f"{uuid.uuid4().hex[:12]}-"
_ids = itertools.count(1)


@dataclass
class AppConfig:
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = False
    # under another ASGI server the listening address is only known per connection: while
    # no key is required, answer only connections made to a loopback address
    loopback_only: bool = False


Route = Callable[[Any, Request, list[str]], Awaitable[tuple[Response, Served | None, str]]]


class Companion(Protocol):
    """Work a host runs beside the data plane for as long as the app serves (following
    endpoints, writing statistics, a rollout controller): started once the models are
    loaded, stopped before they are released."""

    async def start(self, app: ServingApp) -> None: ...

    async def stop(self) -> None: ...


def _error(request: Request, exc: ModelportError | None) -> Response:
    """An error as the protocol of the route words it (None: a server bug, 500)."""
    if request.path == "/invocations":
        return mlflow.error(exc.status, exc.message) if exc else \
            mlflow.error(500, "internal server error")
    return error_response(exc) if exc else json_response({"error": "internal server error"}, 500)


class ServingApp:
    """The models of one ``InferenceService`` over HTTP: OIP v2, KServe v1 and MLflow.

    ``mounts``: more ``/v2/NAME/...`` trees a host adds (edge downloads), each a
    ``Route`` called with the app, the request and the path after ``NAME``;
    ``companions``: work the host runs beside serving (see ``Companion``)."""

    def __init__(self, service: InferenceService, guard: Guard | None = None,
                 config: AppConfig | None = None, mounts: Mapping[str, Route] | None = None,
                 companions: Sequence[Companion] = ()) -> None:
        self.service = service
        self.repo = service.repo
        self.keys = guard  # followed live: in auto mode it turns on with the first key
        self.guard = guard if guard is not None and guard.on else None  # None: no auth
        self.config = config or AppConfig()
        self.mounts = dict(mounts or {})
        self.companions = list(companions)
        self.metrics = Metrics()
        self.repo.on_load = self._instrument

    def _instrument(self, served: Served) -> None:
        labels = (served.name, served.version_text)
        served.batcher.on_batch = functools.partial(self.metrics.batch_size.observe, labels)

    async def refresh_keys(self) -> None:
        """Follow the store's keys: revoked ones stop, new ones work, auto mode turns on
        with the first. A host calls it every ``guard.refresh_s``."""
        guard = self.keys
        if guard is not None and time.monotonic() - guard.loaded >= guard.refresh_s:
            on = await asyncio.to_thread(guard.refresh)
            self.guard = guard if on else None

    async def startup(self) -> None:
        await self.service.start()
        for companion in self.companions:
            await companion.start(self)
        log.info("serving %s", ", ".join(f"{s.name}:{s.version} ({s.runtime})"
                                         for s in self.repo.all()) or "no models")

    async def shutdown(self) -> None:
        for companion in self.companions:
            await companion.stop()
        await self.service.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI, so the app also runs under any ASGI server (and in-process in tests)."""
        await asgi.handle(self, scope, receive, send)

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
        """Version ``version`` of ``name`` for this request's caller."""
        return await self.service.pinned(name, version, request.key)

    async def _route(self, request: Request) -> tuple[Response, Served | None, str]:
        parts = request.path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            mount = self.mounts.get(parts[1]) if len(parts) > 1 else None
            if mount is not None:
                return await mount(self, request, parts[2:])
            return await oip_routes.route(self, request, parts[1:])
        if head == "v1" and parts[1:2] == ["models"]:
            return await self._kserve_v1(request, parts[2:])
        if head == "invocations" and len(parts) == 1:
            require_method(request, "POST")
            service = self.service
            served, router = service.only(request.headers)
            self.allow(request, "predict", router.name if router else served.name)
            request.served = served  # named in the response even when this version fails
            outputs, _ = await service.infer(served, router, Call(
                mlflow.batch_of, (request, served.model.signature.names), len(request.body),
                request.id))
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
                predlog = self.service.predlog
                if predlog is not None:  # live drift, judged on the log's thread
                    body += predlog.gauges(self.visible(request))
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
            service = self.service
            served, router = service.route(name, request.headers)
            request.served = served
            outputs, _ = await service.infer(served, router, Call(
                kserve.batch_of, (request,), len(request.body), request.id))
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

    def record_feedback(self, name: str, request: Request) -> Response:
        service = self.service
        return feedback.record(name, request, self.repo.routers.get(name), service.feedback,
                               service.stats)
