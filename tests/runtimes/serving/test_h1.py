"""modelport's HTTP/1.1 server on raw sockets: what clients and proxies rely on.

The handler here echoes what it was given, so each test sees exactly what the
server parsed; the real app behind it is tested through ``modelport serve``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
import uvloop

from modelport.errors import InvalidInputError, ModelportError
from modelport.interfaces.server import ServeConfig, check
from modelport.runtimes.serving import connection, h1
from modelport.runtimes.serving.http import Request, Response, error_response
from modelport.runtimes.serving.process import bind


async def echo(request: Request, failure: ModelportError | None = None) -> Response:
    if failure is not None:
        return error_response(failure)
    if request.path == "/slow":
        await asyncio.sleep(0.2)
    if request.path == "/crash":
        raise RuntimeError("a bug")
    doc = {"method": request.method, "path": request.path, "query": request.query,
           "body": request.body.decode(), "headers": request.headers}
    return Response(200, orjson.dumps(doc))


Scenario = Callable[[int, h1.Server], Awaitable[Any]]


def run(scenario: Scenario, max_body: int = 1000, busy_poll_s: float = h1.BUSY_POLL_S,
        loop: str = "asyncio") -> Any:
    """Run ``scenario`` against a server on asyncio's loop or on uvloop, which
    ``modelport serve`` uses and which orders a turn's callbacks its own way."""
    async def main() -> Any:
        sock = bind("127.0.0.1", 0)
        server = h1.Server(echo, h1.Options(max_body, busy_poll_s))
        await server.start(sock)
        try:
            return await scenario(sock.getsockname()[1], server)
        finally:
            await server.close(1)

    return uvloop.run(main()) if loop == "uvloop" else asyncio.run(main())


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: t", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


LOOPS = pytest.mark.parametrize("loop", ["asyncio", "uvloop"])


@LOOPS
def test_keep_alive_and_pipelined_requests_answer_in_order(loop: str) -> None:
    async def scenario(port: int, server: h1.Server) -> list[Any]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # the slow one first: a pipelined fast request must still be answered after it
        writer.write(post("/slow", b"1") + post("/fast?x=1", b"2") + post("/m%20n", b"3"))
        answers = [await read_response(reader) for _ in range(3)]
        writer.write(post("/again", b"4"))  # the same connection, still open
        answers.append(await read_response(reader))
        writer.close()
        return [(s, orjson.loads(b)["path"], orjson.loads(b)["body"]) for s, _, b in answers]

    assert run(scenario, loop=loop) == [(200, "/slow", "1"), (200, "/fast", "2"),
                                        (200, "/m n", "3"), (200, "/again", "4")]


def test_request_parts_reach_the_handler() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/p?a=1&b=2", b"xyz", "X-Request-Id: r-7", "X-Dup: 1"))
        status, headers, body = await read_response(reader)
        writer.close()
        return status, headers["content-type"], orjson.loads(body)

    status, content_type, doc = run(scenario)
    assert status == 200 and content_type == "application/json"
    assert doc["method"] == "POST" and doc["query"] == "a=1&b=2" and doc["body"] == "xyz"
    assert doc["headers"]["x-request-id"] == "r-7"  # names are lower-cased


def test_chunked_body_and_expect_continue() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        interim = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        status, _, body = await read_response(reader)
        writer.close()
        return interim, status, orjson.loads(body)["body"]

    assert run(scenario) == (b"HTTP/1.1 100 Continue\r\n\r\n", 200, "abcde")


@LOOPS
def test_answers_written_at_the_end_of_the_turn_keep_their_order(loop: str) -> None:
    """Answers wait for the end of the loop's turn to be written together; an interim
    100 Continue for a later pipelined request must still come after them, and none
    is sent while an earlier request is still being answered."""
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/first", b"1") + b"POST /second HTTP/1.1\r\nHost: t\r\n"
                     b"Content-Length: 1\r\nExpect: 100-continue\r\n\r\n")
        first = await read_response(reader)
        interim = await reader.readuntil(b"\r\n\r\n")
        writer.write(b"2")
        second = await read_response(reader)
        writer.close()
        return orjson.loads(first[2])["path"], interim, orjson.loads(second[2])["path"]

    assert run(scenario, loop=loop) == ("/first", b"HTTP/1.1 100 Continue\r\n\r\n",
                                        "/second")

    async def slow_first(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/slow", b"1") + b"POST /second HTTP/1.1\r\nHost: t\r\n"
                     b"Content-Length: 1\r\nExpect: 100-continue\r\n\r\n")
        first = await read_response(reader)
        writer.write(b"2")  # no 100 came: the client sends its body anyway
        second = await read_response(reader)
        writer.close()
        return first[0], orjson.loads(first[2])["path"], orjson.loads(second[2])["path"]

    assert run(slow_first, loop=loop) == (200, "/slow", "/second")


@LOOPS
def test_a_client_that_half_closes_gets_every_answer(loop: str) -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/slow", b"1") + post("/a", b"2") + post("/b", b"3"))
        writer.write_eof()  # sent everything: only the answers are left to come
        answers = [await read_response(reader) for _ in range(3)]
        rest = await reader.read()  # then the server closes
        writer.close()
        return ([orjson.loads(b)["path"] for _, _, b in answers],
                [h.get("connection") for _, h, _ in answers], rest)

    # the last answer says the connection closes, and it does
    assert run(scenario, loop=loop) == (["/slow", "/a", "/b"], [None, None, "close"], b"")


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_413_and_the_connection_closes(declared: bool) -> None:
    big = b"x" * 5000

    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if declared:
            writer.write(post("/big", big))
        else:  # chunked: the size is only known while reading
            writer.write(b"POST /big HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + b"".join(b"%x\r\n%s\r\n" % (500, b"x" * 500) for _ in range(10))
                         + b"0\r\n\r\n")
        status, headers, body = await read_response(reader)
        rest = await reader.read()
        writer.close()
        return status, headers.get("connection"), orjson.loads(body)["error"], rest

    status, connection, error, rest = run(scenario)
    assert status == 413 and connection == "close" and "1,000-byte limit" in error
    assert rest == b""  # closed by the server


def test_malformed_requests_get_400_json_then_close() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        status, _, body = await read_response(reader)
        rest = await reader.read()
        writer.close()
        return status, orjson.loads(body), rest

    status, doc, rest = run(scenario)
    assert status == 400 and doc["error"].startswith("malformed HTTP request") and rest == b""


def test_too_many_header_bytes_is_431() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        filler = [f"X-F{i}: {'v' * 1000}" for i in range(70)]
        writer.write(post("/h", b"", *filler))
        status, headers, _ = await read_response(reader)
        writer.close()
        return status, headers.get("connection")

    assert run(scenario) == (431, "close")


def test_http10_and_connection_close_end_the_connection_head_has_no_body() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        out = []
        for request in (b"GET /a HTTP/1.0\r\n\r\n",
                        b"GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status, headers, _ = await read_response(reader)
            out.append((status, headers.get("connection"), await reader.read()))
            writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        status, _, body = await read_response(reader)  # the next answer follows directly
        writer.close()
        out.append((int(head.split()[1]), orjson.loads(body)["path"], status))

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        ask = b"GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        writer.write(ask)
        _, headers, _ = await read_response(reader)
        writer.write(ask)  # still open: an HTTP/1.0 client that asked was told it stays
        again, _, _ = await read_response(reader)
        writer.close()
        out.append((headers.get("connection"), again))
        return out

    assert run(scenario) == [(200, "close", b""), (200, "close", b""), (200, "/after", 200),
                             ("keep-alive", 200)]


def test_a_crashing_handler_gets_500_and_the_server_goes_on() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/crash", b""))
        status, _, body = await read_response(reader)
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/ok", b""))
        after, _, _ = await read_response(reader)
        writer.close()
        return status, orjson.loads(body), after

    assert run(scenario) == (500, {"error": "internal server error"}, 200)


def test_idle_and_slow_connections_time_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "IDLE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(connection, "REQUEST_TIMEOUT_S", 0.3)

    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        idle = await asyncio.wait_for(reader.read(), 5)  # closed without a word
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /s HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        status, _, _ = await asyncio.wait_for(read_response(reader), 5)
        writer.close()
        return idle, status

    assert run(scenario) == (b"", 408)


def test_graceful_close_finishes_in_flight_requests_and_closes_idle_ones() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        busy_r, busy_w = await asyncio.open_connection("127.0.0.1", port)
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", port)
        busy_w.write(post("/slow", b"in flight"))
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().create_task(server.close(5))
        status, _, body = await read_response(busy_r)
        idle = await idle_r.read()
        await closing
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        busy_w.close()
        idle_w.close()
        return status, orjson.loads(body)["body"], idle

    assert run(scenario) == (200, "in flight", b"")


def test_a_declared_oversize_body_is_refused_before_it_is_sent() -> None:
    async def scenario(port: int, server: h1.Server) -> Any:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        # the client waits for 100 Continue, as curl does for large uploads: it gets 413 now
        writer.write(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 10000000000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        status, headers, _ = await asyncio.wait_for(read_response(reader), 5)
        writer.write(b"x" * 100_000)  # sent anyway: dropped, the answer is not lost
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return status, headers.get("connection"), rest

    assert run(scenario) == (413, "close", b"")


def test_busy_polling_fades_when_idle_and_returns_with_close_requests() -> None:
    """After answering, a worker polls a while before sleeping; polling that finds nothing
    shrinks to none, and requests that follow answers closely bring it back."""
    async def scenario(port: int, server: h1.Server) -> list[float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        windows = []
        for _ in range(5):  # spaced beyond the window: each poll finds nothing
            writer.write(post("/spaced", b"1"))
            await read_response(reader)
            await asyncio.sleep(0.25)
            windows.append(server._poll_window)
        for _ in range(4):  # each request 30 ms after the previous answer
            writer.write(post("/close", b"1"))
            await read_response(reader)
            await asyncio.sleep(0.03)
            windows.append(server._poll_window)
        writer.close()
        return windows

    windows = run(scenario, busy_poll_s=0.1, loop="uvloop")
    assert windows[:5] == pytest.approx([0.05, 0.025, 0.0125, 0.0, 0.0])
    # a gap a longer poll would have caught widens the window past it, up to the limit
    assert windows[-1] == pytest.approx(0.1)


def test_busy_polling_can_be_turned_off_and_is_bounded() -> None:
    server = h1.Server(echo, h1.Options(1000, busy_poll_s=0.0))
    server.received()
    server._send()
    assert server._poll_window == 0.0 and not server._polling
    for bad in (-1, 10_001, float("nan")):
        with pytest.raises(InvalidInputError, match="--busy-poll-us"):
            check(ServeConfig(busy_poll_us=bad))


def test_max_connections_is_checked_and_defaults_to_what_the_process_may_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    with pytest.raises(InvalidInputError, match="--max-connections"):
        check(ServeConfig(max_connections=0))
    assert h1.Options(1000).max_connections == h1.default_max_connections()
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 4096))
    assert h1.default_max_connections() == 960  # a few descriptors left for the rest
    monkeypatch.setattr(resource, "getrlimit", lambda _: (100_000, 100_000))
    assert h1.default_max_connections() == 1000


def test_busy_polling_never_delays_a_signal_and_stops_on_close() -> None:
    """A worker polling its sockets (a window of 50 ms, refreshed by a busy client)
    handles SIGTERM-like signals within a few milliseconds, and stops polling when it
    begins to close."""
    import os
    import signal

    async def scenario(port: int, server: h1.Server) -> Any:
        loop = asyncio.get_running_loop()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        got: list[float] = []
        loop.add_signal_handler(signal.SIGUSR1, lambda: got.append(time.perf_counter()))
        delays = []
        for _ in range(5):
            writer.write(post("/p", b"1"))
            await read_response(reader)  # the server now polls for the next request
            sent = time.perf_counter()
            os.kill(os.getpid(), signal.SIGUSR1)
            while len(got) < len(delays) + 1:
                await asyncio.sleep(0)
            delays.append(got[-1] - sent)
        loop.remove_signal_handler(signal.SIGUSR1)
        closing = loop.create_task(server.close(1, 0.05))
        await asyncio.sleep(0)
        polling = server._poll_window
        writer.close()
        await closing
        return max(delays), polling

    worst, polling = run(scenario, busy_poll_s=0.05, loop="uvloop")
    assert worst < 0.01 and polling == 0.0
