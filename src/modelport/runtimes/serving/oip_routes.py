"""Routing of the ``/v2`` tree (Open Inference Protocol) onto the repository."""

from __future__ import annotations

from typing import Any, Protocol

from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtimes.serving.http import Request, Response, json_response, require_method
from modelport.runtimes.serving.protocols import oip
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.served import Served


class App(Protocol):
    """What the /v2 routes need from the serving app."""

    repo: Repository

    def allow(self, request: Request, scope: str, model: str | None = None) -> None: ...

    async def infer(self, request: Request, served: Served, batch: Any,
                    router: Any = None) -> dict[str, Any]: ...

    def record_feedback(self, name: str, request: Request) -> Response: ...


async def route(app: App, request: Request, parts: list[str]
                ) -> tuple[Response, Served | None, str]:
    if not parts or parts == [""]:
        require_method(request, "GET")
        app.allow(request, "read")
        return oip.server_metadata(), None, "v2"
    if parts[0] == "health" and len(parts) == 2 and parts[1] in ("live", "ready"):
        require_method(request, "GET")
        if parts[1] == "live":
            return json_response({"live": True}), None, "health"
        ready = app.repo.ready
        return json_response({"ready": ready}, 200 if ready else 503), None, "health"
    if parts[0] != "models" or len(parts) < 2:
        raise NotFoundError(f"no route for {request.method} {request.path}")
    name, rest = parts[1], parts[2:]
    version = None
    if rest[:1] == ["versions"]:
        if len(rest) < 2 or not rest[1].isdigit():
            raise InvalidInputError(f"invalid version in {request.path}")
        version, rest = int(rest[1]), rest[2:]
    if not rest:
        require_method(request, "GET")
        app.allow(request, "read", name)
        served, _ = app.repo.get(name, version)
        return oip.model_metadata(served, name), served, "v2"
    if rest == ["ready"]:
        require_method(request, "GET")
        app.allow(request, "read", name)
        served, _ = app.repo.get(name, version)
        return oip.model_ready(name), served, "v2"
    if rest == ["infer"]:
        require_method(request, "POST")
        app.allow(request, "predict", name)
        served, router = app.repo.get(name, version, request.headers)
        doc, binary = oip.parse_request(request)
        batch = oip.batch_of(doc, binary, served.model.signature.names)
        outputs = await app.infer(request, served, batch, router)
        return oip.render(doc, served, outputs, name), served, "v2"
    if rest == ["feedback"] and version is None:
        require_method(request, "POST")
        app.allow(request, "feedback", name)
        return app.record_feedback(name, request), None, "v2"
    raise NotFoundError(f"no route for {request.method} {request.path}")
