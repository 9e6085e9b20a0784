"""Every failure as JSON ``{"error": ..., "code": ...}`` with its status.

``ModelportError`` carries both already; the framework's own refusals (unknown
route, bad body, oversize body) get stable codes here, and anything else is a
500 whose message reveals nothing of the server's internals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from litestar import Litestar, MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute
from litestar.types import ExceptionHandlersMap

from modelport.errors import ModelportError

log = logging.getLogger("modelport.team")
DOCUMENTED = {400: "Bad input", 401: "No valid API key", 403: "The key's scope does not allow it",
              404: "Not found", 409: "Conflicts with what is stored", 413: "Body too large",
              422: "A field of the request is invalid", 429: "Over the key's rate limit"}
CODES = {400: "invalid_input", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}


def _json(status: int, message: str, code: str) -> Response[dict[str, str]]:
    return Response({"error": message, "code": code}, status_code=status,
                    media_type=MediaType.JSON)


def _modelport(_: Request, exc: ModelportError) -> Response[dict[str, str]]:  # type: ignore[type-arg]
    return _json(exc.status, exc.message, exc.code)


def _invalid(_: Request, exc: ValidationException) -> Response[dict[str, str]]:  # type: ignore[type-arg]
    """422 naming the field: msgspec says which one (``$.params.lr``) and why."""
    extra = exc.extra if isinstance(exc.extra, list) else []
    fields = [e for e in extra if isinstance(e, dict)]
    if fields:
        source = fields[0].get("source", "body")
        where = f"{getattr(source, 'value', source)} field {fields[0].get('key', '?')!r}"
        message = f"invalid {where}: {fields[0].get('message', exc.detail)}"
    else:
        message = f"invalid request: {exc.detail}"
    return _json(422, message, "invalid_input")


def _http(_: Request, exc: HTTPException) -> Response[dict[str, str]]:  # type: ignore[type-arg]
    return _json(exc.status_code, exc.detail, CODES.get(exc.status_code, "http_error"))


def _internal(request: Request, exc: Exception) -> Response[dict[str, str]]:  # type: ignore[type-arg]
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return _json(500, "internal error — see the server's log", "internal")


HANDLERS: ExceptionHandlersMap = {
    ModelportError: _modelport,
    ValidationException: _invalid,
    HTTPException: _http,
    Exception: _internal,
}


@dataclass
class ErrorBody:
    """What every refusal looks like: a message for people, a stable code for programs."""

    error: str
    code: str


def document_errors(app: Litestar) -> None:
    """Declare the error shape for every ``/api/v1`` route in the OpenAPI document (the
    framework would otherwise document its own, which these handlers replace)."""
    specs = {status: ResponseSpec(data_container=ErrorBody, description=text)
             for status, text in DOCUMENTED.items()}
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith("/api/v1/"):
            for handler in route.route_handlers:
                handler.responses = {**specs, **(handler.responses or {})}
