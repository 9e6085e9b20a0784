"""Routing of the ``/v2`` tree (Open Inference Protocol) onto the repository."""

from __future__ import annotations

from typing import Protocol

from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtimes.serving.http import Request, Response, json_response, require_method
from modelport.runtimes.serving.protocols import oip, openapi
from modelport.runtimes.serving.repository import Repository
from modelport.runtimes.serving.served import Served
from modelport.runtimes.serving.service import Call, InferenceService

MAX_VERSION_DIGITS = 9


def is_version_number(text: str) -> bool:
    """Whether ``text`` names a version: ASCII digits only (``str.isdigit()`` also says yes
    to '²', which ``int()`` refuses), at most ``MAX_VERSION_DIGITS`` of them."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_VERSION_DIGITS


class App(Protocol):
    """What the /v2 routes need from the serving app."""

    repo: Repository
    service: InferenceService

    def allow(self, request: Request, scope: str, model: str | None = None) -> None: ...

    def visible(self, request: Request) -> frozenset[str] | None: ...

    async def pinned(self, request: Request, name: str, version: int) -> Served: ...

    def record_feedback(self, name: str, request: Request) -> Response: ...


async def route(app: App, request: Request, parts: list[str]
                ) -> tuple[Response, Served | None, str]:
    if not parts or parts == [""]:
        require_method(request, "GET")
        app.allow(request, "read")
        return oip.server_metadata(), None, "v2"
    if parts == ["openapi.json"]:
        require_method(request, "GET")
        app.allow(request, "read")
        visible = app.visible(request)
        names = [n for n in app.repo.names if visible is None or n in visible]
        return json_response(openapi.document(names)), None, "v2"
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
        text = rest[1] if len(rest) > 1 else ""
        if not is_version_number(text):
            raise InvalidInputError(f"invalid version {text[:16]!r} in the path — a version "
                                    "is a whole number: /v2/models/NAME/versions/3/infer")
        version, rest = int(text), rest[2:]
    if not rest:
        require_method(request, "GET")
        app.allow(request, "read", name)
        served = app.repo.get(name)[0] if version is None else \
            await app.pinned(request, name, version)
        return oip.model_metadata(served, name), served, "v2"
    if rest == ["ready"]:
        require_method(request, "GET")
        app.allow(request, "read", name)
        served = app.repo.get(name)[0] if version is None else \
            await app.pinned(request, name, version)
        return oip.model_ready(name), served, "v2"
    if rest == ["infer"]:
        require_method(request, "POST")
        app.allow(request, "predict", name)
        service = app.service
        if version is None:
            served, router = service.route(name, request.headers)
        else:
            served, router = await service.pinned(name, version, request.key), None
        request.served = served  # named in the response even when this version fails
        outputs, doc = await service.infer(served, router, Call(
            oip.read, (request, served.model.signature.names, served.named_tensors),
            len(request.body), request.id))
        return oip.render(doc, served, outputs, name), served, "v2"
    if rest == ["feedback"] and version is None:
        require_method(request, "POST")
        app.allow(request, "feedback", name)
        return app.record_feedback(name, request), None, "v2"
    raise NotFoundError(f"no route for {request.method} {request.path}")
