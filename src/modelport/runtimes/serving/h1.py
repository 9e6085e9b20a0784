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
import ctypes
import functools
import http
import resource
import sys
import time
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast
from urllib.parse import unquote

import httptools
import orjson

from modelport.errors import InvalidInputError, ModelportError
from modelport.runtimes.serving import listening
from modelport.runtimes.serving.http import (
    Request,
    Response,
    declared_too_large,
    decode_body,
    too_large,
)

Handler = Callable[[Request, ModelportError | None], Coroutine[Any, Any, Response]]

IDLE_TIMEOUT_S = 5.0  # a keep-alive connection with nothing to say (uvicorn's default)
HEADER_TIMEOUT_S = 10.0  # from a request's first byte to the end of its headers
REQUEST_TIMEOUT_S = 60.0  # from a request's first byte to its last
MAX_URL_BYTES = 8 * 1024  # nginx's default for a request line
MAX_HEADER_BYTES = 64 * 1024  # request line, headers and trailers together
MAX_HEADERS = 100
MAX_PENDING = 4  # requests received on a connection and not yet answered
DRAIN_S = 0.5  # on shutdown, how long an idle connection may still send a request
BUSY_POLL_S = 200e-6  # longer than a client's round trip on one host, far below a tick
_REASONS = {s.value: s.phrase.encode() for s in http.HTTPStatus}


_SLICE = 2048  # bytes parsed at a time while requests may be waiting on a connection


class HeadersTooLargeError(ModelportError):
    code = "headers_too_large"
    status = 431


class UriTooLongError(ModelportError):
    code = "uri_too_long"
    status = 414


class UnknownCodingError(ModelportError):
    code = "not_implemented"
    status = 501


class TooBusyError(ModelportError):
    code = "too_busy"
    status = 503


_TOO_LARGE = (f"the request line and headers (with trailers) are over {MAX_HEADER_BYTES:,} "
              f"bytes or {MAX_HEADERS} fields")
_URL_TOO_LONG = f"the URL is over {MAX_URL_BYTES:,} bytes"


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
    max_connections: int = field(default_factory=lambda: default_max_connections())


def default_max_connections() -> int:
    """1,000 connections per worker, fewer if the process may not open that many files
    (a few dozen descriptors are left for the rest: models, the store, logs)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft - 64))


class Server:
    """The listening side: accepts connections on a bound socket, closes them gracefully."""

    def __init__(self, handler: Handler, options: Options) -> None:
        self.handler = handler
        self.max_body = options.max_body
        self.max_connections = options.max_connections
        self.closing = False  # shutting down: every answer closes its connection
        self._poll_max = options.busy_poll_s
        self._poll_window = options.busy_poll_s  # shrinks while polling finds nothing
        self._polling = False
        self._poll_until = 0.0
        self._received = 0  # requests read, so polling knows when one came
        self._seen = 0  # _received when the current polling began
        self._sent_at = 0.0
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None
        self._sock: Any = None
        self._all_closed = asyncio.Event()
        self._sweeper: asyncio.TimerHandle | None = None
        self._unsent: list[Connection] = []  # connections with answers not yet written

    async def start(self, sock: Any) -> None:
        loop = asyncio.get_running_loop()
        self._sock = sock
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

    def admit(self, connection: Connection) -> None:
        """A new connection: over the cap, it takes the place of the connection that
        has waited longest for nothing (idle keep-alive) or has sent slowest (a head
        still arriving); when every connection is busy answering, it gets 503."""
        if len(self.connections) >= self.max_connections and not self._make_room():
            connection.turn_away()
            return
        if self.closing:
            connection.closing = True
        self.connections.add(connection)

    def _make_room(self) -> bool:
        oldest = None
        for connection in self.connections:
            if (connection.idle or connection.heading) and (
                    oldest is None or connection.since < oldest.since):
                oldest = connection
        if oldest is None:
            return False
        oldest.abort()
        self.connections.discard(oldest)
        return True

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self._all_closed.set()

    async def close(self, grace_s: float = 30.0, drain_s: float = DRAIN_S) -> None:
        """Stop accepting and close gracefully: requests already received finish, and
        for ``drain_s`` an idle connection stays open, so a request its client was
        already sending is answered (with ``Connection: close``) instead of lost."""
        self.closing = True
        self._poll_max = self._poll_window = 0.0  # nothing may keep the loop spinning
        if self._server is not None:
            if self._sock is not None:  # accept what the kernel queued, then close
                await listening.drain_queue(self._sock)
            self._server.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.connections:
            self._all_closed.clear()
        else:  # none now, maybe none ever: nothing would set it
            self._all_closed.set()
        for connection in list(self.connections):
            connection.closing = True  # busy ones close after their answers
        try:
            await asyncio.wait_for(self._all_closed.wait(), drain_s)
        except TimeoutError:
            for connection in list(self.connections):
                connection.finish()
        try:
            await asyncio.wait_for(self._all_closed.wait(), max(0.0, grace_s - drain_s))
        except TimeoutError:
            for connection in list(self.connections):
                connection.abort()


class _Stop(Exception):
    """Raised in a parser callback to stop parsing a connection that was refused."""


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
        self._request_headers = self._headers  # set aside while trailers are read
        self._header_bytes = 0
        self._head_done = False  # the current request's headers were all read
        self._body: list[bytes] = []
        self._size = 0
        self._mark = -1  # body size at the last chunk header; -1: not chunked
        self._refused = False  # a request was refused before its end: ignore the rest
        self._out: list[bytes] = []  # answers rendered, written at the end of the turn
        # the unusual paths, all behind one flag that ``data_received`` looks at
        self._detour = False
        self._held: list[bytes] | None = None  # a head arriving in pieces, held back
        self._held_size = 0
        self._held_body = -1  # body size when a chunked body's pieces began to be held
        self._tail = b""
        self._unfed: bytes | None = None  # read, not parsed: the client is too far ahead
        self._write_paused = False

    # -- the transport's side
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.server.admit(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.pending.clear()
        self.server.forget(self)

    def eof_received(self) -> bool:
        """The client closed its sending side: answer what it sent, then close."""
        self.closing = True
        return bool(self.busy or self.pending or self._out)  # True keeps our side open

    def data_received(self, data: bytes) -> None:
        if self._detour or self.busy or len(data) > _SLICE:
            self._detoured(data)
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgrade_ignored(data, exc)
        except httptools.HttpParserError as exc:
            if not self._refused:
                self._reject(400, f"malformed HTTP request: {exc}")
        else:
            if self.receiving and (not self._head_done or self._mark == self._size):
                self._hold_from(data)  # stopped inside a head or a trailer

    def pause_writing(self) -> None:  # the client reads slower than we answer
        self._write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if self.transport is not None and self._unfed is None and not self._refused:
            self.transport.resume_reading()

    # -- the unusual paths of reading: refused, a head in pieces, a client too far ahead
    def _route(self) -> None:
        self._detour = self._refused or self._held is not None or self._unfed is not None

    def _detoured(self, data: bytes) -> None:
        if self._refused:
            return
        if self._unfed is not None:  # still backlogged: keep it for later
            self._unfed += data
            return
        if self._held is not None:
            whole = self._hold(data)
            if whole is None:
                return
            data = whole
        self._feed_sliced(data)

    def _feed_sliced(self, data: bytes) -> None:
        """Parse a large read, or one that came while requests wait, a slice at a time,
        and stop (and stop reading) once ``MAX_PENDING`` requests wait: httptools
        cannot pause between requests, so a client that pipelines without reading
        answers gets no more than a slice's worth of requests queued. A declared body
        is parsed in one piece all the same, and a head cut by a slice is taken whole."""
        view = memoryview(data)
        start, end = 0, len(data)
        stop = 0
        while start < end:
            if len(self.pending) >= MAX_PENDING:
                self._backlog(data[start:])
                return
            stop = max(stop, start + self._step())
            try:
                self.parser.feed_data(view[start:stop])
            except httptools.HttpParserUpgrade as exc:
                self._upgrade_ignored(view[start:stop], exc)
                return
            except httptools.HttpParserError as exc:
                if not self._refused:
                    self._reject(400, f"malformed HTTP request: {exc}")
            if self._refused or self.transport is None or self.transport.is_closing():
                return
            start = stop
            if self.receiving and not self._head_done and start < end:
                found = data.find(b"\r\n\r\n", start - 3)
                stop = end if found < 0 else found + 4  # next: the rest of the head
        if self.receiving and (not self._head_done or self._mark == self._size):
            self._hold_from(data[-4:])

    def _step(self) -> int:
        """How much to parse next: the rest of a declared body, a larger slice of a
        chunked one (few requests can end inside it), else a small slice."""
        if self.receiving and self._head_done:
            if self._mark < 0:
                declared = self._headers.get("content-length")
                return max(_SLICE, int(declared) - self._size if declared else 0)
            return 16 * _SLICE
        return _SLICE

    def _upgrade_ignored(self, data: bytes | memoryview, exc: Exception) -> None:
        """An ``Upgrade`` request was answered in HTTP/1.1, as RFC 9110 lets a server
        do; the parser stopped after it, so go on with what followed."""
        if self.receiving:  # CONNECT, or an upgrade with a body: nothing to go on with
            self._reject(400, "protocol upgrades are not supported")
            return
        rest = bytes(data[int(exc.args[0]):])
        if rest:
            self._detoured(rest)

    def _backlog(self, unfed: bytes) -> None:
        self._unfed = unfed
        self._route()
        if self.transport is not None:
            self.transport.pause_reading()

    def _drained(self) -> None:
        """Answers went out: parse what was kept back, and read again."""
        unfed, self._unfed = self._unfed, None
        self._route()
        if self.transport is not None and not self._write_paused and not self._refused:
            self.transport.resume_reading()
        if unfed:
            self._detoured(unfed)

    def _hold_from(self, data: bytes) -> None:
        """A parse ended inside a head (or a chunked body's trailer): hold the next pieces
        back and parse them in one call once the head ends. httptools joins the pieces
        of a header with ``bytes +=``; a header sent a byte at a time would cost time
        quadratic in its length."""
        if not self._head_done and b"\n" in data and self.parser.get_http_version() == "0.0":
            self._refused = True  # a request line without a version: HTTP/0.9, no answer
            self._route()
            if self.transport is not None:
                self.transport.close()
            return
        if self._head_done and self._held_body == self._size:  # held to the limit, and
            self._refuse(HeadersTooLargeError(_TOO_LARGE))  # no chunk data in it: a
            return  # trailer over the limit
        self._held = []
        self._held_size = 0
        self._held_body = -1
        self._tail = data[-3:]
        self._route()

    def _hold(self, data: bytes) -> bytes | None:
        """One more piece of a held head: the whole of it once it ends, else None."""
        held = cast(list[bytes], self._held)
        held.append(data)
        self._held_size += len(data)
        if b"\r\n\r\n" in data or b"\r\n\r\n" in self._tail + data[:3]:
            self._held = None
            self._route()
            return b"".join(held)
        self._tail = (self._tail + data[-3:])[-3:]
        if not self._head_done and not self._headers and not any(b"\n" in p for p in held) \
                and self._header_bytes + self._held_size > MAX_URL_BYTES:
            self._refuse(UriTooLongError(_URL_TOO_LONG))
        elif self._held_size > MAX_HEADER_BYTES:
            if not self._head_done:
                self._refuse(HeadersTooLargeError(_TOO_LARGE))
            else:  # maybe chunk data without an empty line: parse it, see what it was
                self._held = None
                self._held_body = self._size
                self._route()
                return b"".join(held)
        return None

    # -- the parser's side (no on_message_begin: one call less per request; the URL
    # starts every request, and the state is fresh after the previous one completed)
    def on_url(self, url: bytes) -> None:
        if self.receiving:  # the URL came in pieces (at most a few: see _hold_from)
            self._url += url
        else:
            self.receiving = True
            self._head_done = False
            self._url = url
            self.since = self.loop.time()
        self._header_bytes += len(url)
        if self._header_bytes > MAX_URL_BYTES:
            self._stop(UriTooLongError(_URL_TOO_LONG))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        headers = self._headers
        if self._header_bytes > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS:
            self._stop(HeadersTooLargeError(_TOO_LARGE))
        key = name.decode("latin-1").lower()
        if key in headers:
            self._repeated(key, value.decode("latin-1"))
        else:
            headers[key] = value.decode("latin-1")

    def _repeated(self, key: str, value: str) -> None:
        """A field sent twice: two Hosts are refused (RFC 9112 3.2), others are joined
        with a comma (RFC 9110 5.3). Each repeat counts as a field's share of the byte
        limit, so repeats cannot grow one value without bound."""
        if key == "host" and self._headers is self._request_headers:
            self._stop(InvalidInputError("the request has two Host headers"))
        self._header_bytes += MAX_HEADER_BYTES // MAX_HEADERS
        if self._header_bytes > MAX_HEADER_BYTES:
            self._stop(HeadersTooLargeError(_TOO_LARGE))
        self._headers[key] += ", " + value

    def on_headers_complete(self) -> None:
        self._head_done = True
        headers = self._headers
        if "host" not in headers:
            self._hostless()
        declared = headers.get("content-length")
        if declared is not None:
            refusal = declared_too_large(declared, self.server.max_body)
            if refusal is not None:
                self._stop(refusal)
        elif "transfer-encoding" in headers:
            codings = headers["transfer-encoding"].lower().split(",")
            if len(codings) > 1 and codings[-1].strip() == "chunked":  # others are not known
                self._stop(UnknownCodingError(
                    f"transfer coding {headers['transfer-encoding']!r} is not supported "
                    "— send the body chunked or with a Content-Length"))
        if self.transport is not None and headers.get("expect", "").lower() == "100-continue":
            # an interim answer may not overtake earlier pipelined ones: write those
            # first, and while one is still being answered send none (RFC 9110 lets
            # a server skip it; the client sends its body after a short wait)
            self.flush()
            if not self.busy and not self.pending:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _hostless(self) -> None:
        version = self.parser.get_http_version()
        if version == "1.1":
            self._stop(InvalidInputError("an HTTP/1.1 request needs a Host header"))
        if version == "0.9":  # no status line to answer with: close
            self._refused = True
            self._route()
            if self.transport is not None:
                self.transport.close()
            raise _Stop

    def on_chunk_header(self) -> None:
        if self._mark < 0:  # the first: what follows the last chunk are trailers, which
            self._request_headers = self._headers  # count against the header limits
            self._headers = {}  # but are never taken for headers: read, then dropped
        self._mark = self._size
        if _chunk_length is not None and \
                self._size + _chunk_length(self.parser) > self.server.max_body:
            self._stop(too_large(self.server.max_body))  # announced: refused at once

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self.server.max_body:
            self._stop(too_large(self.server.max_body))
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._mark >= 0:  # chunked: back to the request's own headers
            self._headers = self._request_headers
            self._mark = -1
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        connection = CLOSE
        if self.parser.should_keep_alive():
            connection = KEEP_10 if self.parser.get_http_version() == "1.0" else KEEP
        request = self._request(body)
        failure = None
        if "content-encoding" in request.headers:  # compressed: inflate, within the limit
            failure = _inflate(request, self.server.max_body)
        self.pending.append((request, failure, connection))
        self.server.received()
        self._headers = self._request_headers = {}
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

    def _stop(self, failure: ModelportError) -> NoReturn:
        """Refuse the request being parsed and stop parsing this connection."""
        self._refuse(failure)
        raise _Stop

    def _refuse(self, failure: ModelportError) -> None:
        """Answer a request that will not be read to its end right away, then close —
        waiting for a body that is not wanted could take forever."""
        self._refused = True
        self._held = None
        self._route()
        self._body = []
        if self.transport is not None:
            self.transport.pause_reading()
        if self._head_done:
            request = self._request(b"")
        else:  # the URL may be cut short: name only the method
            self.receiving = False
            request = Request(self.parser.get_method().decode("latin-1"), "", {})
        self.pending.append((request, failure, CLOSE))
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
        if self._unfed is not None and not self.busy:
            self._drained()
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
    def turn_away(self) -> None:
        """Over the connection cap with nothing to make room: say so and close."""
        self._refused = True
        self._route()
        if self.transport is None:
            return
        body = orjson.dumps({"error": "the server is at its connection limit; try again"})
        self.transport.write(render(Response(503, body, headers=[(b"retry-after", b"1")]),
                                    CLOSE))
        if self.transport.can_write_eof():  # a lingering close: see _answer
            self.transport.write_eof()
            self.loop.call_later(1.0, self.abort)
        else:
            self.transport.close()

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
            if now - self.since > (REQUEST_TIMEOUT_S if self._head_done else HEADER_TIMEOUT_S):
                self._reject(408, "the request was not received in time")
        elif now - self.since > IDLE_TIMEOUT_S:
            self.transport.close()

    @property
    def idle(self) -> bool:
        """Nothing received and nothing to answer: a keep-alive connection between
        requests (or one that has not sent a URL yet)."""
        return not (self.receiving or self.busy or self.pending or self._out)

    @property
    def heading(self) -> bool:
        """Inside a request's head: slow headers are what a slowloris client sends."""
        return self.receiving and not self._head_done


def _announced_length() -> Callable[[httptools.HttpRequestParser], int] | None:
    """A reader of llhttp's ``content_length`` (in a chunk header callback: the size the
    chunk announces), so a chunk announcing more than the body limit is refused before
    its bytes arrive. httptools does not expose the field: it is read from the parser's
    C struct (``HttpParser._cparser`` after the object header and the Cython vtable,
    then ``llhttp_t.content_length``), and only after checking on a live parser that
    the layout is the one expected — else None, and the limit applies as bytes come."""
    if sys.implementation.name != "cpython" or ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    cparser_at, data_at, length_at = 24, 48, 64

    def read(parser: httptools.HttpRequestParser) -> int:
        cparser = ctypes.c_void_p.from_address(id(parser) + cparser_at).value or 0
        return ctypes.c_uint64.from_address(cparser + length_at).value

    probe = httptools.HttpRequestParser(object())
    cparser = ctypes.c_void_p.from_address(id(probe) + cparser_at).value
    if not cparser or ctypes.c_void_p.from_address(cparser + data_at).value != id(probe):
        return None  # llhttp_t.data points back at the parser object: not this layout
    probe.feed_data(b"POST / HTTP/1.1\r\nContent-Length: 1234567\r\n\r\n")
    return read if read(probe) == 1234567 else None


_chunk_length = _announced_length()


def _inflate(request: Request, limit: int) -> ModelportError | None:
    try:
        request.body = decode_body(request.body, request.headers["content-encoding"], limit)
    except ModelportError as exc:
        return exc
    return None


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

