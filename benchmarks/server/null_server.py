"""The floor under every one-request-per-call row: a server that does no work.

It answers every HTTP/1.1 request with an empty ``200 OK`` as soon as the request's
bytes are in — no routing, no body decoding, no database. Timing the benchmark's
own client against it measures what one keep-alive request costs before a server
does anything (the client's encoding, the loopback, the process switches), so a
row's best possible ratio is known: no server can answer a registration faster
than this one answers nothing.

    python null_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"


class NullProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.pending = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while (end := self.pending.find(b"\r\n\r\n")) >= 0:
            length = 0
            for line in self.pending[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.pending) < end + 4 + length:
                return
            self.pending = self.pending[end + 4 + length:]
            assert self.transport is not None
            self.transport.write(ANSWER)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(NullProtocol, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
