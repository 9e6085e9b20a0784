"""The Open Inference Protocol over gRPC: a thin transport onto the ``InferenceService``.

``inference.GRPCInferenceService`` as KServe and Triton define it, so
``tritonclient.grpc`` and the KServe/Triton tools connect unchanged: the
health and metadata calls, ``ModelInfer``, and Triton's bidirectional
``ModelStreamInfer``. grpcio's asyncio server runs on the worker's own event
loop, beside the HTTP server, sharing its service, keys and metrics: a request
is authenticated and authorized exactly as over HTTP (the key in the
``authorization`` or ``x-api-key`` metadata), counted in the same ``/metrics``
and answered by the same batchers. Each worker binds the port with
``SO_REUSEPORT``, so the kernel spreads connections among them as it does for
HTTP. The message size cap is the server's ``--max-body`` (MLServer's fixed
4 MiB is a known complaint): grpcio refuses a larger message before decoding it.
"""

from __future__ import annotations

import itertools
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from modelport.config import VERSION
from modelport.errors import InvalidInputError, ModelportError, require
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.auth import authorize
from modelport.runtimes.serving.feedback import MAX_ID_CHARS
from modelport.runtimes.serving.oip_routes import is_version_number
from modelport.runtimes.serving.protocols import oip, oip_grpc
from modelport.runtimes.serving.protocols.grpc_messages import SERVICE, TYPES
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.service import Call

log = logging.getLogger("modelport.serve")

_ID_PREFIX = f"{uuid.uuid4().hex[:12]}-g"
_ids = itertools.count(1)


def _code(status: int) -> Any:
    """The gRPC status code for a modelport error's HTTP status."""
    grpc = require("grpc", "grpc")
    codes = grpc.StatusCode
    return {400: codes.INVALID_ARGUMENT, 401: codes.UNAUTHENTICATED,
            403: codes.PERMISSION_DENIED, 404: codes.NOT_FOUND, 405: codes.UNIMPLEMENTED,
            409: codes.FAILED_PRECONDITION, 413: codes.RESOURCE_EXHAUSTED,
            422: codes.INVALID_ARGUMENT, 429: codes.RESOURCE_EXHAUSTED,
            503: codes.UNAVAILABLE}.get(status, codes.INTERNAL)


def _version(text: str) -> int | None:
    if not text:
        return None
    if not is_version_number(text):
        raise InvalidInputError(f"invalid model_version {text[:16]!r} — a version is a whole "
                                "number, or empty for the served one")
    return int(text)


def _rows(request: Any, columns: list[str], named: bool) -> tuple[Any, None]:
    """A request's rows for ``InferenceService``: its tensors, read as the version takes them."""
    tensors = oip_grpc.tensors_of(request)
    return (tensors if named else oip.rows_of(tensors, columns)), None


class GrpcTransport:
    """The gRPC server of one worker, over ``app``'s service, keys and metrics.

    ``shared``: other workers listen on the same port (``SO_REUSEPORT``); a single
    worker binds it alone, so a second server cannot quietly take half its calls."""

    def __init__(self, app: ServingApp, host: str, port: int, max_message: int,
                 shared: bool = False) -> None:
        self.app = app
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.max_message = max_message
        self.shared = shared
        self.server: Any = None
        self.port = 0

    async def start(self) -> None:
        grpc = require("grpc", "grpc")
        self.server = grpc.aio.server(options=[
            ("grpc.max_receive_message_length", self.max_message),
            ("grpc.max_send_message_length", self.max_message),
            ("grpc.so_reuseport", int(self.shared)),
        ])
        self.server.add_generic_rpc_handlers((self._handler(grpc),))
        self.port = self.server.add_insecure_port(self.address)
        if not self.port:
            raise InvalidInputError(f"cannot listen for gRPC on {self.address}")
        await self.server.start()

    async def stop(self, grace_s: float) -> None:
        if self.server is not None:
            await self.server.stop(grace_s)

    def _handler(self, grpc: Any) -> Any:
        def unary(method: Callable[[Any, Any], Awaitable[Any]], request: str, response: str
                  ) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                _answering(method), request_deserializer=TYPES[request].FromString,
                response_serializer=TYPES[response].SerializeToString)

        return grpc.method_handlers_generic_handler(SERVICE, {
            "ServerLive": unary(self._server_live, "ServerLiveRequest", "ServerLiveResponse"),
            "ServerReady": unary(self._server_ready, "ServerReadyRequest",
                                 "ServerReadyResponse"),
            "ModelReady": unary(self._model_ready, "ModelReadyRequest", "ModelReadyResponse"),
            "ServerMetadata": unary(self._server_metadata, "ServerMetadataRequest",
                                    "ServerMetadataResponse"),
            "ModelMetadata": unary(self._model_metadata, "ModelMetadataRequest",
                                   "ModelMetadataResponse"),
            "ModelInfer": unary(self._infer, "ModelInferRequest", "ModelInferResponse"),
            "ModelStreamInfer": grpc.stream_stream_rpc_method_handler(
                self._model_stream_infer,
                request_deserializer=TYPES["ModelInferRequest"].FromString,
                response_serializer=TYPES["ModelStreamInferResponse"].SerializeToString),
        })

    # -- calls ------------------------------------------------------------------------------

    async def _server_live(self, request: Any, context: Any) -> Any:
        return TYPES["ServerLiveResponse"](live=True)

    async def _server_ready(self, request: Any, context: Any) -> Any:
        return TYPES["ServerReadyResponse"](ready=self.app.repo.ready)

    async def _server_metadata(self, request: Any, context: Any) -> Any:
        self._caller(_metadata(context), "read")
        return TYPES["ServerMetadataResponse"](name="modelport", version=VERSION,
                                               extensions=oip.EXTENSIONS)

    async def _model_ready(self, request: Any, context: Any) -> Any:
        await self._target(request.name, request.version, context, "read")
        return TYPES["ModelReadyResponse"](ready=True)

    async def _model_metadata(self, request: Any, context: Any) -> Any:
        served, _ = await self._target(request.name, request.version, context, "read")
        doc = oip.metadata_of(served, request.name)
        return TYPES["ModelMetadataResponse"](
            name=doc["name"], versions=doc["versions"], platform=doc["platform"],
            inputs=[_tensor_metadata(t) for t in doc["inputs"]],
            outputs=[_tensor_metadata(t) for t in doc["outputs"]])

    async def _model_stream_infer(self, requests: AsyncIterator[Any], context: Any
                                  ) -> AsyncIterator[Any]:
        """Triton's streaming infer: one answer per request, in order; an error is an
        answer carrying its message, and the stream goes on."""
        Answer = TYPES["ModelStreamInferResponse"]
        async for request in requests:
            try:
                yield Answer(infer_response=await self._infer(request, context))
            except ModelportError as exc:
                yield Answer(error_message=exc.message)
            except Exception:
                log.exception("unexpected error in ModelStreamInfer")
                yield Answer(error_message="internal server error")

    # -- the shared steps --------------------------------------------------------------------

    async def _infer(self, request: Any, context: Any) -> Any:
        started = time.perf_counter()
        served: Served | None = None
        status = 200
        try:
            served, router = await self._target(request.model_name, request.model_version,
                                                context, "predict")
            request_id = request.id or f"{_ID_PREFIX}{next(_ids):x}"
            if len(request_id) > MAX_ID_CHARS:  # feedback could never name it
                raise InvalidInputError(f"request id longer than {MAX_ID_CHARS} characters")
            size = sum(map(len, request.raw_input_contents)) or request.ByteSize()
            call = Call(_rows, (request, served.model.signature.names, served.named_tensors),
                        size, request_id)
            outputs, _ = await self.app.service.infer(served, router, call)
            return oip_grpc.render(request, outputs, request.model_name, served.version_text)
        except ModelportError as exc:
            status = exc.status
            raise
        except Exception:
            status = 500
            raise
        finally:
            self.app.metrics.request(served.name if served else "",
                                     served.version_text if served else "", "grpc", status,
                                     time.perf_counter() - started)

    async def _target(self, name: str, version: str, context: Any, scope: str) -> Any:
        metadata = _metadata(context)
        caller = self._caller(metadata, scope, name)
        pinned = _version(version)
        if pinned is None:
            return self.app.service.route(name, metadata)
        return await self.app.service.pinned(name, pinned, caller), None

    def _caller(self, metadata: dict[str, str], scope: str, model: str | None = None) -> Any:
        """The request's key, authorized for ``scope`` (on ``model``); None without auth."""
        guard = self.app.guard
        if guard is None:
            return None
        key = guard.authenticate(metadata)
        authorize(key, scope, model)
        return key


def _answering(method: Callable[[Any, Any], Awaitable[Any]]
               ) -> Callable[[Any, Any], Awaitable[Any]]:
    """``method`` with its errors answered as gRPC statuses carrying the same one-line
    message: a ``ModelportError`` by its HTTP status, anything else as INTERNAL."""

    async def answer(request: Any, context: Any) -> Any:
        try:
            return await method(request, context)
        except ModelportError as exc:
            await context.abort(_code(exc.status), exc.message)
        except Exception:
            log.exception("unexpected error in a gRPC call")
            await context.abort(_code(500), "internal server error")

    return answer


def _metadata(context: Any) -> dict[str, str]:
    """A call's metadata as headers: text values only (``-bin`` keys carry bytes)."""
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _tensor_metadata(doc: dict[str, Any]) -> Any:
    return TYPES["TensorMetadata"](name=doc["name"], datatype=doc["datatype"],
                                   shape=[d if isinstance(d, int) else -1 for d in doc["shape"]])
