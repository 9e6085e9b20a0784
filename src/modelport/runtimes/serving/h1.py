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

What one connection does, and the limits on it, is ``connection.py``; here is
the listening side: accepting (up to a cap per worker), the end-of-turn writes
and busy polling, and a graceful stop.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from typing import Any

from modelport.runtimes.serving import listening
from modelport.runtimes.serving.connection import Connection, Handler

DRAIN_S = 0.5  # on shutdown, how long an idle connection may still send a request
BUSY_POLL_S = 200e-6  # longer than a client's round trip on one host, far below a tick


def default_max_connections() -> int:
    """1,000 connections per worker, fewer if the process may not open that many files
    (a few dozen descriptors are left for the rest: models, the store, logs)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(16, min(1000, soft - 64))


@dataclass(frozen=True)
class Options:
    """What a server allows and how it waits: the largest request body (bytes), how
    long to poll after answering (seconds; 0 sleeps at once, for the least CPU on a
    machine where latency matters less), and how many connections it holds."""

    max_body: int
    busy_poll_s: float = BUSY_POLL_S
    max_connections: int = field(default_factory=default_max_connections)


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
        for connection in self.connections:
            connection.closing = True  # from now on every answer closes its connection
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
