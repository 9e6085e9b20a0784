"""The Open Inference Protocol over gRPC: a thin transport onto the ``InferenceService``.

``inference.GRPCInferenceService`` as KServe and Triton define it, so
``tritonclient.grpc`` and the KServe/Triton tools connect unchanged: the
health and metadata calls, ``ModelInfer``, and Triton's bidirectional
``ModelStreamInfer``. The calls arrive through modelport's own HTTP/2 framing
(``h2``) on the worker's event loop, beside the HTTP server, sharing its
service, keys and metrics: a request is authenticated and authorized exactly
as over HTTP (the key in the ``authorization`` or ``x-api-key`` metadata),
counted in the same ``/metrics`` and answered by the same batchers. A unary
call runs eagerly once its message is complete, as an HTTP request does; only
a call that has to wait (a batch, a model loading) becomes a task. Each worker
binds the port with ``SO_REUSEPORT``, so the kernel spreads connections among
them as it does for HTTP. The message size cap is the server's ``--max-body``
(MLServer's fixed 4 MiB is a known complaint), enforced from a message's
5-byte prefix, before its body arrives. Deadlines (``grpc-timeout``) are the
client's to keep: a call is not cut short by the server.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import Any

from google.protobuf.message import DecodeError

from modelport.config import VERSION
from modelport.errors import InvalidInputError, ModelportError
from modelport.runtimes.serving import h2
from modelport.runtimes.serving.app import ServingApp
from modelport.runtimes.serving.auth import authorize
from modelport.runtimes.serving.connection import resume
from modelport.runtimes.serving.feedback import MAX_ID_CHARS
from modelport.runtimes.serving.h1 import default_max_connections
from modelport.runtimes.serving.oip_routes import is_version_number
from modelport.runtimes.serving.protocols import oip, oip_grpc
from modelport.runtimes.serving.protocols.grpc_messages import SERVICE, TYPES
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.service import Call

log = logging.getLogger("modelport.serve")

_ID_PREFIX = f"{uuid.uuid4().hex[:12]}-g"
_ids = itertools.count(1)


# gRPC status codes (grpc/status.proto)
INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED, FAILED_PRECONDITION, \
    UNIMPLEMENTED, INTERNAL, UNAVAILABLE, UNAUTHENTICATED = 3, 5, 7, 8, 9, 12, 13, 14, 16
_CODES = {400: INVALID_ARGUMENT, 401: UNAUTHENTICATED, 403: PERMISSION_DENIED, 404: NOT_FOUND,
          405: UNIMPLEMENTED, 409: FAILED_PRECONDITION, 413: RESOURCE_EXHAUSTED,
          422: INVALID_ARGUMENT, 429: RESOURCE_EXHAUSTED, 503: UNAVAILABLE}

Metadata = dict[str, str]


def _code(status: int) -> int:
    """The gRPC status code for a modelport error's HTTP status."""
    return _CODES.get(status, INTERNAL)


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
        self.host, self.wanted = host, port
        self.shared = shared
        self.server = h2.Server(self, max_message, default_max_connections())
        self.port = 0
        unary = {"ServerLive": (self._server_live, "ServerLiveRequest"),
                 "ServerReady": (self._server_ready, "ServerReadyRequest"),
                 "ModelReady": (self._model_ready, "ModelReadyRequest"),
                 "ServerMetadata": (self._server_metadata, "ServerMetadataRequest"),
                 "ModelMetadata": (self._model_metadata, "ModelMetadataRequest"),
                 "ModelInfer": (self._infer, "ModelInferRequest")}
        self._unary = {f"/{SERVICE}/{name}": (method, TYPES[request].FromString)
                       for name, (method, request) in unary.items()}
        self._streaming = f"/{SERVICE}/ModelStreamInfer"

    async def start(self) -> None:
        try:
            self.port = await self.server.start(self.host, self.wanted, self.shared)
        except OSError as exc:
            raise InvalidInputError(f"cannot listen for gRPC on {self.host}:{self.wanted}: "
                                    f"{exc.strerror}") from None

    async def stop(self, grace_s: float) -> None:
        await self.server.close(grace_s)

    # -- what the HTTP/2 layer tells us ------------------------------------------------------

    def opened(self, stream: h2.Stream) -> None:
        """A call's headers: an unknown method is answered now, a stream starts now."""
        if stream.path == self._streaming:
            stream.task = asyncio.get_running_loop().create_task(
                self._model_stream_infer(stream))
        elif stream.path not in self._unary:
            stream.finish(UNIMPLEMENTED, f"unknown method {stream.path[:100]}")

    def ended(self, stream: h2.Stream) -> None:
        """The client half-closed: a unary call has its one message, and runs — eagerly, so
        a call that never waits (an inline model) costs no task and no loop turn."""
        known = self._unary.get(stream.path)
        if known is None or stream.done:
            return
        method, parse = known
        message = stream.take()
        if message is None or stream.messages:
            stream.finish(UNIMPLEMENTED, "a unary call takes exactly one message")
            return
        try:
            request = parse(message)
        except DecodeError:
            stream.finish(INTERNAL, "the request message could not be decoded")
            return
        coro = _answering(method(request, stream.metadata), stream)
        try:
            waiting_on = coro.send(None)
        except StopIteration:
            return
        stream.task = asyncio.get_running_loop().create_task(resume(coro, waiting_on))

    # -- calls ------------------------------------------------------------------------------

    async def _server_live(self, request: Any, metadata: Metadata) -> Any:
        return TYPES["ServerLiveResponse"](live=True)

    async def _server_ready(self, request: Any, metadata: Metadata) -> Any:
        return TYPES["ServerReadyResponse"](ready=self.app.repo.ready)

    async def _server_metadata(self, request: Any, metadata: Metadata) -> Any:
        self._caller(metadata, "read")
        return TYPES["ServerMetadataResponse"](name="modelport", version=VERSION,
                                               extensions=oip.EXTENSIONS)

    async def _model_ready(self, request: Any, metadata: Metadata) -> Any:
        await self._target(request.name, request.version, metadata, "read")
        return TYPES["ModelReadyResponse"](ready=True)

    async def _model_metadata(self, request: Any, metadata: Metadata) -> Any:
        served, _ = await self._target(request.name, request.version, metadata, "read")
        doc = oip.metadata_of(served, request.name)
        return TYPES["ModelMetadataResponse"](
            name=doc["name"], versions=doc["versions"], platform=doc["platform"],
            inputs=[_tensor_metadata(t) for t in doc["inputs"]],
            outputs=[_tensor_metadata(t) for t in doc["outputs"]])

    async def _model_stream_infer(self, stream: h2.Stream) -> None:
        """Triton's streaming infer: one answer per request, in order; an error is an
        answer carrying its message, and the stream goes on."""
        Answer = TYPES["ModelStreamInferResponse"]
        parse = TYPES["ModelInferRequest"].FromString
        while (message := await stream.next_message()) is not None:
            try:
                answer = Answer(infer_response=await self._infer(parse(message),
                                                                 stream.metadata))
            except ModelportError as exc:
                answer = Answer(error_message=exc.message)
            except DecodeError:
                answer = Answer(error_message="the request message could not be decoded")
            except Exception:
                log.exception("unexpected error in ModelStreamInfer")
                answer = Answer(error_message="internal server error")
            stream.send(answer.SerializeToString())
        stream.finish()

    # -- the shared steps --------------------------------------------------------------------

    async def _infer(self, request: Any, metadata: Metadata) -> Any:
        started = time.perf_counter()
        served: Served | None = None
        status = 200
        try:
            served, router = await self._target(request.model_name, request.model_version,
                                                metadata, "predict")
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

    async def _target(self, name: str, version: str, metadata: Metadata, scope: str) -> Any:
        caller = self._caller(metadata, scope, name)
        pinned = _version(version)
        if pinned is None:
            return self.app.service.route(name, metadata)
        return await self.app.service.pinned(name, pinned, caller), None

    def _caller(self, metadata: Metadata, scope: str, model: str | None = None) -> Any:
        """The request's key, authorized for ``scope`` (on ``model``); None without auth."""
        guard = self.app.guard
        if guard is None:
            return None
        key = guard.authenticate(metadata)
        authorize(key, scope, model)
        return key


async def _answering(call: Awaitable[Any], stream: h2.Stream) -> None:
    """``call``'s answer sent on ``stream``, or its error as a gRPC status carrying the same
    one-line message: a ``ModelportError`` by its HTTP status, anything else as INTERNAL."""
    try:
        answer = await call
    except ModelportError as exc:
        stream.finish(_code(exc.status), exc.message)
    except Exception:
        log.exception("unexpected error in a gRPC call")
        stream.finish(INTERNAL, "internal server error")
    else:
        stream.send(answer.SerializeToString())
        stream.finish()


def _tensor_metadata(doc: dict[str, Any]) -> Any:
    return TYPES["TensorMetadata"](name=doc["name"], datatype=doc["datatype"],
                                   shape=[d if isinstance(d, int) else -1 for d in doc["shape"]])
