"""The little HTTP the app needs: a request, a response, and their ASGI form.

No framework sits on the per-request path: a ``Request`` is what modelport's
own server (h1) or an ASGI scope plus its body gives, a ``Response`` is
status, body and headers. Errors are ``ModelportError``s rendered as
``{"error": ...}`` with their own status.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from modelport.errors import InvalidInputError, ModelportError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class PayloadTooLargeError(ModelportError):
    code = "payload_too_large"
    status = 413


class UnsupportedEncodingError(ModelportError):
    code = "unsupported_encoding"
    status = 415


class MethodNotAllowedError(ModelportError):
    code = "method_not_allowed"
    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.allowed = allowed  # for the Allow header every 405 carries


class Request:
    """One request, body read. A plain slotted class: one is made per request."""

    __slots__ = ("body", "headers", "id", "key", "method", "path", "query", "served")

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes = b"",
                 query: str = "") -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.query = query
        self.key: Any = None  # the API key that authenticated the request, if any
        self.id = ""
        self.served: Any = None  # the version chosen to answer, once routing chose one

    def json(self) -> Any:
        if not self.body:
            raise InvalidInputError("the request body is empty — send a JSON document")
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"malformed JSON: {exc}") from None


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: bytes = b"application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY))


def error_response(exc: ModelportError) -> Response:
    return Response(exc.status, orjson.dumps({"error": exc.message}))


def declared_too_large(declared: str | None, limit: int) -> PayloadTooLargeError | None:
    """The refusal of a body whose Content-Length is over ``limit``, before reading it."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return PayloadTooLargeError(f"request body of {int(declared):,} bytes is over the "
                                    f"{limit:,}-byte limit")
    return None


def too_large(limit: int) -> PayloadTooLargeError:
    """The refusal of a body found over ``limit`` while reading it (chunked, or lying)."""
    return PayloadTooLargeError(f"request body is over the {limit:,}-byte limit")


# Content-Encoding -> zlib's wbits: gzip's header and trailer, or zlib's (RFC 9110 8.4.1)
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS,
            "deflate": zlib.MAX_WBITS}


def decode_body(body: bytes, encoding: str, limit: int) -> bytes:
    """A body sent with ``Content-Encoding`` (tritonclient's
    ``request_compression_algorithm``), inflated with the body limit applied to what
    it inflates to, as it inflates: a small zip bomb is 413 without ever being held
    whole. Codings listed one after another are undone last first; an unknown one is
    415, a corrupt stream 400."""
    for coding in reversed([c.strip().lower() for c in encoding.split(",")]):
        if coding == "identity" or not body:
            continue
        wbits = _CODINGS.get(coding)
        if wbits is None:
            raise UnsupportedEncodingError(
                f"Content-Encoding {coding!r} is not supported — send gzip, deflate or "
                "an uncompressed body")
        body = _inflate(body, wbits, limit, coding)
    return body


def _inflate(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    out: list[bytes] = []
    size = 0
    while data:  # a gzip stream may hold several members, one after another
        inflater = zlib.decompressobj(wbits)
        try:
            chunk = inflater.decompress(data, limit - size + 1)
        except zlib.error as exc:
            raise InvalidInputError(f"the {coding} request body is corrupt: {exc}") from None
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"request body inflates to over the {limit:,}-byte "
                                       "limit")
        if not inflater.eof:
            raise InvalidInputError(f"the {coding} request body is cut short")
        out.append(chunk)
        data = inflater.unused_data
    return out[0] if len(out) == 1 else b"".join(out)


async def read_body(receive: Receive, limit: int, declared: str | None,
                    encoding: str | None = None) -> bytes:
    """The whole request body, refusing (413) as soon as it passes ``limit`` bytes,
    inflated if it came with a ``Content-Encoding`` (see ``decode_body``)."""
    refusal = declared_too_large(declared, limit)
    if refusal is not None:
        raise refusal
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body if encoding is None else decode_body(body, encoding, limit)


async def send_response(send: Send, response: Response) -> None:
    headers = [(b"content-type", response.content_type),
               (b"content-length", str(len(response.body)).encode()), *response.headers]
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def header_map(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def require_method(request: Request, *allowed: str) -> None:
    if request.method not in allowed:
        raise MethodNotAllowedError(f"{request.method} is not allowed on {request.path} — use "
                                    f"{' or '.join(allowed)}", allowed)
