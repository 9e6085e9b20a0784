"""The team server's ASGI app: health probes, the ``/api/v1`` routers, one error shape.

``create_app(ws)`` serves the workspace's metadata store; the probes answer
without a key (load balancers carry none), every ``/api/v1`` route needs one.
OpenAPI 3.1 is generated from the typed routes at ``/api/v1/openapi.json``.
"""

from __future__ import annotations

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

import modelport
from modelport.core.store.audit import audit_log
from modelport.core.workspace import Workspace
from modelport.errors import StoreUnavailableError, first_line
from modelport.interfaces.team import (
    artifacts,
    audit,
    devices,
    endpoints,
    feed,
    jobs,
    keys,
    live,
    observe,
    registry,
    rollout,
    runs,
    stats,
    streams,
    studies,
)
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


def create_app(ws: Workspace, refresh_s: float = 2.0, auth: bool = True,
               local: bool = False) -> Litestar:
    """The server over ``ws``'s store; keys are re-read every ``refresh_s`` seconds.

    ``auth=False`` (for a trial or a benchmark on loopback) lets every call through;
    ``local`` trusts the loopback owner's own pages without a key (``modelport ui``; see
    ``dashboard.local``). Both only for an app bound to a loopback address.
    """
    guard = LocalGuard() if local else Guard(ws, "on", refresh_s=refresh_s) if auth else None
    counted, auditor = observe.RequestMetrics(), audit.Auditor(audit_log(ws.store))
    app = Litestar(
        route_handlers=[healthz, readyz, runs.router, registry.models, registry.lookups,
                        endpoints.router, endpoints.rollouts, rollout.router, jobs.router,
                        keys.router, stats.router, streams.router, artifacts.router,
                        feed.router, live.router, studies.router, observe.metrics,
                        audit.router, devices.router, *DASHBOARD],
        state=State({"ws": ws, "store": ws.store, "guard": guard,
                     "feed": feed.Feed(ws.store, live=live.reader(ws)),
                     "request_metrics": counted, "auditor": auditor}),
        lifespan=[feed.polling, audit.recording],
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
