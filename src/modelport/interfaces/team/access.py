"""Who may call the team server: every ``/api/v1`` route names the scope it needs.

The key a request presents is looked up by its digest in an in-memory table
(O(1)), re-read from the store at most every two seconds and off the event
loop, so a revoked key stops working within two seconds without a restart.
The metadata roles are a ladder — ``read`` < ``write`` < ``deploy`` < ``admin`` —
so a key that may log runs may also read them back, and a release pipeline's
``deploy`` key may register what it releases.

Every request is about one project: the one its ``X-Modelport-Project`` header
names, ``default`` without one. A key limited to other projects is answered 404
"project not found" — the same as for a project that does not exist — and the
handlers see the store as that project sees it (``scoped.ScopedStore``), so
another project's runs, models, endpoints and jobs are absent, never forbidden.
A key limited to some models finds the other models absent in the same way (and may
not register a model it is not limited to: 403, whether that name exists or not).

There is no default password: a store without an active admin key gets one,
made by ``bootstrap_key`` and shown once by whoever starts the server.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import Dependency
from litestar.handlers import BaseRouteHandler
from litestar.params import SkipValidationMarker

from modelport.core.keys import ApiKey, create_key, list_keys
from modelport.core.store.base import Store
from modelport.core.store.projects import DEFAULT_PROJECT, check_project
from modelport.core.store.rest.api import PROJECT_HEADER
from modelport.core.store.scoped import ScopedStore
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtimes.serving.auth import Guard, authorize, is_loopback

# what a handler takes to get the request's key, store and workspace (see ``create_app``);
# made here, not parsed from the request, so not validated (a Protocol has no isinstance)
PresentedKey = Annotated[ApiKey, Dependency(kind="named"), SkipValidationMarker()]
ProjectStore = Annotated[Store, Dependency(kind="named"), SkipValidationMarker()]
ProjectWorkspace = Annotated[Workspace, Dependency(kind="named"), SkipValidationMarker()]
RouteGuard = Callable[[ASGIConnection, BaseRouteHandler], Awaitable[None]]  # type: ignore[type-arg]
CREDENTIALS = frozenset({b"authorization", b"x-api-key"})  # ASGI header names are lower case
PROJECT = frozenset({PROJECT_HEADER.lower().encode()})
# who calls where no key is asked for: the workspace's owner on loopback (``modelport ui``,
# ``modelport server --auth off``)
OWNER = ApiKey(id="local", name="local workspace", scopes=("admin",), models=None,
               rate_limit=None, created=0.0, revoked=None)


def needs(scope: str, across: bool = False) -> RouteGuard:
    """A Litestar guard: 401 without a known key, 404 for a project the key does not
    reach, 403 without ``scope`` (auth on); then the request's store is its project's.
    ``across``: the route is about every project the key reaches (the projects' listing),
    not the one the request names, so it checks the key and its role only."""

    async def check(connection: ASGIConnection, _: BaseRouteHandler) -> None:  # type: ignore[type-arg]
        key = await presented_key(connection)
        # for the access and audit logs: the key's id and name, never its secret
        state = connection.scope["state"]
        state.update(key=key.id, key_name=key.name, scope=scope, api_key=key)
        project = None if across else _reached_project(connection, key)
        authorize(key, scope)
        if project is not None:
            app = connection.app.state
            models = key.model_set if key.restricted else None
            state["store"] = ScopedStore(app.base_store, project, app.owners, models)

    return check


def _reached_project(connection: ASGIConnection, key: ApiKey) -> str:  # type: ignore[type-arg]
    """The project the request names, 404 where the key does not reach it."""
    asked = _read_headers(connection.scope["headers"], PROJECT).get(PROJECT_HEADER.lower())
    project = check_project(asked or DEFAULT_PROJECT)
    if not key.reaches(project):
        raise NotFoundError(f"project {project!r} not found")
    return project


def project_of(store: Store) -> str:
    """The project a request's store sees (``default`` for a store that has none)."""
    return getattr(store, "project", DEFAULT_PROJECT)  # type: ignore[no-any-return]


def request_store(request: Request) -> Store:  # type: ignore[type-arg]
    """The store as the request's project sees it (set by ``needs``): the ``store``
    every ``/api/v1`` handler takes."""
    found = request.scope["state"].get("store")
    if found is None:  # a route without a key check: the default project
        state = request.app.state
        found = ScopedStore(state.base_store, DEFAULT_PROJECT, state.owners)
    return found  # type: ignore[no-any-return]


def request_workspace(request: Request) -> Workspace:  # type: ignore[type-arg]
    """The server's workspace with the request's store: what the control layer's own
    functions (the rollout verbs) take."""
    return dataclasses.replace(request.app.state.ws, store=request_store(request))


def request_key(request: Request) -> ApiKey:  # type: ignore[type-arg]
    """The key the request presented (the owner's where auth is off)."""
    return request.scope["state"].get("api_key", OWNER)  # type: ignore[no-any-return]


async def presented_key(connection: ASGIConnection) -> ApiKey:  # type: ignore[type-arg]
    """The key the request presents (401 without a known one), keys re-read when stale;
    with auth off — only ever on loopback (``modelport server --auth off``) — the owner."""
    guard: Guard | None = connection.app.state.guard
    if guard is None:
        return OWNER
    if time.monotonic() - guard.loaded > guard.refresh_s:
        await anyio.to_thread.run_sync(guard.refresh)
    # a guard may name the headers it reads (the local one reads Host and Origin)
    reads = getattr(guard, "reads", CREDENTIALS)
    return guard.authenticate(_read_headers(connection.scope["headers"], reads))


def _read_headers(raw: Iterable[tuple[bytes, bytes]], reads: frozenset[bytes]) -> dict[str, str]:
    """The headers named in ``reads`` (a key's two, a project's), straight from the ASGI
    scope: parsing every header into a ``Headers`` object cost more than the key's lookup."""
    found: dict[str, str] = {}
    for name, value in raw:
        if name in reads:
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
