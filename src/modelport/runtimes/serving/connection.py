"""One HTTP/1.1 connection of modelport's server: parsing, limits, answers in order.

What a connection does: keep-alive, pipelined requests answered in order,
``Expect: 100-continue``, an idle timeout, a header timeout and a request
timeout, and a graceful close that lets every request already received finish.
What it refuses, each the moment it is known and in time linear in what was
sent: a URL over 8 KiB (414), a head or trailers over 64 KiB or 100 fields
(431), a body over the limit, declared, announced by a chunk or counted (413),
an HTTP/1.1 request without one Host (400), codings other than chunked (501),
anything llhttp finds malformed — smuggling attempts among them (400); HTTP/0.9
gets no answer. Trailers are read, counted, and dropped: never headers.
Backpressure: while a few requests wait to be answered, or the client does not
read its answers, the connection stops reading.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import http
import sys
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any, NoReturn, Protocol, TypeVar, cast
from urllib.parse import unquote

import httptools
import orjson

from modelport.errors import InvalidInputError, ModelportError
from modelport.runtimes.serving.http import (
    Request,
    Response,
    declared_too_large,
    decode_body,
    error_response,
    too_large,
)

Handler = Callable[[Request, ModelportError | None], Coroutine[Any, Any, Response]]


class Server(Protocol):
    """What a connection needs of the listening side (``h1.Server``): its handler and
    body limit, a say in admitting and forgetting connections, and the end-of-turn write."""

    handler: Handler
    max_body: int

    def admit(self, connection: Connection) -> None: ...

    def forget(self, connection: Connection) -> None: ...

    def received(self) -> None: ...

    def send_later(self, connection: Connection) -> None: ...

T = TypeVar("T")

IDLE_TIMEOUT_S = 5.0  # a keep-alive connection with nothing to say (uvicorn's default)
HEADER_TIMEOUT_S = 10.0  # from a request's first byte to the end of its headers
REQUEST_TIMEOUT_S = 60.0  # from a request's first byte to its last
MAX_URL_BYTES = 8 * 1024  # nginx's default for a request line
MAX_HEADER_BYTES = 64 * 1024  # request line, headers and trailers together
MAX_HEADERS = 100
MAX_PENDING = 4  # requests received on a connection and not yet answered
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
        self._held_lines = False
        self._held_body = -1  # body size when held chunk data was parsed at the limit
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
        self._held_lines = False  # a line ended in what was held
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
        if b"\n" in data:
            self._held_lines = True
        if not self._head_done and not self._headers and not self._held_lines \
                and self._header_bytes + self._held_size > MAX_URL_BYTES:  # still the URL
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
        key = name.decode("latin-1").lower()
        if key in self._headers or self._header_bytes > MAX_HEADER_BYTES \
                or len(self._headers) >= MAX_HEADERS:
            self._unusual(key, value.decode("latin-1"))
        else:
            self._headers[key] = value.decode("latin-1")

    def _unusual(self, key: str, value: str) -> None:
        """Over a limit, or a field sent twice: two Hosts are refused (RFC 9112 3.2),
        others are joined with a comma (RFC 9110 5.3). Each repeat counts as a field's
        share of the byte limit, so repeats cannot grow one value without bound."""
        if self._header_bytes > MAX_HEADER_BYTES or len(self._headers) >= MAX_HEADERS:
            self._stop(HeadersTooLargeError(_TOO_LARGE))
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
        if "expect" in headers and headers["expect"].lower() == "100-continue" \
                and self.transport is not None:
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
        if self._mark >= 0:  # refused in a chunked body: the request's own headers
            self._headers = self._request_headers
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
            if self.closing and not self.pending and self._unfed is None:
                connection = CLOSE  # the last one received closes
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
            task = self.loop.create_task(resume(coro, waiting_on))
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
        if self.closing and not self.pending and not self.receiving and self._unfed is None:
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
        response = error_response(TooBusyError(
            "the server is at its connection limit (--max-connections); try again"))
        response.headers.append((b"retry-after", b"1"))
        self.transport.write(render(response, CLOSE))
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


async def resume(coro: Coroutine[Any, Any, T], waiting_on: Any) -> T:
    """Go on with a handler that started eagerly and then had to wait, inside a task
    (the HTTP/1.1 connections' handlers and gRPC's unary calls)."""
    return await _relay(coro, waiting_on)


@types.coroutine
def _relay(coro: Coroutine[Any, Any, T], waiting_on: Any) -> Generator[Any, Any, T]:
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

