"""HTTP/1.1 conformance on raw sockets, against modelport's server and uvicorn.

Every case runs against both servers. Where uvicorn (httptools) behaves
differently and that is its own legitimate choice, the case records what
uvicorn does and why (``Differs``) and checks that — nothing is skipped, and a
change on either side shows up.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from http_targets import (
    CAP,
    Target,
    closed,
    connect,
    exchange,
    modelport_server,
    read_answer,
    uvicorn_server,
)

from modelport.runtimes.serving import connection, listening
from modelport.runtimes.serving.process import bind

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", params=["modelport", "uvicorn"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    with (modelport_server() if request.param == "modelport" else uvicorn_server()) as t:
        yield t


@dataclass(frozen=True)
class Differs:
    """uvicorn's own outcome where it legitimately differs, and why."""

    outcome: Any
    reason: str


def expect(target: Target, ours: Any, uvicorn: Any = None) -> Any:
    """What ``target`` should do: ours, or uvicorn's recorded difference."""
    if target.name == "uvicorn" and isinstance(uvicorn, Differs):
        return uvicorn.outcome
    return ours


def head(*lines: str, body: bytes = b"") -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


CHUNKED = "Transfer-Encoding: chunked"
NO_GZIP_TE = Differs(200, "uvicorn hands a body with other transfer codings to the app")

# (name, request, modelport's status, uvicorn's if it differs)
SMUGGLING = [
    ("cl-then-te", head("POST / HTTP/1.1", "Host: a", "Content-Length: 3", CHUNKED,
                        body=b"0\r\n\r\n"), 400, None),
    ("te-then-cl", head("POST / HTTP/1.1", "Host: a", CHUNKED, "Content-Length: 3",
                        body=b"0\r\n\r\n"), 400, None),
    ("two-equal-cl", head("POST / HTTP/1.1", "Host: a", "Content-Length: 3",
                          "Content-Length: 3", body=b"abc"), 400, None),
    ("two-cl", head("POST / HTTP/1.1", "Host: a", "Content-Length: 3", "Content-Length: 4",
                    body=b"abcd"), 400, None),
    ("cl-list", head("POST / HTTP/1.1", "Host: a", "Content-Length: 3, 3", body=b"abc"),
     400, None),
    ("cl-sign", head("POST / HTTP/1.1", "Host: a", "Content-Length: +3", body=b"abc"),
     400, None),
    ("te-gzip-chunked", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip, chunked",
                             body=b"0\r\n\r\n"), 501, NO_GZIP_TE),
    ("te-chunked-gzip", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked, gzip",
                             body=b"0\r\n\r\n"), 400, None),
    ("te-gzip", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: gzip"), 400, None),
    ("te-twice", head("POST / HTTP/1.1", "Host: a", CHUNKED, CHUNKED, body=b"0\r\n\r\n"),
     400, None),
    ("te-xchunked", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: xchunked",
                         body=b"0\r\n\r\n"), 400, None),
    ("te-space-before-colon", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding : chunked",
                                   body=b"0\r\n\r\n"), 400, None),
    ("te-mixed-case", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: ChunKed",
                           body=b"1\r\na\r\n0\r\n\r\n"), 200, None),
    ("obs-fold", head("GET / HTTP/1.1", "Host: a", "X-A: a", " b"), 400, None),
    ("chunk-size-not-hex", head("POST / HTTP/1.1", "Host: a", CHUNKED,
                                body=b"zz\r\nabc\r\n0\r\n\r\n"), 400, None),
    ("chunk-size-negative", head("POST / HTTP/1.1", "Host: a", CHUNKED,
                                 body=b"-3\r\nabc\r\n0\r\n\r\n"), 400, None),
    ("chunk-size-overflow", head("POST / HTTP/1.1", "Host: a", CHUNKED,
                                 body=b"1" * 20 + b"\r\nabc\r\n"), 400, None),
    ("chunk-size-bare-lf", head("POST / HTTP/1.1", "Host: a", CHUNKED, body=b"3\nabc\n0\n\n"),
     400, None),
    ("nul-in-value", head("GET / HTTP/1.1", "Host: a", "X-A: a\x00b"), 400, None),
    ("space-in-name", head("GET / HTTP/1.1", "Host: a", "X A: 1"), 400, None),
    ("bare-lf-lines", b"GET / HTTP/1.1\nHost: a\n\n", 400, None),
    ("http-1.1-without-host", head("GET / HTTP/1.1"), 400,
     Differs(200, "uvicorn does not require Host")),
    ("two-hosts", head("GET / HTTP/1.1", "Host: a", "Host: b"), 400,
     Differs(200, "uvicorn passes both Host headers to the app")),
    ("http-1.0-without-host", head("GET / HTTP/1.0"), 200, None),
    ("http-0.9", b"GET /\r\n\r\n", "closed",
     Differs(200, "uvicorn answers an HTTP/0.9 request line with an HTTP/1.1 response")),
    ("upgrade-h2c", head("GET / HTTP/1.1", "Host: a", "Connection: Upgrade, HTTP2-Settings",
                         "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"), 200,
     None),  # RFC 9110 7.8: a server may ignore Upgrade and answer in HTTP/1.1
]


@pytest.mark.parametrize(("name", "raw", "ours", "theirs"), SMUGGLING,
                         ids=[case[0] for case in SMUGGLING])
def test_framing_and_smuggling(target: Target, name: str, raw: bytes, ours: Any,
                               theirs: Any) -> None:
    assert exchange(target.port, raw) == expect(target, ours, theirs)


NO_LIMIT = "uvicorn's httptools protocol sets no limit on the request line or headers"
LIMITS = [
    ("url-over-8k", head("GET /" + "a" * 9000 + " HTTP/1.1", "Host: a"), 414,
     Differs(200, NO_LIMIT)),
    ("header-over-64k", head("GET / HTTP/1.1", "Host: a", "X-A: " + "v" * 70_000), 431,
     Differs(200, NO_LIMIT)),
    ("headers-over-100", head("GET / HTTP/1.1", "Host: a", *(f"X-{i}: 1" for i in range(150))),
     431, Differs(200, NO_LIMIT)),
    ("one-header-repeated", head("GET / HTTP/1.1", "Host: a", *["X-A: 1"] * 200), 431,
     Differs(200, NO_LIMIT)),
    ("trailers-over-64k", head("POST / HTTP/1.1", "Host: a", CHUNKED,
                               body=b"1\r\na\r\n0\r\n" + b"X-T: " + b"v" * 70_000 + b"\r\n\r\n"),
     431, Differs(200, NO_LIMIT)),
]


@pytest.mark.parametrize(("name", "raw", "ours", "theirs"), LIMITS,
                         ids=[case[0] for case in LIMITS])
def test_limits(target: Target, name: str, raw: bytes, ours: Any, theirs: Any) -> None:
    assert exchange(target.port, raw) == expect(target, ours, theirs)


def test_a_refused_head_closes_the_connection(target: Target) -> None:
    with connect(target.port) as sock:
        sock.sendall(head("GET / HTTP/1.1", "Host: a", "X-A: " + "v" * 70_000)
                     + head("GET /next HTTP/1.1", "Host: a"))
        answer = read_answer(sock)
        assert answer is not None
        if target.name == "modelport":
            assert (answer[0], answer[1]["connection"]) == (431, "close")
            assert closed(sock)


def stream(sock: socket.socket, first: bytes, piece: bytes, most: int) -> tuple[Any, int]:
    """Send ``first``, then ``piece`` after piece until the server answers or ``most``
    bytes went: the answer's status (None if none came) and how many bytes were sent."""
    sock.sendall(first)
    sent = len(first)
    sock.settimeout(0.002)
    while sent < most:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
        try:
            if sock.recv(1, socket.MSG_PEEK):
                break
        except TimeoutError:
            continue
    else:
        return None, sent
    sock.settimeout(5)
    answer = read_answer(sock)
    return (answer[0] if answer else None), sent


@pytest.mark.parametrize(("where", "first", "limit", "status"), [
    ("header", b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ", connection.MAX_HEADER_BYTES, 431),
    ("url", b"GET /", connection.MAX_URL_BYTES, 414),
    ("trailer", b"POST / HTTP/1.1\r\nHost: a\r\n" + CHUNKED.encode() + b"\r\n\r\n0\r\nX-T: ",
     connection.MAX_HEADER_BYTES, 431),
], ids=["header", "url", "trailer"])
def test_a_head_sent_in_pieces_is_refused_once_past_its_limit(
        target: Target, where: str, first: bytes, limit: int, status: int) -> None:
    """Bytes of one header (or URL, or trailer) arriving in 1 KiB pieces: refused the
    moment the limit is passed, not when (if ever) the head ends."""
    with connect(target.port) as sock:
        answer, sent = stream(sock, first, b"v" * 1024, 2 * limit)
    if target.name == "uvicorn":
        assert (answer, sent >= 2 * limit) == (None, True)  # Differs: NO_LIMIT
    else:
        assert answer == status and sent < limit + 16 * 1024


def test_a_header_in_many_pieces_arrives_whole(target: Target) -> None:
    value = b"".join(b"%04d" % i for i in range(2500))  # 10 KB in 400 pieces of 25 bytes
    with connect(target.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: ")
        for i in range(0, len(value), 25):
            sock.sendall(value[i:i + 25])
        sock.sendall(b"\r\n\r\n")
        answer = read_answer(sock)
    assert answer is not None, answer
    assert orjson.loads(answer[2])["headers"].get("x-long") == value.decode(), answer[2][:300]


def test_trailers_never_act_as_headers(target: Target) -> None:
    raw = head("POST / HTTP/1.1", "Host: a", CHUNKED, "Content-Type: text/plain",
               body=b"3\r\nabc\r\n0\r\nX-API-Key: stolen\r\nAuthorization: Bearer x\r\n"
                    b"Content-Type: application/evil\r\n\r\n")
    with connect(target.port) as sock:
        sock.sendall(raw)
        answer = read_answer(sock)
    assert answer is not None
    headers = orjson.loads(answer[2])["headers"]
    assert (headers["content-type"], "x-api-key" in headers, "authorization" in headers) == \
        expect(target, ("text/plain", False, False), Differs(
            ("application/evil", True, True), "uvicorn (httptools) appends trailer fields "
            "to the request's headers: a trailer replaces Content-Type and adds credentials "
            "(a weakness of uvicorn's, issue 15 item 6 here)"))


def test_limits_start_again_with_each_request(target: Target) -> None:
    """A request near the limits, with trailers, does not count against the next one."""
    fields = [f"X-{i}: {'v' * 500}" for i in range(90)]
    trailer = "".join(f"T-{i}: {'v' * 100}\r\n" for i in range(90)).encode()
    first = head("POST / HTTP/1.1", "Host: a", CHUNKED, *fields,
                 body=b"1\r\na\r\n0\r\n" + trailer + b"\r\n")
    with connect(target.port) as sock:
        sock.sendall(first + head("GET /second HTTP/1.1", "Host: a", *fields))
        answers = [read_answer(sock), read_answer(sock)]
    assert [a[0] if a else None for a in answers] == [200, 200]


def test_a_chunk_over_the_body_limit_is_refused_at_once(target: Target) -> None:
    with connect(target.port) as sock:
        sock.sendall(head("POST / HTTP/1.1", "Host: a", CHUNKED, body=b"%x\r\n" % 10**9)
                     + b"x" * 10)
        sock.settimeout(1)
        answer = read_answer(sock)
    assert (answer[0] if answer else None) == expect(
        target, 413, Differs(None, "uvicorn reads a body until it ends; the app's limit "
                                   "applies to what arrived"))


# -- compressed bodies (tritonclient's request_compression_algorithm)
def post(body: bytes, *extra: str) -> bytes:
    return head("POST / HTTP/1.1", "Host: a", f"Content-Length: {len(body)}", *extra,
                body=body)


DOC = b'{"inputs": [1, 2, 3]}'


COMPRESSED = [
    ("gzip", post(gzip.compress(DOC), "Content-Encoding: gzip"), 200, DOC),
    ("deflate", post(zlib.compress(DOC), "Content-Encoding: deflate"), 200, DOC),
    ("identity", post(DOC, "Content-Encoding: identity"), 200, DOC),
    ("chunked-gzip", head("POST / HTTP/1.1", "Host: a", CHUNKED, "Content-Encoding: gzip",
                          body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(gzip.compress(DOC)),
                                                           gzip.compress(DOC))), 200, DOC),
    ("bomb", post(gzip.compress(b"\0" * 200_000), "Content-Encoding: gzip"), 413, None),
    ("brotli", post(DOC, "Content-Encoding: br"), 415, None),
    ("corrupt", post(b"\x1f\x8b" + b"x" * 30, "Content-Encoding: gzip"), 400, None),
    ("cut-short", post(gzip.compress(DOC)[:-6], "Content-Encoding: gzip"), 400, None),
]


@pytest.mark.parametrize(("name", "raw", "status", "body"), COMPRESSED,
                         ids=[case[0] for case in COMPRESSED])
def test_compressed_bodies(target: Target, name: str, raw: bytes, status: int,
                           body: bytes | None) -> None:
    with connect(target.port) as sock:
        sock.sendall(raw)
        answer = read_answer(sock)
    assert answer is not None and answer[0] == status
    if body is not None:
        assert orjson.loads(answer[2])["body"] == body.decode()


# -- backpressure, the connection cap, timeouts
SLOW = b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"


def test_a_client_that_pipelines_without_reading_gets_few_requests_queued(
        target: Target) -> None:
    with connect(target.port) as sock:
        sock.sendall(SLOW * 2000)  # 66 KB of requests, every answer waits 50 ms
        time.sleep(0.3)
        queued = target.queued()
    bound = connection.MAX_PENDING + connection._SLICE // len(SLOW)  # a slice's worth
    assert queued <= expect(target, bound, Differs(
        2000, "uvicorn parses everything it reads; it stops reading only when answers back "
        "up, and queues every request parsed meanwhile"))


def test_pipelined_requests_are_all_answered_in_order_with_backpressure(
        target: Target) -> None:
    requests = b"".join(b"GET /slow?0.01 HTTP/1.1\r\nHost: a\r\nX-N: %d\r\n\r\n" % i
                        for i in range(12))
    with connect(target.port) as sock:
        sock.sendall(requests)
        answers = [read_answer(sock) for _ in range(12)]
    assert [orjson.loads(a[2])["headers"]["x-n"] for a in answers if a] == \
        [str(i) for i in range(12)]


@contextlib.contextmanager
def connections(port: int, n: int, first: bytes = b"") -> Iterator[list[socket.socket]]:
    socks = []
    try:
        for _ in range(n):
            sock = connect(port)
            if first:
                sock.sendall(first)
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def settle(target: Target, n: int, fewer: bool = False, wait_s: float = 5) -> None:
    """Wait until the server holds ``n`` connections (or, ``fewer``, at most ``n``)."""
    deadline = time.monotonic() + wait_s
    while (target.connections() > n if fewer else target.connections() < n) and \
            time.monotonic() < deadline:
        time.sleep(0.01)


AT_CAP = Differs(503, "uvicorn's --limit-concurrency answers 503 over the limit, whatever "
                      "the connections holding it are doing")
HEALTH = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n"


def test_slow_heads_over_the_cap_do_not_lock_a_new_client_out(target: Target) -> None:
    """Twice the cap of slowloris connections (a head that never ends): a health probe
    from a new client still gets through, the oldest slow head making room."""
    with connections(target.port, 2 * CAP, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ") as slow:
        settle(target, CAP)
        for sock in slow:
            sock.send(b"v")
        assert exchange(target.port, HEALTH) == expect(target, 200, AT_CAP)
        assert (target.connections() <= CAP) == expect(target, True, Differs(
            False, "uvicorn keeps every connection it accepts; its limit is on requests"))


def test_idle_keep_alive_connections_at_the_cap_make_room(target: Target) -> None:
    with connections(target.port, CAP, HEALTH) as idle:
        for sock in idle:
            assert read_answer(sock) is not None  # answered, now idle and kept alive
        assert exchange(target.port, HEALTH) == expect(target, 200, AT_CAP)


def test_when_every_connection_is_busy_a_new_one_gets_503(target: Target) -> None:
    with connections(target.port, CAP, b"GET /slow?1 HTTP/1.1\r\nHost: a\r\n\r\n"):
        settle(target, CAP - 1)  # uvicorn already turns the last one away
        time.sleep(0.1)
        assert exchange(target.port, HEALTH) == 503
    settle(target, 0, fewer=True, wait_s=1.5)  # the answers still go out


def test_a_head_that_takes_too_long_is_408(target: Target,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "HEADER_TIMEOUT_S", 0.3)
    with connect(target.port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n")
        started = time.monotonic()
        sock.settimeout(0.2)
        answer = None
        while answer is None and time.monotonic() - started < 2.5:
            try:
                sock.send(b"X: 1\r\n")  # a header at a time, never the end
            except OSError:
                break
            answer = read_answer(sock)
    assert (answer[0] if answer else None) == expect(target, 408, Differs(
        None, "uvicorn has no header timeout: a head may take as long as it likes"))


# -- shutting down
@pytest.mark.parametrize("name", ["modelport", "uvicorn"])
def test_a_request_sent_on_an_idle_connection_during_shutdown_is_answered(name: str) -> None:
    """A keep-alive connection idle when shutdown begins: its client's next request
    (already on its way) is answered with ``Connection: close``, not lost."""
    with (modelport_server() if name == "modelport" else uvicorn_server()) as t:
        with connect(t.port) as sock:
            sock.sendall(HEALTH)
            assert read_answer(sock) is not None  # now idle, kept alive
            if name == "modelport":
                closing = asyncio.run_coroutine_threadsafe(t.server.close(5, 2.0), t.loop)
            else:
                t.server.should_exit = True
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:  # until it no longer listens: stopping
                try:
                    connect(t.port, 0.2).close()
                except OSError:
                    break
                time.sleep(0.02)
            try:
                sock.sendall(HEALTH)
                answer = read_answer(sock)
            except OSError:
                answer = None
            outcome = (answer[0], answer[1].get("connection")) if answer else None
            assert outcome == expect(t, (200, "close"), Differs(
                None, "uvicorn closes idle keep-alive connections as soon as it stops"))
            assert closed(sock, 2)
        if name == "modelport":
            closing.result(5)


def test_a_stopping_listener_drops_new_handshakes_and_keeps_queued_connections() -> None:
    """The kernel queued one connection; then the socket refuses handshakes: a new
    client's SYN goes unanswered (it will retry), the queued one is still accepted and
    served — closing the socket at this point would have reset it."""
    listener = bind("127.0.0.1", 0)
    port = listener.getsockname()[1]
    with listener, socket.create_connection(("127.0.0.1", port), timeout=2) as queued:
        queued.sendall(b"hello")
        assert listening.refuse_handshakes(listener)
        late = socket.socket()
        late.settimeout(0.3)
        with late, pytest.raises(TimeoutError):
            late.connect(("127.0.0.1", port))
        assert listening.has_queued(listener)
        accepted, _ = listener.accept()
        with accepted:
            assert accepted.recv(5) == b"hello"
            accepted.sendall(b"world")
            assert queued.recv(5) == b"world"
        assert not listening.has_queued(listener)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_tritonclient_compressed_requests(server: Any, algorithm: str) -> None:
    """tritonclient's ``request_compression_algorithm`` against ``modelport serve``:
    the binary tensor body arrives compressed and is answered as if it had not been."""
    import numpy as np
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.host_port)
    rows = np.tile(np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32), (50, 1))
    tensor = triton.InferInput("input", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    plain = client.infer("iris", [tensor]).as_numpy("prediction")
    packed = client.infer("iris", [tensor], request_compression_algorithm=algorithm)
    assert (packed.as_numpy("prediction") == plain).all() and plain[:2].tolist() == [0, 2]
    client.close()


def test_a_client_that_pipelines_then_half_closes_gets_every_answer(target: Target) -> None:
    """More requests than the server will queue, then the client's side closes: the
    requests kept unread are still answered, then the connection closes."""
    requests = b"".join(b"GET /slow?0.005 HTTP/1.1\r\nHost: a\r\nX-N: %d\r\n\r\n" % i
                        for i in range(60))  # 3 KB: more than a slice
    with connect(target.port) as sock:
        sock.sendall(requests)
        sock.shutdown(socket.SHUT_WR)  # all sent: only the answers are left to come
        answers = [read_answer(sock) for _ in range(60)]
    numbers = [orjson.loads(a[2])["headers"]["x-n"] for a in answers if a]
    assert numbers == expect(target, [str(i) for i in range(60)], Differs(
        [], "uvicorn closes the connection when the client half-closes, dropping the "
            "pipelined requests it has not answered yet"))
