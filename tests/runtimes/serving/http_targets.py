"""Servers and a raw-socket client for the HTTP conformance suite.

The same echo handler runs under modelport's own server (h1) and, as an ASGI
app reading its body through ``http.read_body``, under uvicorn, each on its
own event loop in a thread, so one test can send both the same bytes and
look inside either (how many requests a connection has queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import uvicorn
import uvloop

from modelport.errors import ModelportError
from modelport.runtimes.serving import h1
from modelport.runtimes.serving.http import (
    Receive,
    Request,
    Response,
    Scope,
    Send,
    error_response,
    header_map,
    read_body,
    send_response,
)
from modelport.runtimes.serving.process import bind

MAX_BODY = 1000
CAP = 24  # connections per server in these tests


async def echo(request: Request, failure: ModelportError | None = None) -> Response:
    """What the server parsed, as JSON; ``/slow?S`` waits S seconds (0.05) first."""
    if failure is not None:
        return error_response(failure)
    if request.path == "/slow":
        await asyncio.sleep(float(request.query or 0.05))
    doc = {"method": request.method, "path": request.path, "body": request.body.decode(),
           "headers": request.headers}
    return Response(200, orjson.dumps(doc))


async def asgi_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """``echo`` as an ASGI app, the body read (and inflated) by ``http.read_body``."""
    if scope["type"] != "http":
        return
    headers = header_map(scope)
    request = Request(scope["method"], scope["path"], headers,
                      query=scope["query_string"].decode("latin-1"))
    failure = None
    try:
        request.body = await read_body(receive, MAX_BODY, headers.get("content-length"),
                                       headers.get("content-encoding"))
    except ModelportError as exc:
        failure = exc
    await send_response(send, await echo(request, failure))


@dataclass
class Target:
    name: str
    port: int
    loop: asyncio.AbstractEventLoop
    server: Any

    def queued(self) -> int:
        """The most requests any connection has received and not yet answered."""
        if self.name == "modelport":
            return max((len(c.pending) for c in list(self.server.connections)), default=0)
        return max((len(c.pipeline) for c in list(self.server.server_state.connections)),
                   default=0)

    def connections(self) -> int:
        if self.name == "modelport":
            return len(self.server.connections)
        return len(self.server.server_state.connections)


@contextlib.contextmanager
def modelport_server() -> Iterator[Target]:
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        sock = bind("127.0.0.1", 0)
        server = h1.Server(echo, h1.Options(MAX_BODY, max_connections=CAP))
        await server.start(sock)
        box.update(port=sock.getsockname()[1], server=server, stop=asyncio.Event(),
                   loop=asyncio.get_running_loop())
        ready.set()
        await box["stop"].wait()
        await server.close(1, 0.1)

    thread = threading.Thread(target=uvloop.run, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield Target("modelport", box["port"], box["loop"], box["server"])
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


@contextlib.contextmanager
def uvicorn_server() -> Iterator[Target]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(asgi_echo, host="127.0.0.1", port=port, http="httptools",
                            lifespan="off", log_level="critical", access_log=False,
                            limit_concurrency=CAP, timeout_keep_alive=5)
    server = uvicorn.Server(config)
    box: dict[str, Any] = {}

    async def main() -> None:
        box["loop"] = asyncio.get_running_loop()
        await server.serve()

    thread = threading.Thread(target=uvloop.run, args=(main(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield Target("uvicorn", port, box["loop"], server)
    finally:
        server.should_exit = True
        thread.join(10)


# -- a raw-socket client
_unread: dict[int, bytes] = {}  # bytes read past an answer, by socket


def connect(port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    _unread.pop(id(sock), None)  # of a closed socket that had the same id
    return sock


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """One response (status, headers, body), or None when the server closed (or reset)
    without one."""
    data = _unread.pop(id(sock), b"")
    try:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            if not more:
                return None
            data += more
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            more = sock.recv(65536)
            if not more:
                break
            body += more
    except (ConnectionResetError, TimeoutError):
        return None
    if len(body) > length:
        _unread[id(sock)] = body[length:]
    return int(lines[0].split()[1]), headers, body[:length]


def closed(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Whether the server closed the connection (after any answer already read)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def exchange(port: int, raw: bytes) -> int | str:
    """Send ``raw`` on a new connection: the answer's status, or "closed"."""
    with connect(port) as sock:
        sock.sendall(raw)
        answer = read_answer(sock)
    return "closed" if answer is None else answer[0]
