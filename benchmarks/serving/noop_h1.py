"""modelport's own HTTP floor: the ceiling's fixed answer, served by modelport's HTTP server.

Not a target, a yardstick: the issue's ceiling is a no-op ASGI app under
uvicorn, and ``modelport serve`` no longer runs on uvicorn. This no-op on
modelport's own server (one worker, the same process code ``modelport serve``
runs) shows how much of modelport's time per request is HTTP and how much is
the model's work — parsing, checking, predicting, rendering.

    python noop_h1.py HOST PORT
"""

from __future__ import annotations

import sys

from modelport.errors import ModelportError
from modelport.runtimes.serving import h1, process
from modelport.runtimes.serving.http import Request, Response

ANSWER = b'{"predictions":[1]}'


class NoopApp:
    async def startup(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def respond(self, request: Request, failure: ModelportError | None = None
                      ) -> Response:
        return Response(200, ANSWER)


if __name__ == "__main__":
    process.serve(NoopApp, process.bind(sys.argv[1], int(sys.argv[2])),
                  h1.Options(10 * 1024 * 1024))
