"""HTTP/2 as gRPC uses it, on an asyncio Protocol: frames in, gRPC messages out to a handler.

Why not grpcio: on one core its asyncio server costs ~110-130 µs of CPU for a
call that does nothing (its C core parses on its own thread, a poller thread
hands each call to the event loop), twice modelport's whole ModelInfer; this
framing costs ~10 µs. It is HTTP/2 for gRPC only — cleartext (h2c with prior
knowledge, what gRPC clients speak to an ``insecure`` port), no server push,
priorities ignored — and every limit holds as bytes arrive:

- a frame longer than our SETTINGS_MAX_FRAME_SIZE (16 KiB) ends the connection
  before its payload is read; a header block (HEADERS + CONTINUATION) is capped
  at ``MAX_HEADER_BLOCK`` bytes in ``MAX_BLOCK_FRAMES`` frames and its decoded
  list at ``MAX_HEADER_LIST``;
- at most ``MAX_STREAMS`` calls at once per connection (more are refused with
  REFUSED_STREAM, which clients retry), and a client that resets calls faster
  than it completes them is sent away (the "rapid reset" attack);
- a gRPC message longer than the cap is refused from its 5-byte prefix, before
  its body arrives; flow control grants a connection at most one capped message
  plus a window of buffered bytes, so memory per connection is bounded;
- answers wait for the client's window and for it to read (``pause_writing``),
  and a stream holding ``OUT_BACKLOG`` unsent bytes takes no more messages;
- the client preface and first SETTINGS must arrive within ``PREFACE_TIMEOUT_S``;
  at the server's connection cap, the connection idle longest makes room, or
  one silent for ``STALLED_S`` with calls open.

What a call means is the handler's (``grpc_server``): ``opened`` when its headers
are complete, ``ended`` when the client half-closes, each complete message
queued on the stream as it arrives.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import quote

from modelport.runtimes.serving import hpack

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, \
    WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
# error codes
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR, STREAM_CLOSED, \
    FRAME_SIZE_ERROR, REFUSED_STREAM, CANCEL = 0x0, 0x1, 0x2, 0x3, 0x5, 0x6, 0x7, 0x8
ENHANCE_YOUR_CALM = 0xB

MAX_FRAME = 16384  # the default SETTINGS_MAX_FRAME_SIZE; we never raise it
MAX_HEADER_LIST = 16384
MAX_HEADER_BLOCK = 2 * MAX_HEADER_LIST  # encoded bytes of one block, CONTINUATIONs included
MAX_BLOCK_FRAMES = 16  # HEADERS and CONTINUATION frames of one block
MAX_STREAMS = 100
STREAM_WINDOW = 1 << 20  # what each call may send before we read it
CONN_WINDOW = 1 << 22
MAX_WINDOW = (1 << 31) - 1
PREFACE_TIMEOUT_S = 10.0
IDLE_BURST, IDLE_RATE = 10000.0, 1000.0  # frames carrying no call: at once, then a second
STALLED_S = 10.0  # at the connection cap, a connection silent this long with calls open goes
RESET_BUDGET = 200  # client resets beyond calls answered OK before the connection is dropped
OUT_BACKLOG = 1 << 16  # answer bytes a stream may hold unsent before it takes no more messages

_HEAD = struct.Struct(">I")
_OK_HEADERS = hpack.encode([(":status", "200"), ("content-type", "application/grpc")])
_OK_TRAILERS = hpack.encode([("grpc-status", "0")])
_PSEUDO = frozenset((":method", ":scheme", ":path", ":authority"))
_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F) if c != 0x25)  # gRPC keeps these, % not
_SETTINGS = b"".join(struct.pack(">HI", key, value) for key, value in (
    (0x3, MAX_STREAMS), (0x4, STREAM_WINDOW), (0x6, MAX_HEADER_LIST)))


class H2Error(Exception):
    """The client broke HTTP/2: the connection ends with GOAWAY and this code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return _HEAD.pack(len(payload))[1:] + bytes((kind, flags)) + _HEAD.pack(stream) + payload


class Handler(Protocol):
    """What a call's stream tells the gRPC layer."""

    def opened(self, stream: Stream) -> None: ...

    def ended(self, stream: Stream) -> None: ...


class Stream:
    """One call: its request headers, its complete messages as they come, its answer."""

    __slots__ = (
        "_held",
        "_need",
        "_out",
        "_partial",
        "_sent_headers",
        "_trailers",
        "_waiter",
        "connection",
        "done",
        "ended",
        "id",
        "messages",
        "metadata",
        "path",
        "recv_owed",
        "refused",
        "send_window",
        "task",
    )

    def __init__(self, sid: int, connection: Connection, path: str,
                 metadata: dict[str, str]) -> None:
        self.id = sid
        self.connection = connection
        self.path = path
        self.metadata = metadata  # text headers, lower-case names, no pseudo-headers
        self.messages: deque[bytes] = deque()
        self.ended = False  # the client half-closed
        self.done = False  # we sent our trailers (or reset it)
        self.refused = False  # a message over the cap: further data is dropped
        self.task: asyncio.Task[Any] | None = None
        self._partial = bytearray()
        self._need = -1  # the length of the message being read, prefix included; -1: none
        self._waiter: asyncio.Future[None] | None = None
        self._sent_headers = False
        self._out = bytearray()  # DATA waiting for flow-control window
        self._trailers: bytes | None = None
        self.send_window = connection.peer_window
        self.recv_owed = 0
        self._held = 0  # request bytes kept (partial and queued messages)

    def take(self) -> bytes | None:
        """The next request message if one is complete (its bytes no longer count as held)."""
        if not self.messages:
            return None
        message = self.messages.popleft()
        self._release(len(message) + 5)
        return message

    async def next_message(self) -> bytes | None:
        """The next request message, or None once the client half-closed. While the
        client leaves this call's answers unsent (no window, or not reading), none is
        taken: its requests wait in the flow-control window, not its answers in memory."""
        while not self.messages or len(self._out) > OUT_BACKLOG:
            if self.done or (self.ended and not self.messages):
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self.take()

    def send(self, message: bytes) -> None:
        """One response message (headers go first, once)."""
        if self.done:
            return
        if not self._sent_headers:
            self._sent_headers = True
            self.connection.write(frame(HEADERS, END_HEADERS, self.id, _OK_HEADERS))
        self._out += struct.pack(">BI", 0, len(message))
        self._out += message
        self.connection.pump(self)

    def finish(self, code: int = 0, message: str = "") -> None:
        """The call's status in trailers (alone, "trailers-only", if nothing was sent)."""
        if self.done or self._trailers is not None:
            return
        if code == 0:  # a call answered OK earns the client room for a reset
            self.connection.completed += 1
        fields = [("grpc-status", str(code))]
        if message:
            fields.append(("grpc-message", quote(message, safe=_PRINTABLE)))
        if not self._sent_headers:
            block = hpack.encode([(":status", "200"), ("content-type", "application/grpc"),
                                  *fields])
        else:
            block = _OK_TRAILERS if code == 0 and not message else hpack.encode(fields)
        self._trailers = block
        self.connection.pump(self)

    # -- fed by the connection --------------------------------------------------------------

    def _received(self, data: bytes) -> tuple[int, str] | None:
        """Take DATA bytes; the gRPC status refusing the call if a message cannot be taken
        (over the cap, or compressed)."""
        if self.refused:
            return None
        partial = self._partial
        partial += data
        self._held += len(data)
        self.connection.buffered += len(data)
        limit = self.connection.server.max_message
        while True:
            if self._need < 0:  # waiting for a message's 5-byte prefix
                if len(partial) < 5:
                    break
                flag, length = partial[0], _HEAD.unpack_from(partial, 1)[0]
                if flag:
                    self.refused = True
                    return 12, "compressed messages are not supported"  # UNIMPLEMENTED
                if length > limit:
                    self.refused = True
                    return 8, f"message of {length} bytes is over the {limit}-byte cap"
                self._need = 5 + length
            if len(partial) < self._need:
                break
            self.messages.append(bytes(partial[5:self._need]))
            del partial[:self._need]
            self._need = -1
            self._wake()
        return None

    def _release(self, size: int) -> None:
        self._held -= size
        self.connection.buffered -= size
        self.connection.give_back()

    def _release_all(self) -> None:
        self.messages.clear()
        self._partial.clear()
        self._release(self._held)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _half_closed(self) -> str | None:
        self.ended = True
        self._wake()
        if self._partial and not self.refused:
            self._release_all()
            return "a message is cut short"
        return None


class Connection(asyncio.Protocol):
    """One client connection: frames parsed as they arrive, answers written per loop turn."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, Stream] = {}
        self.decoder = hpack.Decoder(max_list=MAX_HEADER_LIST)
        self.peer_window = 65535  # the client's SETTINGS_INITIAL_WINDOW_SIZE
        self.peer_frame = MAX_FRAME
        self.send_window = 65535  # connection-level, for what we send
        self.recv_window = CONN_WINDOW
        self.recv_owed = 0  # bytes read and not yet given back as window
        self.buffered = 0  # request bytes held in streams, not yet given to a handler
        self.last_id = 0
        self.closing = False  # GOAWAY sent: no new streams
        self._buffer = bytearray()
        self._preface = False
        self._settled = False  # the client's first SETTINGS arrived
        self._block: bytearray | None = None  # a header block waiting for CONTINUATION
        self._block_stream = 0
        self._block_end = False
        self._block_frames = 0
        self._out: list[bytes] = []
        self._blocked: set[Stream] = set()  # answers waiting: for a window, or paused writing
        self._resets = 0
        self.completed = 0  # calls answered OK (not failures, which can be had cheaply)
        self._paused = False
        self._timer: asyncio.TimerHandle | None = None
        self.idle_since: float | None = self.loop.time()  # None while a call is open
        self.last_read = self.loop.time()
        self._idle_budget, self._idle_at = IDLE_BURST, self.last_read

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.write(frame(SETTINGS, 0, 0, _SETTINGS)
                   + frame(WINDOW_UPDATE, 0, 0, _HEAD.pack(CONN_WINDOW - 65535)))
        self._timer = self.loop.call_later(PREFACE_TIMEOUT_S, self._too_slow)
        if self.closing:  # over the server's connection cap
            self.go_away(ENHANCE_YOUR_CALM, "too many connections")

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
        self.transport = None
        for stream in list(self.streams.values()):
            self._drop(stream)

    def pause_writing(self) -> None:
        """The client reads slower than we answer: stop reading, and stop answering (``pump``)
        so answers wait in their streams, where ``OUT_BACKLOG`` holds them."""
        self._paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self.transport is not None:
            self.transport.resume_reading()
        self._pump_blocked()

    def data_received(self, data: bytes) -> None:
        self.last_read = self.loop.time()
        buffer = self._buffer
        buffer += data
        try:
            if not self._preface:
                if len(buffer) < len(PREFACE):
                    if not PREFACE.startswith(bytes(buffer)):
                        raise H2Error(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                    return
                if buffer[:len(PREFACE)] != PREFACE:
                    raise H2Error(PROTOCOL_ERROR, "not an HTTP/2 client preface")
                del buffer[:len(PREFACE)]
                self._preface = True
            self._frames(buffer)
        except H2Error as exc:
            self.go_away(exc.code, str(exc))

    # -- frames -----------------------------------------------------------------------------

    def _frames(self, buffer: bytearray) -> None:
        data = bytes(buffer)
        at, end = 0, len(data)
        try:
            while end - at >= 9 and self.transport is not None:
                length = int.from_bytes(data[at:at + 3], "big")
                if length > MAX_FRAME:
                    raise H2Error(FRAME_SIZE_ERROR, f"frame of {length} bytes")
                if end - at - 9 < length:
                    break
                kind, flags = data[at + 3], data[at + 4]
                sid = _HEAD.unpack_from(data, at + 5)[0] & 0x7FFFFFFF
                payload = data[at + 9:at + 9 + length]
                at += 9 + length
                if not self._settled and kind != SETTINGS:
                    raise H2Error(PROTOCOL_ERROR, "the first frame must be SETTINGS")
                if self._block is not None and kind != CONTINUATION:
                    raise H2Error(PROTOCOL_ERROR, "a header block was interrupted")
                self._frame(kind, flags, sid, payload)
        finally:
            del buffer[:at]
        self.give_back()

    def _frame(self, kind: int, flags: int, sid: int, payload: bytes) -> None:
        if kind == DATA:
            self._data(flags, sid, payload)
        elif kind == HEADERS:
            self._headers(flags, sid, payload)
        elif kind == CONTINUATION:
            self._continuation(flags, sid, payload)
        elif kind == SETTINGS:
            self._spend_idle()
            self._settings(flags, sid, payload)
        elif kind == WINDOW_UPDATE:
            self._window_update(sid, payload)
        elif kind == PING:
            self._spend_idle()
            if sid or len(payload) != 8:
                raise H2Error(FRAME_SIZE_ERROR if len(payload) != 8 else PROTOCOL_ERROR,
                                       "bad PING")
            if not flags & ACK:
                self.write(frame(PING, ACK, 0, bytes(payload)))
        elif kind == RST_STREAM:
            if len(payload) != 4:
                raise H2Error(FRAME_SIZE_ERROR, "bad RST_STREAM")
            if not sid:
                raise H2Error(PROTOCOL_ERROR, "RST_STREAM on stream 0")
            if sid > self.last_id:
                raise H2Error(PROTOCOL_ERROR, "RST_STREAM on an idle stream")
            stream = self.streams.get(sid)
            if stream is None:
                self._spend_idle()
            else:
                self._spend_reset()
                self._drop(stream)
        elif kind == PRIORITY:
            self._spend_idle()
            if len(payload) != 5:
                raise H2Error(FRAME_SIZE_ERROR, "bad PRIORITY")
            if not sid:
                raise H2Error(PROTOCOL_ERROR, "PRIORITY on stream 0")
        elif kind == GOAWAY:
            self.closing = True
            self._close_if_idle()
        elif kind == PUSH_PROMISE:
            raise H2Error(PROTOCOL_ERROR, "clients may not push")
        else:  # ignored, as RFC 9113 requires (their size was checked)
            self._spend_idle()

    def _spend_idle(self) -> None:
        """A frame that carries no call (PING, SETTINGS, PRIORITY, unknown, DATA with no
        data, any frame on a closed call): ``IDLE_BURST`` at once and ``IDLE_RATE`` a
        second are plenty; a flood would keep a core busy for nothing (CVE-2019-9512,
        9515, 9518)."""
        now = self.loop.time()
        self._idle_budget = min(IDLE_BURST, self._idle_budget
                                + (now - self._idle_at) * IDLE_RATE) - 1
        self._idle_at = now
        if self._idle_budget < 0:
            raise H2Error(ENHANCE_YOUR_CALM, "too many frames that carry no call")

    def _settings(self, flags: int, sid: int, payload: bytes) -> None:
        if sid:
            raise H2Error(PROTOCOL_ERROR, "SETTINGS on a stream")
        if flags & ACK:
            if payload:
                raise H2Error(FRAME_SIZE_ERROR, "SETTINGS ACK with a payload")
            return
        if len(payload) % 6:
            raise H2Error(FRAME_SIZE_ERROR, "SETTINGS length not a multiple of 6")
        grew = False
        for i in range(0, len(payload), 6):
            key, value = struct.unpack_from(">HI", payload, i)
            if key == 0x4:  # INITIAL_WINDOW_SIZE: applies to open streams too
                if value > MAX_WINDOW:
                    raise H2Error(FLOW_CONTROL_ERROR, "window too large")
                delta, self.peer_window = value - self.peer_window, value
                grew = grew or delta > 0
                for stream in self.streams.values():
                    stream.send_window += delta
                    if stream.send_window > MAX_WINDOW:
                        raise H2Error(FLOW_CONTROL_ERROR, "window too large")
            elif key == 0x5:
                if not MAX_FRAME <= value <= 0xFFFFFF:
                    raise H2Error(PROTOCOL_ERROR, "bad SETTINGS_MAX_FRAME_SIZE")
                self.peer_frame = value
            elif key == 0x2 and value > 1:
                raise H2Error(PROTOCOL_ERROR, "bad SETTINGS_ENABLE_PUSH")
        self.write(frame(SETTINGS, ACK, 0))
        if not self._settled:
            self._settled = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if grew:  # only streams waiting for window (not all open ones, per 9-byte frame)
            self._pump_blocked()

    def _window_update(self, sid: int, payload: bytes) -> None:
        if len(payload) != 4:
            raise H2Error(FRAME_SIZE_ERROR, "bad WINDOW_UPDATE")
        increment = _HEAD.unpack_from(payload)[0] & 0x7FFFFFFF
        if not sid:
            if not increment:
                raise H2Error(PROTOCOL_ERROR, "WINDOW_UPDATE of 0")
            self.send_window += increment
            if self.send_window > MAX_WINDOW:
                raise H2Error(FLOW_CONTROL_ERROR, "window too large")
            self._pump_blocked()
            return
        if sid > self.last_id:
            raise H2Error(PROTOCOL_ERROR, "WINDOW_UPDATE on an idle stream")
        stream = self.streams.get(sid)
        if stream is None:
            self._spend_idle()
            return  # closed meanwhile
        if not increment:
            self._reset(stream, PROTOCOL_ERROR)
            return
        stream.send_window += increment
        if stream.send_window > MAX_WINDOW:
            self._reset(stream, FLOW_CONTROL_ERROR)
            return
        self.pump(stream)

    def _headers(self, flags: int, sid: int, payload: bytes) -> None:
        if not sid or not sid % 2:
            raise H2Error(PROTOCOL_ERROR, "HEADERS on an even or zero stream")
        payload = _unpadded(flags, payload)
        if flags & PRIORITY_FLAG:
            if len(payload) < 5:
                raise H2Error(FRAME_SIZE_ERROR, "HEADERS too short")
            payload = payload[5:]
        self._block = bytearray(payload)
        self._block_stream = sid
        self._block_end = bool(flags & END_STREAM)
        self._block_frames = 1
        self._block_check()
        if flags & END_HEADERS:
            self._header_block()

    def _continuation(self, flags: int, sid: int, payload: bytes) -> None:
        if self._block is None or sid != self._block_stream:
            raise H2Error(PROTOCOL_ERROR, "unexpected CONTINUATION")
        self._block += payload
        self._block_frames += 1
        self._block_check()
        if flags & END_HEADERS:
            self._header_block()

    def _block_check(self) -> None:
        if self._block is not None and (len(self._block) > MAX_HEADER_BLOCK
                                        or self._block_frames > MAX_BLOCK_FRAMES):
            raise H2Error(ENHANCE_YOUR_CALM, "header block too large")

    def _header_block(self) -> None:
        block, sid, ended = bytes(self._block or b""), self._block_stream, self._block_end
        self._block = None
        try:
            headers = self.decoder.decode(block)
        except hpack.HpackError as exc:
            raise H2Error(0x9, str(exc)) from None  # COMPRESSION_ERROR
        stream = self.streams.get(sid)
        if stream is not None:  # trailers from the client: they end its side
            if not ended or stream.ended:
                raise H2Error(PROTOCOL_ERROR, "HEADERS on an open stream")
            self._end(stream)
            return
        if sid <= self.last_id:  # a closed call: late trailers, after our early answer
            if not ended:
                raise H2Error(STREAM_CLOSED, "HEADERS on a closed stream")
            return
        self.last_id = sid
        if self.closing or len(self.streams) >= MAX_STREAMS:
            self.write(frame(RST_STREAM, 0, sid, _HEAD.pack(REFUSED_STREAM)))
            return
        path, metadata, failure = _request(headers)
        stream = Stream(sid, self, path, metadata)
        self.streams[sid] = stream
        self.idle_since = None
        if failure is not None:
            stream.refused = True
            stream.finish(*failure)
        else:
            self.server.handler.opened(stream)
        if ended:
            self._end(stream)

    def _data(self, flags: int, sid: int, payload: bytes) -> None:
        size = len(payload)
        self.recv_window -= size
        if self.recv_window < 0:
            raise H2Error(FLOW_CONTROL_ERROR, "data beyond the connection window")
        self.recv_owed += size
        if not sid:
            raise H2Error(PROTOCOL_ERROR, "DATA on stream 0")
        stream = self.streams.get(sid)
        if stream is None or stream.ended:
            if sid > self.last_id:
                raise H2Error(PROTOCOL_ERROR, "DATA on an idle stream")
            self._spend_idle()
            return  # a stream we answered or reset: its late data only counts as window
        data = _unpadded(flags, payload)
        if not data and not flags & END_STREAM:
            self._spend_idle()
        stream.recv_owed += size
        if stream.recv_owed > STREAM_WINDOW:
            raise H2Error(FLOW_CONTROL_ERROR, "data beyond the stream window")
        refusal = stream._received(data)
        if refusal is not None:
            stream._release_all()
            stream.finish(*refusal)
        if flags & END_STREAM:
            self._end(stream)
        elif stream.recv_owed >= STREAM_WINDOW // 2 and not stream.refused:
            self.write(frame(WINDOW_UPDATE, 0, sid, _HEAD.pack(stream.recv_owed)))
            stream.recv_owed = 0

    def _end(self, stream: Stream) -> None:
        cut = stream._half_closed()
        if stream.refused:
            self._close_if_done(stream)
            return
        if cut is not None:
            stream.finish(13, cut)  # INTERNAL, as grpc answers a truncated message
            return
        self.server.handler.ended(stream)

    def give_back(self) -> None:
        """Window for what was read, unless the connection already holds a message's worth."""
        if self.recv_owed >= CONN_WINDOW // 4 and \
                self.buffered <= self.server.max_message + STREAM_WINDOW:
            self.write(frame(WINDOW_UPDATE, 0, 0, _HEAD.pack(self.recv_owed)))
            self.recv_window += self.recv_owed
            self.recv_owed = 0

    # -- answers ------------------------------------------------------------------------------

    def pump(self, stream: Stream) -> None:
        """Send what ``stream`` has, as far as both windows allow; then its trailers."""
        out = stream._out
        backlogged = len(out) > OUT_BACKLOG
        while out:
            size = min(len(out), self.send_window, stream.send_window, self.peer_frame)
            if size <= 0 or self._paused:
                self._blocked.add(stream)  # until a window grows or the client reads
                return
            self.write(frame(DATA, 0, stream.id, bytes(out[:size])))
            del out[:size]
            self.send_window -= size
            stream.send_window -= size
            if backlogged and len(out) <= OUT_BACKLOG:
                backlogged = False
                stream._wake()
        if stream._trailers is not None and not stream.done:
            self.write(frame(HEADERS, END_HEADERS | END_STREAM, stream.id, stream._trailers))
            stream.done = True
            if not stream.ended:  # answered before the client finished: it may stop sending
                self.write(frame(RST_STREAM, 0, stream.id, _HEAD.pack(NO_ERROR)))
                stream.ended = True
            self._close_if_done(stream)

    def _pump_blocked(self) -> None:
        blocked, self._blocked = self._blocked, set()
        for stream in blocked:
            self.pump(stream)

    def write(self, data: bytes) -> None:
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(data)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def _close_if_done(self, stream: Stream) -> None:
        if stream.done and stream.ended:
            self.streams.pop(stream.id, None)
            self._blocked.discard(stream)
            self._close_if_idle()

    def _reset(self, stream: Stream, code: int) -> None:
        """Reset a call the client broke: as its own RST_STREAM would, it spends the reset
        budget (else breaking calls on purpose is rapid reset again: "MadeYouReset")."""
        self.write(frame(RST_STREAM, 0, stream.id, _HEAD.pack(code)))
        self._spend_reset()
        self._drop(stream)

    def _spend_reset(self) -> None:
        self._resets += 1
        if self._resets > self.completed + RESET_BUDGET:
            raise H2Error(ENHANCE_YOUR_CALM, "too many calls reset")

    def _drop(self, stream: Stream) -> None:
        """Forget a stream at once: reset by either side, or the connection gone."""
        stream.done = stream.ended = True
        stream._wake()
        stream._release_all()
        if stream.task is not None and not stream.task.done():
            stream.task.cancel()
        self.streams.pop(stream.id, None)
        self._blocked.discard(stream)
        self._close_if_idle()

    def go_away(self, code: int = NO_ERROR, reason: str = "") -> None:
        """Refuse new calls; with an error, close now, else once the open calls end."""
        self.closing = True
        self.write(frame(GOAWAY, 0, 0, _HEAD.pack(self.last_id) + _HEAD.pack(code)
                         + reason.encode()[:128]))
        if code != NO_ERROR:
            self._flush()
            if self.transport is not None:
                self.transport.close()
            return
        self._close_if_idle()

    def _close_if_idle(self) -> None:
        if self.streams:
            return
        if self.idle_since is None:
            self.idle_since = self.loop.time()
        if self.closing and self.transport is not None:
            self._flush()
            self.transport.close()

    def _too_slow(self) -> None:
        self._timer = None
        if not self._settled and self.transport is not None:
            self.go_away(PROTOCOL_ERROR, "no client preface in time")


def _unpadded(flags: int, payload: bytes) -> bytes:
    if not flags & PADDED:
        return payload
    if not payload or payload[0] >= len(payload):
        raise H2Error(PROTOCOL_ERROR, "padding longer than the frame")
    return payload[1:len(payload) - payload[0]]


def _request(headers: Iterable[tuple[str, str]]
             ) -> tuple[str, dict[str, str], tuple[int, str] | None]:
    """(path, metadata, failure): a call that is not a gRPC POST fails with a status."""
    pseudo: dict[str, str] = {}
    metadata: dict[str, str] = {}
    regular = False
    for name, value in headers:  # RFC 9113 8.2-8.3: else malformed (INTERNAL, as grpc says)
        if not name.islower() and name != name.lower():  # an "X-Api-Key" would go unseen
            return "", {}, (13, "header names must be lower case")
        if name.startswith(":"):
            if regular or name not in _PSEUDO:
                return "", {}, (13, f"pseudo-header {name[:32]} out of place")
            pseudo[name] = value
            continue
        regular = True
        if not name.endswith("-bin"):  # binary metadata: nothing here reads it
            metadata[name] = value
    path = pseudo.get(":path", "")
    if pseudo.get(":method") != "POST" or not path:
        return path, metadata, (12, "gRPC calls are POSTs with a path")  # UNIMPLEMENTED
    if not metadata.get("content-type", "").startswith("application/grpc"):
        return path, metadata, (3, "content-type must be application/grpc")
    if metadata.get("grpc-encoding", "identity") != "identity":
        return path, metadata, (12, "compressed messages are not supported")
    return path, metadata, None


class Server:
    """The listening side: connections of one worker, ``handler`` for their calls."""

    def __init__(self, handler: Handler, max_message: int, max_connections: int) -> None:
        self.handler = handler
        self.max_message = max_message
        self.max_connections = max_connections
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, host: str, port: int, reuse_port: bool) -> int:
        """Listen; the port bound (``port`` 0 picks one)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, host, port,
                                                reuse_port=reuse_port or None, backlog=2048)
        return int(self._server.sockets[0].getsockname()[1])

    def _connection(self) -> asyncio.Protocol:
        connection = Connection(self)
        if len(self.connections) >= self.max_connections and not self._make_room():
            connection.closing = True  # answered with GOAWAY, then closed
        return connection

    def _make_room(self) -> bool:
        """Over the cap, a new connection takes the place of the one without a call for
        longest (sent a GOAWAY, which a gRPC client follows by reconnecting), else of one
        that has sent nothing for ``STALLED_S`` (closed, its calls with it): neither idle
        nor stalled clients can keep the port to themselves."""
        idle = [c for c in self.connections if c.idle_since is not None]
        if idle:
            evicted = min(idle, key=lambda c: c.idle_since or 0.0)
            evicted.go_away()
        else:
            stalled = min(self.connections, key=lambda c: c.last_read, default=None)
            if stalled is None or stalled.loop.time() - stalled.last_read < STALLED_S:
                return False
            evicted = stalled
            evicted.go_away(ENHANCE_YOUR_CALM, "stalled at the connection cap")
        self.connections.discard(evicted)
        return True

    async def close(self, grace_s: float) -> None:
        """Stop listening, tell every client to go (GOAWAY), let open calls finish."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.go_away()
        deadline = asyncio.get_running_loop().time() + grace_s
        while self.connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.abort()
