"""A real ``modelport server`` (or ``modelport ui``) for tests: uvicorn in a thread, a free port."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from litestar import Litestar

from modelport.config import Settings
from modelport.core.workspace import Workspace
from modelport.interfaces.team import create_app
from modelport.interfaces.team.access import bootstrap_key
from servers import free_port


@contextlib.contextmanager
def serving(app: Litestar) -> Iterator[str]:
    """The URL of ``app`` served on 127.0.0.1, for a ``with`` block."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("modelport server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextlib.contextmanager
def team_server(settings: Settings) -> Iterator[tuple[str, str]]:
    """(URL, admin key) of a server over ``settings``' store, for a ``with`` block."""
    ws = Workspace.open(settings)
    secret = bootstrap_key(ws)
    assert secret is not None, "a fresh store has no admin key yet"
    with serving(create_app(ws)) as url:
        yield url, secret
