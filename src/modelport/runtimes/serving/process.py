"""Server processes: one bound socket, N workers on it, a graceful stop on SIGTERM.

The parent binds the socket once, so a bad address fails in the parent with one
clear line, before any model loads; workers (spawned, never forked — a forked
SQLAlchemy pool or onnxruntime session is not safe) inherit it and each accept
from it; the kernel spreads connections among them. A worker that dies is
started again; a worker that cannot start (a model that fails to load) stops
the whole server, since its siblings would fail the same way.

A stop (SIGTERM, SIGINT) loses no request: the parent passes it to every worker
at once; each makes the shared socket refuse new handshakes, accepts what the
kernel had already queued (``listening``), closes it, answers what it received
and, for a short drain, requests still arriving on open connections (with
``Connection: close``), then exits — well within a second of its last answer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import uvloop

from modelport.errors import InvalidInputError, ModelportError
from modelport.runtimes.serving import h1
from modelport.runtimes.serving.http import Request, Response

log = logging.getLogger("modelport.serve")

STARTUP_FAILED = 3  # a worker's exit code when its app could not start
GRACE_S = 30.0  # how long in-flight requests get to finish after SIGTERM


class App(Protocol):
    """What a worker runs: the serving app's life cycle and its request handler."""

    async def startup(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def respond(self, request: Request, failure: ModelportError | None = None
                      ) -> Response: ...


class Transport(Protocol):
    """A second way into a worker's app beside HTTP (gRPC): it binds its own port."""

    async def start(self) -> None: ...

    async def stop(self, grace_s: float) -> None: ...


# makes a transport over a worker's app; picklable, as workers are spawned
Extra = Callable[[Any], Transport]


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInputError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(make_app: Callable[[], App], sock: socket.socket, options: h1.Options,
          extras: Sequence[Extra] = ()) -> None:
    """Run one worker until SIGTERM or SIGINT, then close gracefully. ``extras``: more
    transports onto the same app (gRPC), started once it is, stopped with the HTTP side."""
    uvloop.run(_serve(make_app, sock, options, extras))


async def _serve(make_app: Callable[[], App], sock: socket.socket, options: h1.Options,
                 extras: Sequence[Extra] = ()) -> None:
    app = make_app()
    await app.startup()
    transports = [extra(app) for extra in extras]
    for transport in transports:
        await transport.start()
    # what startup loaded (libraries, models) lives as long as the process: keep it out
    # of the collector's way, so a collection under load walks only per-request objects
    gc.freeze()
    server = h1.Server(app.respond, options)
    await server.start(sock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await asyncio.gather(server.close(GRACE_S), *(t.stop(GRACE_S) for t in transports))
    sock.close()
    await app.shutdown()


def _worker(make_app: Callable[[], App], sock: socket.socket, options: h1.Options,
            extras: Sequence[Extra]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        serve(make_app, sock, options, extras)
    except ModelportError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(STARTUP_FAILED)


def supervise(make_app: Callable[[], App], sock: socket.socket, options: h1.Options,
              workers: int, extras: Sequence[Extra] = ()) -> None:
    """Run ``workers`` processes on ``sock``; restart the ones that die; stop them on
    SIGTERM/SIGINT, letting each finish what it is answering."""
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> Any:
        process = context.Process(target=_worker, args=(make_app, sock, options, extras),
                                  name="modelport-serve")
        process.start()
        return process

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:  # at once: each stops accepting, drains, exits
            if process.is_alive():
                process.terminate()

    processes: list[Any] = []
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    processes.extend(start() for _ in range(workers))
    try:
        while not stopping:
            time.sleep(0.2)
            for i, process in enumerate(processes):
                if process.is_alive() or stopping:
                    continue
                if process.exitcode == STARTUP_FAILED:
                    raise InvalidInputError("a worker could not start (see its message "
                                            "above); stopping the server")
                log.warning("worker %s exited with %s; starting another", process.pid,
                            process.exitcode)
                processes[i] = start()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        sock.close()  # the workers hold the socket until they have drained it
        for process in processes:
            process.join(GRACE_S + 5)
            if process.is_alive():
                process.kill()
                process.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
