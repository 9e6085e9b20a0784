"""``modelport server``: the team control plane — runs and the registry over REST.

Built on Litestar, chosen by an in-process measurement (httpx ``ASGITransport``
loop, min of 5 × 1,000 requests, indicative only — a shared 2-core machine):
a tiny JSON GET took 199–204 µs on Litestar 2.25 against 248–261 µs on FastAPI
0.165, a POST with a typed body (10 params, 50 metrics) 248–258 µs (msgspec
``Struct``) against 345–348 µs (Pydantic model), and ``import litestar`` took
0.31 s against 0.57 s. Both generate OpenAPI 3.1 from typed routes; Litestar
decodes bodies with msgspec straight into our own dataclasses and TypedDicts,
so the store's records are the wire types and nothing is declared twice.

The data plane (``modelport serve``) keeps its own HTTP/1.1 server.
"""

from __future__ import annotations

from modelport.interfaces.team.app import create_app

__all__ = ["create_app"]
