"""Local trust for ``modelport ui``: the workspace's owner, on loopback, needs no key.

``modelport ui`` is the team server's app bound to 127.0.0.1 with this guard in
place of the key table. Being on loopback is not enough by itself: any web page
the owner visits can make their browser send requests to 127.0.0.1. So a request
is trusted only when

- its ``Host`` is a loopback name — a DNS-rebinding page (``evil.example``
  resolving to 127.0.0.1) is same-origin with the dashboard but sends its own
  host name;
- it carries the ``X-Modelport-Local`` header — a cross-origin page cannot add
  a custom header without a CORS preflight, which this app never grants (CSRF);
- an ``Origin``, when sent, is the dashboard's own.

Anything else gets the same 401 as a missing key on the team server.
"""

from __future__ import annotations

import time

from modelport.core.keys import ApiKey
from modelport.interfaces.team.access import OWNER
from modelport.runtimes.serving.auth import UnauthorizedError, is_loopback

HEADER = "x-modelport-local"


def _host(authority: str) -> str:
    """``127.0.0.1:8765`` → ``127.0.0.1``; ``[::1]:8765`` → ``::1``."""
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


class LocalGuard:
    """The ``Guard`` interface the routes use, trusting the loopback owner only."""

    refresh_s = float("inf")  # no key table to re-read
    headers = frozenset({b"host", b"origin", HEADER.encode()})  # what authenticate reads

    def __init__(self) -> None:
        self.loaded = time.monotonic()

    def refresh(self) -> bool:
        return True

    def authenticate(self, headers: dict[str, str]) -> ApiKey:
        authority = headers.get("host", "")
        if not is_loopback(_host(authority)):
            raise UnauthorizedError("modelport ui answers only requests addressed to "
                                    "localhost or 127.0.0.1")
        origin = headers.get("origin")
        if origin is not None and origin != f"http://{authority}":
            raise UnauthorizedError("cross-origin requests are refused")
        if HEADER not in headers:
            raise UnauthorizedError(f"a local request needs the {HEADER} header "
                                    "(the dashboard sends it)")
        return OWNER
