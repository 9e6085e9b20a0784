"""The team server's ASGI app: health probes, the ``/api/v1`` routers, one error shape.

``create_app(ws)`` serves the workspace's metadata store; the probes answer
without a key (load balancers carry none), every ``/api/v1`` route needs one.
OpenAPI 3.1 is generated from the typed routes at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

import modelport
from modelport.core.store.audit import audit_log
from modelport.core.store.checkpoint import Checkpointer
from modelport.core.store.projects import Owners
from modelport.core.store.scoped import ScopedStore
from modelport.core.workspace import Workspace
from modelport.errors import StoreUnavailableError, first_line
from modelport.interfaces.team import (
    artifacts,
    audit,
    devices,
    endpoints,
    export,
    feed,
    jobs,
    keys,
    live,
    logfiles,
    observe,
    projects,
    registry,
    rollout,
    runs,
    stats,
    streams,
    studies,
    study_storage,
)
from modelport.interfaces.team.access import request_key, request_store, request_workspace
from modelport.interfaces.team.dashboard import ROUTES as DASHBOARD
from modelport.interfaces.team.dashboard.local import LocalGuard
from modelport.interfaces.team.errors import HANDLERS, document_errors
from modelport.runtimes.serving.auth import Guard

MAX_BODY = 4 * 1024 * 1024  # a metadata call is small; artifacts will stream elsewhere


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False, sync_to_thread=True)
def readyz(state: State) -> dict[str, str]:
    """Ready when the store answers a query."""
    try:
        state.store.runs.ids_starting_with("", 1)
    except Exception as exc:  # any failure of the store means not ready, and says why
        raise StoreUnavailableError(f"metadata store unavailable: {first_line(exc)}") from exc
    return {"status": "ready"}


@asynccontextmanager
async def checkpointing(app: Litestar) -> AsyncIterator[None]:
    """The app's lifespan: on SQLite, WAL checkpoints run on a thread of their own
    rather than inside whichever write request fills the WAL (``core/store/checkpoint``)."""
    db = getattr(app.state.base_store, "db", None)
    if db is None or db.dialect != "sqlite":
        yield
        return
    checkpoints = Checkpointer(db)
    checkpoints.start()
    try:
        yield
    finally:
        await anyio.to_thread.run_sync(checkpoints.stop)


def create_app(ws: Workspace, refresh_s: float = 2.0, auth: bool = True,
               local: bool = False, log_retention_s: float | None = None) -> Litestar:
    """The server over ``ws``'s store; keys are re-read every ``refresh_s`` seconds;
    prediction logs and labels older than ``log_retention_s`` are removed (``logfiles``).

    ``auth=False`` (for a trial or a benchmark on loopback) lets every call through;
    ``local`` trusts the loopback owner's own pages without a key (``modelport ui``; see
    ``dashboard.local``). Both only for an app bound to a loopback address.
    """
    guard = LocalGuard() if local else Guard(ws, "on", refresh_s=refresh_s) if auth else None
    counted, auditor = observe.RequestMetrics(), audit.Auditor(audit_log(ws.store))
    # every project's objects: a request sees them through its project's ScopedStore
    base: Any = ws.store.inner if isinstance(ws.store, ScopedStore) else ws.store
    app = Litestar(
        route_handlers=[healthz, readyz, runs.router, registry.models, registry.lookups,
                        export.router,
                        endpoints.router, endpoints.rollouts, rollout.router, jobs.router,
                        keys.router, stats.router, streams.router, artifacts.router,
                        artifacts.collector,
                        feed.router, live.router, studies.router, study_storage.router,
                        observe.metrics, audit.router, devices.router, projects.router,
                        logfiles.router,
                        *DASHBOARD],
        dependencies={"store": Provide(request_store, sync_to_thread=False),
                      "ws": Provide(request_workspace, sync_to_thread=False),
                      "api_key": Provide(request_key, sync_to_thread=False)},
        state=State({"ws": ws, "store": ws.store, "base_store": base, "owners": Owners(
                         base.projects), "guard": guard,
                     "feed": feed.Feed(base, live=live.reader(ws)),
                     "request_metrics": counted, "auditor": auditor,
                     "log_retention_s": log_retention_s}),
        lifespan=[checkpointing, feed.polling, audit.recording, logfiles.pruning],
        on_shutdown=[study_storage.close],
        exception_handlers=HANDLERS,
        request_max_body_size=MAX_BODY,
        openapi_config=OpenAPIConfig(
            title="modelport", version=modelport.__version__, path="/api/v1/openapi.json",
            render_plugins=[JsonRenderPlugin(path="/")]),
        logging_config=None,
    )
    document_errors(app)
    # around everything (404s too): request ids, metrics, the access and audit logs
    app.asgi_handler = observe.Observe(app.asgi_handler, counted, auditor)
    return app
