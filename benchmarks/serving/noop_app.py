"""The ceiling: a Starlette app that reads the request body and answers a fixed JSON.

Served exactly like every other server in the benchmark (one uvicorn worker
with uvloop and httptools, access log off, pinned to one core), it measures
what the HTTP stack alone costs per request: no server that does real work on
the same stack can beat it, so each server is reported as a share of it.

    uvicorn noop_app:app --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"predictions":[1]}'


async def answer(request: Request) -> Response:
    await request.body()  # a real server must at least read what it is sent
    return Response(ANSWER, media_type="application/json")


app = Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])
