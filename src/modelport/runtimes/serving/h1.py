"""modelport's own HTTP/1.1 server: the shortest path from a socket to ``respond``.

Why not uvicorn: on one core, a no-op app under uvicorn spends ~45 µs per
request on its ASGI machinery (a scope dict, two message dicts, a task and a
cycle object per request, flow-control events) — more than parsing, checking,
predicting and rendering a small model's answer together. Here a request is
parsed by llhttp (httptools, the parser uvicorn uses too), handed to
``ServingApp.respond`` as a ``Request`` and written back in one call; the
handler runs eagerly, so a request that never waits (an inline model) costs no
task and no extra turn of the event loop. Answers are written together at the
end of the loop's turn, not one by one as they are made: on a loaded core,
alternating Python with the kernel's TCP path for every request kept both
out of the CPU caches (a single-row onnxruntime call took 16 µs instead of 5);
one burst of writes after one burst of requests took 40 % off a small model's
time per request. After a turn that answered, the worker keeps polling its
sockets for a moment before it sleeps (``Options.busy_poll_s``), the way KVM
polls before halting a CPU: a client that sends its next request right away
finds a core still warm instead of one that must be woken. The window halves
each time polling finds nothing and grows back when requests follow answers
closely, so an idle server stops spending CPU on it.

What a connection does: keep-alive, pipelined requests answered in order,
body and header limits (413/431, then close), ``Expect: 100-continue``,
flow control (stop reading while the client does not read), an idle timeout
and a request timeout, and a graceful close that lets every request already
received finish. The ASGI interface of ``ServingApp`` stays, for anyone who
runs it under another server.
"""

from __future__ import annotations

import asyncio
import functools
import http
import time
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

import httptools
import orjson

from modelport.errors import ModelportError
from modelport.runtimes.serving.http import Request, Response, declared_too_large, too_large

Handler = Callable[[Request, ModelportError | None], Coroutine[Any, Any, Response]]

IDLE_TIMEOUT_S = 5.0  # a keep-alive connection with nothing to say (uvicorn's default)
REQUEST_TIMEOUT_S = 60.0  # from a request's first byte to its last
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100
BUSY_POLL_S = 200e-6  # longer than a client's round trip on one host, far below a tick
_REASONS = {s.value: s.phrase.encode() for s in http.HTTPStatus}


class HeadersTooLargeError(ModelportError):
    code = "headers_too_large"
    status = 431


def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown"))


_STATUS_LINES = {status: _status_line(status) for status in _REASONS}


# what a response says of its connection: nothing (HTTP/1.1 keeps it), keep-alive
# (HTTP/1.0 closes unless told), or close
KEEP, KEEP_10, CLOSE = b"", b"connection: keep-alive\r\n", b"connection: close\r\n"


def render(response: Response, connection: bytes, head_only: bool = False) -> bytes:
    """The bytes of one response: status line, headers, body."""
    parts = [_STATUS_LINES.get(response.status) or _status_line(response.status),
             b"content-type: ", response.content_type,
             b"\r\ncontent-length: %d\r\n" % len(response.body)]
    for name, value in response.headers:
        parts += (name, b": ", value, b"\r\n")
    parts += (connection, b"\r\n")
    if not head_only:
        parts.append(response.body)
    return b"".join(parts)


@dataclass(frozen=True)
class Options:
    """What a server allows and how it waits: the largest request body (bytes) and
    how long to poll after answering (seconds; 0 sleeps at once, for the least CPU on
    a machine where latency matters less)."""

    max_body: int
    busy_poll_s: float = BUSY_POLL_S


class Server:
    """The listening side: accepts connections on a bound socket, closes them gracefully."""

    def __init__(self, handler: Handler, options: Options) -> None:
        self.handler = handler
        self.max_body = options.max_body
        self._poll_max = options.busy_poll_s
        self._poll_window = options.busy_poll_s  # shrinks while polling finds nothing
        self._polling = False
        self._poll_until = 0.0
        self._received = 0  # requests read, so polling knows when one came
        self._seen = 0  # _received when the current polling began
        self._sent_at = 0.0
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._all_closed = asyncio.Event()
        self._sweeper: asyncio.TimerHandle | None = None
        self._unsent: list[Connection] = []  # connections with answers not yet written

    async def start(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), sock=sock,
                                                backlog=2048)
        self._sweep()

    def _sweep(self) -> None:
        """Once a second, time out idle and too-slow connections: one timer for all of
        them, instead of arming and cancelling two per request."""
        now = asyncio.get_running_loop().time()
        for connection in list(self.connections):
            connection.check_timeouts(now)
        self._sweeper = asyncio.get_running_loop().call_later(1.0, self._sweep)

    def send_later(self, connection: Connection) -> None:
        """Write ``connection``'s answers at the end of this turn of the loop."""
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._send)
        self._unsent.append(connection)

    def _send(self) -> None:
        """End of a turn: write every answer made in it, then poll before sleeping."""
        unsent, self._unsent = self._unsent, []
        for connection in unsent:
            connection.flush()
        self._sent_at = time.perf_counter()
        if self._poll_window and not self._polling:
            self._polling = True
            self._seen = self._received
            self._poll_until = self._sent_at + self._poll_window
            asyncio.get_running_loop().call_soon(self._poll)

    def _poll(self) -> None:
        """One more turn of the loop without sleeping, while the window lasts: each turn
        looks at the sockets without blocking."""
        if self._received != self._seen:  # a request came: polling paid
            self._polling = False
            self._poll_window = min(self._poll_max, self._poll_window * 2)
        elif time.perf_counter() < self._poll_until:
            asyncio.get_running_loop().call_soon(self._poll)
        else:  # nothing came: poll for less next time, down to not at all
            self._polling = False
            self._poll_window = self._poll_window / 2 if self._poll_window > \
                self._poll_max / 8 else 0.0

    def received(self) -> None:
        """Count a request; one that came after polling gave up, but soon enough that a
        longer window would have caught it, widens the window to catch the next."""
        self._received += 1
        if not self._polling and self._poll_max:
            gap = time.perf_counter() - self._sent_at
            if self._poll_window < gap < self._poll_max:
                self._poll_window = min(self._poll_max, max(2 * gap, self._poll_max / 8))

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self._all_closed.set()

    async def close(self, grace_s: float = 30.0) -> None:
        """Stop accepting, close idle connections, let requests already received finish."""
        if self._server is not None:
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.connections:
            self._all_closed.clear()
        for connection in list(self.connections):
            connection.finish()
        try:
            await asyncio.wait_for(self._all_closed.wait(), grace_s)
        except TimeoutError:
            for connection in list(self.connections):
                connection.abort()


class Connection(asyncio.Protocol):
    """One client connection: its parser, its queue of received requests, its timers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.pending: deque[tuple[Request, ModelportError | None, bytes]] = deque()
        self.busy = False  # a request is being answered
        self.receiving = False  # between a request's first and last byte
        self.closing = False  # answer what was received, then close
        self.since = self.loop.time()  # of the last request's first byte, or last answer
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._body: list[bytes] = []
        self._size = 0
        self._too_many_headers = False
        self._refused = False  # a request was refused before its end: ignore the rest
        self._out: list[bytes] = []  # answers rendered, written at the end of the turn

    # -- the transport's side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pending.clear()
        self.server.forget(self)

    def eof_received(self) -> bool:
        """The client closed its sending side: answer what it sent, then close."""
        self.closing = True
        return bool(self.busy or self.pending or self._out)  # True keeps our side open

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed HTTP request: {exc}")

    def pause_writing(self) -> None:  # the client reads slower than we answer
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()

    # -- the parser's side (no on_message_begin: one call less per request; the URL
    # starts every request, and the state is fresh after the previous one completed)
    def on_url(self, url: bytes) -> None:
        if self.receiving:  # the URL came in pieces
            self._url += url
        else:
            self.receiving = True
            self._url = url
            self.since = self.loop.time()
        self._header_bytes += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes <= MAX_HEADER_BYTES and len(self._headers) < MAX_HEADERS:
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        else:
            self._too_many_headers = True

    def on_headers_complete(self) -> None:
        if self._too_many_headers or self._header_bytes > MAX_HEADER_BYTES:
            self._refuse(HeadersTooLargeError(
                f"the request line and headers are over {MAX_HEADER_BYTES:,} bytes or "
                f"{MAX_HEADERS} fields"))
            return
        refusal = declared_too_large(self._headers.get("content-length"), self.server.max_body)
        if refusal is not None:
            self._refuse(refusal)
        elif (self.transport is not None
              and self._headers.get("expect", "").lower() == "100-continue"):
            # an interim answer may not overtake earlier pipelined ones: write those
            # first, and while one is still being answered send none (RFC 9110 lets
            # a server skip it; the client sends its body after a short wait)
            self.flush()
            if not self.busy and not self.pending:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._refused:
            return
        self._size += len(body)
        if self._size > self.server.max_body:
            self._refuse(too_large(self.server.max_body))
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        connection = CLOSE
        if self.parser.should_keep_alive():
            connection = KEEP_10 if self.parser.get_http_version() == "1.0" else KEEP
        self.pending.append((self._request(body), None, connection))
        self.server.received()
        self._headers = {}
        self._header_bytes = 0
        self._body = []
        self._size = 0
        self._next()

    def _request(self, body: bytes) -> Request:
        self.receiving = False
        url = httptools.parse_url(self._url)
        path = url.path.decode("latin-1")
        if "%" in path:
            path = unquote(path, encoding="latin-1")
        return Request(self.parser.get_method().decode("latin-1"), path, self._headers,
                       body, (url.query or b"").decode("latin-1"))

    def _refuse(self, failure: ModelportError) -> None:
        """Answer a request that will not be read to its end right away, then close —
        waiting for a body that is not wanted could take forever."""
        self._refused = True
        self._body = []
        if self.transport is not None:
            self.transport.pause_reading()
        self.pending.append((self._request(b""), failure, CLOSE))
        self._next()

    # -- answering
    def _next(self) -> None:
        while self.pending and not self.busy and self.transport is not None:
            request, failure, connection = self.pending.popleft()
            if self.closing and not self.pending:  # the last one received closes
                connection = CLOSE
            self.busy = True
            coro = self.server.handler(request, failure)
            try:  # eagerly: a request that never waits is answered right here
                waiting_on = coro.send(None)
            except StopIteration as done:
                self._answer(request, done.value, connection)
                continue
            except BaseException:
                self._reject(500, "internal server error")
                return
            task = self.loop.create_task(_resume(coro, waiting_on))
            task.add_done_callback(functools.partial(self._answered, request=request,
                                                     connection=connection))

    def _answered(self, task: asyncio.Task[Response], *, request: Request,
                  connection: bytes) -> None:
        if task.cancelled() or task.exception() is not None:
            self._reject(500, "internal server error")
            return
        self._answer(request, task.result(), connection)
        self._next()

    def _answer(self, request: Request, response: Response, connection: bytes) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        data = render(response, connection, request.method == "HEAD")
        if connection is CLOSE:  # the last answer: out now, after any made before it
            self._out.append(data)
            self.flush()
            self.closing = True
            self.pending.clear()
            if self._refused and self.transport.can_write_eof():
                # a lingering close: closing with unread bytes would reset the connection
                # and could take the answer with it — end our side, drop what still comes,
                # and let the client (or the idle timeout) close
                self.transport.write_eof()
                self.transport.resume_reading()
            else:
                self.transport.close()
            return
        if not self._out:
            self.server.send_later(self)
        self._out.append(data)
        if self.closing and not self.pending and not self.receiving:
            self.flush()
            self.transport.close()
        elif not self.receiving:
            self.since = self.loop.time()

    def flush(self) -> None:
        """Write the answers this connection made in this turn, in order, in one call."""
        out, self._out = self._out, []
        if out and self.transport is not None:
            self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _reject(self, status: int, message: str) -> None:
        """A request that cannot be parsed or answered: say why, then close."""
        if self.transport is None or self.transport.is_closing():
            return
        body = orjson.dumps({"error": message})
        self.flush()
        self.transport.write(render(Response(status, body), CLOSE))
        self.closing = True
        self.pending.clear()
        self.transport.close()

    # -- closing and timers
    def finish(self) -> None:
        """Graceful close: answer what was received, then close; idle ones close now."""
        self.closing = True
        if self.transport is not None and not self.busy and not self.pending \
                and not self.receiving:
            self.flush()
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def check_timeouts(self, now: float) -> None:
        if self.transport is None or self.busy or self.pending:
            return
        if self.receiving:
            if now - self.since > REQUEST_TIMEOUT_S:
                self._reject(408, "the request was not received in time")
        elif now - self.since > IDLE_TIMEOUT_S:
            self.transport.close()


async def _resume(coro: Coroutine[Any, Any, Response], waiting_on: Any) -> Response:
    """Go on with a handler that started eagerly and then had to wait, inside a task."""
    return await _relay(coro, waiting_on)


@types.coroutine
def _relay(coro: Coroutine[Any, Any, Response], waiting_on: Any
           ) -> Generator[Any, Any, Response]:
    # hand the task what the handler waits on; pass back what the task sends or throws
    while True:
        try:
            sent = yield waiting_on
        except BaseException as exc:
            try:
                waiting_on = coro.throw(exc)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]
        else:
            try:
                waiting_on = coro.send(sent)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

