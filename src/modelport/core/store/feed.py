"""Following ``modelport server``'s change feed instead of polling the database.

A serving replica, rollout controller or dashboard calls ``follow`` and gets
each change as it happens: an endpoint's new policy, a rollout's new state, a
job's progress. A dropped connection (network, server restart, or the server
dropping a follower that fell behind) is reconnected with ``Last-Event-ID``, so
nothing is missed; when the server can no longer replay what was missed, a
``reset`` event says: re-read the state you follow, then carry on.

    for event in follow("https://mp.example", token, endpoint="fraud"):
        if event.kind == "endpoint":
            router.update(event.data["policy"])

The stream is parsed with bounds: a line longer than ``MAX_LINE`` bytes ends
the connection (a server, or whatever sits between, cannot grow our memory).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from modelport.errors import InvalidInputError, ModelportError

MAX_LINE = 1024 * 1024
END = re.compile(rb"\r\n|\r|\n")
RETRY_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # waits between reconnects, the last one repeated
READ_TIMEOUT_S = 60.0  # the server sends a keepalive every 15 s


@dataclass(frozen=True)
class FeedEvent:
    id: str
    kind: str  # endpoint | rollout | job | reset
    data: dict[str, Any]


class FeedError(ModelportError):
    """The server refused to be followed (a bad key, scope or topic): retrying won't help."""

    code = "feed_refused"
    status = 502


def lines(chunks: Iterator[bytes], limit: int = MAX_LINE) -> Iterator[bytes]:
    """Lines of a byte stream (``\\r\\n``, ``\\n`` or ``\\r`` ended), each at most ``limit``."""
    buffer, skip_lf = b"", False
    for chunk in chunks:
        buffer += chunk
        while buffer:
            if skip_lf:  # the \n of a \r\n split across two chunks
                buffer, skip_lf = (buffer[1:] if buffer[:1] == b"\n" else buffer), False
            match = END.search(buffer)
            if match is None:
                break
            yield buffer[:match.start()]
            skip_lf = match.group() == b"\r" and match.end() == len(buffer)
            buffer = buffer[match.end():]
        if len(buffer) > limit:
            raise InvalidInputError(f"a change feed line is longer than {limit} bytes")


def events(raw: Iterator[bytes]) -> Iterator[FeedEvent]:
    """Server-sent events from lines: ``id``, ``event`` and ``data`` fields, a blank
    line ending each; comments and unknown fields are skipped, as the spec says."""
    event_id, kind, data = "", "message", list[bytes]()
    for line in raw:
        if not line:
            if data:
                try:
                    decoded = json.loads(b"\n".join(data))
                except ValueError:
                    decoded = None
                if not isinstance(decoded, dict):
                    raise InvalidInputError("a change feed event's data is not a JSON object")
                yield FeedEvent(event_id, kind, decoded)
            kind, data = "message", []
            continue
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if name == b"id":
            event_id = value.decode("utf-8", "replace")
        elif name == b"event":
            kind = value.decode("utf-8", "replace")
        elif name == b"data":
            data.append(value)


def follow(url: str, token: str | None, *, topics: list[str] | None = None,
           endpoint: str | None = None, last_event_id: str | None = None,
           client: httpx.Client | None = None,
           on_connect: Callable[[httpx.Response], object] | None = None
           ) -> Iterator[FeedEvent]:
    """Every change from the server at ``url``, reconnecting as needed, until the caller
    stops iterating. ``FeedError`` if the server refuses (401, 403, 4xx).

    ``on_connect`` is called with the response each time the server accepts the stream:
    from then on no change is missed, so a caller that keeps state re-reads it there (and
    one that stops from another thread can end the read — ``end_stream``)."""
    http = client or httpx.Client(timeout=httpx.Timeout(10.0, read=READ_TIMEOUT_S))
    params = {k: v for k, v in (("topics", ",".join(topics) if topics else None),
                                ("endpoint", endpoint)) if v is not None}
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    failures = 0
    try:
        while True:
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                with http.stream("GET", url.rstrip("/") + "/api/v1/feed", params=params,
                                 headers=headers) as response:
                    if 400 <= response.status_code < 500:
                        response.read()
                        raise FeedError(f"the server refused the change feed: "
                                        f"{response.status_code} {_message(response)}")
                    if response.status_code != 200:
                        raise httpx.TransportError(f"status {response.status_code}")
                    if on_connect is not None:
                        on_connect(response)
                    for event in events(lines(response.iter_bytes())):
                        failures = 0
                        last_event_id = event.id or last_event_id
                        yield event
            except (httpx.TransportError, InvalidInputError):
                pass
            time.sleep(RETRY_S[min(failures, len(RETRY_S) - 1)])
            failures += 1
    finally:
        if client is None:
            http.close()


def end_stream(response: httpx.Response) -> None:
    """End a read in flight on ``response`` from another thread, at once.

    Closing the client does not interrupt a blocking read, and the server would
    hold the stream until its next keepalive (15 s) found the client gone — a
    server stopping meanwhile waits for it. Shutting the socket down ends both."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:200]
    except (ValueError, AttributeError):
        return ""
