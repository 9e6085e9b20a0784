"""The ASGI application: routing, auth, limits and metrics around one infer path.

Every protocol ends in the same three steps — check the batch against the
signature, hand it to the model's batcher, render the outputs — so the hot
path is the same short sequence whichever client calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from modelport.errors import InvalidInputError, ModelportError, NotFoundError, SchemaError
from modelport.runtimes.serving import oip_routes
from modelport.runtimes.serving.auth import Guard, RateLimitedError, retry_after_header
from modelport.runtimes.serving.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    json_response,
    read_body,
    require_method,
    send_response,
)
from modelport.runtimes.serving.metrics import Metrics
from modelport.runtimes.serving.protocols import kserve, mlflow
from modelport.runtimes.serving.repository import Repository, Served

log = logging.getLogger("modelport.serve")
access = logging.getLogger("modelport.access")

DEFAULT_MAX_BODY = 10 * 1024 * 1024


@dataclass
class AppConfig:
    max_body: int = DEFAULT_MAX_BODY
    access_log: bool = False


class ServingApp:
    """An ASGI app serving the models of one ``Repository``."""

    def __init__(self, repository: Repository, guard: Guard | None = None,
                 config: AppConfig | None = None) -> None:
        self.repo = repository
        self.guard = guard
        self.config = config or AppConfig()
        self.metrics = Metrics()
        repository.on_load = self._instrument

    def _instrument(self, served: Served) -> None:
        labels = (served.name, str(served.version))
        served.batcher.on_batch = lambda rows: self.metrics.batch_size.observe(labels, rows)

    async def startup(self) -> None:
        await asyncio.to_thread(self.repo.load_all)
        log.info("serving %s", ", ".join(f"{s.name}:{s.version} ({s.runtime})"
                                         for s in self.repo.all()) or "no models")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
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
                self.repo.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request = Request(scope["method"], scope["path"], headers,
                          query=scope.get("query_string", b"").decode("latin-1"))
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        extra = [(b"x-request-id", request_id.encode("latin-1"))]
        served: Served | None = None
        protocol = "other"
        try:
            if request.method in ("POST", "PUT"):
                request.body = await read_body(receive, self.config.max_body,
                                               headers.get("content-length"))
            response, served, protocol = await self._route(request)
        except RateLimitedError as exc:
            response = error_response(exc)
            extra.append(retry_after_header(exc))
        except ModelportError as exc:
            response = error_response(exc)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.path)
            response = json_response({"error": "internal server error"}, 500)
        if served is not None:
            extra.append((b"x-model-version", served.label))
        await send_response(send, response, extra)
        elapsed = time.perf_counter() - started
        self.metrics.request(served.name if served else "", str(served.version) if served
                             else "", protocol, response.status, elapsed)
        if self.config.access_log:
            access.info("%s %s %d %.2fms %s", request.method, request.path, response.status,
                        elapsed * 1000, request_id)

    def allow(self, request: Request, scope: str, model: str | None = None) -> None:
        if self.guard is not None:
            request.key = self.guard.check(request.headers, scope, model)

    async def _route(self, request: Request) -> tuple[Response, Served | None, str]:
        parts = request.path.strip("/").split("/")
        head = parts[0]
        if head == "v2":
            return await oip_routes.route(self, request, parts[1:])
        if head == "v1" and len(parts) == 3 and parts[1] == "models":
            name, _, verb = parts[2].partition(":")
            served = self.repo.get(name)
            if verb == "predict":
                require_method(request, "POST")
                self.allow(request, "predict", name)
                outputs = await self.infer(served, kserve.batch_of(request))
                return kserve.render(outputs), served, "kserve_v1"
            if verb:
                raise NotFoundError(f"unknown verb ':{verb}' — use :predict")
            require_method(request, "GET")
            self.allow(request, "read", name)
            return kserve.model_status(served), served, "kserve_v1"
        if head == "invocations":
            require_method(request, "POST")
            served = self.repo.only()
            self.allow(request, "predict", served.name)
            batch = mlflow.batch_of(request, served.model.signature.names)
            return mlflow.render(await self.infer(served, batch)), served, "mlflow"
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
            version = str(s.version)
            out.append(("modelport_queue_depth", s.name, version, s.batcher.queue_depth))
            out.append(("modelport_model_cost_seconds", s.name, version, s.batcher.cost_s))
        return out

    async def infer(self, served: Served, batch: Any) -> dict[str, Any]:
        """The shared infer path: check, batch, predict."""
        x = served.predictor.matrix(batch)
        if len(x) == 0:
            raise InvalidInputError("the request has no rows")
        try:
            return await served.batcher.predict(x)
        except ModelportError:
            raise
        except (ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SchemaError(f"the model could not score this input: {first}") from None
