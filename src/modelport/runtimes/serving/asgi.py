"""The ASGI transport: the serving app under any ASGI server (uvicorn, hypercorn, tests).

A thin adapter, like ``h1`` for modelport's own server: it turns a scope and its
body into a ``Request``, the app's ``Response`` into ASGI messages, and runs the
app's start-up and shutdown from the lifespan protocol. Bodies are read with the
same limit, as bytes arrive (``http.read_body``).
"""

from __future__ import annotations

from typing import Protocol

from modelport.errors import ModelportError
from modelport.runtimes.serving.auth import ForbiddenError, is_loopback
from modelport.runtimes.serving.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    header_map,
    read_body,
    send_response,
)


class Config(Protocol):
    @property
    def max_body(self) -> int: ...

    @property
    def loopback_only(self) -> bool: ...


class App(Protocol):
    """What the adapter needs of the serving app."""

    @property
    def config(self) -> Config: ...

    @property
    def guard(self) -> object | None: ...

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def respond(self, request: Request, failure: ModelportError | None = None
                      ) -> Response: ...


async def handle(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _http(app, scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(app, receive, send)


def _local(scope: Scope) -> bool:
    """Whether an ASGI connection was made to a loopback address. Unknown (no ``server``
    in the scope, as uvicorn gives for a unix socket) is not: fail closed."""
    server = scope.get("server")
    return server is not None and is_loopback(str(server[0]))


async def _lifespan(app: App, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await app.startup()
            except Exception as exc:
                text = exc.message if isinstance(exc, ModelportError) else repr(exc)
                await send({"type": "lifespan.startup.failed", "message": text})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await app.shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _http(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope["method"], scope["path"], header_map(scope),
                      query=scope.get("query_string", b"").decode("latin-1"))
    failure: ModelportError | None = None
    if app.config.loopback_only and app.guard is None and not _local(scope):
        failure = ForbiddenError("this server requires no API key, so it answers only on a "
                                 "loopback address — create a key with: modelport keys "
                                 "create NAME (or set \"insecure\": true)")
    elif request.method in ("POST", "PUT"):
        try:
            request.body = await read_body(receive, app.config.max_body,
                                           request.headers.get("content-length"),
                                           request.headers.get("content-encoding"))
        except ModelportError as exc:
            failure = exc
    await send_response(send, await app.respond(request, failure))
