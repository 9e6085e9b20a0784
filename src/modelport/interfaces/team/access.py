"""Who may call the team server: every ``/api/v1`` route names the scope it needs.

The key a request presents is looked up by its digest in an in-memory table
(O(1)), re-read from the store at most every two seconds and off the event
loop, so a revoked key stops working within two seconds without a restart.
A ``read`` route takes a ``read``, ``write`` or ``admin`` key: a key that may
log runs may also read them back.

There is no default password: a store without an active admin key gets one,
made by ``bootstrap_key`` and shown once by whoever starts the server.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from modelport.core.keys import ApiKey, create_key, list_keys
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError
from modelport.runtimes.serving.auth import Guard, authorize, is_loopback

RouteGuard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]  # type: ignore[type-arg]
IMPLIED = {"read": ("write",)}  # scopes that also grant a route's scope
CREDENTIALS = frozenset({b"authorization", b"x-api-key"})  # ASGI header names are lower case
# who calls where no key is asked for: the workspace's owner on loopback (``modelport ui``,
# ``modelport server --auth off``)
OWNER = ApiKey(id="local", name="local workspace", scopes=("admin",), models=None,
               rate_limit=None, created=0.0, revoked=None)


def needs(scope: str) -> RouteGuard:
    """A Litestar guard: 401 without a known key, 403 without ``scope`` (auth on)."""

    async def check(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        key = await presented_key(connection)
        # for the access and audit logs: the key's id and name, never its secret
        connection.scope["state"].update(key=key.id, key_name=key.name, scope=scope)
        if not any(key.allows(s) for s in IMPLIED.get(scope, ())):
            authorize(key, scope)

    return check


async def presented_key(connection: ASGIConnection) -> ApiKey:  # type: ignore[type-arg]
    """The key the request presents (401 without a known one), keys re-read when stale;
    with auth off — only ever on loopback (``modelport server --auth off``) — the owner."""
    guard: Guard | None = connection.app.state.guard
    if guard is None:
        return OWNER
    if time.monotonic() - guard.loaded > guard.refresh_s:
        await anyio.to_thread.run_sync(guard.refresh)
    # a guard may read other headers than the key's (modelport ui's: host, origin, its own)
    wanted = getattr(guard, "headers", CREDENTIALS)
    return guard.authenticate(_credentials(connection.scope["headers"], wanted))


def _credentials(raw: Iterable[tuple[bytes, bytes]], wanted: frozenset[bytes] = CREDENTIALS
                 ) -> dict[str, str]:
    """The two headers a key travels in, read straight from the ASGI scope: parsing every
    header into a ``Headers`` object cost more than the key's lookup on each request."""
    found: dict[str, str] = {}
    for name, value in raw:
        if name in wanted:
            found.setdefault(name.decode(), value.decode("latin-1"))
    return found


def bootstrap_key(ws: Workspace) -> str | None:
    """A new admin key's secret if the store has no active admin key, else None.

    Only the key's digest is stored, so the caller must show the secret now or never.
    """
    if any("admin" in key.scopes for key in list_keys(ws)):
        return None
    return create_key("bootstrap admin (modelport server)", ["admin"], ws=ws)[1]


def check_listening(host: str, auth: bool) -> None:
    """Refuse, before anything listens, to serve off loopback without keys: anyone who
    can reach the address could then read and change every run and model."""
    if not auth and not is_loopback(host):
        raise InvalidInputError(f"refusing to serve on {host} without authentication — "
                                "drop --auth off (clients then send 'Authorization: Bearer KEY')")
