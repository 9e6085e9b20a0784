"""Every request to the team server: a request id, Prometheus series, one JSON log line.

``Observe`` wraps the whole app (unknown routes and refused bodies included).
The request id is the client's ``X-Request-Id`` when it is safe to echo and
log — at most ``MAX_ID`` characters from an allow-list — and a new one
otherwise; it comes back on every response. Each write is handed to the
audit log (``audit.Auditor``). The access log line names the
key by its id, never its secret, and the path without its query string.

``/metrics`` renders requests by method, route template and status, and a
latency histogram by route: route templates (``/api/v1/runs/{run_id:str}``),
never raw paths, so a client cannot grow the series without bound.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import defaultdict
from typing import cast

from litestar import MediaType, Response, get
from litestar.datastructures import State
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from modelport.core.store.audit import AuditEntry
from modelport.interfaces.team.access import needs
from modelport.interfaces.team.audit import Auditor
from modelport.runtimes.serving.metrics import LATENCY_BUCKETS, Histogram, render_histogram

MAX_ID = 64
SAFE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
READS = frozenset({"GET", "HEAD", "OPTIONS"})
UNMATCHED = "unmatched"  # the route label of a request no route took (404s, probes of junk)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown_path(path: str) -> str:
    """A request's path as the logs keep it: at most 512 characters, control characters
    percent-encoded again — a NUL is refused by PostgreSQL and would lose the audit log
    the whole batch it came in."""
    path = path[:512]
    if path.isprintable():  # nearly every request: a C check, no regex
        return path
    return CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", path)
access_log = logging.getLogger("modelport.team.access")


class RequestMetrics:
    """Counters and a histogram in plain dicts: recording is a dict update."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)
        self.latency = Histogram(LATENCY_BUCKETS)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests[(method, route, str(status))] += 1
        self.latency.observe((route,), seconds)

    def render(self) -> bytes:
        out = ["# HELP modelport_server_requests_total Requests answered, by method, route "
               "and status.", "# TYPE modelport_server_requests_total counter"]
        out += [f'modelport_server_requests_total{{method="{m}",route="{r}",status="{s}"}} {n}'
                for (m, r, s), n in sorted(self.requests.items())]
        render_histogram(out, "modelport_server_request_duration_seconds",
                         "Time to answer a request (a feed: how long it was followed).",
                         self.latency, lambda labels: f'route="{labels[0]}"', None)
        return ("\n".join(out) + "\n").encode()


def request_id(scope: Scope) -> str:
    """The client's id if it is safe to echo and log, else a new one."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if SAFE_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


class Observe:
    """ASGI middleware around the whole app."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, auditor: Auditor) -> None:
        self.app = app
        self.metrics = metrics
        self.auditor = auditor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = cast("HTTPScope", scope)["method"]
        rid = request_id(scope)
        header = (b"x-request-id", rid.encode())
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = shown_path(scope["path"])
            seconds = time.perf_counter() - start
            route = scope.get("path_template") or UNMATCHED
            self.metrics.observe(method, route, status, seconds)
            state = scope["state"]
            if method not in READS and state.get("scope") not in (None, "read"):  # a write
                self.auditor.add(AuditEntry(
                    at=time.time(), key_id=state.get("key"), key_name=state.get("key_name"),
                    method=method, route=route, path=path, status=status,
                    request_id=rid))
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(json.dumps({
                    "ts": round(time.time(), 3), "request_id": rid, "method": method,
                    "path": path, "route": route, "status": status,
                    "ms": round(seconds * 1000, 3), "key": state.get("key"),
                    "client": (scope.get("client") or ("", 0))[0]}, ensure_ascii=True))


@get("/metrics", guards=[needs("read")], include_in_schema=False)
async def metrics(state: State) -> Response[bytes]:
    """The Prometheus text exposition of this server process's requests."""
    return Response(state.request_metrics.render(),
                    media_type=f"{MediaType.TEXT}; version=0.0.4")
