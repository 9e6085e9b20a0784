"""Closing a listening socket without resetting the connections the kernel queued on it.

The kernel completes TCP handshakes on a listening socket by itself and queues
the connections until the server accepts them. Closing the socket resets every
connection still queued — clients whose request was already sent on a
connection they saw succeed (a rolling restart under load lost dozens this way).
So a stopping server first makes the socket drop new handshakes (a socket
filter that passes nothing: the client's SYN goes unanswered and is sent again
a second later, by then to a closed port — refused, which a client may safely
retry — or to the next server), accepts what is already queued, and only then
closes it.
"""

from __future__ import annotations

import asyncio
import ctypes
import select
import socket
import struct
import sys

SO_ATTACH_FILTER = 26  # Linux, <asm-generic/socket.h>
_DROP_ALL = struct.pack("HBBI", 0x06, 0, 0, 0)  # one classic BPF instruction: ret #0
QUEUE_WAIT_S = 0.25  # at most this long to accept what the kernel had queued


def refuse_handshakes(sock: socket.socket) -> bool:
    """Drop every new connection attempt on ``sock`` from now on (Linux; elsewhere
    nothing is done and False is returned). Connections already queued, and those
    accepted, are not affected."""
    if sys.platform != "linux":
        return False
    program = ctypes.create_string_buffer(_DROP_ALL)
    fprog = struct.pack("@HP", 1, ctypes.addressof(program))  # struct sock_fprog
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    except OSError:
        return False
    return True


def has_queued(sock: socket.socket) -> bool:
    """Whether connections wait on ``sock`` to be accepted."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):  # already closed
        return False
    return bool(readable)


async def drain_queue(sock: socket.socket, wait_s: float = QUEUE_WAIT_S) -> None:
    """Let the server's accept loop take what the kernel queued on ``sock`` (new
    handshakes refused first), for at most ``wait_s``."""
    refuse_handshakes(sock)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while has_queued(sock) and loop.time() < deadline:
        await asyncio.sleep(0.005)
