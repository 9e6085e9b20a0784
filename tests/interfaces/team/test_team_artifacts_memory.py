"""A big artifact through the team server costs it about one piece of memory, not the blob."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from servers import free_port
from team_server import start, stop

pytestmark = pytest.mark.storage_independent

SIZE = 256 * 1024**2
PIECE = 1024**2
BUDGET = 100 * 1024**2  # the most the server may grow while it moves the blob, both ways


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def _pieces() -> Iterator[bytes]:
    piece = bytes(range(256)) * (PIECE // 256)
    for i in range(SIZE // PIECE):
        yield i.to_bytes(8, "big") + piece[8:]


def test_a_256_mb_blob_streams_both_ways_in_little_memory(tmp_path: Path) -> None:
    digest = hashlib.sha256()
    for piece in _pieces():
        digest.update(piece)
    port = free_port()
    proc, lines = start(tmp_path / "server", port)
    try:
        key = next(line for line in lines if line.startswith("mp_"))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", timeout=120,
                          headers={"Authorization": f"Bearer {key}"}) as api:
            api.get("/models")  # the server at rest, warmed up
            at_rest = _kib(proc.pid, "VmRSS")
            sent = api.put(f"/artifacts/{digest.hexdigest()}", content=_pieces())
            assert sent.status_code == 201 and sent.json()["size"] == SIZE, sent.text
            back = hashlib.sha256()
            with api.stream("GET", f"/artifacts/{digest.hexdigest()}") as response:
                for piece in response.iter_bytes(PIECE):
                    back.update(piece)
            assert back.hexdigest() == digest.hexdigest()
            peak = _kib(proc.pid, "VmHWM")
        assert peak - at_rest < BUDGET, f"the server grew {(peak - at_rest) / 2**20:.0f} MiB"
    finally:
        stop(proc)
