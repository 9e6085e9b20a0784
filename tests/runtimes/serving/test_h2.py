"""The HTTP/2 layer under gRPC, on raw sockets: hostile framing ends in a status, a reset
or a GOAWAY — never a hang, a crash or unbounded memory.

The handler here echoes each call's message (``/slow`` waits first), so a test
sees exactly what the server framed; the real gRPC service behind it is tested
through ``modelport serve`` and ``tritonclient`` in ``test_grpc.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import pytest
import uvloop

from modelport.runtimes.serving import h2, hpack

MAX_MESSAGE = 1000


class Echo:
    """Answers a call with the message it got, once the client half-closed."""

    def opened(self, stream: h2.Stream) -> None:
        if stream.path == "/stream":  # answer each message as it comes
            stream.task = asyncio.get_running_loop().create_task(self._each(stream))

    def ended(self, stream: h2.Stream) -> None:
        if stream.path != "/stream":
            stream.task = asyncio.get_running_loop().create_task(self._answer(stream))

    async def _answer(self, stream: h2.Stream) -> None:
        if stream.path == "/slow":
            await asyncio.sleep(0.3)
        message = stream.take()
        stream.send(message or b"")
        stream.finish(0)

    async def _each(self, stream: h2.Stream) -> None:
        while (message := await stream.next_message()) is not None:
            stream.send(message)
        stream.finish(0)


def run(scenario: Callable[[int], Awaitable[Any]], max_connections: int = 10) -> Any:
    async def main() -> Any:
        server = h2.Server(Echo(), MAX_MESSAGE, max_connections)
        port = await server.start("127.0.0.1", 0, False)
        try:
            return await asyncio.wait_for(scenario(port), 10)
        finally:
            await server.close(1)
            await Client.close_all()

    return uvloop.run(main())


def headers(path: str = "/echo", **extra: str) -> bytes:
    return hpack.encode([(":method", "POST"), (":scheme", "http"), (":path", path),
                         (":authority", "t"), ("content-type", "application/grpc"),
                         ("te", "trailers"), *extra.items()])


def message(payload: bytes) -> bytes:
    return struct.pack(">BI", 0, len(payload)) + payload


class Client:
    opened: ClassVar[list[Client]] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        Client.opened.append(self)

    @classmethod
    async def close_all(cls) -> None:
        while cls.opened:
            writer = cls.opened.pop().writer
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @classmethod
    async def connect(cls, port: int, preface: bool = True) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        if preface:
            client.send(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0))
        return client

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def call(self, sid: int, payload: bytes, path: str = "/echo") -> None:
        self.send(h2.frame(h2.HEADERS, h2.END_HEADERS, sid, headers(path))
                  + h2.frame(h2.DATA, h2.END_STREAM, sid, message(payload)))

    async def frame(self) -> tuple[int, int, int, bytes]:
        head = await self.reader.readexactly(9)
        length = int.from_bytes(head[:3], "big")
        sid = struct.unpack(">I", head[5:])[0]
        return head[3], head[4], sid, await self.reader.readexactly(length)

    async def until(self, kind: int, sid: int | None = None) -> tuple[int, int, int, bytes]:
        """Frames up to the first of ``kind`` (on ``sid``): that one."""
        while True:
            got = await self.frame()
            if got[0] == kind and (sid is None or got[2] == sid):
                return got

    async def answer(self, sid: int) -> tuple[bytes, dict[str, str]]:
        """A call's message and trailers (decoded with a fresh decoder: we encode plainly)."""
        body = b""
        while True:
            kind, flags, got_sid, payload = await self.frame()
            if got_sid != sid:
                continue
            if kind == h2.DATA:
                body += payload
            elif kind == h2.HEADERS and flags & h2.END_STREAM:
                return body[5:], dict(hpack.Decoder().decode(payload))

    async def goaway(self) -> int:
        """The GOAWAY's error code, and the connection closes after it."""
        code = struct.unpack(">I", (await self.until(h2.GOAWAY))[3][4:8])[0]
        assert await self.reader.read() == b""
        return code


def test_a_call_is_answered_and_the_connection_stays_open() -> None:
    async def scenario(port: int) -> None:
        client = await Client.connect(port)
        client.call(1, b"hello")
        assert await client.answer(1) == (b"hello", {"grpc-status": "0"})
        client.call(3, b"again")
        assert (await client.answer(3))[0] == b"again"
        # a message split over DATA frames, with padding, and a PING answered on the way
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 5, headers())
                    + h2.frame(h2.DATA, h2.PADDED, 5, b"\x03" + message(b"abcdef")[:4] + b"xxx")
                    + h2.frame(h2.PING, 0, 0, b"12345678")
                    + h2.frame(h2.DATA, h2.END_STREAM, 5, message(b"abcdef")[4:]))
        assert (await client.until(h2.PING))[1:] == (h2.ACK, 0, b"12345678")
        assert (await client.answer(5))[0] == b"abcdef"

    run(scenario)


def test_streamed_messages_are_answered_one_by_one() -> None:
    async def scenario(port: int) -> None:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers("/stream"))
                    + h2.frame(h2.DATA, 0, 1, message(b"one") + message(b"")))
        assert (await client.until(h2.DATA, 1))[3] == message(b"one")
        assert (await client.until(h2.DATA, 1))[3] == message(b"")
        client.send(h2.frame(h2.DATA, h2.END_STREAM, 1, message(b"two")))
        assert await client.answer(1) == (b"two", {"grpc-status": "0"})

    run(scenario)


def test_a_frame_over_the_size_limit_ends_the_connection_before_its_payload() -> None:
    async def scenario(port: int) -> None:
        client = await Client.connect(port)
        client.send(struct.pack(">I", h2.MAX_FRAME + 1)[1:] + bytes((h2.DATA, 0)) +
                    struct.pack(">I", 1))  # no payload sent: the header alone is enough
        assert await client.goaway() == h2.FRAME_SIZE_ERROR

    run(scenario)


def test_a_message_over_the_cap_is_refused_from_its_prefix() -> None:
    async def scenario(port: int) -> None:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers())
                    + h2.frame(h2.DATA, 0, 1, struct.pack(">BI", 0, MAX_MESSAGE + 1)))
        _, trailers = await client.answer(1)
        assert trailers["grpc-status"] == "8" and "cap" in trailers["grpc-message"]
        client.call(3, b"still here")  # the connection goes on
        assert (await client.answer(3))[0] == b"still here"

    run(scenario)


@pytest.mark.parametrize(("data", "status"), [
    (b"\x00\x00\x00\x00\x09abc", "13"),  # cut short at END_STREAM: INTERNAL
    (b"\x01\x00\x00\x00\x01a", "12"),  # compressed: UNIMPLEMENTED
])
def test_bad_message_framing_gets_a_status(data: bytes, status: str) -> None:
    async def scenario(port: int) -> dict[str, str]:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers())
                    + h2.frame(h2.DATA, h2.END_STREAM, 1, data))
        return (await client.answer(1))[1]

    assert run(scenario)["grpc-status"] == status


@pytest.mark.parametrize(("block", "status", "words"), [
    (hpack.encode([(":method", "POST"), (":path", "/echo"), ("Content-Type", "application/grpc")]),
     "13", "lower case"),
    (hpack.encode([(":method", "POST"), ("content-type", "application/grpc"),
                   (":path", "/echo")]), "13", "out of place"),
    (hpack.encode([(":method", "POST"), (":path", "/echo"), (":status", "200"),
                   ("content-type", "application/grpc")]), "13", "out of place"),
    (hpack.encode([(":method", "POST"), ("content-type", "application/grpc")]), "12", "path"),
])
def test_malformed_request_headers_get_a_status(block: bytes, status: str, words: str) -> None:
    async def scenario(port: int) -> dict[str, str]:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, block))
        trailers = (await client.answer(1))[1]
        client.call(3, b"still here")  # a stream's failure, not the connection's
        assert (await client.answer(3))[0] == b"still here"
        return trailers

    trailers = run(scenario)
    assert trailers["grpc-status"] == status and words in trailers["grpc-message"]


@pytest.mark.parametrize(("frames", "code"), [
    (h2.frame(h2.SETTINGS, 0, 0, b"\x00" * 7), h2.FRAME_SIZE_ERROR),
    (h2.frame(h2.PING, 0, 0, b"1234"), h2.FRAME_SIZE_ERROR),
    (h2.frame(h2.WINDOW_UPDATE, 0, 0, b"\x00\x00\x00\x00"), h2.PROTOCOL_ERROR),
    (h2.frame(h2.WINDOW_UPDATE, 0, 0, struct.pack(">I", h2.MAX_WINDOW)), h2.FLOW_CONTROL_ERROR),
    (h2.frame(h2.HEADERS, h2.END_HEADERS | h2.PADDED, 1, b"\x09abc"), h2.PROTOCOL_ERROR),
    (h2.frame(h2.HEADERS, h2.END_HEADERS, 2, headers()), h2.PROTOCOL_ERROR),
    (h2.frame(h2.DATA, 0, 7, b"x"), h2.PROTOCOL_ERROR),  # on a stream never opened
    (h2.frame(h2.HEADERS, 0, 1, headers()) + h2.frame(h2.PING, 0, 0, b"12345678"),
     h2.PROTOCOL_ERROR),  # a header block interrupted
    (h2.frame(h2.PUSH_PROMISE, 0, 1, b"\x00\x00\x00\x02"), h2.PROTOCOL_ERROR),
    (h2.frame(h2.HEADERS, h2.END_HEADERS, 1, b"\xff\xff\xff\xff\xff\x7f"), 0x9),  # index
    (h2.frame(h2.PRIORITY, 0, 0, b"\x00" * 5), h2.PROTOCOL_ERROR),
    (h2.frame(h2.RST_STREAM, 0, 1, b"\x00" * 5), h2.FRAME_SIZE_ERROR),
])
def test_broken_framing_ends_the_connection_with_goaway(frames: bytes, code: int) -> None:
    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        client.send(frames)
        return await client.goaway()

    assert run(scenario) == code


def test_unknown_frame_types_are_ignored() -> None:
    async def scenario(port: int) -> bytes:
        client = await Client.connect(port)
        client.send(h2.frame(0x42, 0xFF, 0, b"whatever") + h2.frame(0xFA, 0, 1, b"x" * 100))
        client.call(1, b"ok")
        return (await client.answer(1))[0]

    assert run(scenario) == b"ok"


def test_an_hpack_bomb_is_cut_off() -> None:
    """One large header in the table, then a block repeating its index: the decoded list,
    not the few bytes sent, is what counts."""
    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        big = b"\x40" + hpack.encode_integer(3, 7) + b"big" + hpack.encode_integer(3000, 7) \
            + b"v" * 3000  # literal with incremental indexing: dynamic index 62
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1, headers() + big))
        await client.answer(1)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 3, headers() + b"\xbe" * 1000))
        return await client.goaway()

    assert run(scenario) == 0x9  # COMPRESSION_ERROR


def test_endless_continuation_is_cut_off() -> None:
    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, 0, 1, headers()))
        for _ in range(h2.MAX_HEADER_BLOCK // 10000 + 2):
            client.send(h2.frame(h2.CONTINUATION, 0, 1, b"\x00" * 10000))
        return await client.goaway()

    assert run(scenario) == h2.ENHANCE_YOUR_CALM


def test_empty_continuations_are_cut_off() -> None:
    """CVE-2024-27316 and kin: CONTINUATION frames carrying nothing never grow the block,
    yet would keep it open for ever: their number is capped too."""
    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, 0, 1, headers())
                    + h2.frame(h2.CONTINUATION, 0, 1) * (h2.MAX_BLOCK_FRAMES + 1))
        return await client.goaway()

    assert run(scenario) == h2.ENHANCE_YOUR_CALM


def test_trailers_after_an_early_answer_are_ignored() -> None:
    """A call answered (and reset with NO_ERROR) before the client finished: the client's
    trailers may already be on the way, and must not end every call of the connection."""
    async def scenario(port: int) -> bytes:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers())
                    + h2.frame(h2.DATA, 0, 1, struct.pack(">BI", 0, MAX_MESSAGE + 1)))
        await client.answer(1)  # refused from its prefix, then RST_STREAM(NO_ERROR)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, 1,
                             hpack.encode([("x-trailer", "late")])))
        client.call(3, b"still here")
        return (await client.answer(3))[0]

    assert run(scenario) == b"still here"


def test_streams_over_the_limit_are_refused() -> None:
    async def scenario(port: int) -> tuple[int, int, bytes]:
        client = await Client.connect(port)
        for i in range(h2.MAX_STREAMS + 1):  # each waits for its data
            client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 2 * i + 1, headers()))
        _, _, sid, payload = await client.until(h2.RST_STREAM)
        client.send(h2.frame(h2.DATA, h2.END_STREAM, 1, message(b"first")))
        return sid, struct.unpack(">I", payload)[0], (await client.answer(1))[0]

    assert run(scenario) == (2 * h2.MAX_STREAMS + 1, h2.REFUSED_STREAM, b"first")


async def slow_calls_each_cut_by(port: int, cut: Callable[[int], bytes]) -> int:
    """``RESET_BUDGET`` + 2 slow calls, each followed at once by ``cut(stream id)``: the
    code of the GOAWAY the connection ends with."""
    client = await Client.connect(port)
    for i in range(h2.RESET_BUDGET + 2):
        sid = 2 * i + 1
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, sid, headers("/slow"))
                    + h2.frame(h2.DATA, h2.END_STREAM, sid, message(b"x")) + cut(sid))
    return await client.goaway()


def test_rapid_reset_is_sent_away() -> None:
    async def scenario(port: int) -> int:
        return await slow_calls_each_cut_by(
            port, lambda sid: h2.frame(h2.RST_STREAM, 0, sid, struct.pack(">I", h2.CANCEL)))

    assert run(scenario) == h2.ENHANCE_YOUR_CALM


def test_failed_calls_do_not_buy_resets() -> None:
    """Rapid reset with a call refused on its headers (cheap for both sides) between the
    resets: only calls answered OK give the client room for more resets."""
    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        bad = hpack.encode([(":method", "GET"), (":path", "/echo")])
        for i in range(h2.RESET_BUDGET + 2):
            sid = 4 * i + 1
            client.send(h2.frame(h2.HEADERS, h2.END_HEADERS | h2.END_STREAM, sid, bad)
                        + h2.frame(h2.HEADERS, h2.END_HEADERS, sid + 2, headers("/slow"))
                        + h2.frame(h2.DATA, h2.END_STREAM, sid + 2, message(b"x"))
                        + h2.frame(h2.RST_STREAM, 0, sid + 2, struct.pack(">I", h2.CANCEL)))
        return await client.goaway()

    assert run(scenario) == h2.ENHANCE_YOUR_CALM


def test_a_slow_preface_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(h2, "PREFACE_TIMEOUT_S", 0.2)

    async def scenario(port: int) -> int:
        client = await Client.connect(port, preface=False)
        client.send(h2.PREFACE[:10])  # and nothing more
        return await client.goaway()

    assert run(scenario) == h2.PROTOCOL_ERROR


def test_connections_over_the_cap_are_sent_away() -> None:
    async def scenario(port: int) -> tuple[int, bytes]:
        first = await Client.connect(port)
        first.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers()))  # a call open: busy
        await asyncio.sleep(0.05)
        second = await Client.connect(port)
        code = await second.goaway()
        first.send(h2.frame(h2.DATA, h2.END_STREAM, 1, message(b"first stays")))
        return code, (await first.answer(1))[0]

    assert run(scenario, max_connections=1) == (h2.ENHANCE_YOUR_CALM, b"first stays")


def test_not_http2_is_refused() -> None:
    async def scenario(port: int) -> int:
        client = await Client.connect(port, preface=False)
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        return await client.goaway()

    assert run(scenario) == h2.PROTOCOL_ERROR


def test_answers_wait_for_the_clients_window() -> None:
    """A client that grants 10 bytes gets 10 bytes, then the rest after WINDOW_UPDATE."""
    async def scenario(port: int) -> bytes:
        client = await Client.connect(port, preface=False)
        client.send(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0, struct.pack(">HI", 0x4, 10)))
        client.call(1, b"0123456789abcdef")
        first = (await client.until(h2.DATA, 1))[3]
        assert len(first) == 10
        client.send(h2.frame(h2.WINDOW_UPDATE, 0, 1, struct.pack(">I", 100)))
        rest = (await client.until(h2.DATA, 1))[3]
        assert (await client.answer(1))[1] == {"grpc-status": "0"}
        return first + rest

    assert run(scenario) == message(b"0123456789abcdef")


def test_the_server_stops_with_goaway_after_open_calls() -> None:
    async def main() -> list[tuple[int, int, bytes]]:
        server = h2.Server(Echo(), MAX_MESSAGE, 10)
        port = await server.start("127.0.0.1", 0, False)
        client = await Client.connect(port)
        client.call(1, b"slow one", path="/slow")
        await asyncio.sleep(0.05)
        closing = asyncio.create_task(server.close(5))
        seen = []
        try:
            while True:  # to the end of the connection
                kind, _, sid, payload = await client.frame()
                seen.append((kind, sid, payload))
        except asyncio.IncompleteReadError:
            pass
        await closing
        await Client.close_all()
        return seen

    seen = uvloop.run(main())
    goaway = next(payload for kind, _, payload in seen if kind == h2.GOAWAY)
    assert struct.unpack(">II", goaway[:8]) == (1, h2.NO_ERROR)  # call 1 will be answered
    kinds = [kind for kind, sid, _ in seen if sid == 1]
    assert kinds == [h2.HEADERS, h2.DATA, h2.HEADERS]  # ... and it was, in full
    assert message(b"slow one") in [payload for _, sid, payload in seen if sid == 1]


# -- HPACK -------------------------------------------------------------------------------------

def test_hpack_decodes_the_rfc_examples() -> None:
    for hexed, text in [("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"),
                        ("a8eb10649cbf", "no-cache"), ("25a849e95ba97d7f", "custom-key"),
                        ("25a849e95bb8e8b4bf", "custom-value")]:
        assert hpack.huffman_decode(bytes.fromhex(hexed)) == text.encode()
    decoder = hpack.Decoder()  # RFC 7541 C.4: three requests sharing a dynamic table
    decoder.decode(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))
    decoder.decode(bytes.fromhex("828684be5886a8eb10649cbf"))
    third = decoder.decode(bytes.fromhex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))
    assert third[-2:] == ((":authority", "www.example.com"), ("custom-key", "custom-value"))
    again = decoder.decode(bytes.fromhex("828684be"))  # remembered: no table change in it
    assert decoder.decode(bytes.fromhex("828684be")) is again
    large = hpack.encode([("a", "v" * hpack.REMEMBERED_BYTES)])  # not kept: memory stays small
    assert decoder.decode(large) is not decoder.decode(large)


def test_huffman_decodes_every_byte_and_its_longest_codes() -> None:
    codes = {symbol: bits for bits, symbol in hpack._codes().items()}

    def encoded(raw: bytes) -> bytes:
        bits = "".join(codes[b] for b in raw)
        bits += "1" * (-len(bits) % 8)  # padding: EOS's first bits
        return int(bits, 2).to_bytes(len(bits) // 8, "big")

    for raw in (bytes(range(256)), bytes(range(255, -1, -1)) * 3, b"\x0a\x0d\x16" * 100):
        assert hpack.huffman_decode(encoded(raw)) == raw


@pytest.mark.parametrize("block", [
    b"\x82\x86\x84\x41\x81\xff",  # Huffman padding of 8 bits
    b"\x41\x84\xff\xff\xff\xff",  # EOS inside a string
    b"\x41\x81\x00",  # padding of zeros
    b"\xff\xff\xff\xff\xff\xff\x01",  # an integer past 2^28
    b"\x41\x85abc",  # a string past its block
    b"\x3f\xe2\x1f",  # a table size update to 4097, above the maximum
    b"\x82\x3f\x01",  # a table size update after a field
    b"\xc0",  # an index past the table
])
def test_hpack_refuses_malformed_blocks(block: bytes) -> None:
    with pytest.raises(hpack.HpackError):
        hpack.Decoder().decode(block)


# -- attacks on the server's memory and CPU ------------------------------------------------------

def run_with_server(scenario: Callable[[h2.Server, int], Awaitable[Any]],
                    max_connections: int = 10) -> Any:
    """``run``, with the server at hand: a test can look at what it holds."""
    async def main() -> Any:
        server = h2.Server(Echo(), MAX_MESSAGE, max_connections)
        port = await server.start("127.0.0.1", 0, False)
        try:
            return await asyncio.wait_for(scenario(server, port), 10)
        finally:
            await server.close(1)
            await Client.close_all()

    return uvloop.run(main())


@pytest.mark.parametrize("flood", [h2.frame(h2.PING, 0, 0, b"12345678"),
                                   h2.frame(h2.SETTINGS, 0, 0)], ids=["ping", "settings"])
def test_a_client_that_never_reads_its_acks_stops_being_read(
        flood: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """CVE-2019-9512/9515: PINGs or SETTINGS sent without reading the ACKs; the server's
    write buffer stays near its high-water mark because it stops reading (with the budget
    of such frames lifted: it would end the connection first)."""
    monkeypatch.setattr(h2, "IDLE_BURST", 1e9)
    async def scenario(server: h2.Server, port: int) -> int:
        client = await Client.connect(port)
        for _ in range(20):
            client.send(flood * 20000)  # 3.6-6.8 MB in all, never read
            await asyncio.sleep(0.01)
        (connection,) = server.connections
        assert connection.transport is not None
        return connection.transport.get_write_buffer_size()

    assert run_with_server(scenario) < 1 << 20


def test_a_stream_whose_answers_are_not_taken_stops_taking_messages() -> None:
    """A client that grants no window and streams requests: the answers wait on the server,
    so it must stop reading the requests instead of answering each into memory."""
    async def scenario(server: h2.Server, port: int) -> int:
        client = await Client.connect(port, preface=False)
        client.send(h2.PREFACE + h2.frame(h2.SETTINGS, 0, 0, struct.pack(">HI", 0x4, 0))
                    + h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers("/stream")))
        for _ in range(200):  # 200 x 16 KB of 100-byte messages
            client.send(h2.frame(h2.DATA, 0, 1, message(b"x" * 95) * 163))
            await asyncio.sleep(0.002)
        (connection,) = server.connections
        return len(connection.streams[1]._out)

    assert run_with_server(scenario) <= h2.OUT_BACKLOG + MAX_MESSAGE + 5


def test_resets_the_client_provokes_count_as_its_resets() -> None:
    """ "MadeYouReset": a WINDOW_UPDATE of 0 makes the server reset the call (its work
    cancelled, its slot freed) as RST_STREAM from the client would: the same budget holds."""
    async def scenario(port: int) -> int:
        return await slow_calls_each_cut_by(
            port, lambda sid: h2.frame(h2.WINDOW_UPDATE, 0, sid, b"\x00\x00\x00\x00"))

    assert run(scenario) == h2.ENHANCE_YOUR_CALM


def test_settings_do_not_revisit_every_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SETTINGS frame costs 9 bytes: it may not make the server look at all its open
    streams unless it gave them more window (a "settings flood" amplified 100 times)."""
    pumped = []
    pump = h2.Connection.pump
    monkeypatch.setattr(h2.Connection, "pump", lambda self, stream: (pumped.append(1),
                                                                      pump(self, stream)))

    async def scenario(port: int) -> None:
        client = await Client.connect(port)
        for i in range(h2.MAX_STREAMS):  # each waits for its data
            client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 2 * i + 1, headers()))
        client.send(h2.frame(h2.SETTINGS, 0, 0) * 1000
                    + h2.frame(h2.SETTINGS, 0, 0, struct.pack(">HI", 0x4, 65535)) * 1000)
        client.send(h2.frame(h2.PING, 0, 0, b"12345678"))
        await client.until(h2.PING)

    run(scenario)
    assert len(pumped) < 100


def test_idle_connections_make_room_for_new_ones() -> None:
    """At the connection cap, a new client takes the place of the connection that has
    had no call the longest: idle clients cannot keep the port to themselves."""
    async def scenario(port: int) -> tuple[int, bytes]:
        idle = await Client.connect(port)
        idle.call(1, b"done")
        await idle.answer(1)
        busy = await Client.connect(port)
        busy.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers()))  # a call still open
        await asyncio.sleep(0.05)
        newcomer = await Client.connect(port)
        code = await idle.goaway()
        newcomer.call(1, b"in")
        assert (await newcomer.answer(1))[0] == b"in"
        busy.send(h2.frame(h2.DATA, h2.END_STREAM, 1, message(b"busy stays")))
        return code, (await busy.answer(1))[0]

    assert run(scenario, max_connections=2) == (h2.NO_ERROR, b"busy stays")


def test_a_stalled_connection_makes_room_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that opens a call and falls silent (the call never half-closes, even after
    its own GOAWAY) does not hold its place at the cap once it sent nothing for
    ``STALLED_S``; one that keeps sending does."""
    monkeypatch.setattr(h2, "STALLED_S", 1.0)

    async def scenario(port: int) -> tuple[int, bytes]:
        stalled = await Client.connect(port)
        stalled.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 1, headers())
                     + h2.frame(h2.GOAWAY, 0, 0, b"\x00" * 8))
        await asyncio.sleep(0.05)
        early = await Client.connect(port)  # not stalled yet: turned away
        assert await early.goaway() == h2.ENHANCE_YOUR_CALM
        await asyncio.sleep(1.1)
        newcomer = await Client.connect(port)
        code = await stalled.goaway()
        newcomer.call(1, b"in")
        return code, (await newcomer.answer(1))[0]

    assert run(scenario, max_connections=1) == (h2.ENHANCE_YOUR_CALM, b"in")


@pytest.mark.parametrize("flood", [
    h2.frame(h2.PING, 0, 0, b"12345678"), h2.frame(h2.SETTINGS, 0, 0),
    h2.frame(h2.PRIORITY, 0, 3, b"\x00" * 5), h2.frame(0x42, 0, 0),
    h2.frame(h2.DATA, 0, 3), h2.frame(h2.DATA, h2.PADDED, 3, b"\x00"),
    h2.frame(h2.DATA, 0, 1, b"x"), h2.frame(h2.WINDOW_UPDATE, 0, 1, b"\x00\x00\x00\x01"),
    h2.frame(h2.RST_STREAM, 0, 1, b"\x00\x00\x00\x08"),
], ids=["ping", "settings", "priority", "unknown", "empty-data", "padding-only",
        "data-closed", "window-closed", "reset-closed"])
def test_a_flood_of_frames_without_a_call_is_sent_away(
        flood: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """CVE-2019-9512/9515/9518: each frame is cheap, but ~0.5 M of them a second keep a
    core busy while no call progresses; past a burst and a rate, the connection ends."""
    monkeypatch.setattr(h2, "IDLE_BURST", 100.0)

    async def scenario(port: int) -> int:
        client = await Client.connect(port)
        client.send(h2.frame(h2.HEADERS, h2.END_HEADERS, 3, headers()) + flood * 1000)
        return await client.goaway()

    assert run(scenario) == h2.ENHANCE_YOUR_CALM
