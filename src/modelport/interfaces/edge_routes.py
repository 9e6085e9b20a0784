"""``GET /v2/edge/bundles/<sha256>``: where device agents download published bundles.

Only digests recorded as published (``runtimes/edge/catalog.py``) are served,
never an arbitrary artifact; with auth on, the key needs the ``read`` scope on
the bundle's model (a key limited to some models gets only their bundles).
The bytes come through the artifact store, which re-hashes them on the way.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from modelport.errors import NotFoundError
from modelport.runtimes.serving.http import Request, Response, require_method

_HEX = frozenset("0123456789abcdef")


class App(Protocol):
    repo: Any

    def allow(self, request: Request, scope: str, model: str | None = None) -> None: ...


async def route(app: App, request: Request, parts: list[str]) -> tuple[Response, None, str]:
    if len(parts) != 2 or parts[0] != "bundles":
        raise NotFoundError(f"no route for {request.method} {request.path}")
    require_method(request, "GET")
    app.allow(request, "read")
    digest = parts[1]
    from modelport.runtimes.edge.catalog import find_published

    published = None
    if len(digest) == 64 and set(digest) <= _HEX:
        published = await asyncio.to_thread(find_published, digest, app.repo.ws)
    if published is None:
        raise NotFoundError(f"no published edge bundle {digest[:16]}… — publish one with: "
                            "modelport edge publish REF --group G")
    app.allow(request, "read", str(published["model"]))
    data = await asyncio.to_thread(app.repo.ws.artifacts.get, digest)
    headers = [(b"x-bundle-model", f"{published['model']}:{published['version']}".encode())]
    return Response(200, data, b"application/octet-stream", headers), None, "edge"
